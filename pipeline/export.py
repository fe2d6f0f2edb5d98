"""Tokenized export of a curated OUT: Megatron-LM indexed datasets (.bin + .idx) or flat .npy arrays.

Why: after curation users still write their own tokenizing script before training. This reads OUT as
any user would (OUT/manifest.json and the data/ files it names, through fsspec, so OUT may be a URL;
never .staging) and writes, per final shard (one shard per source and language group file):

    DIR/<source>/<lang>/<stem>.bin + .idx                  --format megatron
    DIR/<source>/<lang>/<stem>.tokens.npy + .offsets.npy   --format npy
    DIR/manifest.json                                      tokenizer identity, dtype, EOS/BOS, per file tokens, documents, sha256

Each document is its tokenizer ids without special tokens, then EOS (BOS first when asked): one
document = one sequence. The index layout is Megatron-core's `MMIDIDX` (written from the format
description, see `write_index`), which Megatron-LM, NeMo and datatrove's readers load. Deterministic
(same OUT, tokenizer and options -> same bytes), one independent task per shard (the flow in
flows/export.py runs them in parallel), resumable: a shard whose marker says it was exported from the
same input sha256 with the same tokenizer and options is skipped.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.layout import write_atomic
from pipeline.user_tokenizers import Tokenizer, TokenizerError, get_tokenizer

FORMATS = ("megatron", "npy")

#: Megatron-core indexed_dataset.py: header magic, version 1, then the dtype code of the .bin
_INDEX_MAGIC = b"MMIDIDX\x00\x00"
_INDEX_VERSION = 1
#: Megatron-core's DType codes for the two dtypes written here (uint16 = 8, int32 = 4)
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}
#: Megatron's best_fitting_dtype: uint16 below this vocabulary size, else int32
UINT16_VOCAB_LIMIT = 65500

Progress = Callable[[int, int], None]  # (documents, tokens) since the last call


class ExportError(ValueError):
    """An export that cannot run; one line naming the file or option at fault."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    tokenizer: str
    format: str = "megatron"
    bos: bool = False
    eos: str | None = None  # text of the EOS token, when the tokenizer's own cannot be found
    batch_docs: int = 1024


@dataclass(frozen=True, slots=True)
class ShardJob:
    """One final shard of OUT to export: what a task needs, no documents (tasks may run elsewhere)."""

    out: str
    path: str  # relative to OUT: data/<source>/<lang>/<stem>.parquet
    sha256: str
    rows: int

    @property
    def stem(self) -> str:
        """DIR-relative output stem: <source>/<lang>/<stem>."""
        rel = self.path.removeprefix("data/")
        return rel.removesuffix(".parquet")


@dataclass(frozen=True, slots=True)
class Special:
    """Resolved special tokens and dtype of an export."""

    eos_id: int
    bos_id: int | None
    dtype: str
    vocab_size: int


def read_manifest(out: str | os.PathLike[str]) -> dict[str, Any]:
    """OUT/manifest.json (through fsspec: OUT may be a local path or a URL)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(out))
    path = f"{root.rstrip('/')}/manifest.json"
    try:
        with fs.open(path, "rb") as f:
            return orjson.loads(f.read())
    except FileNotFoundError as e:
        raise ExportError(f"{out}/manifest.json: not found; give the OUT of a finished `curate run` or `curate shard`") from e
    except orjson.JSONDecodeError as e:
        raise ExportError(f"{out}/manifest.json: not valid JSON ({e})") from e


def data_files(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The kept-document Parquet files the manifest names, in path order."""
    manifest = read_manifest(out)
    files = [f for f in manifest.get("files", []) if str(f.get("path", "")).startswith("data/") and f["path"].endswith(".parquet")]
    return sorted(files, key=lambda f: f["path"])


def open_parquet(out: str | os.PathLike[str], rel: str) -> pq.ParquetFile:
    import fsspec

    fs, root = fsspec.core.url_to_fs(str(out))
    return pq.ParquetFile(fs.open(f"{root.rstrip('/')}/{rel}", "rb"))


def plan(out: str | os.PathLike[str]) -> list[ShardJob]:
    return [ShardJob(str(out), f["path"], f["sha256"], int(f["rows"])) for f in data_files(out)]


def resolve_special(tok: Tokenizer, opts: ExportOptions) -> Special:
    if opts.format not in FORMATS:
        raise ExportError(f"unknown export format {opts.format!r}; choose {', '.join(FORMATS)}")
    eos = tok.eos_id
    if opts.eos is not None:
        eos = tok.token_id(opts.eos)
        if eos is None:
            raise ExportError(f"--eos {opts.eos!r}: not a special token of tokenizer {tok.ref.spec!r}")
    if eos is None:
        raise ExportError(
            f"tokenizer {tok.ref.spec!r} names no EOS token (no eos_token in tokenizer_config.json, none of the usual "
            "ones); give its text with --eos"
        )
    bos = None
    if opts.bos:
        if tok.bos_id is None:
            raise ExportError(f"--bos: tokenizer {tok.ref.spec!r} defines no BOS token")
        bos = tok.bos_id
    dtype = "uint16" if tok.vocab_size < UINT16_VOCAB_LIMIT else "int32"
    return Special(eos_id=eos, bos_id=bos, dtype=dtype, vocab_size=tok.vocab_size)


def export_key(job: ShardJob, tok: Tokenizer, opts: ExportOptions, special: Special) -> str:
    """What one shard's export depends on: its input bytes, the tokenizer file, the options."""
    blob = orjson.dumps(
        {"input": job.sha256, "tokenizer": tok.ref.identity, "format": opts.format, "special": asdict(special), "version": __version__},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(blob).hexdigest()


def output_names(stem: str, fmt: str) -> list[str]:
    return [f"{stem}.bin", f"{stem}.idx"] if fmt == "megatron" else [f"{stem}.tokens.npy", f"{stem}.offsets.npy"]


def _marker(dest: Path, job: ShardJob) -> Path:
    return dest / ".export" / f"{job.stem.replace('/', '__')}.json"


def index_bytes(sizes: np.ndarray, dtype: np.dtype) -> bytes:
    """The .idx of one document per sequence, as megatron-core's _IndexWriter lays it out: magic,
    version <Q, dtype code <B, sequence count <Q, document count <Q (sequences + 1: the document
    index array starts at 0), sizes int32, byte pointers int64, document indices int64."""
    n = len(sizes)
    sizes32 = sizes.astype(np.int32)
    pointers = np.zeros(n, dtype=np.int64)
    if n:
        np.cumsum(sizes32[:-1].astype(np.int64) * dtype.itemsize, out=pointers[1:])
    doc_idx = np.arange(n + 1, dtype=np.int64)
    head = _INDEX_MAGIC + struct.pack("<Q", _INDEX_VERSION) + struct.pack("<B", DTYPE_CODES[dtype])
    head += struct.pack("<Q", n) + struct.pack("<Q", n + 1)
    return head + sizes32.tobytes(order="C") + pointers.tobytes(order="C") + doc_idx.tobytes(order="C")


def _encode_batch(tok: Tokenizer, texts: list[str], special: Special, dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Flat token array and per-document lengths of one batch, EOS (and BOS) added: the ids are
    flattened in C (fromiter over chain), the specials inserted by one vectorized np.insert."""
    ids = tok.encode(texts)
    raw = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
    content = np.fromiter(itertools.chain.from_iterable(ids), dtype=dtype, count=int(raw.sum()))
    ends = np.cumsum(raw)
    if special.bos_id is None:
        flat = np.insert(content, ends, np.asarray(special.eos_id, dtype=dtype))
        return flat, raw + 1
    starts = ends - raw
    positions = np.empty(2 * len(raw), dtype=np.int64)
    positions[0::2], positions[1::2] = starts, ends
    values = np.empty(2 * len(raw), dtype=dtype)
    values[0::2], values[1::2] = special.bos_id, special.eos_id
    return np.insert(content, positions, values), raw + 2


def export_shard(job: ShardJob, dest: str | os.PathLike[str], opts: ExportOptions, progress: Progress | None = None) -> dict[str, Any]:
    """Exports one final shard; returns its manifest entry. Skipped (entry reloaded) when its marker
    matches the key and its files exist. Files appear complete or not at all (temp + rename)."""
    dest = Path(dest)
    tok = get_tokenizer(opts.tokenizer)
    special = resolve_special(tok, opts)
    key = export_key(job, tok, opts, special)
    marker = _marker(dest, job)
    names = output_names(job.stem, opts.format)
    if marker.is_file():
        try:
            entry = orjson.loads(marker.read_bytes())
        except orjson.JSONDecodeError:
            entry = {}
        if entry.get("key") == key and all((dest / n).is_file() for n in names):
            if progress:
                progress(entry["documents"], entry["tokens"])
            return {**entry, "skipped": True}
    marker.unlink(missing_ok=True)
    dtype = np.dtype(special.dtype)
    target = dest / job.stem
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_tokens = target.with_name(f".{target.name}.tokens.tmp-{os.getpid()}")
    temps = [tmp_tokens]
    all_sizes: list[np.ndarray] = []
    h = hashlib.sha256()
    try:
        pf = open_parquet(job.out, job.path)
        with tmp_tokens.open("wb") as f:
            for rb in pf.iter_batches(batch_size=opts.batch_docs, columns=["text"]):
                flat, lengths = _encode_batch(tok, rb.column(0).to_pylist(), special, dtype)
                buf = flat.tobytes()
                f.write(buf)
                h.update(buf)
                all_sizes.append(lengths)
                if progress:
                    progress(len(lengths), int(lengths.sum()))
        sizes = np.concatenate(all_sizes) if all_sizes else np.zeros(0, dtype=np.int64)
        if len(sizes) != job.rows:
            raise ExportError(f"{job.out}/{job.path}: {len(sizes)} documents read, the manifest says {job.rows}")
        files = _finish_files(dest, tmp_tokens, target, sizes, dtype, opts.format, h, temps)
    except BaseException:
        for t in temps:
            t.unlink(missing_ok=True)
        raise
    parts = job.stem.split("/")
    source, lang = (parts[0], parts[1]) if len(parts) >= 3 else (None, None)  # a mixture's files are data/<split>-*.parquet
    entry = {
        "input": job.path,
        "input_sha256": job.sha256,
        "source": source,
        "lang": lang,
        "documents": int(len(sizes)),
        "tokens": int(sizes.sum()),
        "files": files,
        "key": key,
    }
    # last: the shard counts as exported only once its files are in place
    write_atomic(marker, orjson.dumps(entry, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    return entry


def _finish_files(dest: Path, tmp_tokens: Path, target: Path, sizes: np.ndarray, dtype: np.dtype, fmt: str, h: Any, temps: list[Path]) -> list[dict[str, Any]]:
    """Turns the raw token stream into the format's files (temp names, then renamed)."""
    out: list[tuple[Path, Path, str, int]] = []  # (tmp, final, sha256, bytes)
    if fmt == "megatron":
        idx = index_bytes(sizes, dtype)
        tmp_idx = target.with_name(f".{target.name}.idx.tmp-{os.getpid()}")
        temps.append(tmp_idx)
        tmp_idx.write_bytes(idx)
        out.append((tmp_tokens, target.with_name(target.name + ".bin"), h.hexdigest(), tmp_tokens.stat().st_size))
        out.append((tmp_idx, target.with_name(target.name + ".idx"), hashlib.sha256(idx).hexdigest(), len(idx)))
    else:
        tmp_npy = target.with_name(f".{target.name}.npy.tmp-{os.getpid()}")
        temps.append(tmp_npy)
        hn = hashlib.sha256()
        with tmp_npy.open("wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (int(sizes.sum()),)})
            f.flush()
            with tmp_npy.open("rb") as r:
                hn.update(r.read())
            with tmp_tokens.open("rb") as src:
                while chunk := src.read(1 << 22):
                    f.write(chunk)
                    hn.update(chunk)
        offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=offsets[1:])
        tmp_off = target.with_name(f".{target.name}.offsets.tmp-{os.getpid()}")
        temps.append(tmp_off)
        with tmp_off.open("wb") as f:
            np.lib.format.write_array(f, offsets, allow_pickle=False)
        off_bytes = tmp_off.read_bytes()
        tmp_tokens.unlink()
        out.append((tmp_npy, target.with_name(target.name + ".tokens.npy"), hn.hexdigest(), tmp_npy.stat().st_size))
        out.append((tmp_off, target.with_name(target.name + ".offsets.npy"), hashlib.sha256(off_bytes).hexdigest(), len(off_bytes)))
    files = []
    for tmp, final, sha, size in out:
        os.replace(tmp, final)
        files.append({"path": final.relative_to(dest).as_posix(), "bytes": size, "sha256": sha})
    return files


def write_manifest(dest: str | os.PathLike[str], out: str | os.PathLike[str], opts: ExportOptions, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """DIR/manifest.json, written in one step once every shard is done; removes files of an earlier
    export into DIR that this one did not write (another format, a shard OUT no longer has)."""
    dest = Path(dest)
    tok = get_tokenizer(opts.tokenizer)
    special = resolve_special(tok, opts)
    previous = _previous_files(dest)
    entries = sorted(({k: v for k, v in e.items() if k != "skipped"} for e in entries), key=lambda e: e["input"])
    manifest = {
        "format": opts.format,
        "tokenizer": {"spec": tok.ref.spec, "label": tok.ref.label, "kind": tok.ref.kind, "sha256": tok.ref.sha256, "vocab_size": special.vocab_size},
        "dtype": special.dtype,
        "eos_id": special.eos_id,
        "bos_id": special.bos_id,
        "source": str(out),
        "version": __version__,
        "shards": entries,
        "totals": {"documents": sum(e["documents"] for e in entries), "tokens": sum(e["tokens"] for e in entries)},
    }
    write_atomic(dest / "manifest.json", orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))
    named = {f["path"] for e in entries for f in e["files"]}
    for rel in sorted(previous - named):  # only files an earlier export's manifest named: DIR may hold the user's own
        (dest / rel).unlink(missing_ok=True)
    keep_markers = {_marker(dest, ShardJob("", e["input"], "", 0)).name for e in entries}
    for m in sorted((dest / ".export").glob("*.json")):
        if m.name not in keep_markers:
            m.unlink()
    return manifest


def _previous_files(dest: Path) -> set[str]:
    """Files the manifest of an earlier export into DIR named (empty when there is none)."""
    try:
        old = orjson.loads((dest / "manifest.json").read_bytes())
        return {f["path"] for e in old.get("shards", []) for f in e.get("files", []) if ".." not in f["path"]}
    except (OSError, orjson.JSONDecodeError, AttributeError, KeyError, TypeError):
        return set()


def check_dest(out: str | os.PathLike[str], dest: str | os.PathLike[str]) -> None:
    if "://" not in str(out) and Path(dest).resolve() == Path(out).resolve():
        raise ExportError(f"--out {dest}: must not be OUT itself")


def run_export(
    out: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    opts: ExportOptions,
    progress: Progress | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Every shard in this process, one after the other (the flow in flows/export.py runs them as
    parallel tasks), then the manifest."""
    check_dest(out, dest)
    get_tokenizer(opts.tokenizer)  # TokenizerError before anything is written
    Path(dest).mkdir(parents=True, exist_ok=True)
    entries = []
    for job in plan(out):
        entry = export_shard(job, dest, opts, progress)
        if log:
            state = "skipped (exported already)" if entry.get("skipped") else "exported"
            log(f"{job.path}: {state}: {entry['documents']} documents, {entry['tokens']} tokens")
        entries.append(entry)
    return write_manifest(dest, out, opts, entries)


__all__ = [
    "DTYPE_CODES",
    "ExportError",
    "ExportOptions",
    "FORMATS",
    "ShardJob",
    "TokenizerError",
    "export_shard",
    "index_bytes",
    "plan",
    "run_export",
    "write_manifest",
]

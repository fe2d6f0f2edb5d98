"""File names and formats: id stems, compression from magic bytes, the format from the extension or
the content (`.json` is JSON lines or one JSON document depending on what it holds)."""

from __future__ import annotations

from typing import Literal

import orjson

from pipeline.sources.streams import (
    GZIP_MAGIC,
    ZSTD_MAGIC,
    Compression,
    open_binary,
    peek,
)

Format = Literal["jsonl", "json", "parquet", "txt", "csv", "tsv", "xml"]

PARQUET_MAGIC = b"PAR1"
_COMPRESSED_EXT = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMAT_EXT: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json?",  # a JSON document or JSON lines: decided by the content
    ".parquet": "parquet",
    ".txt": "txt",
    ".csv": "csv",
    ".tsv": "tsv",
    ".xml": "xml",
}


def _split_ext(name: str) -> tuple[str, str | None, str | None]:
    """(stem, format ext, compression ext) of a file name, case-insensitively."""
    base = name
    comp = None
    low = base.lower()
    for ext in _COMPRESSED_EXT:
        if low.endswith(ext) and len(base) > len(ext):
            comp, base = ext, base[: -len(ext)]
            break
    fmt = None
    low = base.lower()
    for ext in _FORMAT_EXT:
        if low.endswith(ext) and len(base) > len(ext):
            fmt, base = ext, base[: -len(ext)]
            break
    return base, fmt, comp


def file_stem(path: str) -> str:
    """`data/x.jsonl.gz` -> `x`: the file name without format and compression extensions."""
    name = path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    name = name.split("?", 1)[0]  # URL query
    return _split_ext(name)[0] or name


def unique_stems(locations: list[str]) -> list[str]:
    """Id stems for the files of one source: the plain stem, unless two files share it (RedPajama-V2
    names every file `en_head.json.gz`); those get their path below the colliding files' common
    folder, so ids never collide and stay short in the usual case."""
    stems = [file_stem(p) for p in locations]
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(stems):
        groups.setdefault(s, []).append(i)
    for stem, idx in groups.items():
        if len(idx) < 2:
            continue
        parts = [locations[i].replace("\\", "/").split("?", 1)[0].split("/") for i in idx]
        common = 0
        dirs = [p[:-1] for p in parts]
        while all(len(d) > common for d in dirs) and len({d[common] for d in dirs}) == 1:
            common += 1
        for i, p in zip(idx, parts):
            stems[i] = "/".join([*p[common:-1], stem])
    # still equal (x.jsonl next to x.json.gz): keep the full relative name with its extensions
    seen: dict[str, int] = {}
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
    for i, s in enumerate(stems):
        if seen[s] > 1:
            head = s.rsplit("/", 1)[0] + "/" if "/" in s else ""
            stems[i] = head + locations[i].replace("\\", "/").rsplit("/", 1)[-1]
    return stems


def _basename(path: str) -> str:
    return path.replace("\\", "/").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def detect_compression(path: str) -> Compression:
    """Compression from the magic bytes (a `.gz` that is really plain text reads as plain text);
    the extension decides only for files too short to carry magic bytes."""
    with open_binary(path) as fh:
        head = fh.read(4)
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if len(head) < 4:
        comp = _split_ext(_basename(path))[2]
        if comp and head:
            return _COMPRESSED_EXT[comp]  # type: ignore[return-value]
    return None


def _looks_like_json_lines(head: bytes) -> bool:
    """A `.json` file starting with `{` is JSON lines if its first line is an object on its own, or
    (first line broken) a later line starting at column 0 is; a pretty-printed document's first
    line never parses and its inner objects are indented. No complete line at all (one huge line)
    reads the same either way, as JSON lines."""
    lines = head.split(b"\n")
    if len(lines) == 1:
        return True
    candidates = [x for x in lines[:-1] if x.strip()][:20]
    for i, line in enumerate(candidates):
        if i > 0 and not line.startswith(b"{"):
            continue
        try:
            if type(orjson.loads(line)) is dict:
                return True
        except orjson.JSONDecodeError:
            continue
    return False


def detect_format(path: str, fmt: str = "auto") -> tuple[Format, Compression]:
    """(format, compression) of a local file: `fmt` when given, else the extension, else the content
    (`PAR1` magic, or a first non-space byte `[`/`{`). `.json` is JSON lines or one JSON document
    depending on the content, because both are published under that extension."""
    if fmt == "parquet":
        return "parquet", None
    compression = detect_compression(path)
    if fmt in ("jsonl", "json", "txt", "csv", "tsv", "xml"):
        return fmt, compression  # type: ignore[return-value]
    ext = _FORMAT_EXT.get(_split_ext(_basename(path))[1] or "")
    if ext in ("jsonl", "txt", "csv", "tsv", "xml"):
        return ext, compression  # type: ignore[return-value]
    if ext == "parquet" or (compression is None and _has_magic(path, PARQUET_MAGIC)):
        return "parquet", None
    head = peek(path, compression).lstrip()
    if head[:1] == b"[":
        return "json", compression
    if head[:1] == b"{":
        return ("jsonl" if _looks_like_json_lines(head) else "json"), compression
    if ext == "json?":
        return "jsonl", compression  # empty or garbage: the line reader reports it line by line
    raise ValueError(f"{path}: cannot tell the input format from the file name or content; set `format:`")


def _has_magic(path: str, magic: bytes) -> bool:
    with open_binary(path) as fh:
        return fh.read(len(magic)) == magic

"""The robust local reader: files -> raw records with provenance, or `malformed` rejects.

`datasets` fails a whole JSON/JSONL file on one bad line (docs/dependencies.md), so local files are
read here: every line or record becomes exactly one outcome, a `RawRecord` or a `Reject` with the
file, the 1-based line, the raw bytes and a detail string whose prefix says what was wrong:

``invalid_json: <orjson msg>``, ``invalid_utf8: <byte position>``, ``nul_byte``, ``empty_line``,
``not_an_object``, ``truncated_file: <msg>`` (and ``invalid_parquet: <msg>`` for unreadable Parquet).

Line formats stream: compressed input is inflated in bounded chunks (gzip members and zstd frames
one after the other), lines are split in C (`bytes.split`) and parsed by orjson on bytes, so memory
does not grow with the file and a cut-off file still yields every complete line before its
`truncated_file` reject. Whole-JSON files (a JSON array or one object) are parsed in one go.
"""

from __future__ import annotations

import contextlib
import os
import threading
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

import orjson

from pipeline.document import RAW_LIMIT, Reject
from pipeline.layout import is_url

__all__ = [
    "RawRecord",
    "TruncatedStream",
    "Format",
    "detect_format",
    "detect_compression",
    "file_stem",
    "unique_stems",
    "read_file",
]

Format = Literal["jsonl", "json", "parquet", "txt"]
Compression = Literal["gzip", "zstd"] | None
InvalidUtf8 = Literal["reject", "repair"]
TxtUnit = Literal["file", "line", "paragraph"]

#: Bytes read per step (compressed bytes for compressed input).
READ_CHUNK = 1 << 20
#: Most decompressed bytes one gzip step may produce (bounds memory on highly compressible input).
INFLATE_LIMIT = 1 << 20
#: How much of a `.json` file is inspected to tell a JSON document from JSON lines.
SNIFF_BYTES = 1 << 20

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARQUET_MAGIC = b"PAR1"
REPLACEMENT = "\ufffd"
REPLACEMENT_BYTES = REPLACEMENT.encode("utf-8")

_COMPRESSED_EXT = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}
_FORMAT_EXT: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json?",  # a JSON document or JSON lines: decided by the content
    ".parquet": "parquet",
    ".txt": "txt",
}


@dataclass(slots=True)
class RawRecord:
    """One input record before any adapter looked at it.

    `line` is 1-based for line formats (None for whole-JSON, Parquet and Hub rows); `record` is the
    0-based index that goes into default ids (for JSONL: line - 1, so ids are stable under edits of
    other lines' content). `repaired` counts the U+FFFD inserted when invalid UTF-8 was repaired;
    `stem` is the file's id stem (unique within its source)."""

    value: Any
    file: str
    line: int | None
    record: int
    raw: bytes | str | None = None
    repaired: int = 0
    stem: str = ""


class TruncatedStream(Exception):
    """A gzip/zstd stream that ends (or breaks) before its end marker; `partial` is the unterminated
    tail that had been decoded when it broke."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.partial = b""


# --------------------------------------------------------------------------------------------------
# Names, formats, compression
# --------------------------------------------------------------------------------------------------


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


def _open_binary(path: str) -> BinaryIO:
    """The one place input bytes come from: a local file, or a URL through fsspec with retries
    from the byte reached (`remote.open_input`; storage options of the source being read)."""
    if not is_url(path):
        return open(path, "rb")  # noqa: SIM115 (callers close it)
    from pipeline.sources.remote import open_input

    return open_input(path, current_storage_options())


_OPTIONS = threading.local()


def current_storage_options() -> dict[str, Any]:
    return getattr(_OPTIONS, "value", None) or {}


@contextlib.contextmanager
def storage_options(options: dict[str, Any] | None) -> Iterator[None]:
    """fsspec options (credentials, endpoints) for the files read in this block, in this thread."""
    old = getattr(_OPTIONS, "value", None)
    _OPTIONS.value = options or {}
    try:
        yield
    finally:
        _OPTIONS.value = old


def _basename(path: str) -> str:
    return path.replace("\\", "/").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def detect_compression(path: str) -> Compression:
    """Compression from the magic bytes (a `.gz` that is really plain text reads as plain text);
    the extension decides only for files too short to carry magic bytes."""
    with _open_binary(path) as fh:
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


def _peek(path: str, compression: Compression) -> bytes:
    out = bytearray()
    gen = _chunks(path, compression)
    try:
        for chunk in gen:
            out += chunk
            if len(out) >= SNIFF_BYTES:
                break
    except TruncatedStream:
        pass
    finally:
        gen.close()
    data = bytes(out[:SNIFF_BYTES])
    return data[3:] if data.startswith(BOM) else data


def detect_format(path: str, fmt: str = "auto") -> tuple[Format, Compression]:
    """(format, compression) of a local file: `fmt` when given, else the extension, else the content
    (`PAR1` magic, or a first non-space byte `[`/`{`). `.json` is JSON lines or one JSON document
    depending on the content, because both are published under that extension."""
    if fmt == "parquet":
        return "parquet", None
    compression = detect_compression(path)
    if fmt in ("jsonl", "json", "txt"):
        return fmt, compression  # type: ignore[return-value]
    ext = _FORMAT_EXT.get(_split_ext(_basename(path))[1] or "")
    if ext in ("jsonl", "txt"):
        return ext, compression  # type: ignore[return-value]
    if ext == "parquet" or (compression is None and _has_magic(path, PARQUET_MAGIC)):
        return "parquet", None
    head = _peek(path, compression).lstrip()
    if head[:1] == b"[":
        return "json", compression
    if head[:1] == b"{":
        return ("jsonl" if _looks_like_json_lines(head) else "json"), compression
    if ext == "json?":
        return "jsonl", compression  # empty or garbage: the line reader reports it line by line
    raise ValueError(f"{path}: cannot tell the input format from the file name or content; set `format:`")


def _has_magic(path: str, magic: bytes) -> bool:
    with _open_binary(path) as fh:
        return fh.read(len(magic)) == magic


# --------------------------------------------------------------------------------------------------
# Byte streams and lines
# --------------------------------------------------------------------------------------------------


def _chunks(path: str, compression: Compression) -> Generator[bytes, None, None]:
    """Decompressed bytes in bounded chunks; raises TruncatedStream at a cut-off or corrupt stream
    after everything decodable has been yielded. Concatenated gzip members / zstd frames are read
    one after the other (pigz, `cat a.gz b.gz`), zero padding after a gzip member is ignored."""
    with _open_binary(path) as fh:
        if compression is None:
            while chunk := fh.read(READ_CHUNK):
                yield chunk
            return
        if compression == "gzip":
            yield from _gunzip(fh)
        else:
            yield from _unzstd(fh, check_truncation=not is_url(path))


def _gunzip(fh: Any) -> Iterator[bytes]:
    d = zlib.decompressobj(wbits=31)
    at_start = True  # before the first byte of a member: the file may end here
    while buf := fh.read(READ_CHUNK):
        while buf:
            if at_start:
                buf = buf.lstrip(b"\x00")
                if not buf:
                    break
            try:
                out = d.decompress(buf, INFLATE_LIMIT)
            except zlib.error as e:
                raise TruncatedStream(f"corrupt gzip stream: {e}") from None
            at_start = False
            if out:
                yield out
            if d.eof:
                buf = d.unused_data
                d = zlib.decompressobj(wbits=31)
                at_start = True
            else:
                buf = d.unconsumed_tail
    if not at_start:
        try:
            out = d.flush()
        except zlib.error as e:
            raise TruncatedStream(f"corrupt gzip stream: {e}") from None
        if out:
            yield out
        if not d.eof:
            raise TruncatedStream("gzip stream ended before the end-of-stream marker")


def _zstd_truncation(fh: Any) -> str | None:
    """Walks the frame and block headers (seeks, no decoding): a message when the file ends inside
    a frame, else None. zstandard's bounded readers stop silently at a cut-off, and its unbounded
    `decompressobj` can inflate a few KiB into hundreds of MB, so completeness is checked here."""
    import zstandard

    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    pos = 0
    cut = "zstd stream ended before the end of its frame"
    while pos < size:
        fh.seek(pos)
        head = fh.read(18)
        if len(head) < 4:
            return cut
        magic = int.from_bytes(head[:4], "little")
        if 0x184D2A50 <= magic <= 0x184D2A5F:  # skippable frame
            if len(head) < 8:
                return cut
            pos += 8 + int.from_bytes(head[4:8], "little")
            continue
        if magic != 0xFD2FB528:
            return None  # not a frame: the decoder reports it as corrupt
        try:
            pos += zstandard.frame_header_size(head)
        except zstandard.ZstdError:
            return cut
        checksum = head[4] & 0x04
        while True:
            fh.seek(pos)
            bh = fh.read(3)
            if len(bh) < 3:
                return cut
            v = int.from_bytes(bh, "little")
            pos += 3 + (1 if (v >> 1) & 3 == 1 else v >> 3)  # RLE blocks hold one byte
            if v & 1:
                break
        if checksum:
            pos += 4
    return cut if pos > size else None


def _unzstd(fh: Any, check_truncation: bool = True) -> Iterator[bytes]:
    """Bounded reads across frames (each read returns at most READ_CHUNK bytes, however
    compressible the input), then TruncatedStream if the header walk found the file cut off.
    Remote files skip the walk (it would read the file twice; a store serves complete objects and
    a dropped connection is resumed by the remote reader)."""
    import zstandard

    cut = _zstd_truncation(fh) if check_truncation else None
    fh.seek(0)
    reader = zstandard.ZstdDecompressor().stream_reader(fh, read_size=1 << 17, read_across_frames=True, closefd=False)
    try:
        while out := reader.read(READ_CHUNK):
            yield out
    except zstandard.ZstdError as e:
        if cut:
            raise TruncatedStream(cut) from None
        raise TruncatedStream(f"corrupt zstd stream: {e}") from None
    if cut:
        raise TruncatedStream(cut)


def _line_batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Lists of complete lines (without the newline); the last line without a newline comes last.
    A trailing newline does not make an empty last line. On TruncatedStream the unterminated tail is
    attached to the exception."""
    pending: list[bytes] = []
    try:
        for chunk in chunks:
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                pending.append(chunk)
                continue
            if pending:
                pending.append(parts[0])
                parts[0] = b"".join(pending)
                pending = []
            tail = parts.pop()
            if tail:
                pending.append(tail)
            yield parts
    except TruncatedStream as e:
        e.partial = b"".join(pending)
        raise
    if pending:
        yield [b"".join(pending)]


# --------------------------------------------------------------------------------------------------
# Rejects
# --------------------------------------------------------------------------------------------------


def raw_text(raw: bytes | str | None) -> str | None:
    """Raw input for a reject: invalid bytes kept visible as \\xNN, cut to RAW_LIMIT."""
    if raw is None:
        return None
    if isinstance(raw, bytes):
        if raw.endswith(b"\r"):  # CRLF input: the line without its line end
            raw = raw[:-1]
        raw = raw[: RAW_LIMIT * 4].decode("utf-8", errors="backslashreplace")
    return raw[:RAW_LIMIT]


def _reject(
    source: str,
    detail: str,
    file: str,
    line: int | None,
    record: int | None,
    raw: bytes | str | None,
    stem: str,
    field: str | None = None,
) -> Reject:
    return Reject(
        stage="read",
        drop_reason="malformed",
        source=source,
        drop_value=detail,
        field=field,
        id=f"{source}/{stem}/{record}" if record is not None else None,
        file=file,
        line=line,
        record=record,
        raw=raw_text(raw),
    )


def _repair(data: bytes) -> tuple[str, int]:
    """Decodes with U+FFFD for invalid bytes; the count excludes U+FFFD that were already there."""
    text = data.decode("utf-8", errors="replace")
    return text, text.count(REPLACEMENT) - data.count(REPLACEMENT_BYTES)


# --------------------------------------------------------------------------------------------------
# Readers per format
# --------------------------------------------------------------------------------------------------


def _read_jsonl(path: str, compression: Compression, source: str, repair: bool, stem: str) -> Iterator[RawRecord | Reject]:
    loads = orjson.loads
    lineno = 0
    try:
        for batch in _line_batches(_chunks(path, compression)):
            for line in batch:
                lineno += 1
                if lineno == 1 and line.startswith(BOM):
                    line = line[3:]
                try:
                    value = loads(line)
                except orjson.JSONDecodeError as e:
                    yield _bad_json_line(line, e, path, lineno, source, repair, stem)
                    continue
                if type(value) is dict:
                    yield RawRecord(value, path, lineno, lineno - 1, line, 0, stem)
                else:
                    yield _reject(source, "not_an_object", path, lineno, lineno - 1, line, stem)
    except TruncatedStream as e:
        lineno += 1
        yield _reject(source, f"truncated_file: {e.msg}", path, lineno, lineno - 1, e.partial, stem)


def _bad_json_line(
    line: bytes, err: orjson.JSONDecodeError, path: str, lineno: int, source: str, repair: bool, stem: str
) -> RawRecord | Reject:
    """Classifies a line orjson refused (the slow path; good lines never come here)."""
    raw = line[:-1] if line.endswith(b"\r") else line
    if not line.strip():
        return _reject(source, "empty_line", path, lineno, lineno - 1, raw, stem)
    if b"\x00" in line:
        return _reject(source, "nul_byte", path, lineno, lineno - 1, raw, stem)
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as ue:
        if not repair:
            return _reject(source, f"invalid_utf8: {ue.start}", path, lineno, lineno - 1, raw, stem)
        text, n = _repair(line)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as e2:
            return _reject(source, f"invalid_json: {e2}", path, lineno, lineno - 1, raw, stem)
        if type(value) is not dict:
            return _reject(source, "not_an_object", path, lineno, lineno - 1, raw, stem)
        return RawRecord(value, path, lineno, lineno - 1, line, n, stem)
    return _reject(source, f"invalid_json: {err}", path, lineno, lineno - 1, raw, stem)


def _read_all(path: str, compression: Compression) -> bytes:
    """Whole (decompressed) file; TruncatedStream carries what was decoded in `partial`."""
    out: list[bytes] = []
    try:
        for chunk in _chunks(path, compression):
            out.append(chunk)
    except TruncatedStream as e:
        e.partial = b"".join(out)
        raise
    return b"".join(out)


def _line_at(data: bytes, pos: int) -> tuple[int, bytes]:
    """(1-based line number, that line) for a byte offset."""
    pos = max(0, min(pos, len(data)))
    start = data.rfind(b"\n", 0, pos) + 1
    end = data.find(b"\n", pos)
    return data.count(b"\n", 0, pos) + 1, data[start : end if end >= 0 else len(data)]


def _read_json(path: str, compression: Compression, source: str, repair: bool, stem: str) -> Iterator[RawRecord | Reject]:
    """A whole JSON document: an array of objects (one record each) or one object (one record).
    An unparseable file is one reject for the file, at the line of the error."""
    try:
        data = _read_all(path, compression)
    except TruncatedStream as e:
        lineno, last = _line_at(e.partial, len(e.partial))
        yield _reject(source, f"truncated_file: {e.msg}", path, lineno, None, last, stem)
        return
    if data.startswith(BOM):
        data = data[3:]
    repaired = 0
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        nul = data.find(b"\x00")
        if nul >= 0:
            lineno, line = _line_at(data, nul)
            yield _reject(source, "nul_byte", path, lineno, None, line, stem)
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as ue:
            if not repair:
                lineno, line = _line_at(data, ue.start)
                yield _reject(source, f"invalid_utf8: {ue.start}", path, lineno, None, line, stem)
                return
            text, repaired = _repair(data)
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as e2:
                lineno = max(1, e2.lineno or 1)
                lines = text.split("\n", lineno)
                yield _reject(source, f"invalid_json: {e2}", path, lineno, None, lines[lineno - 1] if lineno <= len(lines) else "", stem)
                return
        else:
            if not data.strip():
                yield _reject(source, "empty_line", path, 1, None, b"", stem)
                return
            lineno = max(1, e.lineno or 1)  # orjson's pos counts characters, lineno is exact
            line = data.split(b"\n", lineno)[lineno - 1] if lineno <= data.count(b"\n") + 1 else b""
            yield _reject(source, f"invalid_json: {e}", path, lineno, None, line, stem)
            return
    if type(value) is dict:
        yield RawRecord(value, path, None, 0, None, repaired, stem)
    elif type(value) is list:
        for i, item in enumerate(value):
            if type(item) is dict:
                n = 0
                if repaired:
                    # attribute repairs to the records that hold them (exact unless the file also
                    # had genuine U+FFFD characters)
                    n = orjson.dumps(item).count(REPLACEMENT_BYTES)
                yield RawRecord(item, path, None, i, None, n, stem)
            else:
                yield _reject(source, "not_an_object", path, None, i, orjson.dumps(item), stem)
    else:
        yield _reject(source, "not_an_object", path, 1, None, data, stem)


def _decode_unit(
    data: bytes, path: str, lineno: int, record: int, source: str, repair: bool, stem: str
) -> RawRecord | Reject:
    if b"\x00" in data:
        return _reject(source, "nul_byte", path, lineno, record, data, stem)
    try:
        return RawRecord({"text": data.decode("utf-8")}, path, lineno, record, data, 0, stem)
    except UnicodeDecodeError as ue:
        if not repair:
            return _reject(source, f"invalid_utf8: {ue.start}", path, lineno, record, data, stem)
        text, n = _repair(data)
        return RawRecord({"text": text}, path, lineno, record, data, n, stem)


def _read_txt(
    path: str, compression: Compression, source: str, repair: bool, stem: str, unit: TxtUnit
) -> Iterator[RawRecord | Reject]:
    """Plain text as {"text": ...} records: the whole file, each non-blank line, or each block of
    lines between blank lines (blank lines only separate here; they are not rejects). CRLF reads as
    LF. A raw NUL byte rejects the unit (`nul_byte`): it means binary junk, not text."""
    if unit == "file":
        try:
            data = _read_all(path, compression)
        except TruncatedStream as e:
            lineno = e.partial.count(b"\n") + 1
            yield _reject(source, f"truncated_file: {e.msg}", path, lineno, 0, e.partial, stem)
            return
        if data.startswith(BOM):
            data = data[3:]
        yield _decode_unit(data.replace(b"\r\n", b"\n"), path, 1, 0, source, repair, stem)
        return

    lineno = 0
    record = 0
    block: list[bytes] = []
    block_start = 0
    try:
        for batch in _line_batches(_chunks(path, compression)):
            for line in batch:
                lineno += 1
                if lineno == 1 and line.startswith(BOM):
                    line = line[3:]
                if line.endswith(b"\r"):
                    line = line[:-1]
                blank = not line.strip()
                if unit == "line":
                    if not blank:
                        yield _decode_unit(line, path, lineno, record, source, repair, stem)
                        record += 1
                    continue
                if blank:
                    if block:
                        yield _decode_unit(b"\n".join(block), path, block_start, record, source, repair, stem)
                        record += 1
                        block = []
                    continue
                if not block:
                    block_start = lineno
                block.append(line)
    except TruncatedStream as e:
        lineno += 1
        raw = b"\n".join([*block, e.partial]) if unit == "paragraph" else e.partial
        yield _reject(source, f"truncated_file: {e.msg}", path, lineno, record, raw, stem)
        return
    if block:
        yield _decode_unit(b"\n".join(block), path, block_start, record, source, repair, stem)


def _read_parquet(path: str, source: str, stem: str) -> Iterator[RawRecord | Reject]:
    """Rows as dicts, record = row index; an unreadable file or row group ends the file with one
    reject at the row where reading stopped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        pf = pq.ParquetFile(_open_binary(path) if is_url(path) else path)
        for batch in pf.iter_batches(batch_size=1024):
            for item in batch.to_pylist():
                yield RawRecord(item, path, None, row, None, 0, stem)
                row += 1
    except (pa.ArrowException, OSError) as e:
        yield _reject(source, f"invalid_parquet: {e}", path, None, row, None, stem)


def read_file(
    path: str,
    source: str,
    *,
    fmt: str = "auto",
    invalid_utf8: InvalidUtf8 = "reject",
    txt_unit: TxtUnit = "paragraph",
    stem: str | None = None,
) -> Iterator[RawRecord | Reject]:
    """Every record of one local file as a RawRecord, every bad one as a `malformed` Reject (stage
    "read"), in file order; never raises for bad content (missing files and unknown formats do)."""
    stem = stem if stem is not None else file_stem(path)
    kind, compression = detect_format(path, fmt)
    repair = invalid_utf8 == "repair"
    if kind == "jsonl":
        return _read_jsonl(path, compression, source, repair, stem)
    if kind == "json":
        return _read_json(path, compression, source, repair, stem)
    if kind == "txt":
        return _read_txt(path, compression, source, repair, stem, txt_unit)
    return _read_parquet(path, source, stem)

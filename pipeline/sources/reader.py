"""The robust local reader: files -> raw records with provenance, or `malformed` rejects.

`datasets` fails a whole JSON/JSONL file on one bad line (docs/dependencies.md), so local files are
read here: every line or record becomes exactly one outcome, a `RawRecord` or a `Reject` with the
file, the 1-based line, the raw bytes and a detail string whose prefix says what was wrong:

``invalid_json: <orjson msg>``, ``invalid_utf8: invalid UTF-8 at byte <n>``, ``invalid_encoding:
invalid <codec> at byte <n>`` (a legacy `encoding`), ``nul_byte``, ``empty_line``, ``not_an_object``,
``truncated_file: <msg>``, ``csv_fields: expected <n> fields, got <m>`` and ``invalid_csv: <msg>``
(CSV/TSV rows), ``invalid_xml: <msg>`` (XML), ``invalid_parquet: <msg>`` (unreadable Parquet).
Byte offsets are 0-based within the line (within the file for whole-JSON).

Character sets are a layer on top of the byte chunks (`_stream`): a UTF-16/UTF-32 BOM (or an
explicit `encoding: utf-16...`) transcodes the stream to UTF-8 before lines are split, because those
encodings are not ASCII-compatible; legacy ASCII-compatible encodings (cp1252, GB18030, Big5, ...)
are decoded line by line (`_Codec`), so an undecodable line is one reject that names its byte.

Line formats stream: compressed input is inflated in bounded chunks (gzip members and zstd frames
one after the other), lines are split in C (`bytes.split`) and parsed by orjson on bytes, so memory
does not grow with the file and a cut-off file still yields every complete line before its
`truncated_file` reject. Whole-JSON files (a JSON array or one object) are parsed in one go.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
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

Format = Literal["jsonl", "json", "parquet", "txt", "csv", "tsv", "xml"]
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
    ".csv": "csv",
    ".tsv": "tsv",
    ".xml": "xml",
}
#: Byte order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
#: Longest CSV/TSV field (the csv module's default, 128 KiB, is shorter than many documents). An
#: unterminated quote swallows the lines after it until this limit stops it with one reject.
CSV_FIELD_LIMIT = 16 << 20


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


def _peek(path: str, compression: Compression, limit: int = SNIFF_BYTES, transcode: bool = True) -> bytes:
    """The first `limit` decompressed bytes without a UTF-8 BOM; a UTF-16/32 file (BOM) is sniffed
    as the UTF-8 it is transcoded to, so format detection sees the same bytes as the readers."""
    out = bytearray()
    gen: Iterator[bytes] = _chunks(path, compression)
    if transcode:
        bom = _bom_codec(_peek(path, compression, 4, transcode=False))
        if bom:
            gen = _transcoded(gen, bom)
    try:
        for chunk in gen:
            out += chunk
            if len(out) >= limit:
                break
    except TruncatedStream:
        pass
    finally:
        gen.close()  # type: ignore[attr-defined]
    data = bytes(out[:limit])
    return data[3:] if transcode and data.startswith(BOM) else data


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
# Byte streams
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
    """zlib directly rather than `gzip.GzipFile`: the module's reader gave 477 MB/s of output here
    against 1,591 for this loop (same file, same run), and its buffered `read` drops the chunk before
    a cut-off (only `read1` keeps it), which the per-line salvage of a truncated file needs."""
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


# --------------------------------------------------------------------------------------------------
# Character sets: a layer on top of the byte chunks
# --------------------------------------------------------------------------------------------------


def _bom_codec(head: bytes) -> str | None:
    """The UTF-16/32 codec a byte order mark announces (None for none or a UTF-8 BOM)."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    return None


def _ascii_compatible(codec: str) -> bool:
    """True when every ASCII byte decodes to itself in `codec` (cp1252, GB18030, Big5, Shift-JIS,
    ...): lines can then be split on raw bytes and decoded one by one."""
    try:
        return bytes(range(128)).decode(codec) == "".join(map(chr, range(128)))
    except (UnicodeDecodeError, LookupError):
        return False


def codec_name(encoding: str) -> str:
    """Python's canonical name of a character set (`CP1252` -> `cp1252`, `gbk` -> `gbk`); raises
    LookupError for an unknown one."""
    return codecs.lookup(encoding).name


@dataclass(frozen=True, slots=True)
class _Codec:
    """How the bytes of one file become text. `stream`: the UTF-16/32 codec the whole byte stream is
    transcoded from to UTF-8 (None: no transcoding); `name`: the codec of the lines after that
    (utf-8, or an ASCII-compatible legacy codec decoded line by line); `repair`: invalid bytes
    become U+FFFD (counted) instead of rejecting the record."""

    name: str = "utf-8"
    stream: str | None = None
    repair: bool = False

    @property
    def utf8(self) -> bool:
        return self.name == "utf-8"

    def decode(self, data: bytes) -> tuple[str, int] | BadBytes:
        """(text, U+FFFD inserted) of a unit in this codec, or where and why it does not decode."""
        if self.utf8:
            try:
                return data.decode("utf-8"), 0
            except UnicodeDecodeError as e:
                if not self.repair:
                    return BadBytes(f"invalid_utf8: invalid UTF-8 at byte {e.start}", e.start)
                return _repair(data)
        try:
            return data.decode(self.name), 0
        except UnicodeDecodeError as e:
            if not self.repair:
                return BadBytes(f"invalid_encoding: invalid {self.name} at byte {e.start}", e.start)
            text = data.decode(self.name, errors="replace")
            return text, text.count(REPLACEMENT)


@dataclass(frozen=True, slots=True)
class BadBytes:
    """A unit that does not decode: the reject detail and the 0-based offset of the first bad byte."""

    detail: str
    pos: int


def _file_codec(path: str, compression: Compression, encoding: str, repair: bool) -> _Codec:
    """The codec of one file: a UTF-16/32 BOM wins (it cannot be mistaken), then `encoding`."""
    bom = _bom_codec(_peek(path, compression, 4, transcode=False))
    if bom:
        return _Codec("utf-8", bom, repair)
    name = codec_name(encoding)
    if name in ("utf-8", "utf-8-sig"):
        return _Codec("utf-8", None, repair)
    if _ascii_compatible(name):
        return _Codec(name, None, repair)
    return _Codec("utf-8", name, repair)  # utf-16, utf-32 without a BOM, or another wide codec


def _transcoded(chunks: Iterator[bytes], codec: str) -> Generator[bytes, None, None]:
    """UTF-8 chunks of a UTF-16/32 byte stream (an incremental decoder: a character split across
    chunks is fine). A lone surrogate passes through (`surrogatepass`) and then reads as invalid
    UTF-8 in its own line, so one bad character rejects one record, not the file."""
    dec = codecs.getincrementaldecoder(codec)(errors="surrogatepass")
    try:
        for chunk in chunks:
            if text := dec.decode(chunk):
                yield text.encode("utf-8", "surrogatepass")
        if text := dec.decode(b"", final=True):
            yield text.encode("utf-8", "surrogatepass")
    except UnicodeDecodeError as e:
        raise TruncatedStream(f"invalid {codec} stream: {e.reason}") from None
    finally:
        chunks.close()  # type: ignore[attr-defined]


def _text_chunks(path: str, compression: Compression, codec: _Codec) -> Iterator[bytes]:
    """The file's bytes as the readers split them: transcoded to UTF-8 when `codec.stream` says."""
    chunks = _chunks(path, compression)
    return _transcoded(chunks, codec.stream) if codec.stream else chunks


def _nul_detail(data: bytes) -> str:
    """`nul_byte`, with a hint when the NULs look like UTF-16/32 text without a byte order mark."""
    if len(data) >= 4 and data.count(b"\x00") * 4 >= len(data):
        return "nul_byte: looks like UTF-16 or UTF-32 without a byte order mark; set `encoding` (e.g. utf-16-le)"
    return "nul_byte"


# --------------------------------------------------------------------------------------------------
# Lines
# --------------------------------------------------------------------------------------------------


def _line_batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
    """Lists of complete lines (without the newline); the last line without a newline comes last.
    A trailing newline does not make an empty last line. On TruncatedStream the unterminated tail is
    attached to the exception."""
    pending = bytearray()  # grown in place: a list of chunks joined at the end left a long line's
    # worth of freed 1 MiB blocks in the heap (glibc does not hand them back), ~1x the line in RSS
    try:
        for chunk in chunks:
            parts = chunk.split(b"\n")
            if len(parts) == 1:
                pending += chunk
                continue
            if pending:
                pending += parts[0]
                parts[0] = bytes(pending)
                pending = bytearray()
            tail = parts.pop()
            if tail:
                pending += tail
            yield parts
    except TruncatedStream as e:
        e.partial = bytes(pending)
        raise
    if pending:
        yield [bytes(pending)]


# --------------------------------------------------------------------------------------------------
# Rejects
# --------------------------------------------------------------------------------------------------


#: Lines longer than this many bytes are released by the JSONL reader as soon as they are parsed, and
#: their RawRecord keeps only the head that `raw_text` can show (`kept_raw`): a long document is
#: then not held as bytes while it is normalized and tagged (issue 19 item 10).
LONG_LINE = 1 << 20


def kept_raw(raw: bytes) -> bytes:
    """The part of a line that `raw_text` reads: raw_text(kept_raw(x)) == raw_text(x). One byte more
    than raw_text's cut, so a "\r" there is stripped (or not) exactly as in the whole line."""
    return raw[: RAW_LIMIT * 4 + 1]


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


def _read_jsonl(path: str, compression: Compression, source: str, codec: _Codec, stem: str) -> Iterator[RawRecord | Reject]:
    loads = orjson.loads
    legacy = not codec.utf8
    lineno = 0
    try:
        for batch in _line_batches(_text_chunks(path, compression, codec)):
            for i in range(len(batch)):  # not enumerate: its cached (i, line) pair keeps the line
                line = batch[i]
                lineno += 1
                if lineno == 1 and line.startswith(BOM):
                    line = line[3:]
                data, repaired = line, 0
                if legacy:  # decoded line by line; orjson then reads the UTF-8 re-encoding
                    got = codec.decode(line)
                    if isinstance(got, BadBytes):
                        yield _reject(source, got.detail, path, lineno, lineno - 1, line, stem)
                        continue
                    data, repaired = got[0].encode("utf-8"), got[1]
                try:
                    value = loads(data)
                except orjson.JSONDecodeError as e:
                    yield _bad_json_line(data, e, path, lineno, source, codec.repair, stem, line)
                    continue
                if type(value) is not dict:
                    yield _reject(source, "not_an_object", path, lineno, lineno - 1, line, stem)
                    continue
                if len(line) > LONG_LINE:
                    # this frame stays suspended while the document is processed: it must not keep
                    # the line's bytes (the batch, `line`, `data`) nor the parsed record (`value`)
                    rec = RawRecord(value, path, lineno, lineno - 1, kept_raw(line), repaired, stem)
                    batch[i] = b""
                    del line, data, value
                    yield rec
                    del rec
                    continue
                yield RawRecord(value, path, lineno, lineno - 1, line, repaired, stem)
    except TruncatedStream as e:
        lineno += 1
        yield _reject(source, f"truncated_file: {e.msg}", path, lineno, lineno - 1, e.partial, stem)


def _bad_json_line(
    line: bytes,
    err: orjson.JSONDecodeError,
    path: str,
    lineno: int,
    source: str,
    repair: bool,
    stem: str,
    raw_line: bytes | None = None,
) -> RawRecord | Reject:
    """Classifies a line orjson refused (the slow path; good lines never come here). `line` is
    UTF-8 (or invalid bytes); `raw_line` the line as read, when a legacy codec decoded it."""
    raw_line = line if raw_line is None else raw_line
    raw = raw_line[:-1] if raw_line.endswith(b"\r") else raw_line
    if not line.strip():
        return _reject(source, "empty_line", path, lineno, lineno - 1, raw, stem)
    if b"\x00" in line:
        return _reject(source, _nul_detail(line), path, lineno, lineno - 1, raw, stem)
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as ue:
        if not repair:
            return _reject(source, f"invalid_utf8: invalid UTF-8 at byte {ue.start}", path, lineno, lineno - 1, raw, stem)
        text, n = _repair(line)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as e2:
            return _reject(source, f"invalid_json: {e2}", path, lineno, lineno - 1, raw, stem)
        if type(value) is not dict:
            return _reject(source, "not_an_object", path, lineno, lineno - 1, raw, stem)
        return RawRecord(value, path, lineno, lineno - 1, raw_line, n, stem)
    return _reject(source, f"invalid_json: {err}", path, lineno, lineno - 1, raw, stem)


def _read_all(path: str, compression: Compression, codec: _Codec) -> bytes:
    """Whole (decompressed, transcoded) file; TruncatedStream carries what was decoded in `partial`."""
    out: list[bytes] = []
    try:
        for chunk in _text_chunks(path, compression, codec):
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


def _read_json(path: str, compression: Compression, source: str, codec: _Codec, stem: str) -> Iterator[RawRecord | Reject]:
    """A whole JSON document: an array of objects (one record each) or one object (one record).
    An unparseable file is one reject for the file, at the line of the error."""
    repair = codec.repair
    try:
        data = _read_all(path, compression, codec)
    except TruncatedStream as e:
        lineno, last = _line_at(e.partial, len(e.partial))
        yield _reject(source, f"truncated_file: {e.msg}", path, lineno, None, last, stem)
        return
    if data.startswith(BOM):
        data = data[3:]
    repaired = 0
    if not codec.utf8:
        got = codec.decode(data)
        if isinstance(got, BadBytes):
            lineno, line = _line_at(data, got.pos)
            yield _reject(source, got.detail, path, lineno, None, line, stem)
            return
        data, repaired = got[0].encode("utf-8"), got[1]
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        nul = data.find(b"\x00")
        if nul >= 0:
            lineno, line = _line_at(data, nul)
            yield _reject(source, _nul_detail(line), path, lineno, None, line, stem)
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as ue:
            if not repair:
                lineno, line = _line_at(data, ue.start)
                yield _reject(source, f"invalid_utf8: invalid UTF-8 at byte {ue.start}", path, lineno, None, line, stem)
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
    data: bytes, path: str, lineno: int, record: int, source: str, codec: _Codec, stem: str
) -> RawRecord | Reject:
    if b"\x00" in data:
        return _reject(source, _nul_detail(data), path, lineno, record, data, stem)
    got = codec.decode(data)
    if isinstance(got, BadBytes):
        return _reject(source, got.detail, path, lineno, record, data, stem)
    return RawRecord({"text": got[0]}, path, lineno, record, data, got[1], stem)


def _read_txt(
    path: str, compression: Compression, source: str, codec: _Codec, stem: str, unit: TxtUnit
) -> Iterator[RawRecord | Reject]:
    """Plain text as {"text": ...} records: the whole file, each non-blank line, or each block of
    lines between blank lines (blank lines only separate here; they are not rejects). CRLF reads as
    LF. A raw NUL byte rejects the unit (`nul_byte`): it means binary junk, not text."""
    if unit == "file":
        try:
            data = _read_all(path, compression, codec)
        except TruncatedStream as e:
            lineno = e.partial.count(b"\n") + 1
            yield _reject(source, f"truncated_file: {e.msg}", path, lineno, 0, e.partial, stem)
            return
        if data.startswith(BOM):
            data = data[3:]
        yield _decode_unit(data.replace(b"\r\n", b"\n"), path, 1, 0, source, codec, stem)
        return

    lineno = 0
    record = 0
    block: list[bytes] = []
    block_start = 0
    try:
        for batch in _line_batches(_text_chunks(path, compression, codec)):
            for line in batch:
                lineno += 1
                if lineno == 1 and line.startswith(BOM):
                    line = line[3:]
                if line.endswith(b"\r"):
                    line = line[:-1]
                blank = not line.strip()
                if unit == "line":
                    if not blank:
                        yield _decode_unit(line, path, lineno, record, source, codec, stem)
                        record += 1
                    continue
                if blank:
                    if block:
                        yield _decode_unit(b"\n".join(block), path, block_start, record, source, codec, stem)
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
        yield _decode_unit(b"\n".join(block), path, block_start, record, source, codec, stem)


def _header_names(row: list[str]) -> list[str]:
    """Column names as pandas and `datasets` name them: an empty name is `Unnamed: <i>` (the index
    column pandas writes), a repeated one gets `.1`, `.2`, ..."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(row):
        name = name.strip() or f"Unnamed: {i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    return names


def _read_csv(
    path: str, compression: Compression, source: str, codec: _Codec, stem: str, delimiter: str
) -> Iterator[RawRecord | Reject]:
    """A header row, then one record per row ({column: str}), `line` = the row's first line and
    `record` = line - 1 (as JSONL). CSV follows RFC 4180 (quoted fields may hold delimiters, quotes
    and newlines); TSV has no quoting (IANA text/tab-separated-values), so a quote is an ordinary
    character, as in MRPC or CLUE's TSV files. Lines are decoded one by one (`_Codec`) before the
    csv module sees them, so an undecodable line rejects its row with the byte that broke it."""
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
    bad: dict[int, str] = {}  # line -> reject detail
    fixed: dict[int, int] = {}  # line -> U+FFFD inserted by repair
    pending: list[bytes] = []  # raw lines of the row being parsed
    cut: list[TruncatedStream] = []
    lineno = 0

    def lines() -> Iterator[str]:
        nonlocal lineno
        try:
            for batch in _line_batches(_text_chunks(path, compression, codec)):
                for line in batch:
                    lineno += 1
                    if lineno == 1 and line.startswith(BOM):
                        line = line[3:]
                    pending.append(line)
                    if b"\x00" in line:
                        bad[lineno] = _nul_detail(line)
                        line = line.replace(b"\x00", b"")
                    got = codec.decode(line)
                    if isinstance(got, BadBytes):
                        bad[lineno] = got.detail
                        text = line.decode(codec.name, errors="replace")
                    else:
                        text = got[0]
                        if got[1]:
                            fixed[lineno] = got[1]
                    yield text + "\n"
        except TruncatedStream as e:
            cut.append(e)

    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    # strict: a quote left open at the end of the file is an error, not a field that silently
    # swallowed every row after it
    reader = csv.reader(lines(), delimiter=delimiter, quoting=quoting, strict=True)
    header: list[str] | None = None
    prev = 0
    while True:
        try:
            row = next(reader)
            error = None
        except StopIteration:
            break
        except csv.Error as e:
            row, error = [], f"invalid_csv: {e}"
        start, end = prev + 1, reader.line_num
        prev = end
        if error is not None and "unexpected end of data" in error:
            error = f"invalid_csv: the quoted field opened on line {start} is never closed (lines {start}-{end})"
        raw = b"\n".join(pending)
        pending.clear()
        flaw = next((bad[n] for n in range(start, end + 1) if n in bad), None)
        flaw_line = next((n for n in range(start, end + 1) if n in bad), start)
        blank = not row or (len(row) == 1 and not row[0].strip())
        if header is None and error is None and not blank:
            # the header is not a record: undecodable bytes in it show as U+FFFD in the names,
            # rather than the first data row silently becoming the header
            header = _header_names(row)
            continue
        if error is not None or flaw is not None:
            yield _reject(source, error or flaw or "", path, flaw_line if error is None else start, start - 1, raw, stem)
            continue
        if blank:
            yield _reject(source, "empty_line", path, start, start - 1, raw, stem)
            continue
        assert header is not None
        if len(row) != len(header):
            yield _reject(source, f"csv_fields: expected {len(header)} fields, got {len(row)}", path, start, start - 1, raw, stem)
            continue
        repaired = sum(fixed.get(n, 0) for n in range(start, end + 1)) if fixed else 0
        yield RawRecord(dict(zip(header, row)), path, start, start - 1, raw, repaired, stem)
    if cut:
        lineno += 1
        yield _reject(source, f"truncated_file: {cut[0].msg}", path, lineno, lineno - 1, cut[0].partial, stem)


def _read_xml(path: str, compression: Compression, source: str, codec: _Codec, stem: str) -> Iterator[RawRecord | Reject]:
    """One record per `<row .../>` element, its attributes as the value (Stack Exchange dumps:
    Posts.xml, Comments.xml, ...), streamed through expat (memory does not grow with the file) with
    the element's line. XML cannot be resynchronised after a syntax error: the rest of the file is
    one `invalid_xml` reject at the line of the error. An empty file has no records."""
    from xml.parsers import expat

    if not codec.utf8:
        raise ValueError(f"{path}: XML input takes its character set from the XML declaration; remove `encoding`")
    # a transcoded UTF-16/32 file is UTF-8 now, whatever its declaration says
    parser = expat.ParserCreate(encoding="UTF-8" if codec.stream else None)
    parser.buffer_text = True
    got: list[RawRecord] = []
    count = 0
    seen = 0

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal count
        if name == "row":
            got.append(RawRecord(attrs, path, parser.CurrentLineNumber, count, None, 0, stem))
            count += 1

    parser.StartElementHandler = start
    try:
        for chunk in _text_chunks(path, compression, codec):
            seen += len(chunk)
            parser.Parse(chunk, False)
            yield from got
            got.clear()
        if seen:
            parser.Parse(b"", True)
    except expat.ExpatError as e:
        yield from got
        yield _reject(source, f"invalid_xml: {expat.errors.messages[e.code]}", path, e.lineno, None, None, stem)
        return
    except TruncatedStream as e:
        yield from got
        yield _reject(source, f"truncated_file: {e.msg}", path, parser.CurrentLineNumber, None, None, stem)
        return
    yield from got


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
    encoding: str = "utf-8",
) -> Iterator[RawRecord | Reject]:
    """Every record of one local file as a RawRecord, every bad one as a `malformed` Reject (stage
    "read"), in file order; never raises for bad content (missing files and unknown formats do).
    `encoding`: the character set when the file has no UTF-16/32 byte order mark."""
    stem = stem if stem is not None else file_stem(path)
    kind, compression = detect_format(path, fmt)
    if kind == "parquet":
        return _read_parquet(path, source, stem)
    codec = _file_codec(path, compression, encoding, invalid_utf8 == "repair")
    if kind == "jsonl":
        return _read_jsonl(path, compression, source, codec, stem)
    if kind == "json":
        return _read_json(path, compression, source, codec, stem)
    if kind == "txt":
        return _read_txt(path, compression, source, codec, stem, txt_unit)
    if kind in ("csv", "tsv"):
        return _read_csv(path, compression, source, codec, stem, "," if kind == "csv" else "\t")
    return _read_xml(path, compression, source, codec, stem)

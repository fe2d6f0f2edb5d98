"""Byte streams of one input file: where the bytes come from, decompression that salvages a cut-off
stream, character sets, and the split into lines.

Compressed input is inflated in bounded chunks (gzip members and zstd frames one after the other),
so memory does not grow with the file, and a cut-off or corrupt stream raises `TruncatedStream` only
after everything decodable has been yielded (the readers then report every complete line before one
`truncated_file` reject). Character sets are a layer on top of the byte chunks: a UTF-16/UTF-32 BOM
(or an explicit `encoding: utf-16...`) transcodes the stream to UTF-8 before lines are split, because
those encodings are not ASCII-compatible; legacy ASCII-compatible encodings (cp1252, GB18030, Big5,
...) are decoded line by line (`Codec`), so an undecodable line is one reject that names its byte.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import threading
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal

from pipeline.layout import is_url

Compression = Literal["gzip", "zstd"] | None

#: Bytes read per step (compressed bytes for compressed input).
READ_CHUNK = 1 << 20
#: Most decompressed bytes one gzip step may produce (bounds memory on highly compressible input).
INFLATE_LIMIT = 1 << 20
#: How much of a file `peek` returns by default (format detection).
SNIFF_BYTES = 1 << 20

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
REPLACEMENT = "\ufffd"
REPLACEMENT_BYTES = REPLACEMENT.encode("utf-8")

#: Byte order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


class TruncatedStream(Exception):
    """A gzip/zstd stream that ends (or breaks) before its end marker; `partial` is the unterminated
    tail that had been decoded when it broke."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg
        self.partial = b""


# --------------------------------------------------------------------------------------------------
# Opening
# --------------------------------------------------------------------------------------------------


def open_binary(path: str) -> BinaryIO:
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


# --------------------------------------------------------------------------------------------------
# Decompression
# --------------------------------------------------------------------------------------------------


def byte_chunks(path: str, compression: Compression) -> Generator[bytes, None, None]:
    """Decompressed bytes in bounded chunks; raises TruncatedStream at a cut-off or corrupt stream
    after everything decodable has been yielded. Concatenated gzip members / zstd frames are read
    one after the other (pigz, `cat a.gz b.gz`), zero padding after a gzip member is ignored."""
    with open_binary(path) as fh:
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


def peek(path: str, compression: Compression, limit: int = SNIFF_BYTES, transcode: bool = True) -> bytes:
    """The first `limit` decompressed bytes without a UTF-8 BOM; a UTF-16/32 file (BOM) is sniffed
    as the UTF-8 it is transcoded to, so format detection sees the same bytes as the readers."""
    out = bytearray()
    gen: Iterator[bytes] = byte_chunks(path, compression)
    if transcode:
        bom = bom_codec(peek(path, compression, 4, transcode=False))
        if bom:
            gen = transcoded(gen, bom)
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


# --------------------------------------------------------------------------------------------------
# Character sets: a layer on top of the byte chunks
# --------------------------------------------------------------------------------------------------


def bom_codec(head: bytes) -> str | None:
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
class Codec:
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
                return repair_utf8(data)
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


def file_codec(path: str, compression: Compression, encoding: str, repair: bool) -> Codec:
    """The codec of one file: a UTF-16/32 BOM wins (it cannot be mistaken), then `encoding`."""
    bom = bom_codec(peek(path, compression, 4, transcode=False))
    if bom:
        return Codec("utf-8", bom, repair)
    name = codec_name(encoding)
    if name in ("utf-8", "utf-8-sig"):
        return Codec("utf-8", None, repair)
    if _ascii_compatible(name):
        return Codec(name, None, repair)
    return Codec("utf-8", name, repair)  # utf-16, utf-32 without a BOM, or another wide codec


def transcoded(chunks: Iterator[bytes], codec: str) -> Generator[bytes, None, None]:
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


def text_chunks(path: str, compression: Compression, codec: Codec) -> Iterator[bytes]:
    """The file's bytes as the readers split them: transcoded to UTF-8 when `codec.stream` says."""
    chunks = byte_chunks(path, compression)
    return transcoded(chunks, codec.stream) if codec.stream else chunks


def nul_detail(data: bytes) -> str:
    """`nul_byte`, with a hint when the NULs look like UTF-16/32 text without a byte order mark."""
    if len(data) >= 4 and data.count(b"\x00") * 4 >= len(data):
        return "nul_byte: looks like UTF-16 or UTF-32 without a byte order mark; set `encoding` (e.g. utf-16-le)"
    return "nul_byte"


def repair_utf8(data: bytes) -> tuple[str, int]:
    """Decodes with U+FFFD for invalid bytes; the count excludes U+FFFD that were already there."""
    text = data.decode("utf-8", errors="replace")
    return text, text.count(REPLACEMENT) - data.count(REPLACEMENT_BYTES)


# --------------------------------------------------------------------------------------------------
# Lines
# --------------------------------------------------------------------------------------------------


def line_batches(chunks: Iterable[bytes]) -> Iterator[list[bytes]]:
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

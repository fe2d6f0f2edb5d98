"""The robust local reader: files -> raw records with provenance, or `malformed` rejects.

`datasets` fails a whole JSON/JSONL file on one bad line (docs/dependencies.md), so local files are
read here: every line or record becomes exactly one outcome, a `RawRecord` or a `Reject` with the
file, the 1-based line, the raw bytes and a detail string whose prefix says what was wrong:

``invalid_json: <orjson msg>``, ``invalid_utf8: invalid UTF-8 at byte <n>``, ``invalid_encoding:
invalid <codec> at byte <n>`` (a legacy `encoding`), ``nul_byte``, ``empty_line``, ``not_an_object``,
``truncated_file: <msg>``, ``csv_fields: expected <n> fields, got <m>`` and ``invalid_csv: <msg>``
(CSV/TSV rows), ``invalid_xml: <msg>`` (XML), ``invalid_parquet: <msg>`` (unreadable Parquet).
Byte offsets are 0-based within the line (within the file for whole-JSON).

Line formats stream: the bytes come from `streams.py` (decompression, character sets, lines split in
C by `bytes.split`), lines are parsed by orjson on bytes, so memory does not grow with the file and a
cut-off file still yields every complete line before its `truncated_file` reject. Whole-JSON files
(a JSON array or one object) are parsed in one go. Layout: `detect.py` (names, formats),
`streams.py` (bytes), `records.py` (what readers yield), this module (JSON lines, JSON, text, and
`read_file`), `tabular.py` (CSV/TSV, XML, Parquet).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import orjson

from pipeline.document import Reject
from pipeline.sources.detect import detect_format, file_stem
from pipeline.sources.records import LONG_LINE, RawRecord, kept_raw, read_reject
from pipeline.sources.streams import (
    BOM,
    REPLACEMENT_BYTES,
    BadBytes,
    Codec,
    Compression,
    TruncatedStream,
    file_codec,
    line_batches,
    nul_detail,
    repair_utf8,
    text_chunks,
)
from pipeline.sources.tabular import read_csv, read_parquet, read_xml

__all__ = ["InvalidUtf8", "TxtUnit", "read_file"]

InvalidUtf8 = Literal["reject", "repair"]
TxtUnit = Literal["file", "line", "paragraph"]


def _read_jsonl(path: str, compression: Compression, source: str, codec: Codec, stem: str) -> Iterator[RawRecord | Reject]:
    loads = orjson.loads
    legacy = not codec.utf8
    lineno = 0
    try:
        for batch in line_batches(text_chunks(path, compression, codec)):
            for i in range(len(batch)):  # not enumerate: its cached (i, line) pair keeps the line
                line = batch[i]
                lineno += 1
                if lineno == 1 and line.startswith(BOM):
                    line = line[3:]
                data, repaired = line, 0
                if legacy:  # decoded line by line; orjson then reads the UTF-8 re-encoding
                    got = codec.decode(line)
                    if isinstance(got, BadBytes):
                        yield read_reject(source, got.detail, path, lineno, lineno - 1, line, stem)
                        continue
                    data, repaired = got[0].encode("utf-8"), got[1]
                try:
                    value = loads(data)
                except orjson.JSONDecodeError as e:
                    yield _bad_json_line(data, e, path, lineno, source, codec.repair, stem, line)
                    continue
                if type(value) is not dict:
                    yield read_reject(source, "not_an_object", path, lineno, lineno - 1, line, stem)
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
        yield read_reject(source, f"truncated_file: {e.msg}", path, lineno, lineno - 1, e.partial, stem)


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
        return read_reject(source, "empty_line", path, lineno, lineno - 1, raw, stem)
    if b"\x00" in line:
        return read_reject(source, nul_detail(line), path, lineno, lineno - 1, raw, stem)
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as ue:
        if not repair:
            return read_reject(source, f"invalid_utf8: invalid UTF-8 at byte {ue.start}", path, lineno, lineno - 1, raw, stem)
        text, n = repair_utf8(line)
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError as e2:
            return read_reject(source, f"invalid_json: {e2}", path, lineno, lineno - 1, raw, stem)
        if type(value) is not dict:
            return read_reject(source, "not_an_object", path, lineno, lineno - 1, raw, stem)
        return RawRecord(value, path, lineno, lineno - 1, raw_line, n, stem)
    return read_reject(source, f"invalid_json: {err}", path, lineno, lineno - 1, raw, stem)


def _read_all(path: str, compression: Compression, codec: Codec) -> bytes:
    """Whole (decompressed, transcoded) file; TruncatedStream carries what was decoded in `partial`."""
    out: list[bytes] = []
    try:
        for chunk in text_chunks(path, compression, codec):
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


def _read_json(path: str, compression: Compression, source: str, codec: Codec, stem: str) -> Iterator[RawRecord | Reject]:
    """A whole JSON document: an array of objects (one record each) or one object (one record).
    An unparseable file is one reject for the file, at the line of the error."""
    repair = codec.repair
    try:
        data = _read_all(path, compression, codec)
    except TruncatedStream as e:
        lineno, last = _line_at(e.partial, len(e.partial))
        yield read_reject(source, f"truncated_file: {e.msg}", path, lineno, None, last, stem)
        return
    if data.startswith(BOM):
        data = data[3:]
    repaired = 0
    if not codec.utf8:
        got = codec.decode(data)
        if isinstance(got, BadBytes):
            lineno, line = _line_at(data, got.pos)
            yield read_reject(source, got.detail, path, lineno, None, line, stem)
            return
        data, repaired = got[0].encode("utf-8"), got[1]
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        nul = data.find(b"\x00")
        if nul >= 0:
            lineno, line = _line_at(data, nul)
            yield read_reject(source, nul_detail(line), path, lineno, None, line, stem)
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as ue:
            if not repair:
                lineno, line = _line_at(data, ue.start)
                yield read_reject(source, f"invalid_utf8: invalid UTF-8 at byte {ue.start}", path, lineno, None, line, stem)
                return
            text, repaired = repair_utf8(data)
            try:
                value = orjson.loads(text)
            except orjson.JSONDecodeError as e2:
                lineno = max(1, e2.lineno or 1)
                lines = text.split("\n", lineno)
                yield read_reject(source, f"invalid_json: {e2}", path, lineno, None, lines[lineno - 1] if lineno <= len(lines) else "", stem)
                return
        else:
            if not data.strip():
                yield read_reject(source, "empty_line", path, 1, None, b"", stem)
                return
            lineno = max(1, e.lineno or 1)  # orjson's pos counts characters, lineno is exact
            line = data.split(b"\n", lineno)[lineno - 1] if lineno <= data.count(b"\n") + 1 else b""
            yield read_reject(source, f"invalid_json: {e}", path, lineno, None, line, stem)
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
                yield read_reject(source, "not_an_object", path, None, i, orjson.dumps(item), stem)
    else:
        yield read_reject(source, "not_an_object", path, 1, None, data, stem)


def _decode_unit(
    data: bytes, path: str, lineno: int, record: int, source: str, codec: Codec, stem: str
) -> RawRecord | Reject:
    if b"\x00" in data:
        return read_reject(source, nul_detail(data), path, lineno, record, data, stem)
    got = codec.decode(data)
    if isinstance(got, BadBytes):
        return read_reject(source, got.detail, path, lineno, record, data, stem)
    return RawRecord({"text": got[0]}, path, lineno, record, data, got[1], stem)


def _read_txt(
    path: str, compression: Compression, source: str, codec: Codec, stem: str, unit: TxtUnit
) -> Iterator[RawRecord | Reject]:
    """Plain text as {"text": ...} records: the whole file, each non-blank line, or each block of
    lines between blank lines (blank lines only separate here; they are not rejects). CRLF reads as
    LF. A raw NUL byte rejects the unit (`nul_byte`): it means binary junk, not text."""
    if unit == "file":
        try:
            data = _read_all(path, compression, codec)
        except TruncatedStream as e:
            lineno = e.partial.count(b"\n") + 1
            yield read_reject(source, f"truncated_file: {e.msg}", path, lineno, 0, e.partial, stem)
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
        for batch in line_batches(text_chunks(path, compression, codec)):
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
        yield read_reject(source, f"truncated_file: {e.msg}", path, lineno, record, raw, stem)
        return
    if block:
        yield _decode_unit(b"\n".join(block), path, block_start, record, source, codec, stem)


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
        return read_parquet(path, source, stem)
    codec = file_codec(path, compression, encoding, invalid_utf8 == "repair")
    if kind == "jsonl":
        return _read_jsonl(path, compression, source, codec, stem)
    if kind == "json":
        return _read_json(path, compression, source, codec, stem)
    if kind == "txt":
        return _read_txt(path, compression, source, codec, stem, txt_unit)
    if kind in ("csv", "tsv"):
        return read_csv(path, compression, source, codec, stem, "," if kind == "csv" else "\t")
    return read_xml(path, compression, source, codec, stem)

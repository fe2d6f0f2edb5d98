"""Table-shaped formats: CSV/TSV (a header row, one record per row), XML `<row .../>` elements
(Stack Exchange dumps) and Parquet, each with the same one-outcome-per-record contract as the line
readers (`reader.py`)."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from pipeline.document import Reject
from pipeline.layout import is_url
from pipeline.sources.records import RawRecord, read_reject
from pipeline.sources.streams import (
    BOM,
    BadBytes,
    Codec,
    Compression,
    TruncatedStream,
    line_batches,
    nul_detail,
    open_binary,
    text_chunks,
)

#: Longest CSV/TSV field (the csv module's default, 128 KiB, is shorter than many documents). An
#: unterminated quote swallows the lines after it until this limit stops it with one reject.
CSV_FIELD_LIMIT = 16 << 20


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


def read_csv(
    path: str, compression: Compression, source: str, codec: Codec, stem: str, delimiter: str
) -> Iterator[RawRecord | Reject]:
    """A header row, then one record per row ({column: str}), `line` = the row's first line and
    `record` = line - 1 (as JSONL). CSV follows RFC 4180 (quoted fields may hold delimiters, quotes
    and newlines); TSV has no quoting (IANA text/tab-separated-values), so a quote is an ordinary
    character, as in MRPC or CLUE's TSV files. Lines are decoded one by one (`Codec`) before the
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
            for batch in line_batches(text_chunks(path, compression, codec)):
                for line in batch:
                    lineno += 1
                    if lineno == 1 and line.startswith(BOM):
                        line = line[3:]
                    pending.append(line)
                    if b"\x00" in line:
                        bad[lineno] = nul_detail(line)
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
            yield read_reject(source, error or flaw or "", path, flaw_line if error is None else start, start - 1, raw, stem)
            continue
        if blank:
            yield read_reject(source, "empty_line", path, start, start - 1, raw, stem)
            continue
        assert header is not None
        if len(row) != len(header):
            yield read_reject(source, f"csv_fields: expected {len(header)} fields, got {len(row)}", path, start, start - 1, raw, stem)
            continue
        repaired = sum(fixed.get(n, 0) for n in range(start, end + 1)) if fixed else 0
        yield RawRecord(dict(zip(header, row)), path, start, start - 1, raw, repaired, stem)
    if cut:
        lineno += 1
        yield read_reject(source, f"truncated_file: {cut[0].msg}", path, lineno, lineno - 1, cut[0].partial, stem)


def read_xml(path: str, compression: Compression, source: str, codec: Codec, stem: str) -> Iterator[RawRecord | Reject]:
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
        for chunk in text_chunks(path, compression, codec):
            seen += len(chunk)
            parser.Parse(chunk, False)
            yield from got
            got.clear()
        if seen:
            parser.Parse(b"", True)
    except expat.ExpatError as e:
        yield from got
        yield read_reject(source, f"invalid_xml: {expat.errors.messages[e.code]}", path, e.lineno, None, None, stem)
        return
    except TruncatedStream as e:
        yield from got
        yield read_reject(source, f"truncated_file: {e.msg}", path, parser.CurrentLineNumber, None, None, stem)
        return
    yield from got


def read_parquet(path: str, source: str, stem: str) -> Iterator[RawRecord | Reject]:
    """Rows as dicts, record = row index; an unreadable file or row group ends the file with one
    reject at the row where reading stopped."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = 0
    try:
        pf = pq.ParquetFile(open_binary(path) if is_url(path) else path)
        for batch in pf.iter_batches(batch_size=1024):
            for item in batch.to_pylist():
                yield RawRecord(item, path, None, row, None, 0, stem)
                row += 1
    except (pa.ArrowException, OSError) as e:
        yield read_reject(source, f"invalid_parquet: {e}", path, None, row, None, stem)

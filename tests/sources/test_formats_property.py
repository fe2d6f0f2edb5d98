"""Properties of the CSV/TSV and character-set layers: what the csv module writes reads back
exactly (any text, any of the supported encodings), and arbitrary bytes never raise."""

from __future__ import annotations

import csv
import io
import os
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.document import Reject
from pipeline.sources.reader import read_file
from pipeline.sources.records import RawRecord

# csv cannot hold NUL, and a lone CR inside a field does not survive line splitting in any reader
# that accepts CRLF files; surrogates cannot be encoded
cell = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30)
tsv_cell = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n\t"), max_size=30)


def _write(data: bytes, suffix: str) -> str:
    fd, path = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return path


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(st.tuples(cell, cell), max_size=12),
    codec=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),  # utf-16/32 write a BOM
    crlf=st.booleans(),
)
def test_csv_round_trip(rows: list[tuple[str, str]], codec: str, crlf: bool) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(["a", "b"])
    for r in rows:
        w.writerow(r)
    path = _write(buf.getvalue().encode(codec), ".csv")
    try:
        out = list(read_file(path, "src"))
    finally:
        os.unlink(path)
    # every row comes back, in order (a row of two empty cells is written as a bare delimiter)
    assert all(isinstance(x, RawRecord) for x in out), [getattr(x, "drop_value", None) for x in out]
    assert [(x.value["a"], x.value["b"]) for x in out] == rows  # type: ignore[union-attr]
    lines = [x.line for x in out]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(tsv_cell, tsv_cell), min_size=1, max_size=12), codec=st.sampled_from(["utf-8", "utf-16-le", "gb18030"]))
def test_tsv_round_trip(rows: list[tuple[str, str]], codec: str) -> None:
    body = "a\tb\n" + "".join(f"{x}\t{y}\n" for x, y in rows)
    bom = "\ufeff".encode("utf-16-le") if codec == "utf-16-le" else b""
    path = _write(bom + body.encode(codec), ".tsv")
    try:
        out = list(read_file(path, "src", encoding="gb18030" if codec == "gb18030" else "utf-8"))
    finally:
        os.unlink(path)
    want = [(i + 2, r) for i, r in enumerate(rows)]
    got = [(x.line, (x.value["a"], x.value["b"])) if isinstance(x, RawRecord) else (x.line, x.drop_value) for x in out]
    # a row with two empty cells is a lone tab, not a blank line: it is a record too
    assert got == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".tsv", ".xml"]), repair=st.booleans())
def test_arbitrary_bytes_never_raise(data: bytes, suffix: str, repair: bool) -> None:
    path = _write(data, suffix)
    try:
        out = list(read_file(path, "src", invalid_utf8="repair" if repair else "reject"))
    finally:
        os.unlink(path)
    for x in out:
        assert isinstance(x, (RawRecord, Reject))
        if isinstance(x, Reject):
            assert x.stage == "read" and x.drop_reason == "malformed" and x.drop_value

"""The local reader: one outcome per line/record, exact reject details, compressed and cut-off input."""

from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from srchelpers import FIXTURES, docs, read_source, rejects

from pipeline.document import Document, Reject
from pipeline.sources import streams
from pipeline.sources.detect import detect_format
from pipeline.sources.reader import read_file
from pipeline.sources.records import RawRecord


def outcomes(path: Path | str, **kw: object) -> list[RawRecord | Reject]:
    return list(read_file(str(path), "src", **kw))  # type: ignore[arg-type]


def summary(items: list[RawRecord | Reject]) -> list[tuple[str, int | None, str | None]]:
    return [("rec", x.line, None) if isinstance(x, RawRecord) else ("rej", x.line, x.drop_value) for x in items]


def full_lines(name: str) -> list[bytes]:
    return (FIXTURES / name).read_bytes().split(b"\n")


# --------------------------------------------------------------------------------------------------
# JSONL: every kind of bad line
# --------------------------------------------------------------------------------------------------

EXPECTED_MALFORMED = [
    ("rec", 1, None),
    ("rej", 2, "invalid_json: "),
    ("rec", 3, None),
    ("rec", 4, None),  # missing text: the adapter's business
    ("rec", 5, None),  # text of the wrong type: the adapter's business
    ("rej", 6, "invalid_utf8: invalid UTF-8 at byte 13"),
    ("rej", 7, "nul_byte"),
    ("rej", 8, "empty_line"),
    ("rej", 9, "not_an_object"),
    ("rec", 10, None),
    ("rej", 11, "empty_line"),
    ("rec", 12, None),
]


def test_malformed_lines_one_outcome_each() -> None:
    path = FIXTURES / "malformed.jsonl"
    items = outcomes(path)
    got = summary(items)
    assert len(got) == len(EXPECTED_MALFORMED)
    for (kind, line, detail), (ekind, eline, edetail) in zip(got, EXPECTED_MALFORMED):
        assert (kind, line) == (ekind, eline)
        if edetail == "invalid_json: ":
            assert detail is not None and detail.startswith("invalid_json: unexpected end of data")
        else:
            assert detail == edetail
    raw_lines = full_lines("malformed.jsonl")
    for x in items:
        assert x.file == str(path)
        assert x.record == x.line - 1  # type: ignore[operator]
        if isinstance(x, Reject):
            assert (x.stage, x.drop_reason, x.source, x.field) == ("read", "malformed", "src", None)
            assert x.id == f"src/malformed/{x.record}"
            assert x.raw == raw_lines[x.line - 1].decode("utf-8", errors="backslashreplace")  # type: ignore[index,operator]
    assert [x for x in items if isinstance(x, Reject) and x.line == 6][0].raw.startswith('{"text": "caf\\xe9 au')  # type: ignore[union-attr]


def test_malformed_through_adapter_nothing_lost() -> None:
    items = read_source(type="generic", paths=[str(FIXTURES / "malformed.jsonl")])
    good = docs(items)
    bad = rejects(items)
    assert [d.line for d in good] == [1, 3, 10, 12]
    texts = [orjson.loads(raw_line)["text"] for i, raw_line in enumerate(full_lines("malformed.jsonl")) if i + 1 in (1, 3, 10, 12)]
    assert [d.text for d in good] == texts
    assert [d.id for d in good] == ["src/malformed/0", "src/malformed/2", "src/malformed/9", "src/malformed/11"]
    by_line = {r.line or 0: r for r in bad}
    assert sorted(by_line) == [2, 4, 5, 6, 7, 8, 9, 11]
    assert (by_line[4].drop_value, by_line[4].field) == ("missing_field: text", "text")
    assert (by_line[5].drop_value, by_line[5].field) == ("wrong_type: text is int, expected str", "text")
    assert by_line[4].raw == '{"id": 7, "body": "no text field here"}'
    assert all(r.stage == "read" and r.drop_reason == "malformed" for r in bad)
    # nothing lost: every line of the file is exactly one document or one reject
    assert sorted([x.line for x in items]) == list(range(1, 13))  # type: ignore[type-var]


def test_repair_mode_counts_replacements() -> None:
    items = read_source("repair", type="generic", paths=[str(FIXTURES / "malformed.jsonl")])
    good = docs(items)
    assert [d.line for d in good] == [1, 3, 6, 10, 12]
    fixed = good[2]
    assert fixed.text == "caf\ufffd au lait, written in Latin-1"
    assert fixed.meta == {"utf8_repaired": 1}
    assert "utf8_repaired" not in good[0].meta
    assert len(rejects(items)) == 7


def test_repair_does_not_count_existing_replacement_chars(tmp_path: Path) -> None:
    p = tmp_path / "r.jsonl"
    p.write_bytes('{"text": "already \ufffd here, '.encode() + b"bad \xff\xfe bytes\"}\n")
    (rec,) = outcomes(p, invalid_utf8="repair")
    assert isinstance(rec, RawRecord)
    assert rec.repaired == 2
    assert rec.value["text"].count("\ufffd") == 3


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", []),
        (b'{"text": "a"}', [("rec", 1, None)]),
        (b'{"text": "a"}\n', [("rec", 1, None)]),
        (b'{"text": "a"}\n\n', [("rec", 1, None), ("rej", 2, "empty_line")]),
        (b"\n", [("rej", 1, "empty_line")]),
        (b'\n{"text": "a"}', [("rej", 1, "empty_line"), ("rec", 2, None)]),
        (b'{"text": "a"}\r\n\r\n', [("rec", 1, None), ("rej", 2, "empty_line")]),
        (b'{"text": "a"}\n\xef\xbb\xbf{"text": "b"}\n', [("rec", 1, None), ("rej", 2, "invalid_json: ")]),
        (b'"just a string"\n42\nnull\n', [("rej", 1, "not_an_object"), ("rej", 2, "not_an_object"), ("rej", 3, "not_an_object")]),
        (b'{"text": "a"} trailing\n', [("rej", 1, "invalid_json: ")]),
    ],
)
def test_line_rules(tmp_path: Path, data: bytes, expected: list[tuple[str, int, str | None]]) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(data)
    got = summary(outcomes(p))
    assert [(k, line) for k, line, _ in got] == [(k, line) for k, line, _ in expected]
    for (_, _, d), (_, _, e) in zip(got, expected):
        assert d == e or (e is not None and d is not None and e.endswith(": ") and d.startswith(e))


def test_crlf_and_bom() -> None:
    items = outcomes(FIXTURES / "crlf_bom.jsonl")
    assert [x.line for x in items] == [1, 2, 3]
    assert all(isinstance(x, RawRecord) for x in items)
    texts = [orjson.loads(line)["text"] for line in (FIXTURES / "truncated_full.jsonl").read_bytes().splitlines()[:3]]
    assert [x.value["text"] for x in items] == texts  # type: ignore[union-attr]


# --------------------------------------------------------------------------------------------------
# compressed and cut-off input
# --------------------------------------------------------------------------------------------------


def _check_truncated(items: list[RawRecord | Reject], complete: int, full_name: str = "truncated_full.jsonl") -> None:
    full = (FIXTURES / full_name).read_bytes().split(b"\n")
    assert len(items) == complete + 1
    for i, x in enumerate(items[:-1]):
        assert isinstance(x, RawRecord)
        assert x.line == i + 1
        assert x.value == orjson.loads(full[i])
    last = items[-1]
    assert isinstance(last, Reject)
    assert last.drop_value is not None and last.drop_value.startswith("truncated_file: ")
    assert last.line == complete + 1
    assert last.raw is not None and full[complete].decode().startswith(last.raw)


def test_gzip_cut_short_yields_complete_lines_then_one_reject() -> None:
    items = outcomes(FIXTURES / "truncated.jsonl.gz")
    _check_truncated(items, 18)
    assert items[-1].drop_value == "truncated_file: gzip stream ended before the end-of-stream marker"  # type: ignore[union-attr]
    assert len(items[-1].raw) == 351  # type: ignore[union-attr,arg-type]


def test_zstd_cut_short() -> None:
    items = outcomes(FIXTURES / "truncated.jsonl.zst")
    _check_truncated(items, 15)
    assert items[-1].raw == ""  # type: ignore[union-attr]  # the cut fell on a block (= line) boundary


def test_gzip_members_and_zstd_frames_concatenated() -> None:
    full = (FIXTURES / "truncated_full.jsonl").read_bytes().split(b"\n")
    gz = outcomes(FIXTURES / "concat.jsonl.gz")
    assert [x.value for x in gz] == [orjson.loads(x) for x in full[:5]]  # type: ignore[union-attr]
    zs = outcomes(FIXTURES / "sample.jsonl.zst")
    assert [x.value for x in zs] == [orjson.loads(x) for x in full[:7]]  # type: ignore[union-attr]
    assert [x.line for x in zs] == list(range(1, 8))


def test_gzip_zero_padding_and_corrupt_tail(tmp_path: Path) -> None:
    body = b'{"text": "a"}\n{"text": "b"}\n'
    p = tmp_path / "pad.jsonl.gz"
    p.write_bytes(gzip.compress(body, mtime=0) + b"\x00" * 100)
    assert summary(outcomes(p)) == [("rec", 1, None), ("rec", 2, None)]
    p.write_bytes(gzip.compress(body, mtime=0) + b"garbage!")
    got = summary(outcomes(p))
    assert got[:2] == [("rec", 1, None), ("rec", 2, None)]
    assert got[2][0] == "rej" and got[2][2].startswith("truncated_file: corrupt gzip stream")  # type: ignore[union-attr]


def test_compression_from_magic_bytes(tmp_path: Path) -> None:
    body = b'{"text": "a"}\n'
    p = tmp_path / "really_gzip.jsonl"
    p.write_bytes(gzip.compress(body, mtime=0))
    assert [x.value for x in outcomes(p)] == [{"text": "a"}]  # type: ignore[union-attr]
    q = tmp_path / "plain.jsonl.gz"
    q.write_bytes(body)
    assert [x.value for x in outcomes(q)] == [{"text": "a"}]  # type: ignore[union-attr]
    z = tmp_path / "data.bin"
    z.write_bytes(zstandard.ZstdCompressor().compress(body))
    assert detect_format(str(z), "jsonl") == ("jsonl", "zstd")
    assert [x.value for x in outcomes(z, fmt="jsonl")] == [{"text": "a"}]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["malformed.jsonl", "concat.jsonl.gz", "truncated.jsonl.gz", "crlf_bom.jsonl", "sample.jsonl.zst", "clue.txt"])
def test_tiny_chunks_read_the_same(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Lines split across chunk (and gzip output) boundaries come out the same."""
    fmt_kw = {"txt_unit": "paragraph"} if name.endswith(".txt") else {}
    before = outcomes(FIXTURES / name, **fmt_kw)
    monkeypatch.setattr(streams, "READ_CHUNK", 7)
    monkeypatch.setattr(streams, "INFLATE_LIMIT", 5)
    after = outcomes(FIXTURES / name, **fmt_kw)
    assert after == before


def _big_body(mb: int) -> bytes:
    line = orjson.dumps({"text": "lorem ipsum dolor sit amet " * 40}) + b"\n"
    return line * (mb * 1_000_000 // len(line))


@pytest.mark.parametrize("kind", ["gzip", "zstd"])
def test_memory_does_not_grow_with_file(tmp_path: Path, kind: str) -> None:
    body = _big_body(24)  # very compressible: ~1000x for zstd
    p = tmp_path / f"big.jsonl.{'gz' if kind == 'gzip' else 'zst'}"
    p.write_bytes(gzip.compress(body, 1, mtime=0) if kind == "gzip" else zstandard.ZstdCompressor(level=3).compress(body))
    n = 0
    tracemalloc.start()
    try:
        for _ in read_file(str(p), "src"):
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == body.count(b"\n")
    assert peak < 8_000_000, peak  # a third of the file: memory is bounded by the chunk size


# --------------------------------------------------------------------------------------------------
# whole-JSON files
# --------------------------------------------------------------------------------------------------


def test_json_array_records_and_non_objects(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_bytes(b'[{"text": "a"}, 3, {"text": "b"}]')
    items = outcomes(p)
    assert [(type(x).__name__, x.record, x.line) for x in items] == [("RawRecord", 0, None), ("Reject", 1, None), ("RawRecord", 2, None)]
    assert items[1].drop_value == "not_an_object" and items[1].raw == "3"  # type: ignore[union-attr]


def test_json_broken_file_is_one_reject_at_the_error_line(tmp_path: Path) -> None:
    p = tmp_path / "broken.json"
    p.write_text('[\n  {"text": "a"},\n  {"text": "诗" ,, }\n]\n', encoding="utf-8")
    (r,) = outcomes(p)
    assert isinstance(r, Reject)
    assert r.drop_value.startswith("invalid_json: ")  # type: ignore[union-attr]
    assert (r.line, r.record, r.raw) == (3, None, '  {"text": "诗" ,, }')


def test_json_invalid_utf8_reject_and_repair(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_bytes(b'[{"text": "ok"},\n {"text": "bad \xff here"},\n {"text": "\xfe\xfe"}]')
    (r,) = outcomes(p)
    assert isinstance(r, Reject)
    assert (r.drop_value, r.line) == ("invalid_utf8: invalid UTF-8 at byte 32", 2)
    items = outcomes(p, invalid_utf8="repair")
    assert [x.repaired for x in items] == [0, 1, 2]  # type: ignore[union-attr]
    assert items[1].value["text"] == "bad \ufffd here"  # type: ignore[union-attr]


def test_json_truncated_gzip_is_one_reject(tmp_path: Path) -> None:
    p = tmp_path / "a.json.gz"
    blob = gzip.compress(orjson.dumps([{"text": str(i) * 50} for i in range(2000)], option=orjson.OPT_INDENT_2), mtime=0)
    p.write_bytes(blob[: len(blob) // 2])
    (r,) = outcomes(p)
    assert isinstance(r, Reject) and r.drop_value.startswith("truncated_file: ")  # type: ignore[union-attr]
    assert r.line is not None and r.line > 1


def test_squad_style_object_is_one_record() -> None:
    (rec,) = outcomes(FIXTURES.parent.parent / "data" / "samples" / "zh" / "cmrc2018_dev.json")
    assert isinstance(rec, RawRecord) and (rec.record, rec.line) == (0, None)
    assert len(rec.value["data"]) == 848


def test_dot_json_sniffing(tmp_path: Path) -> None:
    lines = tmp_path / "lines.json"
    lines.write_bytes(b'{"text": "a"}\n{"text": "b"}\n')
    assert detect_format(str(lines)) == ("jsonl", None)
    broken_first = tmp_path / "broken_first.json"
    broken_first.write_bytes(b'{"text": \n{"text": "b"}\n')
    assert detect_format(str(broken_first)) == ("jsonl", None)
    assert summary(outcomes(broken_first))[1] == ("rec", 2, None)
    pretty = tmp_path / "pretty.json"
    pretty.write_bytes(orjson.dumps({"data": [{"a": 1}, {"b": 2}]}, option=orjson.OPT_INDENT_2))
    assert detect_format(str(pretty)) == ("json", None)
    inner = tmp_path / "inner.json"  # indented one-line objects inside a document are not lines
    inner.write_bytes(b'{\n  "data": [\n    {"title": "x"},\n    {"title": "y"}\n  ]\n}\n')
    assert detect_format(str(inner)) == ("json", None)
    arr = tmp_path / "arr.json"
    arr.write_bytes(b"  \n[]")
    assert detect_format(str(arr)) == ("json", None)
    assert outcomes(arr) == []
    assert detect_format(str(FIXTURES / "wudao.json")) == ("json", None)


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "notes.dat"
    p.write_text("hello\n")
    with pytest.raises(ValueError, match="notes.dat"):
        outcomes(p)
    assert detect_format(str(p), "txt") == ("txt", None)


# --------------------------------------------------------------------------------------------------
# Parquet and plain text
# --------------------------------------------------------------------------------------------------


def test_parquet_rows(tmp_path: Path) -> None:
    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"text": ["a", "b", None], "n": [1, 2, 3]}), p, row_group_size=2)
    items = outcomes(p)
    assert [(x.record, x.line, x.value) for x in items] == [  # type: ignore[union-attr]
        (0, None, {"text": "a", "n": 1}),
        (1, None, {"text": "b", "n": 2}),
        (2, None, {"text": None, "n": 3}),
    ]
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 this is not parquet")
    (r,) = outcomes(bad)
    assert isinstance(r, Reject) and r.drop_value.startswith("invalid_parquet: ")  # type: ignore[union-attr]


def test_txt_units_on_clue() -> None:
    path = FIXTURES / "clue.txt"
    lines = path.read_text(encoding="utf-8").split("\n")
    para = outcomes(path, txt_unit="paragraph")
    starts = [i + 1 for i, s in enumerate(lines) if s.strip() and (i == 0 or not lines[i - 1].strip())]
    assert len(starts) == 3
    assert [x.line for x in para] == starts
    blocks = [b.strip("\n") for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert [x.value["text"] for x in para] == blocks  # type: ignore[union-attr]
    assert [x.record for x in para] == [0, 1, 2]
    each = outcomes(path, txt_unit="line")
    assert [x.value["text"] for x in each] == [s for s in lines if s.strip()]  # type: ignore[union-attr]
    assert [x.line for x in each] == [i + 1 for i, s in enumerate(lines) if s.strip()]
    (whole,) = outcomes(path, txt_unit="file")
    assert whole.value["text"] == path.read_text(encoding="utf-8")  # type: ignore[union-attr]


def test_txt_crlf_bom_invalid_utf8_and_nul(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_bytes(b"\xef\xbb\xbffirst line\r\nsecond\r\n\r\n\r\nbad \xff line\r\n\r\nnul \x00 here\r\n")
    got = outcomes(p)
    assert [(type(x).__name__, x.line) for x in got] == [("RawRecord", 1), ("Reject", 5), ("Reject", 7)]
    assert got[0].value == {"text": "first line\nsecond"}  # type: ignore[union-attr]
    assert (got[1].drop_value, got[2].drop_value) == ("invalid_utf8: invalid UTF-8 at byte 4", "nul_byte")  # type: ignore[union-attr]
    fixed = outcomes(p, invalid_utf8="repair")
    assert fixed[1].value == {"text": "bad \ufffd line"} and fixed[1].repaired == 1  # type: ignore[union-attr]


def test_txt_truncated_gzip(tmp_path: Path) -> None:
    text = "".join(f"sentence {i} of a long paragraph.\n" + ("\n" if i % 7 == 6 else "") for i in range(3000)).encode()
    blob = gzip.compress(text, mtime=0)
    p = tmp_path / "t.txt.gz"
    p.write_bytes(blob[: len(blob) // 2])
    items = outcomes(p, txt_unit="paragraph")
    assert all(isinstance(x, RawRecord) for x in items[:-1])
    last = items[-1]
    assert isinstance(last, Reject) and last.drop_value.startswith("truncated_file: ")  # type: ignore[union-attr]
    complete = [x.value["text"] for x in items[:-1]]  # type: ignore[union-attr]
    assert text.decode().startswith("\n\n".join(complete) + "\n\n")


def test_documents_from_txt_source() -> None:
    items = read_source(type="generic", paths=[str(FIXTURES / "clue.txt")], format="txt")
    assert [type(x) for x in items] == [Document] * 3
    assert [d.id for d in docs(items)] == ["src/clue/0", "src/clue/1", "src/clue/2"]

"""CSV and TSV input (issue 19, item 11): header row, RFC 4180 quoting, BOM, per-row rejects with
lines. Fixtures: ChnSentiCorp-shaped `label,review` files with real Chinese text (make_fixtures.py)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import orjson
from formathelpers import kept_rows, read_rejects, read_stage, shard
from srchelpers import FIXTURES, SAMPLES, docs, read_source, rejects

from pipeline.document import Reject
from pipeline.sources.detect import detect_format
from pipeline.sources.reader import read_file
from pipeline.sources.records import RawRecord


def _reference_rows(path: Path) -> list[dict[str, str]]:
    """The same file through the standard library's own DictReader (independent of our reader)."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_header_bom_quoting_crlf() -> None:
    path = FIXTURES / "reviews_zh.csv"
    assert detect_format(str(path)) == ("csv", None)
    items = list(read_file(str(path), "src"))
    assert all(isinstance(x, RawRecord) for x in items)
    ref = _reference_rows(path)
    assert [x.value for x in items] == ref and len(ref) == 8  # type: ignore[union-attr]
    assert list(items[0].value) == ["label", "review"]  # type: ignore[union-attr]  # no BOM in the name
    # multi-line quoted reviews: a row's line is its first line; record = line - 1 (as JSONL)
    assert [x.line for x in items] == [2, 5, 27, 28, 29, 30, 31, 32]
    assert [x.record for x in items] == [1, 4, 26, 27, 28, 29, 30, 31]
    assert '""' not in items[2].value["review"] and '"由于' in items[2].value["review"]  # type: ignore[union-attr]
    assert "\n    for col in range(size):" in items[1].value["review"]  # type: ignore[union-attr]


def test_csv_bad_rows_are_rejects_with_lines() -> None:
    path = FIXTURES / "reviews_zh_bad.csv"
    items = list(read_file(str(path), "src"))
    got = [(x.line, x.drop_value if isinstance(x, Reject) else None) for x in items]
    assert got == [
        (2, None), (5, None), (27, None), (28, None), (29, None), (30, None), (31, None), (32, None),
        (33, "csv_fields: expected 2 fields, got 3"),
        (34, "empty_line"),
        (35, "invalid_utf8: invalid UTF-8 at byte 3"),
        (36, "invalid_csv: ',' expected after '\"'"),
        (37, None),
        (38, "invalid_csv: the quoted field opened on line 38 is never closed (lines 38-39)"),
    ]
    lines = path.read_bytes().split(b"\n")
    assert lines[34].decode("utf-8", errors="replace")[:2] == "0,"
    try:
        lines[34].decode("utf-8")
    except UnicodeDecodeError as e:
        assert e.start == 3  # the offset in the message is the decoder's own
    swallowed = items[-1]
    assert isinstance(swallowed, Reject) and swallowed.raw is not None and swallowed.raw.count("\n") == 1
    assert all(r.file == str(path) and r.drop_reason == "malformed" and r.stage == "read" for r in items if isinstance(r, Reject))


def test_csv_repair_keeps_the_undecodable_row() -> None:
    items = read_source("repair", type="generic", paths=[str(FIXTURES / "reviews_zh_bad.csv")], fields={"text": "review"})
    fixed = [d for d in docs(items) if d.line == 35]
    assert len(fixed) == 1 and fixed[0].meta["utf8_repaired"] > 0 and fixed[0].meta["label"] == "0"
    assert 35 not in {r.line for r in rejects(items)}


def _cmrc_rows(n: int) -> list[tuple[str, str, str]]:
    data = orjson.loads((SAMPLES / "zh" / "cmrc2018_dev.json").read_bytes())
    return [(p["id"], a["title"], p["context"]) for a in data["data"] for p in a["paragraphs"]][:n]


def test_tsv_has_no_quoting(tmp_path: Path) -> None:
    rows = _cmrc_rows(4)
    # a field that starts with a quote: TSV keeps it as written (CSV rules would eat the quotes)
    quoted_title = '"' + rows[1][1] + '" (条目)'
    rows[1] = (rows[1][0], quoted_title, rows[1][2])
    body = "id\ttitle\tcontext\n" + "".join("\t".join(r) + "\n" for r in rows) + "extra\tcolumns\there\tand more\n"
    p = tmp_path / "cmrc.tsv"
    p.write_text(body, encoding="utf-8")
    items = read_source(type="generic", paths=[str(p)], fields={"text": "context", "title": "title"})
    got = docs(items)
    assert [d.text for d in got] == [f"{t}\n\n{c}" for _, t, c in rows]
    assert got[1].meta["title"] == quoted_title
    assert [d.id for d in got] == [f"src/cmrc/{i}" for i, _, _ in rows]
    (bad,) = rejects(items)
    assert (bad.line, bad.drop_value) == (6, "csv_fields: expected 3 fields, got 4")


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    p = tmp_path / "reviews.txt"
    p.write_bytes((FIXTURES / "reviews_zh.csv").read_bytes())
    as_csv = read_source(type="generic", paths=[str(p)], format="csv", fields={"text": "review"})
    assert len(docs(as_csv)) == 8 and not rejects(as_csv)


def test_cli_shard_csv_counts_and_meta(tmp_path: Path) -> None:
    src = FIXTURES / "reviews_zh_bad.csv"
    out = tmp_path / "out"
    res = shard([src], out, "--source-type", "generic", "--text-field", "review", "--lang", "zh", "--name", "reviews")
    assert res.exit_code == 0, res.output
    t = read_stage(out)
    assert (t["docs_in"], t["docs_kept"], t["docs_rejected"]) == (14, 9, 5)
    assert t["docs_in"] == t["docs_kept"] + t["docs_rejected"]
    assert "read       in       14  kept        9  rejected      5" in res.output
    assert sorted((r["line"], str(r["drop_value"]).split(":")[0]) for r in read_rejects(out)) == [
        (33, "csv_fields"), (34, "empty_line"), (35, "invalid_utf8"), (36, "invalid_csv"), (38, "invalid_csv"),
    ]
    kept = kept_rows(out)
    ref = {r["review"]: r["label"] for r in _reference_rows(FIXTURES / "reviews_zh.csv")}
    assert sorted(r["meta"]["label"] for r in kept) == sorted([*ref.values(), "0"])  # + the good row at line 37
    assert sorted(r["id"] for r in kept) == sorted(f"reviews/reviews_zh_bad/{n - 1}" for n in (2, 5, 27, 28, 29, 30, 31, 32, 37))


def test_csv_written_by_pandas_with_its_index(tmp_path: Path) -> None:
    """`df.to_csv(path)` writes an unnamed index column: named `Unnamed: 0`, as pandas reads it back."""
    rows = _cmrc_rows(3)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["", "id", "context"])
    for i, (pid, _, ctx) in enumerate(rows):
        w.writerow([i, pid, ctx])
    p = tmp_path / "df.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    got = docs(read_source(type="generic", paths=[str(p)], fields={"text": "context"}))
    assert [d.meta["Unnamed: 0"] for d in got] == ["0", "1", "2"]
    assert [d.meta["orig_id"] for d in got] == [pid for pid, _, _ in rows]


def test_undecodable_header_is_still_the_header(tmp_path: Path) -> None:
    rows = _cmrc_rows(2)
    p = tmp_path / "h.csv"
    p.write_bytes("标题,context\n".encode("gb18030") + "".join(f"{t},{c}\n" for _, t, c in rows).encode("utf-8"))
    items = list(read_file(str(p), "src"))
    assert [x.line for x in items] == [2, 3] and all(isinstance(x, RawRecord) for x in items)
    assert [x.value["context"] for x in items] == [c for _, _, c in rows]  # type: ignore[union-attr]

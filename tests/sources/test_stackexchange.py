"""Stack Exchange dumps (issue 19, item 12): Posts.xml streamed, questions with titles, answers with
their question's title (also when the answer comes first), HTML as text with code blocks kept."""

from __future__ import annotations

from pathlib import Path

from formathelpers import kept_rows, read_rejects, read_stage, shard
from srchelpers import FIXTURES, docs, read_source, rejects

from pipeline.document import Document, Reject
from pipeline.sources.stackexchange import parse_tags

POSTS = FIXTURES / "stackexchange" / "Posts.xml"
Q1 = "Why does the first column name of my CSV start with a strange character?"
Q6 = "如何在 Python 中读取 GB18030 编码的文件？"


def test_posts_become_questions_and_titled_answers() -> None:
    items = read_source(type="stackexchange", paths=[str(POSTS)])
    assert [(type(x).__name__, x.id) for x in items] == [
        ("Document", "src/Posts/1"),
        ("Document", "src/Posts/2"),
        ("Document", "src/Posts/3"),
        ("Reject", "src/Posts/5"),
        ("Document", "src/Posts/6"),
        ("Document", "src/Posts/4"),  # came before its question: written right after it
        ("Document", "src/Posts/8"),
        ("Document", "src/Posts/7"),  # its question is not in the file: at the end, untitled
    ]
    by_id = {d.id.rsplit("/", 1)[1]: d for d in docs(items)}
    q1, a3, a4, a7 = by_id["1"], by_id["3"], by_id["4"], by_id["7"]
    assert q1.text.startswith(Q1 + "\n\nI read a CSV exported from Excel with `csv.DictReader`")
    assert "```\nimport csv\n\nwith open(\"reviews.csv\", newline=\"\") as fh:\n    for row in csv.DictReader(fh):\n" in q1.text
    assert q1.text.endswith("What is going on & how do I fix it?")
    assert q1.meta == {
        "post_id": "1", "post_type": "question", "title": Q1, "tags": ["python", "csv", "unicode"], "score": 12,
        "answer_count": 2, "accepted_answer_id": "3", "creation_date": "2021-03-02T10:15:22.103", "content_license": "CC BY-SA 4.0",
    }
    assert a3.text.startswith(Q1 + "\n\nOpen the file with the `utf-8-sig` codec")
    assert a3.text.endswith("See the codecs documentation.")  # anchor text kept, URL dropped
    assert a3.meta["is_accepted"] is True and by_id["2"].meta["is_accepted"] is False
    assert a3.meta["parent_id"] == "1" and a3.meta["tags"] == ["python", "csv", "unicode"]
    assert a4.text.startswith(Q6 + "\n\n在 `open()` 里指定 `encoding=\"gb18030\"` 即可。")
    assert a4.meta["title"] == Q6 and a4.meta["is_accepted"] is True
    assert a7.text == 'Use `pandas.read_csv(path, sep="\\t", quoting=csv.QUOTE_NONE)` for TSV files with stray quotes.'
    assert a7.meta["question_missing"] is True and "title" not in a7.meta
    assert by_id["8"].meta["tags"] == ["pandas", "dataframe"] and by_id["8"].meta["score"] == -1
    assert "- its header is empty\n- its values are 0, 1, 2, ..." in by_id["8"].text
    (wiki,) = rejects(items)
    assert (wiki.drop_reason, wiki.drop_value, wiki.line) == ("post_type", "PostTypeId 4 (tag wiki excerpt)", 7)
    assert [d.line for d in docs(items)] == [3, 4, 5, 8, 6, 10, 9]


def test_tags_both_dump_forms() -> None:
    assert parse_tags("<python><csv>") == ["python", "csv"]
    assert parse_tags("|pandas|data-frame|") == ["pandas", "data-frame"]
    assert parse_tags(None) == [] and parse_tags("") == []


def test_cut_off_dump_keeps_rows_before_the_break(tmp_path: Path) -> None:
    data = POSTS.read_bytes()
    cut = data[: data.index(b'<row Id="6"') + 40]  # inside row 6's attributes
    p = tmp_path / "Posts.xml"
    p.write_bytes(cut)
    items = read_source(type="stackexchange", paths=[str(p)])
    assert [x.id for x in items if isinstance(x, Document)] == ["src/Posts/1", "src/Posts/2", "src/Posts/3", "src/Posts/4"]
    bad = [r for r in rejects(items) if r.drop_reason == "malformed"]
    assert [(r.drop_value, r.line) for r in bad] == [("invalid_xml: unclosed token", 8)]
    assert len(items) == 6  # 4 answers/questions + the tag wiki + the break


def test_answer_without_body_names_the_field(tmp_path: Path) -> None:
    p = tmp_path / "Posts.xml"
    p.write_text('<?xml version="1.0" encoding="utf-8"?>\n<posts>\n  <row Id="1" PostTypeId="1" Title="T" Body="&lt;p&gt;q&lt;/p&gt;" />\n'
                 '  <row Id="2" PostTypeId="2" ParentId="1" />\n  <row Id="3" PostTypeId="x" Body="b" />\n</posts>\n', encoding="utf-8")
    items = read_source(type="stackexchange", paths=[str(p)])
    assert [(type(x).__name__, getattr(x, "drop_value", None)) for x in items] == [
        ("Document", None),
        ("Reject", "missing_field: Body"),
        ("Reject", "wrong_value: PostTypeId 'x' is not a Stack Exchange post type"),
    ]
    assert all(isinstance(x, Reject) and x.stage == "read" for x in items[1:])


def test_cli_shard_posts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = shard([POSTS], out, "--source-type", "stackexchange", "--name", "se")
    assert res.exit_code == 0, res.output
    t = read_stage(out)
    assert (t["docs_in"], t["docs_kept"], t["docs_rejected"]) == (8, 7, 1)
    assert t["rejected_by_reason"] == {"post_type": 1}
    assert "read       in        8  kept        7  rejected      1" in res.output
    rows = {r["id"]: r for r in kept_rows(out)}
    assert set(rows) == {f"se/Posts/{i}" for i in (1, 2, 3, 4, 6, 7, 8)}
    # the normalizer keeps indentation inside ``` fences: the code survives storage
    assert "    for row in csv.DictReader(fh):\n        print(row[\"label\"])  # KeyError\n```" in rows["se/Posts/1"]["text"]
    assert {r["lang"] for r in rows.values()} == {"en", "zh"}
    assert [r["drop_value"] for r in read_rejects(out)] == ["PostTypeId 4 (tag wiki excerpt)"]


def test_default_profile_is_code_and_keeps_the_posts(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline.quality_rules import default_profile
    from pipeline.cli import main

    assert default_profile("stackexchange") == "code"
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["shard", str(POSTS), "--source-type", "stackexchange", "--out", str(out), "--languages", "en,zh", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert len(kept_rows(out)) == 7


def test_utf16_dump_reads_the_same(tmp_path: Path) -> None:
    text = POSTS.read_text(encoding="utf-8").replace('encoding="utf-8"', 'encoding="utf-16"')
    p = tmp_path / "Posts.xml"
    p.write_bytes(text.encode("utf-16"))  # with its BOM
    want = [(type(x).__name__, x.id, getattr(x, "text", None)) for x in read_source(type="stackexchange", paths=[str(POSTS)])]
    assert [(type(x).__name__, x.id, getattr(x, "text", None)) for x in read_source(type="stackexchange", paths=[str(p)])] == want

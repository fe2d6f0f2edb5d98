"""The generic adapter: field maps with dotted paths, text lists, own ids, missing and mistyped fields."""

from __future__ import annotations

from pathlib import Path

import orjson
from srchelpers import docs, read_source, rejects

from pipeline.config import FieldMap


def _jsonl(tmp_path: Path, rows: list[object]) -> str:
    p = tmp_path / "g.jsonl"
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return str(p)


def test_default_field_is_text_and_empty_text_is_kept(tmp_path: Path) -> None:
    path = _jsonl(tmp_path, [{"text": "a"}, {"text": ""}, {"text": None}, {"txt": "x"}, {"text": ["a"]}])
    items = read_source(type="generic", paths=[path], lang="en", subset="web")
    assert [(d.id, d.text, d.lang, d.subset) for d in docs(items)] == [("src/g/0", "a", "en", "web"), ("src/g/1", "", "en", "web")]
    assert [(r.line, r.field, r.drop_value, r.subset) for r in rejects(items)] == [
        (3, "text", "missing_field: text", "web"),  # JSON null reads as missing
        (4, "text", "missing_field: text", "web"),
        (5, "text", "wrong_type: text is list, expected str", "web"),
    ]


def test_field_map(tmp_path: Path) -> None:
    rows = [
        {"doc": {"id": 17, "title": "Title", "body": {"q": "Question?", "a": "Answer."}, "lang": "fr"}, "src": "x", "n": 3},
        {"doc": {"body": {"q": "Only q", "a": ""}}, "src": "y"},
        {"doc": {"id": "k", "body": {"q": "q"}}},
        {"doc": {"id": "k2", "title": 4, "body": {"q": "q", "a": "a"}}},
        {"doc.id": "dotted-key", "doc": {"body": {"q": "Q", "a": "A"}}},
    ]
    fields = FieldMap(text=["doc.body.q", "doc.body.a"], id="doc.id", title="doc.title", lang="doc.lang", meta=["src", "n"])
    items = read_source(type="generic", paths=[_jsonl(tmp_path, rows)], fields=fields, lang="en")
    got = docs(items)
    assert [(d.id, d.text, d.lang) for d in got] == [
        ("src/17", "Title\n\nQuestion?\n\nAnswer.", "fr"),
        ("src/g/1", "Only q", "en"),
        ("src/dotted-key", "Q\n\nA", "en"),
    ]
    assert got[0].meta == {"orig_id": "17", "title": "Title", "src": "x", "n": 3}
    assert got[1].meta == {"src": "y"}
    assert [(r.line, r.field, r.drop_value) for r in rejects(items)] == [
        (3, "doc.body.a", "missing_field: doc.body.a"),
        (4, "doc.title", "wrong_type: doc.title is int, expected str"),
    ]


def test_parquet_input(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"content": ["x", None, "z"], "id": ["a", "b", "c"]}), p)
    items = read_source(type="generic", paths=[str(p)], fields=FieldMap(text="content", id="id"))
    assert [d.id for d in docs(items)] == ["src/a", "src/c"]
    assert [(r.record, r.line, r.drop_value) for r in rejects(items)] == [(1, None, "missing_field: content")]

"""RedPajama-1T, RedPajama-V2 and Dolma adapters."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from srchelpers import FIXTURES, SAMPLES, docs, read_source, rejects

from pipeline.sources.redpajama import subset_from_path

RP_1T = FIXTURES / "redpajama" / "c4" / "c4-train.00000-of-01024.jsonl"


def _rows(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_redpajama_1t_meta_dict_string_and_broken() -> None:
    items = read_source(type="redpajama", paths=[str(RP_1T)])
    rows = _rows(RP_1T)
    good = docs(items)
    assert [d.line for d in good] == [1, 2, 3, 4, 5, 6]
    assert [d.text for d in good] == [r["text"] for r in rows[:6]]
    assert [d.id for d in good] == [f"src/c4-train.00000-of-01024/{i}" for i in range(6)]
    assert [d.subset for d in good] == ["c4"] * 5 + ["c4_override"]
    assert all(d.lang == "en" for d in good)
    assert good[0].meta == rows[0]["meta"]
    assert good[3].meta == orjson.loads(rows[3]["meta"])  # JSON string parsed
    (bad,) = rejects(items)
    assert (bad.line, bad.field, bad.drop_reason, bad.subset) == (7, "meta", "malformed", "c4")
    assert bad.drop_value.startswith("invalid_json: ")  # type: ignore[union-attr]


def test_redpajama_subset_precedence() -> None:
    items = docs(read_source(type="redpajama", paths=[str(RP_1T)], subset="common_crawl"))
    assert [d.subset for d in items] == ["common_crawl"] * 5 + ["c4_override"]


def test_redpajama_c4_sample() -> None:
    items = read_source(type="redpajama", paths=[str(SAMPLES / "en" / "c4_demo.jsonl")])
    assert len(docs(items)) == 300 and not rejects(items)
    assert {d.subset for d in docs(items)} == {"c4"}  # c4_demo.jsonl: file-name prefix
    assert docs(items)[0].meta == {}


@pytest.mark.parametrize(
    ("path", "subset"),
    [
        ("https://data.together.xyz/redpajama-data-1T/v1.0.0/arxiv/arxiv_023827cd.jsonl", "arxiv"),
        ("/d/redpajama/c4/c4-train.00001-of-01024.jsonl", "c4"),
        ("/d/common_crawl/2019-30/en_head_0000.json.gz.dedup.classifier.jsonl.zst", "common_crawl"),
        ("book/book.jsonl", "book"),
        ("/d/github/filtered_216883d3a669406699428bc485a4c228.sampled.jsonl", "github"),
        ("stackexchange.jsonl", "stackexchange"),
        ("/data/wikipedia/wiki.jsonl", "wikipedia"),
        ("/data/books3/x.jsonl", None),
        ("/data/c4ward/x.jsonl", None),
        ("c4demo.jsonl", None),
    ],
)
def test_subset_from_path(path: str, subset: str | None) -> None:
    assert subset_from_path(path) == subset


def test_redpajama_lang_from_meta_only_when_a_language_code(tmp_path: Path) -> None:
    p = tmp_path / "wikipedia" / "wiki.jsonl"
    p.parent.mkdir()
    rows = [
        {"text": "Ein Artikel.", "meta": {"language": "de", "title": "A"}},
        {"text": "def f(): pass", "meta": {"language": [{"name": "Python", "bytes": "12"}]}},
        {"text": "no meta"},
        {"text": "meta null", "meta": None},
        {"text": "meta list", "meta": "[1, 2]"},
        {"text": 3, "meta": {}},
    ]
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    items = read_source(type="redpajama", paths=[str(p)], lang="xx")
    assert [(d.lang, d.subset) for d in docs(items)] == [("de", "wikipedia"), ("xx", "wikipedia"), ("xx", "wikipedia"), ("xx", "wikipedia")]
    assert [(r.line, r.field, r.drop_value) for r in rejects(items)] == [
        (5, "meta", "wrong_type: meta is JSON list, expected dict"),
        (6, "text", "wrong_type: text is int, expected str"),
    ]
    assert {d.lang for d in docs(read_source(type="redpajama", paths=[str(p)]))} == {"de", "en"}


def test_redpajama_v2() -> None:
    path = FIXTURES / "redpajama_v2.jsonl"
    items = read_source(type="redpajama_v2", paths=[str(path)])
    rows = _rows(path)
    assert not rejects(items)
    got = docs(items)
    assert [d.text for d in got] == [r["raw_content"] for r in rows]
    assert [d.id for d in got] == [f"src/2023-06/0000/en_head.json.gz/{i}" for i in range(5)]
    meta0 = orjson.loads(rows[0]["meta"])
    assert got[0].meta == {**meta0, "orig_id": rows[0]["doc_id"]}
    assert all(d.lang == "en" and d.subset == "head" for d in got)


def test_redpajama_v2_raw_documents_layout_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "en_head.json"
    rows = [
        {"url": "https://a.example/x", "language": "de", "source_domain": "a.example", "raw_content": "Hallo Welt", "nlines": 1},
        {"url": "https://b.example/y", "language": "en"},
        {"raw_content": "x", "meta": "{not json"},
    ]
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    items = read_source(type="redpajama_v2", paths=[str(p)])
    (d,) = docs(items)
    assert (d.id, d.lang, d.text) == ("src/en_head/0", "de", "Hallo Welt")
    assert d.meta == {"url": "https://a.example/x", "language": "de", "source_domain": "a.example", "nlines": 1}
    assert [(r.line, r.field, r.drop_value[:14]) for r in rejects(items)] == [  # type: ignore[index]
        (2, "raw_content", "missing_field:"),
        (3, "meta", "invalid_json: "),
    ]


def test_dolma_samples() -> None:
    items = read_source(type="dolma", paths=[str(SAMPLES / "en" / "cc_en_head-*.jsonl")])
    assert len(docs(items)) == 20 and not rejects(items)
    rows = _rows(SAMPLES / "en" / "cc_en_head-0091.jsonl") + _rows(SAMPLES / "en" / "cc_en_head-0174.jsonl")
    for d, r in zip(docs(items), rows):
        assert d.id == f"src/{r['id']}"
        assert d.text == r["text"]
        assert d.meta == {**r["metadata"], "added": r["added"], "created": r["created"], "source": r["source"], "orig_id": r["id"]}
        assert (d.lang, d.subset) == ("en", "common-crawl")


def test_dolma_without_id_or_metadata(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"text": "a"}\n{"text": "b", "metadata": "oops"}\n{"id": 12, "text": "c", "metadata": {"language": "fr"}}\n')
    items = read_source(type="dolma", paths=[str(p)], lang="en")
    assert [(d.id, d.lang) for d in docs(items)] == [("src/d/0", "en"), ("src/12", "fr")]
    (r,) = rejects(items)
    assert (r.field, r.drop_value) == ("metadata", "wrong_type: metadata is str, expected dict")

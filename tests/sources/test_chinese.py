"""Chinese presets (WuDao, CLUE, zhwiki, chinese-poetry) and the SQuAD / alpaca presets."""

from __future__ import annotations

from pathlib import Path

import orjson
from srchelpers import FIXTURES, SAMPLES, docs, read_source, rejects


def test_wudao() -> None:
    rows = orjson.loads((FIXTURES / "wudao.json").read_bytes())
    items = read_source(type="wudao", paths=[str(FIXTURES / "wudao.json")])
    assert not rejects(items)
    got = docs(items)
    assert [d.text for d in got] == [f"{r['title']}\n\n{r['content']}" if r["title"] else r["content"] for r in rows]
    assert got[2].text == rows[2]["content"]  # empty title: content only
    assert [d.id for d in got] == [f"src/wudao/{i}" for i in range(4)]
    assert got[0].meta == {
        "orig_id": "0",
        "title": rows[0]["title"],
        "uniqueKey": rows[0]["uniqueKey"],
        "titleUkey": rows[0]["titleUkey"],
        "dataType": "百科",
    }
    assert all(d.lang == "zh" and d.line is None for d in got)
    assert [d.record for d in got] == [0, 1, 2, 3]


def test_wudao_missing_content(tmp_path: Path) -> None:
    p = tmp_path / "w.json"
    p.write_text('[{"id": 1, "title": "t"}, {"id": 2, "title": 5, "content": "c"}, {"id": 3, "content": "只有正文"}]', encoding="utf-8")
    items = read_source(type="wudao", paths=[str(p)])
    assert [(r.record, r.field, r.drop_value) for r in rejects(items)] == [
        (0, "content", "missing_field: content"),
        (1, "title", "wrong_type: title is int, expected str"),
    ]
    assert [d.text for d in docs(items)] == ["只有正文"]


def test_clue_paragraph_documents() -> None:
    items = read_source(type="clue", paths=[str(FIXTURES / "clue.txt")])
    blocks = [b.strip("\n") for b in (FIXTURES / "clue.txt").read_text(encoding="utf-8").split("\n\n") if b.strip()]
    assert [d.text for d in docs(items)] == blocks
    assert [d.id for d in docs(items)] == ["src/clue/0", "src/clue/1", "src/clue/2"]
    assert {d.lang for d in docs(items)} == {"zh"}
    assert len(docs(read_source(type="clue", paths=[str(FIXTURES / "clue.txt")], txt_unit="line"))) == sum(
        1 for line in (FIXTURES / "clue.txt").read_text(encoding="utf-8").splitlines() if line.strip()
    )


def test_zhwiki() -> None:
    rows = [orjson.loads(x) for x in (FIXTURES / "zhwiki.jsonl").read_bytes().splitlines()]
    items = read_source(type="zhwiki", name="zhwiki", paths=[str(FIXTURES / "zhwiki.jsonl")])
    got = docs(items)
    assert [d.id for d in got] == [f"zhwiki/{r['id']}" for r in rows]
    assert [d.text for d in got] == [r["text"] for r in rows]
    assert got[0].meta == {"orig_id": rows[0]["id"], "title": rows[0]["title"], "url": rows[0]["url"]}
    assert {d.lang for d in got} == {"zh"}


def test_chinese_poetry_tang_and_song() -> None:
    tang = orjson.loads((SAMPLES / "zh" / "poet.tang.0.json").read_bytes())
    items = read_source(type="chinese_poetry", name="tang", paths=[str(SAMPLES / "zh" / "poet.tang.0.json")])
    assert len(docs(items)) == 1000 and not rejects(items)
    d = docs(items)[0]
    assert d.text == tang[0]["title"] + "\n" + "\n".join(tang[0]["paragraphs"])
    assert d.id == f"tang/{tang[0]['id']}"
    assert d.meta == {"author": "太宗皇帝", "title": "帝京篇十首 一", "orig_id": tang[0]["id"]}
    song = orjson.loads((SAMPLES / "zh" / "ci.song.0.json").read_bytes())
    items = read_source(type="chinese_poetry", name="song", paths=[str(SAMPLES / "zh" / "ci.song.0.json")])
    assert len(docs(items)) == 1000 and not rejects(items)
    d = docs(items)[0]
    assert d.text == song[0]["rhythmic"] + "\n" + "\n".join(song[0]["paragraphs"])
    assert d.id == "song/ci.song.0/0"  # no own id in the Song ci files
    assert d.meta == {"author": song[0]["author"], "rhythmic": song[0]["rhythmic"]}
    assert {x.lang for x in docs(items)} == {"zh"}


def test_chinese_poetry_bad_records(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text('[{"author": "a"}, {"paragraphs": "not a list"}, {"paragraphs": ["一", 2]}, {"paragraphs": ["只有一句"]}]', encoding="utf-8")
    items = read_source(type="chinese_poetry", paths=[str(p)])
    assert [(r.record, r.field, r.drop_value) for r in rejects(items)] == [
        (0, "paragraphs", "missing_field: paragraphs"),
        (1, "paragraphs", "wrong_type: paragraphs is str, expected list[str]"),
        (2, "paragraphs", "wrong_type: paragraphs[1] is int, expected str"),
    ]
    assert [d.text for d in docs(items)] == ["只有一句"]


def test_squad_cmrc2018_each_context_once() -> None:
    path = SAMPLES / "zh" / "cmrc2018_dev.json"
    data = orjson.loads(path.read_bytes())
    paras = [(a["title"], p) for a in data["data"] for p in a["paragraphs"]]
    items = read_source(type="squad", name="cmrc", paths=[str(path)], lang="zh")
    got = docs(items)
    assert len(got) == 848 and not rejects(items)
    assert [d.text for d in got] == [p["context"] for _, p in paras]
    assert [d.id for d in got] == [f"cmrc/{p['id']}" for _, p in paras]
    assert got[0].meta == {"n_questions": len(paras[0][1]["qas"]), "title": paras[0][0], "orig_id": paras[0][1]["id"]}
    assert sum(d.meta["n_questions"] for d in got) == 3219
    assert [d.record for d in got] == list(range(848))
    assert {d.lang for d in got} == {"zh"}


def test_squad_repeated_context_merged(tmp_path: Path) -> None:
    p = tmp_path / "s.json"
    data = {
        "data": [
            {"title": "A", "paragraphs": [{"context": "same", "qas": [{}, {}]}, {"id": "p2", "context": "other", "qas": [{}]}]},
            {"title": "B", "paragraphs": [{"context": "same", "qas": [{}]}, {"id": "p4"}]},
        ]
    }
    p.write_bytes(orjson.dumps(data))
    items = read_source(type="squad", paths=[str(p)])
    assert [(d.id, d.text, d.meta["n_questions"]) for d in docs(items)] == [("src/s/0", "same", 3), ("src/p2", "other", 1)]
    assert docs(items)[0].lang is None  # a format preset: language ID decides, unless configured
    (r,) = rejects(items)
    assert (r.id, r.field, r.drop_value) == ("src/p4", "context", "missing_field: context")


def test_squad_flat_rows(tmp_path: Path) -> None:
    p = tmp_path / "flat.jsonl"
    rows = [
        {"id": "q1", "title": "T", "context": "C1", "question": "?"},
        {"id": "q2", "title": "T", "context": "C1", "question": "?"},
        {"id": "q3", "title": "T", "context": "C2", "question": "?"},
        {"id": "q4", "title": "T", "context": "C1", "question": "?"},
    ]
    p.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    items = read_source(type="squad", paths=[str(p)])
    assert [(type(x).__name__, x.id) for x in items] == [("Document", "src/flat/0"), ("Document", "src/flat/2"), ("Reject", "src/flat/3")]
    assert docs(items)[0].meta == {"n_questions": 2, "title": "T"}
    assert (rejects(items)[0].drop_reason, rejects(items)[0].drop_value) == ("duplicate_context", "src/flat/0")


def test_alpaca_sample() -> None:
    path = SAMPLES / "zh" / "alpaca_zh_demo.json"
    rows = orjson.loads(path.read_bytes())
    items = read_source(type="alpaca", paths=[str(path)], lang="zh")
    assert len(docs(items)) == 1000 and not rejects(items)
    for d, r in zip(docs(items), rows):
        prompt = r["instruction"] + ("\n\n" + r["input"] if r["input"] else "")
        assert d.text == prompt + "\n\n" + r["output"]
        assert d.messages == [{"role": "user", "content": prompt}, {"role": "assistant", "content": r["output"]}]
    with_input = next(d for d, r in zip(docs(items), rows) if r["input"])
    assert with_input.text.count("\n\n") >= 2


def test_alpaca_bad_records(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text('[{"instruction": "i"}, {"instruction": "i", "input": null, "output": "o"}, {"instruction": ["x"], "output": "o"}]')
    items = read_source(type="alpaca", paths=[str(p)])
    assert [(r.record, r.drop_value) for r in rejects(items)] == [
        (0, "missing_field: output"),
        (2, "wrong_type: instruction is list, expected str"),
    ]
    assert [d.text for d in docs(items)] == ["i\n\no"]

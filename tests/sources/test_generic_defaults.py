"""generic adapter defaults (issue 19, item 4): the record's own `id` becomes the document id while
unique within its file, other scalar fields go to meta; --title-field / --meta-field."""

from __future__ import annotations

from pathlib import Path

import orjson
from formathelpers import kept_rows, read_stage, shard
from srchelpers import SAMPLES, docs, read_source, rejects

DOLMA = SAMPLES / "en" / "cc_en_head-0091.jsonl"


def _dolma_rows() -> list[dict[str, object]]:
    return [orjson.loads(line) for line in DOLMA.read_bytes().splitlines()]


def test_own_id_and_scalar_fields_are_kept() -> None:
    rows = _dolma_rows()
    got = docs(read_source(type="generic", paths=[str(DOLMA)]))
    assert len(got) == len(rows) == 10
    assert [d.id for d in got] == [f"src/cc_en_head-0091/{r['id']}" for r in rows]
    for d, r in zip(got, rows):
        assert d.meta == {"orig_id": r["id"], "added": r["added"], "created": r["created"], "source": r["source"]}
        assert "metadata" in r and "metadata" not in d.meta  # nested objects need fields.meta paths


def test_meta_fields_and_title_field_choose_what_is_kept() -> None:
    rows = _dolma_rows()
    got = docs(read_source(type="generic", paths=[str(DOLMA)], fields={"text": "text", "title": "source", "meta": ["metadata.language", "created"]}))
    assert got[0].meta == {"orig_id": rows[0]["id"], "title": "common-crawl", "metadata.language": "en", "created": rows[0]["created"]}
    assert got[0].text == "common-crawl\n\n" + str(rows[0]["text"])


def test_repeated_ids_in_a_file_fall_back_to_line_ids(tmp_path: Path) -> None:
    texts = [str(r["text"]) for r in _dolma_rows()[:6]]
    lines = [
        {"id": 7, "text": texts[0], "url": "https://a.example/1"},
        {"id": 8, "text": texts[1]},
        {"id": 7, "text": texts[2]},  # repeats line 1's id
        {"text": texts[3]},  # no id
        {"id": "", "text": texts[4]},  # empty id
        {"id": 2, "text": texts[5]},  # own id 2 == the line-based id line 3 took: first come keeps it
    ]
    p = tmp_path / "part.jsonl"
    p.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    got = docs(read_source(type="generic", paths=[str(p)]))
    assert [d.id for d in got] == ["src/part/7", "src/part/8", "src/part/2", "src/part/3", "src/part/4", "src/part/5"]
    assert [d.meta.get("orig_id") for d in got] == ["7", "8", "7", None, None, "2"]
    assert got[0].meta["url"] == "https://a.example/1"
    assert len({d.id for d in got}) == 6

    lines[5] = {"id": 2, "text": texts[5]}
    lines.append({"text": texts[0] + " (again)"})  # line 7 -> line id src/part/6; no clash
    lines[1] = {"id": 6, "text": texts[1]}  # ... unless an earlier own id took it
    p.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    got = docs(read_source(type="generic", paths=[str(p)]))
    assert got[-1].id == "src/part/6#1" and got[1].id == "src/part/6"


def test_auto_id_off_and_explicit_id_field(tmp_path: Path) -> None:
    got = docs(read_source(type="generic", paths=[str(DOLMA)], fields={"auto_id": False}))
    assert [d.id for d in got] == [f"src/cc_en_head-0091/{i}" for i in range(10)]
    got = docs(read_source(type="generic", paths=[str(DOLMA)], fields={"id": "id"}))
    assert got[0].id == f"src/{_dolma_rows()[0]['id']}"


def test_cli_two_splits_numbered_from_zero_and_meta_options(tmp_path: Path) -> None:
    """train/dev splits that both number their records from 0 do not collide (file stem in the id)."""
    texts = [str(r["text"]) for r in _dolma_rows()]
    for name, part in (("train", texts[:5]), ("dev", texts[5:])):
        (tmp_path / f"{name}.jsonl").write_bytes(
            b"".join(orjson.dumps({"id": i, "text": t, "label": i % 2, "score": 0.5}) + b"\n" for i, t in enumerate(part))
        )
    out = tmp_path / "out"
    res = shard([tmp_path / "train.jsonl", tmp_path / "dev.jsonl"], out, "--source-type", "generic", "--name", "splits", "--lang", "en")
    assert res.exit_code == 0, res.output
    t = read_stage(out)
    assert (t["docs_in"], t["docs_kept"], t["docs_rejected"]) == (10, 10, 0)
    rows = kept_rows(out)
    assert sorted(r["id"] for r in rows) == sorted([*(f"splits/train/{i}" for i in range(5)), *(f"splits/dev/{i}" for i in range(5))])
    assert all(set(r["meta"]) == {"orig_id", "label", "score"} for r in rows)

    heads = tmp_path / "heads.jsonl"
    heads.write_bytes(
        b"".join(orjson.dumps({"id": i, "headline": f"Page {i}", "text": t, "label": i % 2, "score": 0.5}) + b"\n" for i, t in enumerate(texts[:4]))
    )
    out = tmp_path / "out2"
    res = shard([heads], out, "--source-type", "generic", "--lang", "en", "--meta-field", "label", "--title-field", "headline")
    assert res.exit_code == 0, res.output
    rows = sorted(kept_rows(out), key=lambda r: r["id"])
    assert [r["meta"] for r in rows] == [{"orig_id": str(i), "title": f"Page {i}", "label": i % 2} for i in range(4)]
    assert [r["text"].split("\n\n", 1)[0] for r in rows] == [f"Page {i}" for i in range(4)]


def test_missing_text_still_names_the_field(tmp_path: Path) -> None:
    p = tmp_path / "x.jsonl"
    p.write_bytes(orjson.dumps({"id": 1, "body": "no text"}) + b"\n")
    (r,) = rejects(read_source(type="generic", paths=[str(p)]))
    assert (r.drop_value, r.field, r.id) == ("missing_field: text", "text", "src/x/0")

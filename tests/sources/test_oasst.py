"""oasst1: nested exports and the flat message table, per unit, with every message accounted for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from srchelpers import FIXTURES, SAMPLES, docs, read_source, rejects

from pipeline.document import Document, Reject

MESSAGE_EXPORT = SAMPLES / "oasst" / "en_100_message.jsonl"
TREE_EXPORT = SAMPLES / "oasst" / "en_100_tree.jsonl"
FLAT_JSONL = FIXTURES / "oasst_flat.jsonl"
FLAT_PARQUET = FIXTURES / "oasst_flat.parquet"
MARKS: dict[str, Any] = json.loads((FIXTURES / "oasst_flat_marks.json").read_text())


def oasst(path: Path | str, unit: str = "thread", invalid_utf8: str = "reject") -> list[Document | Reject]:
    return read_source(invalid_utf8, type="oasst", paths=[str(path)], unit=unit)


def _walk(m: dict[str, Any]) -> list[dict[str, Any]]:
    out = [m]
    for r in m.get("replies") or []:
        out += _walk(r)
    return out


def sample_messages(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_bytes().splitlines():
        rec = orjson.loads(line)
        out += _walk(rec.get("prompt", rec))
    return out


# --------------------------------------------------------------------------------------------------
# the real samples: exact counts per unit (README numbers)
# --------------------------------------------------------------------------------------------------

SAMPLE_COUNTS = {"thread": (626, 0), "message": (1167, 0), "top_path": (100, 0)}


@pytest.mark.parametrize("path", [MESSAGE_EXPORT, TREE_EXPORT], ids=["message_export", "tree_export"])
@pytest.mark.parametrize("unit", ["thread", "message", "top_path"])
def test_sample_counts(path: Path, unit: str) -> None:
    items = oasst(path, unit)
    assert (len(docs(items)), len(rejects(items))) == SAMPLE_COUNTS[unit]
    assert {d.subset for d in docs(items)} == {unit}
    assert all(d.source == "src" and d.lang == "en" for d in docs(items))


@pytest.mark.parametrize("unit", ["thread", "message", "top_path"])
def test_both_export_shapes_give_the_same_documents(unit: str) -> None:
    a = docs(oasst(MESSAGE_EXPORT, unit))
    b = docs(oasst(TREE_EXPORT, unit))
    assert [(d.id, d.text, d.messages, d.lang, d.line) for d in a] == [(d.id, d.text, d.messages, d.lang, d.line) for d in b]
    assert all(d.meta.get("tree_state") == "ready_for_export" for d in b)


def test_threads_cover_every_message_and_end_at_leaves() -> None:
    msgs = sample_messages(MESSAGE_EXPORT)
    by_id = {m["message_id"]: m for m in msgs}
    threads = docs(oasst(MESSAGE_EXPORT, "thread"))
    covered = {mid for d in threads for mid in d.meta["message_ids"]}
    assert covered == set(by_id)
    leaves = {m["message_id"] for m in msgs if not m["replies"]}
    assert [d.id for d in threads if d.id not in leaves] == []
    assert len({d.id for d in threads}) == len(threads) == len(leaves)
    for d in threads:
        ids = d.meta["message_ids"]
        assert by_id[ids[0]]["parent_id"] is None
        assert all(by_id[c]["parent_id"] == p for p, c in zip(ids, ids[1:]))
        assert d.meta["turns"] == len(ids) == len(d.messages)  # type: ignore[arg-type]
        assert d.meta["orig_id"] == d.id == ids[-1]


def test_thread_document_shape() -> None:
    d = docs(oasst(MESSAGE_EXPORT, "thread"))[0]
    first = orjson.loads(MESSAGE_EXPORT.read_bytes().splitlines()[0])
    reply = first["replies"][0]
    assert d.id == reply["message_id"]
    assert d.text == f"User: {first['text']}\n\nAssistant: {reply['text']}"
    assert d.messages == [{"role": "user", "content": first["text"]}, {"role": "assistant", "content": reply["text"]}]
    assert d.meta == {
        "message_tree_id": first["message_id"],
        "orig_id": reply["message_id"],
        "message_ids": [first["message_id"], reply["message_id"]],
        "turns": 2,
        "ranks": [None, 0],
        "synthetic": [True, True],
    }
    assert (d.file, d.line, d.record, d.subset) == (str(MESSAGE_EXPORT), 1, 0, "thread")


def test_message_unit_shape() -> None:
    items = docs(oasst(MESSAGE_EXPORT, "message"))
    msgs = sample_messages(MESSAGE_EXPORT)
    assert [d.id for d in items] == [m["message_id"] for m in msgs]  # depth-first, input order
    assert [d.text for d in items] == [m["text"] for m in msgs]
    d = items[1]
    assert d.messages is None
    assert {k: d.meta[k] for k in ("parent_id", "message_tree_id", "role", "rank")} == {
        "parent_id": msgs[0]["message_id"],
        "message_tree_id": msgs[0]["message_id"],
        "role": "assistant",
        "rank": 0,
    }


def test_top_path_follows_best_rank_and_counts_the_rest() -> None:
    paths = docs(oasst(MESSAGE_EXPORT, "top_path"))
    trees = [orjson.loads(x) for x in MESSAGE_EXPORT.read_bytes().splitlines()]
    assert [d.id for d in paths] == [t["message_id"] for t in trees]
    for d, tree in zip(paths, trees):
        node = tree
        expect = [node["message_id"]]
        while node["replies"]:
            node = min(node["replies"], key=lambda c: (c["rank"] is None, c["rank"] or 0, c["message_id"]))
            expect.append(node["message_id"])
        assert d.meta["message_ids"] == expect
        assert d.meta["messages_not_on_path"] == len(_walk(tree)) - len(expect)
    assert sum(d.meta["turns"] + d.meta["messages_not_on_path"] for d in paths) == 1167


# --------------------------------------------------------------------------------------------------
# the flat table with rejected messages (JSONL and Parquet, as the Hub's oasst1)
# --------------------------------------------------------------------------------------------------

FLAT_COUNTS = {"thread": 51, "message": 103, "top_path": 11}
FLAT_REJECTS = {"deleted": 4, "review_failed": 2, "parent_rejected": 14}


@pytest.mark.parametrize("path", [FLAT_JSONL, FLAT_PARQUET], ids=["jsonl", "parquet"])
@pytest.mark.parametrize("unit", ["thread", "message", "top_path"])
def test_flat_table_counts(path: Path, unit: str) -> None:
    items = oasst(path, unit)
    assert len(docs(items)) == FLAT_COUNTS[unit]
    got: dict[str, int] = {}
    for r in rejects(items):
        got[r.drop_reason] = got.get(r.drop_reason, 0) + 1
    assert got == FLAT_REJECTS
    assert all(r.stage == "read" and r.subset == unit for r in rejects(items))


@pytest.mark.parametrize("unit", ["thread", "message", "top_path"])
def test_flat_every_message_exactly_once(unit: str) -> None:
    rows = [orjson.loads(x) for x in FLAT_JSONL.read_bytes().splitlines()]
    items = oasst(FLAT_JSONL, unit)
    rejected = [r.id for r in rejects(items)]
    assert len(rejected) == len(set(rejected))
    if unit == "message":
        in_docs = {d.id for d in docs(items)}
    else:
        in_docs = {mid for d in docs(items) for mid in d.meta["message_ids"]}
    assert not in_docs & set(rejected)
    if unit == "top_path":
        off_path = sum(d.meta["messages_not_on_path"] for d in docs(items))
        assert len(in_docs) + off_path + len(rejected) == len(rows) == MARKS["messages"]
    else:
        assert in_docs | set(rejected) == {r["message_id"] for r in rows}


def test_flat_reject_reasons_and_values() -> None:
    rows = {r["message_id"]: r for r in (orjson.loads(x) for x in FLAT_JSONL.read_bytes().splitlines())}
    by_id = {r.id: r for r in rejects(oasst(FLAT_JSONL, "thread"))}
    deleted = MARKS["deleted_with_3_descendants"]
    assert (by_id[deleted].drop_reason, by_id[deleted].drop_value) == ("deleted", "deleted=true")
    assert [r.id for r in by_id.values() if r.drop_value == deleted and r.drop_reason == "parent_rejected"].__len__() == 3
    failed = MARKS["review_failed_with_7_descendants"]
    assert (by_id[failed].drop_reason, by_id[failed].drop_value) == ("review_failed", "review_result=false")
    assert sum(1 for r in by_id.values() if r.drop_value == failed) == 7
    assert by_id[MARKS["review_failed_leaf"]].drop_reason == "review_failed"
    assert by_id[MARKS["deleted_and_review_failed_leaf"]].drop_reason == "deleted"  # deleted wins
    under = by_id[MARKS["review_failed_under_deleted"]]
    assert (under.drop_reason, under.drop_value) == ("parent_rejected", MARKS["deleted_level2"])
    root = MARKS["deleted_root"]
    assert by_id[root].drop_reason == "deleted"
    assert sum(1 for r in by_id.values() if r.drop_value == root) == MARKS["deleted_root_descendants"]
    r = by_id[deleted]
    assert r.text == rows[deleted]["text"]
    assert r.meta == {"message_tree_id": rows[deleted]["message_tree_id"], "parent_id": rows[deleted]["parent_id"], "role": "assistant"}
    assert (r.file, r.line) == (str(FLAT_JSONL), list(rows).index(deleted) + 1)
    assert root not in {d.id for d in docs(oasst(FLAT_JSONL, "top_path"))}


def test_flat_parquet_matches_flat_jsonl() -> None:
    for unit in ("thread", "message", "top_path"):
        a = [(d.id, d.text, d.messages, d.meta, d.record) for d in docs(oasst(FLAT_JSONL, unit))]
        b = [(d.id, d.text, d.messages, d.meta, d.record) for d in docs(oasst(FLAT_PARQUET, unit))]
        assert a == b


def test_flat_matches_nested_on_untouched_trees() -> None:
    marked = {m for k, m in MARKS.items() if isinstance(m, str)}
    rows = [orjson.loads(x) for x in FLAT_JSONL.read_bytes().splitlines()]
    touched = {r["message_tree_id"] for r in rows if r["message_id"] in marked}
    flat = {d.id: d for d in docs(oasst(FLAT_JSONL, "thread")) if d.meta["message_tree_id"] not in touched}
    nested = {d.id: d for d in docs(oasst(MESSAGE_EXPORT, "thread")) if d.meta["message_tree_id"] in {r["message_tree_id"] for r in rows} - touched}
    assert len(flat) == len(nested) > 20
    for k, d in nested.items():
        assert (flat[k].text, flat[k].messages, flat[k].meta["message_ids"]) == (d.text, d.messages, d.meta["message_ids"])


# --------------------------------------------------------------------------------------------------
# broken structure
# --------------------------------------------------------------------------------------------------


def test_broken_tree_records_are_one_reject_each() -> None:
    items = oasst(FIXTURES / "oasst_broken_tree.jsonl", "thread")
    bad = rejects(items)
    assert [(r.line, r.drop_reason, r.drop_value, r.field, r.meta["path"]) for r in bad] == [  # type: ignore[index]
        (2, "malformed", "missing_field: text", "text", "prompt.replies[0]"),
        (3, "malformed", "missing_field: role", "role", "prompt"),
        (4, "malformed", "missing_field: message_id", "message_id", "prompt.replies[0].replies[0]"),
    ]
    lines = FIXTURES.joinpath("oasst_broken_tree.jsonl").read_bytes().splitlines()
    for r in bad:
        assert r.id == orjson.loads(lines[r.line - 1])["message_tree_id"]  # type: ignore[operator]
        assert r.raw == lines[r.line - 1].decode()  # type: ignore[operator]
    assert {d.line for d in docs(items)} == {1, 5}


def _flat_rows(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    p = tmp_path / "flat.jsonl"
    base = {"role": "assistant", "lang": "en", "deleted": False, "review_result": True, "rank": None, "synthetic": False, "message_tree_id": "t"}
    p.write_bytes(b"".join(orjson.dumps({**base, **r}) + b"\n" for r in rows))
    return p


def test_flat_structure_problems(tmp_path: Path) -> None:
    p = _flat_rows(
        tmp_path,
        [
            {"message_id": "t", "parent_id": None, "text": "Q", "role": "prompter"},
            {"message_id": "a", "parent_id": "t", "text": "A"},
            {"message_id": "bad", "parent_id": "t", "text": 5},  # wrong type, with a reply
            {"message_id": "b1", "parent_id": "bad", "text": "under bad", "role": "prompter"},
            {"message_id": "orphan", "parent_id": "nowhere", "text": "O"},
            {"message_id": "o1", "parent_id": "orphan", "text": "under orphan", "role": "prompter"},
            {"message_id": "c1", "parent_id": "c2", "text": "cycle 1"},
            {"message_id": "c2", "parent_id": "c1", "text": "cycle 2"},
            {"message_id": "a", "parent_id": "t", "text": "A again"},  # duplicate id
            {"message_id": "r2", "parent_id": None, "text": "second root", "role": "prompter"},
            {"message_id": "x", "parent_id": "t", "text": "X", "role": "system"},
            {"parent_id": "t", "text": "no id"},
            {"message_id": "y", "parent_id": "t", "text": "no tree id", "message_tree_id": None},
        ],
    )
    items = oasst(p, "thread")
    got = {(r.id, r.drop_reason, r.drop_value, r.field) for r in rejects(items)}
    assert got == {
        ("a", "malformed", "duplicate_id: a", "message_id"),
        ("bad", "malformed", "wrong_type: text is int, expected str", "text"),
        ("b1", "parent_rejected", "bad", None),
        ("orphan", "malformed", "missing_parent: nowhere", "parent_id"),
        ("o1", "parent_rejected", "orphan", None),
        ("c1", "malformed", "parent_cycle: c2", "parent_id"),
        ("c2", "malformed", "parent_cycle: c1", "parent_id"),
        ("r2", "malformed", "extra_root: tree t has root t", "parent_id"),
        ("x", "malformed", "wrong_type: role is 'system', expected 'prompter' or 'assistant'", "role"),
        ("src/flat/11", "malformed", "missing_field: message_id", "message_id"),
        ("y", "malformed", "missing_field: message_tree_id", "message_tree_id"),
    }
    assert [(d.id, d.text) for d in docs(items)] == [("a", "User: Q\n\nAssistant: A")]
    assert len(items) == 12
    by_id = {r.id: r for r in rejects(items)}
    assert by_id["bad"].raw is not None and '"text":5' in by_id["bad"].raw  # malformed rows keep their line
    assert by_id["b1"].raw is None and by_id["b1"].text == "under bad"  # 13 rows, one document for the two surviving ones


def test_single_message_tree_without_replies_key(tmp_path: Path) -> None:
    p = tmp_path / "one.jsonl"
    p.write_bytes(orjson.dumps({"message_id": "m1", "parent_id": None, "text": "Hello?", "role": "prompter", "lang": "de"}) + b"\n")
    (d,) = docs(oasst(p, "thread"))
    assert (d.id, d.text, d.lang, d.meta["message_tree_id"]) == ("m1", "User: Hello?", "de", "m1")


def test_repaired_utf8_is_counted_per_message(tmp_path: Path) -> None:
    line = orjson.loads(MESSAGE_EXPORT.read_bytes().splitlines()[0])
    line["replies"][1]["text"] = "BROKEN"
    raw = orjson.dumps(line).replace(b"BROKEN", b"bro\xffken")
    p = tmp_path / "r.jsonl"
    p.write_bytes(raw + b"\n")
    assert rejects(oasst(p, "thread"))[0].drop_value.startswith("invalid_utf8: ")  # type: ignore[union-attr]
    items = docs(oasst(p, "message", invalid_utf8="repair"))
    assert [d.meta.get("utf8_repaired", 0) for d in items] == [0, 0, 1, 0]
    assert items[2].text == "bro\ufffdken"


def test_lang_falls_back_to_config(tmp_path: Path) -> None:
    p = _flat_rows(tmp_path, [{"message_id": "t", "parent_id": None, "text": "Q", "role": "prompter", "lang": None}])
    (d,) = docs(read_source(type="oasst", paths=[str(p)], lang="xx"))
    assert d.lang == "xx"

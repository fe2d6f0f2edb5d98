"""Keeper rule (source priority, then longer text, then smaller id) and the case-sensitive key."""

from __future__ import annotations

import random

import pyarrow as pa
from dedup_helpers import alpaca_texts, c4_texts, cmrc_texts, oasst_texts

from pipeline.dedup.keepers import KEEPER_SCHEMA, choose_keepers
from pipeline.dedup.keys import EMPTY_KEY_HASH, case_sensitive_key, case_sensitive_key_hash
from pipeline.dedup.keys import key_hash, normalize_key

MEMBERS = [
    # cluster x: priority source wins over length
    ("x1", "x", "web", 900),
    ("x2", "x", "wiki", 100),
    ("x3", "x", "wiki", 100),  # same source and length as x2: smaller id wins
    # cluster y: no listed source: longest wins
    ("y1", "y", "web", 10),
    ("y2", "y", "forum", 50),
    # cluster z: second listed source beats unlisted, ties on length go to the smaller id
    ("z9", "z", "books", 70),
    ("z10", "z", "books", 70),
    ("z2", "z", "web", 500),
    # a cluster with one passing member keeps it
    ("w1", "w", "web", 1),
]


def _table(rows: list[tuple[str, str, str, int]]) -> pa.Table:
    return pa.table(
        {
            "id": [r[0] for r in rows],
            "cluster": [r[1] for r in rows],
            "source": [r[2] for r in rows],
            "n_chars": pa.array([r[3] for r in rows], pa.int64()),
        }
    )


def test_keeper_rule() -> None:
    out = choose_keepers(_table(MEMBERS), ["wiki", "books"])
    assert out.schema.equals(KEEPER_SCHEMA)
    keeper = {r["cluster"]: r["keeper_id"] for r in out.to_pylist()}
    assert keeper == {"x": "x2", "y": "y2", "z": "z10", "w": "w1"}  # "z10" < "z9" (byte order)
    assert sum(out.column("is_keeper").to_pylist()) == 4
    assert all((r["id"] == r["keeper_id"]) == r["is_keeper"] for r in out.to_pylist())
    assert out.column("id").to_pylist() == sorted(out.column("id").to_pylist(), key=lambda i: (i[0], i))


def test_keeper_choice_is_order_independent() -> None:
    expected = choose_keepers(_table(MEMBERS), ["wiki"])
    for seed in range(5):
        rows = MEMBERS[:]
        random.Random(seed).shuffle(rows)
        assert choose_keepers(_table(rows), ["wiki"]).equals(expected)
    assert choose_keepers(_table([]), []).num_rows == 0


def test_case_sensitive_key() -> None:
    assert case_sensitive_key("Hello, World!") == "HelloWorld"
    assert case_sensitive_key("ＨＥＬＬＯ，世界。") == "HELLO世界"
    assert case_sensitive_key_hash("Hello world") != case_sensitive_key_hash("hello world")
    assert case_sensitive_key_hash("Hello, world") == case_sensitive_key_hash("Hello world!")
    assert case_sensitive_key_hash("🙂 !") == EMPTY_KEY_HASH == key_hash(normalize_key("🙂 !"))


def test_case_sensitive_key_refines_the_exact_key() -> None:
    """Equal case-sensitive keys imply equal exact keys: casefolding the case-sensitive key gives
    the exact key, so the casing-impact figure can never be negative."""
    texts = c4_texts()[:100] + cmrc_texts()[:100] + oasst_texts()[:100] + alpaca_texts()[:100]
    texts += ["Straße ΣΊΣΥΦΟΣ ǅ Ⅻ ﬃ", "e\u0301\u0323 Å", "ＡＢＣ１２３"]
    for t in texts:
        assert normalize_key(case_sensitive_key(t)) == normalize_key(t), t[:60]

"""Exact keys are read row by row: equal key_hash strings link whatever else sits in their shard or
batch (a null or non-hex key used to switch a whole 16k-row batch of a sidecar from parsing the hex
digits to hashing the strings, so the same key in two batches became two different keys), and
strings that differ do not (upper-case hex parsed to the same key as lower-case)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.dedup.cluster import cluster
from pipeline.dedup.keys import EMPTY_KEY_HASH

CFG = DedupConfig()
K1 = "0123456789abcdef0123456789abcdef"
K2 = "fedcba9876543210fedcba9876543210"


def _shard(path: Path, ids: list[str], keys: list[str | None], seed: int, same: Sequence[int] = ()) -> Path:
    """Random signatures (no two documents near each other), except rows `same`: one signature."""
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**32 - 1, size=(len(ids), CFG.num_perm), dtype=np.uint32)
    if same:
        sig[list(same)] = sig[same[0]]
    table = pa.table(
        {
            "id": ids,
            "source": ["web"] * len(ids),
            "key_hash": pa.array(keys, pa.string()),
            "n_chars": pa.array([100] * len(ids), pa.int64()),
            "minhash": pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1)), CFG.num_perm),
        }
    )
    pq.write_table(table, path)
    return path


def test_equal_key_strings_link_whatever_their_neighbours(tmp_path: Path) -> None:
    a = _shard(tmp_path / "staged-a.parquet", ["a0", "a1", "a2"], [K1, K2, "1" * 32], seed=1)
    # a null key and a non-hex key beside a hex one: each row keeps its own key
    b = _shard(tmp_path / "staged-b.parquet", ["b0", "b1", "b2", "b3"], [K1, None, "not a hex key", "not a hex key"], seed=2)
    # upper-case hex is another string: no exact link to a1
    c = _shard(tmp_path / "staged-c.parquet", ["c0", "c1"], [K2.upper(), "2" * 32], seed=3)
    # near duplicates whose keys are missing or empty: one cluster, none of them "exact"
    d = _shard(tmp_path / "staged-d.parquet", ["d0", "d1", "d2", "d3"], [None, EMPTY_KEY_HASH, EMPTY_KEY_HASH, None], seed=4, same=[0, 1, 2, 3])
    res = cluster([a, b, c, d], tmp_path / "work", CFG)
    rows = pq.read_table(res.clusters_path).to_pylist()
    assert {(r["id"], r["cluster"], r["match"]) for r in rows} == {
        ("a0", "a0", "exact"),
        ("b0", "a0", "exact"),
        ("b2", "b2", "exact"),
        ("b3", "b2", "exact"),
        ("d0", "d0", "near"),
        ("d1", "d0", "near"),
        ("d2", "d0", "near"),
        ("d3", "d0", "near"),
    }
    assert res.n_exact_edges == 2 and res.exact_dup_docs == 2 and res.n_near_edges == 6  # every pair of d0-d3


def test_exact_groups_hold_only_the_rows_of_runs(tmp_path: Path) -> None:
    """_repeated_rows may keep rows whose key only shares its high bits with another (a chance
    collision at 16M documents); the exact groups written for the outputs are the runs' rows only,
    each with its run's smallest document."""
    from types import SimpleNamespace

    from pipeline.dedup.edges import _write_exact_groups
    from pipeline.layout import Store, url_to_fs

    plan = SimpleNamespace(store=Store(*url_to_fs(str(tmp_path)), str(tmp_path)), exact_path=lambda i: str(tmp_path / f"exact-{i:05d}.arrow"))
    doc = np.array([5, 9, 3, 7, 8], dtype=np.int64)  # runs [0, 2) and [3, 5); row 2 is in none
    _write_exact_groups(plan, 0, doc, np.array([0, 3]), np.array([2, 2]))  # type: ignore[arg-type]
    t = pa.ipc.open_file(pa.memory_map(str(tmp_path / "exact-00000.arrow"))).read_all()
    assert t.to_pydict() == {"doc": [5, 9, 7, 8], "group": [5, 5, 7, 7]}

"""Exact keys are read row by row: equal key_hash strings link whatever else sits in their shard or
batch (a null or non-hex key used to switch a whole 16k-row batch of a sidecar from parsing the hex
digits to hashing the strings, so the same key in two batches became two different keys), and
strings that differ do not (upper-case hex parsed to the same key as lower-case)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.dedup.cluster import cluster

CFG = DedupConfig()
K1 = "0123456789abcdef0123456789abcdef"
K2 = "fedcba9876543210fedcba9876543210"


def _shard(path: Path, ids: list[str], keys: list[str | None], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**32 - 1, size=(len(ids), CFG.num_perm), dtype=np.uint32)
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
    res = cluster([a, b, c], tmp_path / "work", CFG)
    rows = pq.read_table(res.clusters_path).to_pylist()
    assert {(r["id"], r["cluster"], r["match"]) for r in rows} == {
        ("a0", "a0", "exact"),
        ("b0", "a0", "exact"),
        ("b2", "b2", "exact"),
        ("b3", "b2", "exact"),
    }
    assert res.n_exact_edges == 2 and res.exact_dup_docs == 2 and res.n_near_edges == 0

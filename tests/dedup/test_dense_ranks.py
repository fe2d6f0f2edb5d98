"""The cluster outputs sort and cut by dense ranks of the ids instead of by the strings
(pipeline/dedup/components.py): the orders must be exactly those of Arrow's stable string sorts,
duplicate ids (which two sources can share) and non-ASCII ids included."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.dedup.components import _clusters_table, _dense_ranks, _edges_table

_ALPHABET = ["a", "b", "ab", "B", "é", "中", "", "a\u0301", "zz", "10", "9"]


def _ids(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 3))) for _ in range(n)]


@pytest.mark.parametrize("seed", range(5))
def test_dense_ranks_order_and_compare_as_the_strings(seed: int) -> None:
    rng = random.Random(seed)
    ids = _ids(rng, 300)
    rank = _dense_ranks(pa.array(ids))
    for i in range(len(ids)):
        for j in range(0, len(ids), 7):
            bi, bj = ids[i].encode(), ids[j].encode()
            assert (rank[i] < rank[j]) == (bi < bj) and (rank[i] == rank[j]) == (bi == bj)
    assert np.array_equal(np.argsort(rank, kind="stable"), np.asarray(pc.sort_indices(pa.array(ids))))
    assert _dense_ranks(pa.array([], type=pa.string())).size == 0


def _clusters_by_strings(docs: pa.Table, root: np.ndarray) -> list[tuple[str, ...]]:
    """The rows in the order the string sorts give: by (component, id), then components by their
    smallest id, both stable (what _clusters_table did before the ranks)."""
    t = docs.append_column("comp", pa.array(root, type=pa.int64())).sort_by([("comp", "ascending"), ("id", "ascending")])
    comp = t.column("comp").to_numpy()
    starts = np.flatnonzero(np.r_[True, comp[1:] != comp[:-1]])
    sizes = np.diff(starts, append=len(comp))
    ids = t.column("id").combine_chunks()
    by_cluster = np.asarray(pc.sort_indices(ids.take(pa.array(starts))))
    rows = t.to_pylist()
    out = []
    for c in by_cluster:
        for r in rows[starts[c] : starts[c] + sizes[c]]:
            out.append((r["id"], rows[starts[c]]["id"], r["source"]))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_clusters_and_edges_orders_equal_the_string_sorts(seed: int) -> None:
    rng = random.Random(seed)
    n = 200
    ids = _ids(rng, n)  # many duplicates, also across clusters
    docs = pa.table({"id": ids, "source": [f"s{i}" for i in range(n)], "n_chars": [1] * n})
    root = np.array(sorted(rng.randrange(0, 40) for _ in range(n)), dtype=np.int64)
    rng.shuffle(root)
    got = _clusters_table(docs, root, np.full(n, -1)).to_pylist()
    assert [(r["id"], r["cluster"], r["source"]) for r in got] == _clusters_by_strings(docs, root)

    nodes = np.arange(n, dtype=np.int64) * 3
    a = np.array([rng.randrange(n) for _ in range(150)], dtype=np.int64) * 3
    b = np.array([rng.randrange(n) for _ in range(150)], dtype=np.int64) * 3
    kind, sim = np.array([rng.randrange(2) for _ in range(150)], dtype=np.int8), np.full(150, 64.0)
    edges = _edges_table(nodes, docs, a, b, kind, sim, 128).to_pylist()
    ia, ib = [ids[x // 3] for x in a], [ids[x // 3] for x in b]
    want = pa.table({"a": [min(x, y, key=str.encode) if x.encode() != y.encode() else x for x, y in zip(ia, ib)],
                     "b": [y if x.encode() <= y.encode() else x for x, y in zip(ia, ib)],
                     "i": list(range(150))}).sort_by([("a", "ascending"), ("b", "ascending")])  # fmt: skip
    assert [(e["a"], e["b"]) for e in edges] == list(zip(want.column("a").to_pylist(), want.column("b").to_pylist()))
    assert [e["match"] for e in edges] == [["near", "exact"][kind[i]] for i in want.column("i").to_pylist()]

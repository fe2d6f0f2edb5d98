"""Global duplicate clustering over staged shards, as parallel tasks with bounded memory (issue #18):
LSH band keys and exact keys come partitioned from the tag tasks (`pipeline/dedup/sidecar.py`: one
sidecar per staged file, keys in FINE_BUCKETS fine buckets by their top bits, signatures as a flat
matrix), each band partition (a contiguous range of fine buckets) is grouped alone by one task (sort
+ runs of equal keys), candidate pairs are verified by estimated Jaccard, and connected components
over the edges only join verified pairs into clusters.

    plan_clusters(paths, work, cfg)   sorted shards, sidecars (written where missing), document
                                      offsets, partitions from the document count and
                                      cfg.cluster_memory_mb
    partition_edges(plan, i)          one task per partition: reads its buckets from every shard
                                      and only the signatures of its candidate pairs; writes
                                      work/_parts/part-NNNNN.parquet
    finish_clusters(plan)             components over the edges, clusters/edges/stats
    cluster(paths, work, cfg)         the three in a row (map_fn: over a pool or Dask)

Why this shape (design.md, "Data flow"): no in-memory index of the whole corpus, and no array per
document in any process. A partition task holds its partition's band rows (~48 bytes per row at
the sort); signatures are read by row (memory-mapped locally, pages dropped from the resident set
after each verification block), dedup-group hashes likewise; the final step holds the verified
edges and the clustered documents only. Document i of the run is row i - offset[s] of shard s in
sorted shard order (offsets from row counts), so the outputs are those of one global numbering.

Candidates: every pair of documents that shares one of `cfg.bands` band keys (`cfg.rows`
signature values each; 16 x 8 makes a J=0.85 pair a candidate 99.4% of the time, docs/dependencies.md).
Verification: the fraction of equal signature values (datasketch's `jaccard`) >= `cfg.threshold`.
Buckets larger than `_ALL_PAIRS_MAX` (templated boilerplate) are verified greedily instead of
pairwise: up to `_GREEDY_ROUNDS` representatives each take the members that match them (see
`_bucket_pairs`), so cost stays linear; the rest fall back to windows of all-pairs. A key's bucket
is whole in one partition, so the verified edges do not depend on the partitioning; the count of
candidate pairs counts each distinct pair once, at its smallest shared band key, so it does not
either (comparisons inside large buckets are counted as made).

Exact duplicates: equal `key_hash` (the case-insensitive exact key) links documents whatever
their signatures, found the same partitioned way; the empty key (texts of punctuation/symbols
only) never links. Documents with an empty signature (no shingle) never become candidates.

Exemption: with `cfg.exempt_same_tree`, a pair whose two documents share a non-null
`dedup_group` (oasst message tree) is never linked directly. Union-find is transitive, so two
documents of one tree can still meet in one cluster through a third document; select then keeps
one of them, which is what a duplicate of both deserves.

Work directory layout (`work_dir`, local or a store):
    clusters.parquet        one row per document in a cluster of size >= 2 (CLUSTERS_SCHEMA),
                            sorted by (cluster, id); the only file select needs
    edges.parquet           verified links: a, b (ids, a < b), match ("exact" | "near"),
                            jaccard (estimated, float32); sorted; for audits and benchmarks
    cluster_stats.json      counts, the source x source duplicate-pair matrix, casing impact
    _parts/part-*.parquet   each partition task's edges (document indices); removed at the end
                            unless keep_intermediate=True
Every output file is written under a temporary name and renamed; same inputs + same config give
byte-identical outputs whatever the number of partitions and workers (the partition count is
therefore not in cluster_stats.json: `ClusterResult.n_partitions`).
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline.config import DedupConfig
from pipeline.layout import Store, url_to_fs
from pipeline.dedup.keys import EMPTY_KEY_HASH
from pipeline.dedup.minhash import EMPTY_VALUE
from pipeline.dedup.sidecar import FINE_BUCKETS, SUFFIX, Gather, Sidecar, read_footer, sidecar_ok, sidecar_path, write_sidecar

__all__ = [
    "CLUSTERS_SCHEMA",
    "EDGES_SCHEMA",
    "ClusterPlan",
    "ClusterResult",
    "choose_partitions",
    "cluster",
    "connected_components",
    "finish_clusters",
    "partition_edges",
    "plan_clusters",
]

CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster", pa.string(), nullable=False),  # smallest id of the cluster
        pa.field("cluster_size", pa.int64(), nullable=False),
        pa.field("match", pa.string(), nullable=False),  # "exact": another member has its key_hash
        pa.field("source", pa.string(), nullable=False),
        pa.field("n_chars", pa.int64(), nullable=False),
    ]
)

EDGES_SCHEMA = pa.schema(
    [
        pa.field("a", pa.string(), nullable=False),
        pa.field("b", pa.string(), nullable=False),
        pa.field("match", pa.string(), nullable=False),
        pa.field("jaccard", pa.float32(), nullable=False),
    ]
)

#: Buckets up to this size are verified pair by pair (256 -> 32,640 pairs).
_ALL_PAIRS_MAX = 256
#: Larger buckets: at most this many greedy representatives, then windows of all-pairs.
_GREEDY_ROUNDS = 64
#: Candidate pairs generated per chunk of a partition's buckets.
_PAIRS_PER_CHUNK = 4_000_000
#: Candidate pairs verified per block: 2 x 4k gathered rows touch up to 8k pages (32 MB) of the mapping.
_VERIFY_BLOCK = 4_096


@dataclass
class ClusterResult(Mapping[str, object]):
    """What one clustering run found. `stats()` is the JSON written to cluster_stats.json, and the
    result reads as that mapping too (`{"enabled": True, **result}`)."""

    work_dir: Path
    n_docs: int = 0
    n_empty_signatures: int = 0
    n_partitions: int = 0  # not in stats(): the outputs do not depend on it
    n_candidate_pairs: int = 0  # distinct candidate pairs verified (per partition), exempt pairs excluded
    n_near_edges: int = 0  # candidate pairs that passed verification
    n_exact_edges: int = 0
    n_exempt_pairs: int = 0  # candidate/exact pairs skipped because both share a dedup_group
    n_clusters: int = 0
    n_clustered_docs: int = 0
    n_duplicates: int = 0  # clustered docs minus clusters: what one keeper per cluster drops
    exact_dup_docs: int = 0  # sum(size - 1) over equal key_hash groups (no exemption)
    exact_dup_docs_cs: int | None = None  # the same with key_hash_cs (None: column missing)
    casing_impact: int | None = None  # exact_dup_docs - exact_dup_docs_cs
    source_pairs: dict[str, dict[str, int]] = field(default_factory=dict)  # symmetric
    source_docs: dict[str, int] = field(default_factory=dict)  # docs per source in clusters
    seconds: dict[str, float] = field(default_factory=dict)  # not written (not deterministic)
    task_peak_rss_mb: int = 0  # largest peak RSS of a partition task's process; not written

    @property
    def clusters_path(self) -> Path:
        return self.work_dir / "clusters.parquet"

    @property
    def edges_path(self) -> Path:
        return self.work_dir / "edges.parquet"

    def stats(self) -> dict[str, object]:
        d = asdict(self)
        d.pop("work_dir")
        d.pop("seconds")
        d.pop("task_peak_rss_mb")
        d.pop("n_partitions")  # not an answer: the outputs are the same whatever the partitioning
        return d

    def __getitem__(self, key: str) -> object:
        return self.stats()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.stats())

    def __len__(self) -> int:
        return len(self.stats())


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------------


def _fmix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(33))
    x *= np.uint64(0xFF51AFD7ED558CCD)
    x ^= x >> np.uint64(33)
    x *= np.uint64(0xC4CEB9FE1A85EC53)
    x ^= x >> np.uint64(33)
    return x


def _band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: a 64-bit hash of each band's `rows` values, salted by the band index so
    all bands can share partitions. A collision only adds a candidate that verification rejects."""
    n = len(sigs)
    v = sigs.reshape(n, bands, rows)
    h = np.broadcast_to(
        (np.arange(bands, dtype=np.uint64) + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15), (n, bands)
    ).copy()
    for r in range(rows):
        h ^= v[:, :, r].astype(np.uint64)
        h = _fmix64(h)
    return h


_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i


def _hex_keys(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k1, k2, valid) from 32-hex-digit key hashes (xxh3-128); other strings are hashed instead
    (xxh3-128 of their UTF-8) so any key column works. Null and the empty-text key are invalid."""
    n = len(col)
    col = col.cast(pa.string())
    valid = np.asarray(pc.invert(pc.is_null(col)).fill_null(False)) if col.null_count else np.ones(n, bool)
    valid &= ~np.asarray(pc.equal(col, EMPTY_KEY_HASH).fill_null(False))
    k1 = np.zeros(n, dtype=np.uint64)
    k2 = np.zeros(n, dtype=np.uint64)
    lens = np.asarray(pc.utf8_length(col).fill_null(0))
    if n and col.null_count == 0 and (lens == 32).all():
        offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[col.offset : col.offset + n + 1]
        data = np.frombuffer(col.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        nib = _HEX[data].reshape(n, 32)
        if (nib != 255).all():
            nib64 = nib.astype(np.uint64)
            for j in range(16):
                k1 = (k1 << np.uint64(4)) | nib64[:, j]
                k2 = (k2 << np.uint64(4)) | nib64[:, 16 + j]
            return k1, k2, valid
    for i, s in enumerate(col.to_pylist()):
        if s is not None:
            d = xxhash.xxh3_128_intdigest(s.encode("utf-8"))
            k1[i], k2[i] = d >> 64, d & ((1 << 64) - 1)
    return k1, k2, valid


def _group_hashes(col: pa.Array | None, n: int) -> np.ndarray:
    """uint64 hash of each dedup_group (0 = none). Only the batch's distinct values are hashed."""
    out = np.zeros(n, dtype=np.uint64)
    if col is None or col.null_count == n:
        return out
    enc = pc.dictionary_encode(col.cast(pa.string()))
    hashes = np.array(
        [(xxhash.xxh3_64_intdigest(s.encode("utf-8")) or 1) for s in enc.dictionary.to_pylist()], dtype=np.uint64
    )
    idx = enc.indices
    valid = np.asarray(pc.invert(pc.is_null(idx)))
    out[valid] = hashes[np.asarray(idx.drop_null())]
    return out


def _signature_matrix(col: pa.Array, num_perm: int) -> np.ndarray:
    """(n, num_perm) uint32 from a fixed_size_list or list column; null rows -> empty signature."""
    n = len(col)
    out = np.full((n, num_perm), EMPTY_VALUE, dtype=np.uint32)
    valid = np.ones(n, dtype=bool) if col.null_count == 0 else np.asarray(pc.is_valid(col))
    if pa.types.is_fixed_size_list(col.type):
        if col.type.list_size != num_perm:
            raise ValueError(f"minhash has {col.type.list_size} values per row, config says num_perm={num_perm}")
        vals = np.asarray(col.values.slice(col.offset * num_perm, n * num_perm).cast(pa.uint32()))
        out[valid] = vals.reshape(n, num_perm)[valid]
        return out
    lens = np.asarray(pc.list_value_length(col).fill_null(num_perm))
    if n and (lens != num_perm).any():
        bad = int(np.flatnonzero(lens != num_perm)[0])
        raise ValueError(f"minhash row {bad} has {lens[bad]} values, config says num_perm={num_perm}")
    flat = np.asarray(col.flatten().cast(pa.uint32()))  # null rows contribute no values
    out[valid] = flat.reshape(-1, num_perm)
    return out


def _pairs_in_runs(starts: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, of positions inside each run [start, start + len): vectorised."""
    if len(starts) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # every position p of a run pairs with the positions after it in the same run
    pos = np.repeat(starts, lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens))
    after = np.repeat(starts + lens, lens) - pos - 1
    left = np.repeat(pos, after)
    first = np.cumsum(after) - after
    right = left + 1 + (np.arange(after.sum()) - np.repeat(first, after))
    return left, right


def connected_components(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union-find over edges (a[i], b[i]), vectorised (min-label hooking + pointer jumping):
    returns (nodes, root) where root is the smallest node of each node's component."""
    if len(a) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    u, v = inv[: len(a)], inv[len(a) :]
    parent = np.arange(len(nodes))
    while True:
        pu, pv = parent[u], parent[v]
        diff = pu != pv
        if not diff.any():
            break
        lo, hi = np.minimum(pu[diff], pv[diff]), np.maximum(pu[diff], pv[diff])
        np.minimum.at(parent, hi, lo)
        while True:
            gp = parent[parent]
            if np.array_equal(gp, parent):
                break
            parent = gp
    return nodes, nodes[parent]


# --------------------------------------------------------------------------------------------------
# Per-partition work
# --------------------------------------------------------------------------------------------------


def _runs(sorted_keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of runs of equal keys (length >= 2) in lexicographically sorted columns.
    Built from the (sparse) positions equal to their predecessor: ~1 byte per row, not 16."""
    n = len(sorted_keys[0])
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    same = np.ones(n - 1, dtype=bool)
    for k in sorted_keys:
        same &= k[1:] == k[:-1]
    pos = np.flatnonzero(same)  # row pos + 1 continues the run of row pos
    if len(pos) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new_run = np.ones(len(pos), dtype=bool)
    new_run[1:] = pos[1:] != pos[:-1] + 1
    starts = pos[new_run]
    lens = np.diff(np.append(np.flatnonzero(new_run), len(pos))) + 1
    return starts.astype(np.int64), lens.astype(np.int64)


def _sort_by_keys(keys: list[np.ndarray], doc: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Rows sorted by (keys..., doc). The input is the concatenation, in shard order, of per-shard
    runs already sorted that way (the sidecars' order), so a stable sort on the first key (timsort
    merging presorted runs) is enough; where that leaves a tie of the first key out of order (a
    64-bit collision of k1 with another k2), the full lexicographic sort is done instead."""
    order = np.argsort(keys[0], kind="stable")
    for i in range(len(keys)):
        keys[i] = keys[i][order]  # the unsorted array goes as soon as its sorted copy exists
    doc = doc[order]
    del order
    tie = keys[0][1:] == keys[0][:-1]
    if tie.any():
        bad = tie & (doc[1:] < doc[:-1])
        for k in keys[1:]:
            bad |= tie & (k[1:] != k[:-1])
        if bad.any():
            order = np.lexsort((doc, *reversed(keys)))
            keys, doc = [k[order] for k in keys], doc[order]
    return keys, doc


@dataclass
class _Edges:
    a: list[np.ndarray] = field(default_factory=list)
    b: list[np.ndarray] = field(default_factory=list)
    sim: list[np.ndarray] = field(default_factory=list)  # equal signature values (count)

    def add(self, a: np.ndarray, b: np.ndarray, sim: np.ndarray) -> None:
        if len(a):
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            self.a.append(lo.astype(np.int64))
            self.b.append(hi.astype(np.int64))
            self.sim.append(sim.astype(np.int32))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.a:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32)
        return np.concatenate(self.a), np.concatenate(self.b), np.concatenate(self.sim)

    def distinct(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each pair once (a pair found in several bands is verified in each, stored once)."""
        a, b, sim = self.arrays()
        _, first = np.unique(a * np.int64(max(n, 1)) + b, return_index=True)
        return a[first], b[first], sim[first]


@dataclass
class _Counts:
    """What a partition task counts (summed over partitions: each is partition-independent)."""

    n_candidate_pairs: int = 0
    n_exempt_pairs: int = 0
    exact_dup_docs: int = 0
    exact_dup_docs_cs: int = 0


@dataclass
class _Bands:
    bands: int
    rows: int


def _equal_counts(sigs: Gather, a: np.ndarray, b: np.ndarray, owner: tuple[np.ndarray, _Bands] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Number of equal signature values per pair, in blocks of rows gathered from the sidecars; and
    with `owner` = (sorted band keys of this chunk, band settings), whether the pair's smallest
    shared band key is one of them: each distinct candidate pair is counted once, at that key,
    whatever the partitioning."""
    out = np.empty(len(a), dtype=np.int32)
    own = np.ones(len(a), dtype=bool)
    for lo in range(0, len(a), _VERIFY_BLOCK):
        hi = min(lo + _VERIFY_BLOCK, len(a))
        sa, sb = sigs[a[lo:hi]], sigs[b[lo:hi]]
        out[lo:hi] = np.count_nonzero(sa == sb, axis=1)
        if owner is not None:
            keys, bd = owner
            ka, kb = _band_keys(sa, bd.bands, bd.rows), _band_keys(sb, bd.bands, bd.rows)
            kmin = np.where(ka == kb, ka, np.iinfo(np.uint64).max).min(axis=1)
            pos = np.minimum(np.searchsorted(keys, kmin), max(len(keys) - 1, 0))
            own[lo:hi] = keys[pos] == kmin if len(keys) else False
        sigs.release()
    return out, own


def _near_edges(
    cols: list[np.ndarray], sigs: Gather, groups: Gather, need: int, exempt: bool, bd: _Bands, res: _Counts
) -> _Edges:
    """Verified pairs of one band partition: sort by (key, doc), runs of equal keys, candidate pairs
    (all pairs in small buckets, greedy in large ones), same-group pairs out, verification. A key's
    bucket is whole in one partition, so the edges do not depend on the partitioning. `cols`
    ([key, doc]) is emptied: the unsorted arrays are freed as soon as their sorted copies exist."""
    keys, doc = [cols[0]], cols[1]
    cols.clear()
    (key,), doc = _sort_by_keys(keys, doc)
    del keys
    starts, lens = _runs([key])
    edges = _Edges()
    small = lens <= _ALL_PAIRS_MAX
    s_starts, s_lens = starts[small], lens[small]
    run_keys = key[s_starts]
    del key
    # runs in chunks of ~_PAIRS_PER_CHUNK candidate pairs, so memory does not grow with the partition
    per_run = s_lens * (s_lens - 1) // 2
    chunk = (np.cumsum(per_run) - per_run) // _PAIRS_PER_CHUNK  # chunk of each run, by pairs before it
    bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), len(s_starts)]
    n = len(sigs)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        left, right = _pairs_in_runs(s_starts[lo:hi], s_lens[lo:hi])
        a, b = doc[left], doc[right]
        del left, right
        code = np.unique(a * np.int64(n) + b)  # a <= b (doc sorted inside a run)
        a, b = code // n, code % n
        a, b = a[a != b], b[a != b]  # one document twice under one key (a 64-bit collision)
        _verify(a, b, sigs, groups, need, exempt, edges, res, (np.sort(run_keys[lo:hi]), bd))
    for s, m in zip(starts[~small], lens[~small]):
        _bucket_pairs(doc[s : s + m], sigs, groups, need, exempt, edges, res)
    return edges


def _verify(
    a: np.ndarray,
    b: np.ndarray,
    sigs: Gather,
    groups: Gather,
    need: int,
    exempt: bool,
    edges: _Edges,
    res: _Counts,
    owner: tuple[np.ndarray, _Bands] | None = None,
) -> None:
    """Candidate pairs (a[i], b[i]): pairs inside one non-null dedup group are dropped when exempt,
    the rest verified by their count of equal signature values. Counted: the pairs this chunk owns
    (`_equal_counts`), all of them without `owner`."""
    eq, own = _equal_counts(sigs, a, b, owner)
    if exempt:
        ga, gb = groups[a], groups[b]
        same = (ga == gb) & (ga != 0)
        res.n_exempt_pairs += int((same & own).sum())
        keep = ~same
        a, b, eq, own = a[keep], b[keep], eq[keep], own[keep]
    res.n_candidate_pairs += int(own.sum())
    ok = eq >= need
    edges.add(a[ok], b[ok], eq[ok])


def _bucket_pairs(
    members: np.ndarray, sigs: Gather, groups: Gather, need: int, exempt: bool, edges: _Edges, res: _Counts
) -> None:
    """A large bucket (templated pages): the first remaining member is a representative and takes
    every remaining member it verifies against (exact copies go in the first round); repeated up to
    _GREEDY_ROUNDS times, linear in the bucket size each. Leftovers: all pairs inside windows of
    _ALL_PAIRS_MAX members. A pair of leftovers in different windows is not compared (the price of
    bounded work; other bands usually bring such a pair together in a smaller bucket)."""
    rest = members
    for _ in range(_GREEDY_ROUNDS):
        if len(rest) < 2:
            return
        rep, others = rest[0], rest[1:]
        eq = np.empty(len(others), dtype=np.int32)
        row = sigs[rep]
        for lo in range(0, len(others), _VERIFY_BLOCK):
            hi = min(lo + _VERIFY_BLOCK, len(others))
            eq[lo:hi] = np.count_nonzero(sigs[others[lo:hi]] == row, axis=1)
            sigs.release()
        res.n_candidate_pairs += len(others)
        ok = eq >= need
        grep = int(groups[rep]) if exempt else 0
        if exempt and grep != 0:
            same = groups[others] == grep
            res.n_exempt_pairs += int((same & ok).sum())
            ok &= ~same
        edges.add(np.full(int(ok.sum()), rep, dtype=np.int64), others[ok], eq[ok])
        rest = others[~ok]
    for lo in range(0, len(rest), _ALL_PAIRS_MAX):
        win = rest[lo : lo + _ALL_PAIRS_MAX]
        left, right = _pairs_in_runs(np.array([0]), np.array([len(win)]))
        _verify(win[left], win[right], sigs, groups, need, exempt, edges, res)


def _exact_groups(k1: np.ndarray, k2: np.ndarray, doc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(docs sorted by (key, doc), run starts, run lengths) of one partition's exact keys."""
    (k1, k2), doc = _sort_by_keys([k1, k2], doc)
    starts, lens = _runs([k1, k2])
    return doc, starts, lens


def _exact_edges(doc: np.ndarray, starts: np.ndarray, lens: np.ndarray, groups: Gather, num_perm: int, exempt: bool, res: _Counts) -> _Edges:
    """Edges of one partition's exact keys. Equal keys are transitive, so a star per key suffices:
    every member links to the key's first member, and members of the first member's own dedup_group
    (which may not link to it) link to the first member of another group instead; the components
    are those of all non-exempt pairs."""
    res.exact_dup_docs += int((lens - 1).sum())
    edges = _Edges()
    if len(starts) == 0:
        return edges
    run = np.repeat(np.arange(len(starts)), lens)
    pos = np.repeat(starts, lens) + (np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens))
    d = doc[pos]
    first = doc[starts][run]
    is_first = d == first
    if not exempt:
        a, b = first[~is_first], d[~is_first]
        edges.add(a, b, np.full(len(a), num_perm))
        return edges
    g = groups[d]
    gfirst = g[np.repeat(np.cumsum(lens) - lens, lens)]  # the first member's group (pos of the run start)
    with_first = ~is_first & ((g != gfirst) | (g == 0))  # may link to the first member
    # first member (in doc order) of each run that may link to the run's first member
    cand = np.where(with_first, np.arange(len(d)), np.iinfo(np.int64).max)
    alt_pos = np.minimum.reduceat(cand, np.cumsum(lens) - lens)[run]
    has_alt = alt_pos != np.iinfo(np.int64).max
    same_as_first = ~is_first & ~with_first
    res.n_exempt_pairs += int(same_as_first.sum())
    via_alt = same_as_first & has_alt
    a = np.concatenate([first[with_first], d[np.where(has_alt, alt_pos, 0)][via_alt]])
    b = np.concatenate([d[with_first], d[via_alt]])
    edges.add(a, b, np.full(len(a), num_perm))
    return edges


# --------------------------------------------------------------------------------------------------
# Driver: plan -> partition tasks -> components + outputs
# --------------------------------------------------------------------------------------------------


_REQUIRED = ("id", "source", "key_hash", "minhash", "n_chars")


def _check_schema(store: Store, path: str, num_perm: int) -> pa.Schema:
    """Fails early, naming the file, on a shard cluster() cannot read."""
    schema = store.read_schema(path)
    missing = [c for c in _REQUIRED if c not in schema.names]
    if missing:
        raise ValueError(f"{path}: staged shard lacks column(s) {', '.join(missing)}")
    t = schema.field("minhash").type
    ok_list = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
    if not ok_list or not pa.types.is_integer(t.value_type):
        raise ValueError(f"{path}: minhash must be a list of uint32, not {t}")
    if pa.types.is_fixed_size_list(t) and t.list_size != num_perm:
        raise ValueError(f"{path}: minhash has {t.list_size} values per row, config says num_perm={num_perm}")
    return schema


def _write_atomic(store: Store, table: pa.Table, path: str) -> None:
    store.write_table(table, path, compression="zstd", compression_level=3)


_DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("n_chars", pa.int64()), ("key_hash", pa.string())])
_PART_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("kind", pa.int8()), ("sim", pa.int32())])

#: Partition-task memory model (measured, bench/cluster_scale.py: 1.3 GB for 12.8M band rows): bytes per
#: band row held, sorted and paired (keys, documents, sort order, copies, candidate pairs), and
#: the fixed part (interpreter, numpy/pyarrow, a chunk of _PAIRS_PER_CHUNK candidate pairs).
_BYTES_PER_BAND_ROW = 80
#: Clustered documents per output range task (finish_clusters): beyond this, ranges even with one worker.
_OUTPUT_GROUP_DOCS = 1_000_000
#: Fewer clustered documents than this: the outputs in one process even with several workers. The
#: split costs more than it saves below (bench/cluster_scale.py, 4M documents, 582k clustered, quiet
#: machine: 1.9 s in one process, 2.1 s in two tasks; Arrow's kernels already use both cores).
PARALLEL_OUTPUT_MIN_DOCS = 1_000_000
_TASK_BASE_BYTES = 320 << 20


def choose_partitions(n_band_rows: int, memory_mb: int, workers: int = 1) -> int:
    """Band partitions so that one partition task stays under `memory_mb`, rounded up to a multiple
    of `workers` (at least two per worker) so the workers finish together; at most FINE_BUCKETS."""
    usable = max((memory_mb << 20) - _TASK_BASE_BYTES, 64 << 20)
    p = max(1, math.ceil(n_band_rows * _BYTES_PER_BAND_ROW / usable))
    if n_band_rows and workers > 1:
        p = math.ceil(max(p, 2 * workers) / workers) * workers
    return min(FINE_BUCKETS, p)


@dataclass
class ClusterPlan:
    """Everything a partition task and the final step need: small and picklable (it travels to
    Dask workers). Shards are in sorted order; document i of the run is row i - offsets[s] of
    shard s, offsets from the shards' row counts."""

    cfg: DedupConfig
    store: Store
    work: str
    shards: list[str]
    sidecar_store: Store
    sidecars: list[str]
    offsets: list[int]
    has_cs: bool
    n_empty_signatures: int
    ranges: list[tuple[int, int]]  # fine buckets [lo, hi) of each partition

    @property
    def n_docs(self) -> int:
        return self.offsets[-1]

    @property
    def partitions(self) -> int:
        return len(self.ranges)

    def part_path(self, i: int) -> str:
        return f"{self.work}/_parts/part-{i:05d}.parquet"

    def open_sidecars(self) -> list[Sidecar]:
        return [Sidecar(self.sidecar_store, p, f) for p, f in zip(self.sidecars, self._footers)]

    _footers: list[dict[str, Any]] = field(default_factory=list, repr=False)


def ensure_sidecars(
    store: Store, paths: Sequence[str], cfg: DedupConfig, sidecar_store: Store | None = None, sidecar_of: Callable[[str], str] | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Each staged shard's sidecar path and footer; a missing or stale sidecar (staging from before
    sidecars, changed band settings) is written now (what the tag task normally does)."""
    sidecar_store = sidecar_store or store
    sidecar_of = sidecar_of or sidecar_path
    names, footers = [], []
    for p in paths:
        _check_schema(store, p, cfg.num_perm)
        sc = sidecar_of(p)
        footer = read_footer(sidecar_store, sc)
        if not sidecar_ok(footer, cfg, store.parquet_file(p).metadata.num_rows, store.size(p)):
            footer = write_sidecar(store, p, sidecar_store, sc, cfg)
        names.append(sc)
        footers.append(footer)  # type: ignore[arg-type]
    return names, footers


def plan_clusters(
    paths: Sequence[str | Path],
    work_dir: str | Path,
    cfg: DedupConfig,
    *,
    store: Store | None = None,
    sidecar_store: Store | None = None,
    sidecar_of: Callable[[str], str] | None = None,
    partitions: int | None = None,
    workers: int = 1,
) -> ClusterPlan:
    """Sorted shards, their sidecars (written where missing), document offsets, and the band
    partitions: `partitions`, or from the document count and `cfg.cluster_memory_mb`."""
    store = store or Store(*url_to_fs("/"), "/")
    shards = sorted(os.fspath(p) for p in paths)
    names, footers = ensure_sidecars(store, shards, cfg, sidecar_store, sidecar_of)
    offsets = [0, *np.cumsum([int(f["n"]) for f in footers]).tolist()]
    n_empty = sum(int(f["n_empty"]) for f in footers)
    n_band_rows = (offsets[-1] - n_empty) * cfg.bands
    p = partitions or choose_partitions(n_band_rows, cfg.cluster_memory_mb, workers)
    p = max(1, min(FINE_BUCKETS, p))
    cuts = [round(i * FINE_BUCKETS / p) for i in range(p + 1)]
    return ClusterPlan(
        cfg=cfg,
        store=store,
        work=os.fspath(work_dir),
        shards=shards,
        sidecar_store=sidecar_store or store,
        sidecars=names,
        offsets=offsets,
        has_cs=bool(shards) and all(f["has_cs"] for f in footers),
        n_empty_signatures=n_empty,
        ranges=list(zip(cuts[:-1], cuts[1:])),
        _footers=footers,
    )


def _gathers(plan: ClusterPlan, sidecars: list[Sidecar]) -> tuple[Gather, Gather]:
    off = np.asarray(plan.offsets, dtype=np.int64)
    return Gather(sidecars, off, "sig", plan.cfg.num_perm, np.uint32), Gather(sidecars, off, "groups", 1, np.uint64)


def _load(plan: ClusterPlan, sidecars: list[Sidecar], name: str, lo: int, hi: int, fields: list[tuple[str, Any]]) -> list[np.ndarray]:
    """Columns of fine buckets [lo, hi) of section `name` from every shard, read straight into
    arrays of the partition's size; the row column (last) becomes the global document index."""
    offs = [sc.offsets(name) for sc in sidecars]
    sizes = [int(o[hi] - o[lo]) for o in offs]
    total = sum(sizes)
    out = [np.empty(total, dtype=np.dtype(dt) if i < len(fields) - 1 else np.int64) for i, (_, dt) in enumerate(fields)]
    at = 0
    for s, (sc, off) in enumerate(zip(sidecars, offs)):
        m = sizes[s]
        if m == 0:
            continue
        cols = sc.bucket_range(name, lo, hi, fields, off)
        for i, c in enumerate(cols[:-1]):
            out[i][at : at + m] = c
        np.add(cols[-1], plan.offsets[s], out=out[-1][at : at + m], casting="unsafe")
        at += m
    return out


def partition_edges(plan: ClusterPlan, part: int) -> dict[str, int]:
    """One partition task: its fine buckets' band keys and exact keys from every shard, candidate
    pairs, verification, and its edges written to work/_parts/part-NNNNN.parquet (a, b: global
    document indices, a < b; kind 1 exact / 0 near; sim: equal signature values). Returns its
    counts (also in the file's metadata) and this process's peak RSS so far (MB). Memory: this
    partition's keys, not the corpus."""
    cfg = plan.cfg
    lo, hi = plan.ranges[part]
    n, P = plan.n_docs, cfg.num_perm
    need = math.ceil(cfg.threshold * P - 1e-9)  # equal values a verified pair needs
    sidecars = plan.open_sidecars()
    sigs, groups = _gathers(plan, sidecars)
    counts = _Counts()
    try:
        cols = _load(plan, sidecars, "band", lo, hi, [("key", np.uint64), ("row", np.uint32)])
        na, nb, nsim = _near_edges(cols, sigs, groups, need, cfg.exempt_same_tree, _Bands(cfg.bands, cfg.rows), counts).distinct(n)
        k1, k2, doc = _load(plan, sidecars, "ex", lo, hi, [("k1", np.uint64), ("k2", np.uint64), ("row", np.uint32)])
        ea, eb, esim = _exact_edges(*_exact_groups(k1, k2, doc), groups, P, cfg.exempt_same_tree, counts).arrays()
        if plan.has_cs:
            k1, k2, doc = _load(plan, sidecars, "cs", lo, hi, [("k1", np.uint64), ("k2", np.uint64), ("row", np.uint32)])
            counts.exact_dup_docs_cs += int((_exact_groups(k1, k2, doc)[2] - 1).sum())
        del k1, k2, doc
    finally:
        sigs.close()
    t = pa.table(
        {
            "a": np.concatenate([ea, na]),
            "b": np.concatenate([eb, nb]),
            "kind": np.concatenate([np.ones(len(ea), np.int8), np.zeros(len(na), np.int8)]),
            "sim": np.concatenate([esim, nsim]).astype(np.int32),
        },
        schema=_PART_SCHEMA,
    ).replace_schema_metadata({"counts": json.dumps(asdict(counts))})
    plan.store.write_table(t, plan.part_path(part), compression="none")
    return {**asdict(counts), "peak_rss_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)}


def _docs_rows(plan: ClusterPlan, nodes: np.ndarray, shards: range | None = None) -> pa.Table:
    """(id, source, n_chars, key_hash) of documents `nodes` (sorted global indices, all in
    `shards`), read shard by shard from the staged files: only the clustered documents are held."""
    out: list[pa.Table] = []
    for s in shards if shards is not None else range(len(plan.shards)):
        path = plan.shards[s]
        lo, hi = np.searchsorted(nodes, [plan.offsets[s], plan.offsets[s + 1]])
        if hi <= lo:
            continue
        t = plan.store.read_table(path, columns=list(_DOCS_SCHEMA.names))
        t = t.take(pa.array(nodes[lo:hi] - plan.offsets[s]))
        out.append(pa.table({c: t.column(c).cast(_DOCS_SCHEMA.field(c).type) for c in _DOCS_SCHEMA.names}, schema=_DOCS_SCHEMA))
    return pa.concat_tables(out) if out else _DOCS_SCHEMA.empty_table()


def finish_clusters(
    plan: ClusterPlan, keep_intermediate: bool = False, map_fn: MapFn | None = None, groups: int = 1, min_parallel_docs: int = PARALLEL_OUTPUT_MIN_DOCS
) -> ClusterResult:
    """Components over the edges only (documents in no edge are singletons and cost nothing) and
    the outputs: clusters.parquet, edges.parquet, cluster_stats.json. Memory: the edges and the
    clustered documents, not the corpus. `groups` > 1: the costly output work in that many tasks
    through `map_fn` (row reading by shard slice; sorting and flags by range of cluster ids), once
    there are at least `min_parallel_docs` clustered documents (below, one process is faster)."""
    cfg, store, work = plan.cfg, plan.store, plan.work
    res = ClusterResult(work_dir=Path(work) if store.local else work)  # type: ignore[arg-type]
    res.n_docs, res.n_empty_signatures, res.n_partitions = plan.n_docs, plan.n_empty_signatures, plan.partitions
    clock = time.perf_counter()
    tables = []
    counts = _Counts()
    for i in range(plan.partitions):
        t = store.read_table(plan.part_path(i))
        meta = json.loads((store.parquet_file(plan.part_path(i)).schema_arrow.metadata or {})[b"counts"])
        for k, v in meta.items():
            setattr(counts, k, getattr(counts, k) + int(v))
        tables.append(t)
    edges = pa.concat_tables(tables) if tables else _PART_SCHEMA.empty_table()
    del tables
    a, b = edges.column("a").to_numpy(), edges.column("b").to_numpy()
    kind, sim = edges.column("kind").to_numpy(), edges.column("sim").to_numpy().copy()
    del edges
    n = max(plan.n_docs, 1)
    # distinct edges; an exact link wins over a near one for the same pair
    code = a * np.int64(n) + b
    order = np.lexsort((-kind.astype(np.int16), code))
    code, kind, sim = code[order], kind[order], sim[order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    code, kind, sim = code[first], kind[first], sim[first]
    a, b = code // n, code % n
    del code
    res.n_candidate_pairs, res.n_exempt_pairs = counts.n_candidate_pairs, counts.n_exempt_pairs
    res.exact_dup_docs = counts.exact_dup_docs
    if plan.has_cs:
        res.exact_dup_docs_cs = counts.exact_dup_docs_cs
        res.casing_impact = res.exact_dup_docs - res.exact_dup_docs_cs
    res.n_near_edges = int((kind == 0).sum())
    res.n_exact_edges = int((kind == 1).sum())
    ex = kind == 1
    sidecars = plan.open_sidecars()
    sigs, _ = _gathers(plan, sidecars)
    if ex.any():  # exact edges carry sim = num_perm so far: report the signatures' own estimate
        sim[ex] = _equal_counts(sigs, a[ex], b[ex])[0]
    sigs.close()
    nodes, root = connected_components(a, b)
    res.seconds["components"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # many clustered documents: the output work in ranges even with one worker (bounded memory)
    groups = max(groups if len(nodes) >= min_parallel_docs else 1, math.ceil(len(nodes) / _OUTPUT_GROUP_DOCS))
    map_fn = map_fn or ProcessMap(1)
    if groups > 1 and len(nodes):
        table, edges_t, res.source_pairs, res.source_docs = _outputs_parallel(plan, nodes, root, a, b, kind, sim, groups, map_fn)
    else:
        clustered = _docs_rows(plan, nodes) if len(nodes) else _DOCS_SCHEMA.empty_table()
        table = _clusters_table(clustered, root)
        edges_t = _edges_table(nodes, clustered, a, b, kind, sim, cfg.num_perm)
        res.source_pairs, res.source_docs = _source_matrix(table)
    _write_atomic(store, table, f"{work}/clusters.parquet")
    _write_atomic(store, edges_t, f"{work}/edges.parquet")
    res.n_clusters = len(np.unique(root))
    res.n_clustered_docs = len(nodes)
    res.n_duplicates = res.n_clustered_docs - res.n_clusters
    store.write_bytes(f"{work}/cluster_stats.json", (json.dumps(res.stats(), indent=2, sort_keys=True) + "\n").encode("utf-8"))
    if not keep_intermediate:
        store.rm_tree(f"{work}/_parts")
    res.seconds["outputs"] = time.perf_counter() - clock
    return res


@dataclass
class _Outputs:
    """What the output tasks of finish_clusters share (small: paths and boundaries)."""

    plan: ClusterPlan
    slices: list[tuple[int, int]]  # shard ranges [lo, hi) of the row tasks
    groups: int = 1

    @property
    def dir(self) -> str:
        return f"{self.plan.work}/_out"

    def path(self, kind: str, k: int) -> str:
        return f"{self.dir}/{kind}-{k:05d}.arrow"


def _write_ipc(store: Store, table: pa.Table, path: str) -> None:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    store.write_bytes(path, sink.getvalue().to_pybytes())


def _read_ipc(store: Store, path: str) -> pa.Table:
    return pa.ipc.open_file(pa.py_buffer(store.read_bytes(path))).read_all()


def _rows_task(op: _Outputs, k: int) -> dict[str, int]:
    """Output task 1 (one per slice of shards): the clustered documents' (id, source, n_chars,
    key_hash) from the staged files of its shards, in document order."""
    lo, hi = op.slices[k]
    plan = op.plan
    nodes = np.frombuffer(plan.store.read_bytes(f"{op.dir}/nodes.i64"), dtype=np.int64)
    a, b = np.searchsorted(nodes, [plan.offsets[lo], plan.offsets[hi]])
    _write_ipc(plan.store, _docs_rows(plan, nodes[a:b], range(lo, hi)), op.path("rows", k))
    return {"peak_rss_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)}


def _group_task(op: _Outputs, k: int) -> dict[str, int]:
    """Output task 2 (one per range of cluster ids): its clusters, sorted; its edges (those whose
    smaller id falls in the same range), sorted; its part of the source matrix. Ranges are in id
    order, so the chunks concatenated are the sorted whole."""
    st = op.plan.store
    rows = _read_ipc(st, op.path("grows", k))
    table = _clusters_table(rows.drop_columns(["comp"]), rows.column("comp").to_numpy())
    _write_ipc(st, table, op.path("clusters", k))
    e = _read_ipc(st, op.path("gedges", k))
    _write_ipc(st, e.sort_by([("a", "ascending"), ("b", "ascending")]), op.path("edges", k))
    matrix, docs = _source_matrix(table)
    st.write_bytes(op.path("sources", k), json.dumps({"matrix": matrix, "docs": docs}).encode())
    return {"peak_rss_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)}


def _outputs_parallel(
    plan: ClusterPlan, nodes: np.ndarray, root: np.ndarray, a: np.ndarray, b: np.ndarray, kind: np.ndarray, sim: np.ndarray, groups: int, map_fn: MapFn
) -> tuple[pa.Table, pa.Table, dict[str, dict[str, int]], dict[str, int]]:
    """The outputs with their costly parts in `groups` parallel tasks (row reading; per cluster
    range: sorting, exact-match flags, source matrix); here only what is linear and cheap: the
    cluster id of each component, the range boundaries, concatenation."""
    st = plan.store
    # row tasks: contiguous slices of the shards
    cuts = sorted({round(k * len(plan.shards) / groups) for k in range(groups + 1)})
    op = _Outputs(plan, list(zip(cuts[:-1], cuts[1:])), groups)
    st.write_bytes(f"{op.dir}/nodes.i64", nodes.astype(np.int64).tobytes())
    map_fn(_rows_task, op, list(range(len(op.slices))))  # type: ignore[arg-type]
    rows = pa.concat_tables([_read_ipc(st, op.path("rows", k)) for k in range(len(op.slices))])
    ids = rows.column("id").combine_chunks()
    # cluster id of each component = its smallest id; ranges of cluster ids -> groups
    comp = pa.array(root, type=pa.int64())
    cid = pa.table({"comp": comp, "id": ids}).group_by("comp").aggregate([("id", "min")])
    order = np.asarray(pc.sort_indices(cid.column("id_min")))
    n_c = len(order)
    bounds = [cid.column("id_min")[int(order[(n_c * k) // groups])].as_py() for k in range(1, groups)] if n_c else []
    bounds = sorted(set(bounds))

    def group_of(strings: pa.Array) -> np.ndarray:
        g = np.zeros(len(strings), dtype=np.int64)
        for bd in bounds:
            g += np.asarray(pc.greater_equal(strings, pa.scalar(bd, pa.string())))
        return g

    # a cluster's rows go to the group of its cluster id
    cid_comp = cid.column("comp").to_numpy()
    cid_group = group_of(cid.column("id_min"))
    by_comp = np.argsort(cid_comp)
    row_group = cid_group[by_comp[np.searchsorted(cid_comp[by_comp], root)]]
    rows = rows.append_column("comp", comp)
    # edges as ids (a < b), grouped by the range of a
    edges = _edge_rows(ids, nodes, a, b, kind, sim, plan.cfg.num_perm)
    edge_group = group_of(edges.column("a"))
    n_groups = len(bounds) + 1
    for k in range(n_groups):
        _write_ipc(st, rows.filter(pa.array(row_group == k)), op.path("grows", k))
        _write_ipc(st, edges.filter(pa.array(edge_group == k)), op.path("gedges", k))
    del rows, edges
    map_fn(_group_task, op, list(range(n_groups)))  # type: ignore[arg-type]
    clusters = pa.concat_tables([_read_ipc(st, op.path("clusters", k)) for k in range(n_groups)]).combine_chunks()
    edges = pa.concat_tables([_read_ipc(st, op.path("edges", k)) for k in range(n_groups)]).combine_chunks()
    matrix: dict[str, dict[str, int]] = {}
    docs: dict[str, int] = {}
    for k in range(n_groups):
        part = json.loads(st.read_bytes(op.path("sources", k)))
        for x, row in part["matrix"].items():
            for y, v in row.items():
                matrix.setdefault(x, {})[y] = matrix.get(x, {}).get(y, 0) + int(v)
        for s, v in part["docs"].items():
            docs[s] = docs.get(s, 0) + int(v)
    matrix = {k: dict(sorted(v.items())) for k, v in sorted(matrix.items())}
    st.rm_tree(op.dir)
    return clusters, edges, matrix, dict(sorted(docs.items()))


MapFn = Callable[[Callable[[Any, int], dict[str, int]], Any, list[int]], list[dict[str, int]]]


class ProcessMap:
    """A `map_fn` running tasks in `workers` processes (spawned: safe in a process that runs
    threads, like a Prefect flow), results in order of the parts; one pool for every map of a
    cluster run, started on first use; one worker: in this process. `close()` stops the pool."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: Any = None

    def __call__(self, fn: Callable[[Any, int], dict[str, int]], arg: Any, parts: list[int]) -> list[dict[str, int]]:
        if self.workers <= 1 or len(parts) <= 1:
            return [fn(arg, i) for i in parts]
        return list(self._started().map(fn, [arg] * len(parts), parts))

    def _started(self) -> Any:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def start(self) -> None:
        """Starts every process now and imports this module in each (~1 s a process), so that a
        timed phase measures the work, as a flow's Dask workers are up before its cluster phase."""
        if self.workers > 1:
            list(self._started().map(_warm, range(self.workers)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _warm(_: int) -> int:
    """A pool process's first task: the imports are done (module level) and it holds its worker
    for a moment, so that each of the pool's processes gets one."""
    time.sleep(0.2)
    return os.getpid()


def pool_map(workers: int) -> ProcessMap:
    """A ProcessMap of `workers` processes."""
    return ProcessMap(workers)


def cluster(
    paths: Sequence[str | Path],
    work_dir: str | Path,
    cfg: DedupConfig,
    *,
    partitions: int | None = None,
    keep_intermediate: bool = False,
    store: Store | None = None,
    sidecar_store: Store | None = None,
    sidecar_of: Callable[[str], str] | None = None,
    workers: int = 1,
    map_fn: MapFn | None = None,
) -> ClusterResult:
    """Clusters the documents of the staged shards `paths` (columns `id`, `source`, `key_hash`,
    `minhash` (fixed_size_list<uint32>[num_perm] or list<uint32>), `n_chars`, optional
    `dedup_group`, optional `key_hash_cs`) and writes work_dir/clusters.parquet, edges.parquet and
    cluster_stats.json (module doc): plan_clusters -> partition_edges per partition (in `workers`
    processes, or through `map_fn(fn, plan, parts)`: e.g. Dask) -> finish_clusters. Paths are read in
    sorted order, so the outputs do not depend on the order given, nor on `partitions` / workers.
    Sidecars: `sidecar_of(path)` in `sidecar_store` (default: next to each shard, as the tag task
    writes them; written here where missing). With neither given, they go to a local temporary
    folder, removed at the end (inputs that are not a run's staging are not written next to)."""
    store = store or Store(*url_to_fs("/"), "/")
    work = os.fspath(work_dir)
    clock = time.perf_counter()
    tmp: Path | None = None
    if sidecar_of is None and sidecar_store is None:
        tmp = Path(tempfile.mkdtemp(prefix="curate-sidecars-"))
        sidecar_store = Store(*url_to_fs(str(tmp)), str(tmp))
        index = {os.fspath(p): i for i, p in enumerate(sorted(os.fspath(p) for p in paths))}
        sidecar_of = lambda p: f"{tmp}/{index[p]:06d}{SUFFIX}"  # noqa: E731
    mapper = map_fn or ProcessMap(workers)
    try:
        plan = plan_clusters(
            paths, work, cfg, store=store, sidecar_store=sidecar_store, sidecar_of=sidecar_of, partitions=partitions, workers=workers
        )
        seconds = {"plan": time.perf_counter() - clock}
        clock = time.perf_counter()
        parts = list(range(plan.partitions))
        done = mapper(partition_edges, plan, parts)
        seconds["partitions"] = time.perf_counter() - clock
        res = finish_clusters(plan, keep_intermediate=keep_intermediate, map_fn=mapper, groups=workers)
    finally:
        if map_fn is None:
            mapper.close()
        if tmp is not None and not keep_intermediate:
            shutil.rmtree(tmp, ignore_errors=True)
    res.seconds = {**seconds, **res.seconds}
    res.task_peak_rss_mb = max((int(d.get("peak_rss_mb", 0)) for d in done), default=0)
    return res



def _clusters_table(docs: pa.Table, root: np.ndarray) -> pa.Table:
    """docs (rows aligned with `root`, the component of each) -> CLUSTERS_SCHEMA, sorted."""
    if docs.num_rows == 0:
        return CLUSTERS_SCHEMA.empty_table()
    t = docs.append_column("comp", pa.array(root, type=pa.int64()))
    t = t.sort_by([("comp", "ascending"), ("id", "ascending")])
    comp = t.column("comp").to_numpy()
    first = np.ones(len(comp), dtype=bool)
    first[1:] = comp[1:] != comp[:-1]
    run = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    sizes = np.diff(starts, append=len(comp))
    ids = t.column("id").combine_chunks()
    cluster_id = ids.take(pa.array(starts[run]))
    # "exact": another member of the cluster has the same (non-empty) key_hash
    kh = pc.if_else(pc.equal(t.column("key_hash"), EMPTY_KEY_HASH), pa.scalar(None, pa.string()), t.column("key_hash"))
    kt = pa.table({"comp": t.column("comp"), "kh": kh})
    counts = kt.group_by(["comp", "kh"]).aggregate([("kh", "count")])
    joined = kt.append_column("row", pa.array(np.arange(len(comp)))).join(counts, ["comp", "kh"], join_type="left outer")
    joined = joined.sort_by("row")
    dup = np.asarray(joined.column("kh_count").fill_null(0)) >= 2
    out = pa.table(
        {
            "id": ids,
            "cluster": cluster_id,
            "cluster_size": pa.array(sizes[run], type=pa.int64()),
            "match": pa.array(np.where(dup, "exact", "near").tolist(), type=pa.string()),
            "source": t.column("source"),
            "n_chars": t.column("n_chars"),
        },
        schema=CLUSTERS_SCHEMA,
    )
    return out.sort_by([("cluster", "ascending"), ("id", "ascending")])


def _edges_table(
    nodes: np.ndarray, clustered: pa.Table, a: np.ndarray, b: np.ndarray, kind: np.ndarray, sim: np.ndarray, P: int
) -> pa.Table:
    if len(a) == 0:
        return EDGES_SCHEMA.empty_table()
    t = _edge_rows(clustered.column("id").combine_chunks(), nodes, a, b, kind, sim, P)
    return t.sort_by([("a", "ascending"), ("b", "ascending")])


def _edge_rows(ids: pa.Array, nodes: np.ndarray, a: np.ndarray, b: np.ndarray, kind: np.ndarray, sim: np.ndarray, P: int) -> pa.Table:
    """Edges (doc indices, `ids` aligned with the sorted `nodes`) as EDGES_SCHEMA rows, unsorted:
    the two ids ordered (a < b as strings), the match kind and the estimated Jaccard."""
    ia = ids.take(pa.array(np.searchsorted(nodes, a)))
    ib = ids.take(pa.array(np.searchsorted(nodes, b)))
    swap = pa.array(np.asarray(pc.greater(ia, ib)))
    return pa.table(
        {
            "a": pc.if_else(swap, ib, ia),
            "b": pc.if_else(swap, ia, ib),
            "match": pa.array(np.where(kind == 1, "exact", "near").tolist(), type=pa.string()),
            "jaccard": pa.array((sim / P).astype(np.float32)),
        },
        schema=EDGES_SCHEMA,
    )


def _source_matrix(table: pa.Table) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Duplicate pairs (all pairs of members of each cluster) by (source, source), symmetric;
    and clustered documents per source."""
    if table.num_rows == 0:
        return {}, {}
    counts = table.group_by(["cluster", "source"]).aggregate([("id", "count")])
    left = counts.rename_columns(["cluster", "sa", "ca"])
    right = counts.rename_columns(["cluster", "sb", "cb"])
    j = left.join(right, "cluster")
    ca, cb = j.column("ca").to_numpy(), j.column("cb").to_numpy()
    same = np.asarray(pc.equal(j.column("sa"), j.column("sb")))
    pairs = np.where(same, ca * (ca - 1) // 2, ca * cb)
    keyed = pa.table({"sa": j.column("sa"), "sb": j.column("sb"), "pairs": pairs}).group_by(["sa", "sb"]).aggregate([("pairs", "sum")])
    matrix: dict[str, dict[str, int]] = {}
    for x, y, v in zip(keyed.column("sa").to_pylist(), keyed.column("sb").to_pylist(), keyed.column("pairs_sum").to_pylist()):
        if v:
            matrix.setdefault(x, {})[y] = int(v)
    matrix = {k: dict(sorted(v.items())) for k, v in sorted(matrix.items())}
    per = table.group_by("source").aggregate([("id", "count")])
    docs = dict(sorted(zip(per.column("source").to_pylist(), (int(x) for x in per.column("id_count").to_pylist()))))
    return matrix, docs

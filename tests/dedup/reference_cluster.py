"""REFERENCE ONLY (tests): the single-process `cluster()` as it was before the partitioned design
(issue #18), kept verbatim so tests can check the new one gives byte-identical clusters and edges.

Global duplicate clustering over staged shards: LSH band keys and exact keys go to Parquet
partitions on disk, each partition is grouped alone (sort + runs of equal keys), candidate pairs
are verified by estimated Jaccard, and union-find joins verified pairs into clusters.

Why this shape (design.md, "Data flow"): no in-memory index of the whole corpus. What is held for
the whole run is the signature matrix in a flat file, memory-mapped (only the rows of candidate
pairs are read, and their pages are dropped from the resident set after each verification block),
8 bytes of dedup-group hash per document, and the verified edges; everything keyed by band lives in
one partition at a time. Measured (bench/dedup_memory.py): 1M documents cluster in ~16 s with a
peak RSS of ~0.75 GB. Partitions are independent, so `_near_edges` / `_exact_edges` can be mapped
over workers later (Dask) with the same code.

Candidates: every pair of documents that shares one of `cfg.bands` band keys (`cfg.rows`
signature values each; 16 x 8 makes a J=0.85 pair a candidate 99.4% of the time, docs/dependencies.md).
Verification: the fraction of equal signature values (datasketch's `jaccard`) >= `cfg.threshold`.
Buckets larger than `_ALL_PAIRS_MAX` (templated boilerplate) are verified greedily instead of
pairwise: up to `_GREEDY_ROUNDS` representatives each take the members that match them (see
`_bucket_pairs`), so cost stays linear; the rest fall back to windows of all-pairs.

Exact duplicates: equal `key_hash` (the case-insensitive exact key) links documents whatever
their signatures, found the same partitioned way; the empty key (texts of punctuation/symbols
only) never links. Documents with an empty signature (no shingle) never become candidates.

Exemption: with `cfg.exempt_same_tree`, a pair whose two documents share a non-null
`dedup_group` (oasst message tree) is never linked directly. Union-find is transitive, so two
documents of one tree can still meet in one cluster through a third document; select then keeps
one of them, which is what a duplicate of both deserves.

Work directory layout (`work_dir`):
    clusters.parquet        one row per document in a cluster of size >= 2 (CLUSTERS_SCHEMA),
                            sorted by (cluster, id); the only file select needs
    edges.parquet           verified links: a, b (ids, a < b), match ("exact" | "near"),
                            jaccard (estimated, float32); sorted; for audits and benchmarks
    cluster_stats.json      counts, the source x source duplicate-pair matrix, casing impact
    _tmp/                   signatures.u32, groups.u64, docs.parquet, bands/part-*.parquet,
                            exact/part-*.parquet, exact_cs/part-*.parquet; removed at the end
                            unless keep_intermediate=True
Every output file is written under a temporary name and renamed; same inputs + same config give
byte-identical outputs.
"""

from __future__ import annotations

import json
import math
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import xxhash

from pipeline.config import DedupConfig
from pipeline.layout import Store, url_to_fs
from pipeline.dedup.keepers import choose_keepers
from pipeline.dedup.keys import EMPTY_KEY_HASH, KEY_HASH_CS
from pipeline.dedup.minhash import EMPTY_VALUE

__all__ = ["CLUSTERS_SCHEMA", "EDGES_SCHEMA", "ClusterResult", "cluster", "choose_keepers", "connected_components"]

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

#: Rows (band key, document) per band partition: ~4M rows = 64 MB of keys, ~250 MB to sort.
_ROWS_PER_PARTITION = 4_000_000
#: Input rows per read batch. Small on purpose: Parquet decodes a list<uint32> column with level
#: arrays and page buffers several times the size of the values (65k rows of 128 values: ~300 MB
#: transient, 16k rows: ~100 MB), and the reader is opened without pre-buffering of whole row groups.
_BATCH_ROWS = 16_384
#: Band/exact rows buffered in memory (all partitions together) before they are written out as
#: row groups (2M rows = 32 MB).
_BUFFER_ROWS = 2_000_000
#: Buckets up to this size are verified pair by pair (256 -> 32,640 pairs).
_ALL_PAIRS_MAX = 256
#: Larger buckets: at most this many greedy representatives, then windows of all-pairs.
_GREEDY_ROUNDS = 64
#: Candidate pairs generated per chunk of a partition's buckets.
_PAIRS_PER_CHUNK = 4_000_000
#: Candidate pairs verified per block: 2 x 4k gathered rows touch up to 8k pages (32 MB) of the mapping.
_VERIFY_BLOCK = 4_096

_BAND_SCHEMA = pa.schema([("key", pa.uint64()), ("doc", pa.int64())])
_EXACT_SCHEMA = pa.schema([("k1", pa.uint64()), ("k2", pa.uint64()), ("doc", pa.int64())])


@dataclass
class ClusterResult(Mapping[str, object]):
    """What one clustering run found. `stats()` is the JSON written to cluster_stats.json, and the
    result reads as that mapping too (`{"enabled": True, **result}`)."""

    work_dir: Path
    n_docs: int = 0
    n_empty_signatures: int = 0
    n_partitions: int = 0
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
# Partition writers
# --------------------------------------------------------------------------------------------------


class _Partitions:
    """One open ParquetWriter per partition; rows routed by (hash high bits) % P, buffered until
    _BUFFER_ROWS rows wait in all partitions together, then written as one row group each."""

    def __init__(self, folder: Path, schema: pa.Schema, count: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.paths = [folder / f"part-{i:05d}.parquet" for i in range(count)]
        self.schema = schema
        self.count = count
        self._writers: list[pq.ParquetWriter | None] = [None] * count
        self._buffers: list[list[pa.Table]] = [[] for _ in range(count)]
        self._buffered = 0

    def write(self, route: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        if len(route) == 0:
            return
        part = ((route >> np.uint64(32)) % np.uint64(self.count)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(self.count + 1))
        for p in range(self.count):
            lo, hi = bounds[p], bounds[p + 1]
            if lo == hi:
                continue
            sel = order[lo:hi]
            self._buffers[p].append(pa.table({k: v[sel] for k, v in columns.items()}, schema=self.schema))
        self._buffered += len(route)
        if self._buffered >= _BUFFER_ROWS:
            self._flush()

    def _flush(self) -> None:
        for p, tables in enumerate(self._buffers):
            if not tables:
                continue
            w = self._writers[p]
            if w is None:
                w = self._writers[p] = pq.ParquetWriter(self.paths[p], self.schema, compression="none")
            w.write_table(pa.concat_tables(tables).combine_chunks())
            self._buffers[p] = []
        self._buffered = 0

    def close(self) -> list[Path]:
        self._flush()
        for w in self._writers:
            if w is not None:
                w.close()
        return [p for p, w in zip(self.paths, self._writers) if w is not None]


# --------------------------------------------------------------------------------------------------
# Per-partition work
# --------------------------------------------------------------------------------------------------


def _runs(sorted_keys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of runs of equal keys (length >= 2) in lexicographically sorted columns."""
    n = len(sorted_keys[0])
    if n < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    brk = np.zeros(n, dtype=bool)
    brk[0] = True
    for k in sorted_keys:
        brk[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(brk)
    lens = np.diff(starts, append=n)
    keep = lens >= 2
    return starts[keep], lens[keep]


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

    def merge(self, other: _Edges, n: int) -> None:
        """Takes other's edges and keeps each pair once (a pair found in several bands is verified
        in each, but stored once): memory is bounded by the distinct verified pairs."""
        a, b, sim = _Edges(self.a + other.a, self.b + other.b, self.sim + other.sim).arrays()
        code, first = np.unique(a * np.int64(max(n, 1)) + b, return_index=True)
        self.a, self.b, self.sim = [a[first]], [b[first]], [sim[first]]


class _Signatures:
    """The (n, num_perm) signature matrix on disk, memory-mapped read-only. After each verification
    block the mapped pages are dropped (MADV_DONTNEED): they stay in the page cache for the next
    access but leave this process's resident set, so RSS does not grow with the corpus."""

    def __init__(self, path: Path, n: int, num_perm: int) -> None:
        self._file = open(path, "rb")
        self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ) if n else None
        self.rows = (
            np.frombuffer(self._mm, dtype=np.uint32).reshape(n, num_perm) if self._mm is not None else np.zeros((0, num_perm), np.uint32)
        )

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, idx: np.ndarray | int) -> np.ndarray:
        return self.rows[idx]

    def release(self) -> None:
        if self._mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            self._mm.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        del self.rows
        if self._mm is not None:
            self._mm.close()
        self._file.close()


def _equal_counts(sigs: _Signatures, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number of equal signature values per pair, in blocks of rows gathered from the mapping."""
    out = np.empty(len(a), dtype=np.int32)
    for lo in range(0, len(a), _VERIFY_BLOCK):
        hi = min(lo + _VERIFY_BLOCK, len(a))
        out[lo:hi] = np.count_nonzero(sigs[a[lo:hi]] == sigs[b[lo:hi]], axis=1)
        sigs.release()
    return out


def _near_edges(
    path: Path, sigs: _Signatures, groups: np.ndarray, need: int, exempt: bool, res: ClusterResult
) -> _Edges:
    """Verified pairs of one band partition: sort by (key, doc), runs of equal keys, candidate pairs
    (all pairs in small buckets, greedy in large ones), same-group pairs out, verification."""
    t = pq.read_table(path)
    key = t.column("key").to_numpy()
    doc = t.column("doc").to_numpy()
    del t
    order = np.lexsort((doc, key))
    key, doc = key[order], doc[order]
    del order
    starts, lens = _runs([key])
    del key
    edges = _Edges()
    small = lens <= _ALL_PAIRS_MAX
    s_starts, s_lens = starts[small], lens[small]
    # runs in chunks of ~_PAIRS_PER_CHUNK candidate pairs, so memory does not grow with the partition
    per_run = s_lens * (s_lens - 1) // 2
    chunk = (np.cumsum(per_run) - per_run) // _PAIRS_PER_CHUNK  # chunk of each run, by pairs before it
    bounds = [0, *(np.flatnonzero(np.diff(chunk)) + 1).tolist(), len(s_starts)]
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        left, right = _pairs_in_runs(s_starts[lo:hi], s_lens[lo:hi])
        a, b = doc[left], doc[right]
        del left, right
        code = np.unique(a * np.int64(len(sigs)) + b)  # a <= b (doc sorted inside a run)
        a, b = code // len(sigs), code % len(sigs)
        a, b = a[a != b], b[a != b]  # one document twice under one key (a 64-bit collision)
        _verify(a, b, sigs, groups, need, exempt, edges, res)
    for s, n in zip(starts[~small], lens[~small]):
        _bucket_pairs(doc[s : s + n], sigs, groups, need, exempt, edges, res)
    return edges


def _verify(
    a: np.ndarray, b: np.ndarray, sigs: _Signatures, groups: np.ndarray, need: int, exempt: bool, edges: _Edges, res: ClusterResult
) -> None:
    """Candidate pairs (a[i], b[i]): pairs inside one non-null dedup group are dropped when exempt,
    the rest verified by their count of equal signature values."""
    if exempt:
        same = (groups[a] == groups[b]) & (groups[a] != 0)
        res.n_exempt_pairs += int(same.sum())
        a, b = a[~same], b[~same]
    res.n_candidate_pairs += len(a)
    eq = _equal_counts(sigs, a, b)
    ok = eq >= need
    edges.add(a[ok], b[ok], eq[ok])


def _bucket_pairs(
    members: np.ndarray, sigs: _Signatures, groups: np.ndarray, need: int, exempt: bool, edges: _Edges, res: ClusterResult
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
        if exempt and groups[rep] != 0:
            same = groups[others] == groups[rep]
            res.n_exempt_pairs += int((same & ok).sum())
            ok &= ~same
        edges.add(np.full(int(ok.sum()), rep, dtype=np.int64), others[ok], eq[ok])
        rest = others[~ok]
    for lo in range(0, len(rest), _ALL_PAIRS_MAX):
        win = rest[lo : lo + _ALL_PAIRS_MAX]
        left, right = _pairs_in_runs(np.array([0]), np.array([len(win)]))
        _verify(win[left], win[right], sigs, groups, need, exempt, edges, res)


def _exact_groups(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(docs sorted by (key, doc), run starts, run lengths) of one exact-key partition."""
    t = pq.read_table(path)
    k1, k2, doc = (t.column(c).to_numpy() for c in ("k1", "k2", "doc"))
    order = np.lexsort((doc, k2, k1))
    k1, k2, doc = k1[order], k2[order], doc[order]
    starts, lens = _runs([k1, k2])
    return doc, starts, lens


def _exact_edges(path: Path, groups: np.ndarray, num_perm: int, exempt: bool, res: ClusterResult) -> _Edges:
    """Edges of one exact-key partition. Equal keys are transitive, so a star per key suffices: every
    member links to the key's first member, and members of the first member's own dedup_group (which
    may not link to it) link to the first member of another group instead; the components are those
    of all non-exempt pairs."""
    doc, starts, lens = _exact_groups(path)
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
    gfirst = groups[first]
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


def _exact_dup_count(path: Path) -> int:
    _, _, lens = _exact_groups(path)
    return int((lens - 1).sum())


# --------------------------------------------------------------------------------------------------
# Driver
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


def _batches(store: Store, paths: Sequence[str], columns: list[str]) -> Iterator[pa.RecordBatch]:
    for p in paths:
        pf = store.parquet_file(p, pre_buffer=False, buffer_size=1 << 20)
        have = set(pf.schema_arrow.names)
        yield from pf.iter_batches(batch_size=_BATCH_ROWS, columns=[c for c in columns if c in have])


def _write_atomic(store: Store, table: pa.Table, path: str) -> None:
    store.write_table(table, path, compression="zstd", compression_level=3)


_DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("n_chars", pa.int64()), ("key_hash", pa.string())])


@dataclass
class _Staged:
    """What pass 1 leaves in work_dir/_tmp."""

    n: int
    band_paths: list[Path]
    exact_paths: list[Path]
    cs_paths: list[Path]
    has_cs: bool  # every shard has key_hash_cs


def cluster(
    paths: Sequence[str | Path],
    work_dir: str | Path,
    cfg: DedupConfig,
    *,
    partitions: int | None = None,
    keep_intermediate: bool = False,
    store: Store | None = None,
) -> ClusterResult:
    """Clusters the documents of the staged shards `paths` (columns `id`, `source`, `key_hash`,
    `minhash` (fixed_size_list<uint32>[num_perm] or list<uint32>), `n_chars`, optional
    `dedup_group`, optional `key_hash_cs`) and writes work_dir/clusters.parquet, edges.parquet and
    cluster_stats.json (module doc). Paths are read in sorted order, so the outputs do not depend
    on the order given. `partitions`: band partitions (default: ~4M band rows each). `store`: where
    the shards and work_dir live (default: local paths); the intermediates (_tmp) are always on a
    local disk, since they are memory-mapped."""
    store = store or Store(*url_to_fs("/"), "/")
    work = os.fspath(work_dir)
    if store.local:
        tmp = Path(work) / "_tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="curate-cluster-"))
    res = ClusterResult(work_dir=Path(work) if store.local else work)  # type: ignore[arg-type]

    clock = time.perf_counter()
    staged = _ingest(store, sorted((os.fspath(p) for p in paths)), cfg, tmp, partitions, res)
    res.seconds["ingest"] = time.perf_counter() - clock

    clock = time.perf_counter()
    a, b, kind, sim = _link(staged, cfg, tmp, res)
    res.seconds["partitions"] = time.perf_counter() - clock

    clock = time.perf_counter()
    nodes, root = connected_components(a, b)
    clustered = _read_rows(tmp / "docs.parquet", nodes) if len(nodes) else _DOCS_SCHEMA.empty_table()
    table = _clusters_table(clustered, root)
    _write_atomic(store, table, f"{work}/clusters.parquet")
    _write_atomic(store, _edges_table(nodes, clustered, a, b, kind, sim, cfg.num_perm), f"{work}/edges.parquet")
    res.n_clusters = len(np.unique(root))
    res.n_clustered_docs = len(nodes)
    res.n_duplicates = res.n_clustered_docs - res.n_clusters
    res.source_pairs, res.source_docs = _source_matrix(table)
    store.write_bytes(f"{work}/cluster_stats.json", (json.dumps(res.stats(), indent=2, sort_keys=True) + "\n").encode("utf-8"))
    if not keep_intermediate or not store.local:
        shutil.rmtree(tmp)
    res.seconds["outputs"] = time.perf_counter() - clock
    return res


def _ingest(store: Store, paths: list[str], cfg: DedupConfig, tmp: Path, partitions: int | None, res: ClusterResult) -> _Staged:
    """Pass 1, streaming over the shards: signatures and dedup-group hashes appended to flat files,
    band keys and exact keys routed to their partitions, (id, source, n_chars, key_hash) to
    docs.parquet (row i = document i)."""
    P = cfg.num_perm
    schemas = [_check_schema(store, p, P) for p in paths]
    n_total = sum(store.parquet_file(p).metadata.num_rows for p in paths)
    has_cs = bool(paths) and all(KEY_HASH_CS in s.names for s in schemas)
    n_band_parts = partitions or max(1, math.ceil(n_total * cfg.bands / _ROWS_PER_PARTITION))
    n_exact_parts = max(1, math.ceil(n_total / _ROWS_PER_PARTITION))
    res.n_partitions = n_band_parts
    bands = _Partitions(tmp / "bands", _BAND_SCHEMA, n_band_parts)
    exact = _Partitions(tmp / "exact", _EXACT_SCHEMA, n_exact_parts)
    exact_cs = _Partitions(tmp / "exact_cs", _EXACT_SCHEMA, n_exact_parts) if has_cs else None
    cols = ["id", "source", "key_hash", "minhash", "n_chars", "dedup_group"] + ([KEY_HASH_CS] if has_cs else [])
    n = 0
    with (
        open(tmp / "signatures.u32", "wb") as fsig,
        open(tmp / "groups.u64", "wb") as fgrp,
        pq.ParquetWriter(tmp / "docs.parquet", _DOCS_SCHEMA, compression="none") as docs,
    ):
        for batch in _batches(store, paths, cols):
            m = batch.num_rows
            if m == 0:
                continue
            sig = _signature_matrix(batch.column("minhash"), P)
            fsig.write(sig.tobytes())
            group_col = batch.column("dedup_group") if "dedup_group" in batch.schema.names else None
            fgrp.write(_group_hashes(group_col, m).tobytes())
            docidx = np.arange(n, n + m, dtype=np.int64)
            nonempty = ~np.all(sig == EMPTY_VALUE, axis=1)
            res.n_empty_signatures += int(m - nonempty.sum())
            bk = _band_keys(sig[nonempty], cfg.bands, cfg.rows).reshape(-1)
            bands.write(bk, {"key": bk, "doc": np.repeat(docidx[nonempty], cfg.bands)})
            for parts, name in ((exact, "key_hash"), (exact_cs, KEY_HASH_CS)):
                if parts is not None:
                    k1, k2, ok = _hex_keys(batch.column(name))
                    parts.write(k1[ok], {"k1": k1[ok], "k2": k2[ok], "doc": docidx[ok]})
            docs.write_table(
                pa.table({c: batch.column(c).cast(_DOCS_SCHEMA.field(c).type) for c in _DOCS_SCHEMA.names}, schema=_DOCS_SCHEMA)
            )
            n += m
    res.n_docs = n
    return _Staged(n, bands.close(), exact.close(), exact_cs.close() if exact_cs is not None else [], has_cs)


def _link(staged: _Staged, cfg: DedupConfig, tmp: Path, res: ClusterResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pass 2, one partition at a time: verified near edges and exact edges, merged into distinct
    pairs (a < b); returns (a, b, kind: 1 exact / 0 near, equal signature values)."""
    n, P = staged.n, cfg.num_perm
    need = math.ceil(cfg.threshold * P - 1e-9)  # equal values a verified pair needs
    sigs = _Signatures(tmp / "signatures.u32", n, P)
    groups = np.fromfile(tmp / "groups.u64", dtype=np.uint64)  # 8 bytes per document
    near, exact = _Edges(), _Edges()
    for p in staged.band_paths:
        near.merge(_near_edges(p, sigs, groups, need, cfg.exempt_same_tree, res), n)
    for p in staged.exact_paths:
        exact.merge(_exact_edges(p, groups, P, cfg.exempt_same_tree, res), n)
    if staged.has_cs:
        res.exact_dup_docs_cs = sum(_exact_dup_count(p) for p in staged.cs_paths)
        res.casing_impact = res.exact_dup_docs - res.exact_dup_docs_cs
    na, nb, nsim = near.arrays()
    ea, eb, esim = exact.arrays()
    # distinct edges; an exact link wins over a near one for the same pair
    kind = np.concatenate([np.ones(len(ea), np.int8), np.zeros(len(na), np.int8)])
    code = np.concatenate([ea, na]) * np.int64(max(n, 1)) + np.concatenate([eb, nb])
    sim = np.concatenate([esim, nsim])
    order = np.lexsort((-kind, code))
    code, kind, sim = code[order], kind[order], sim[order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    code, kind, sim = code[first], kind[first], sim[first]
    a, b = code // max(n, 1), code % max(n, 1)
    res.n_near_edges = int((kind == 0).sum())
    res.n_exact_edges = int((kind == 1).sum())
    ex = kind == 1
    if ex.any():  # exact edges carry sim = num_perm so far: report the signatures' own estimate
        sim[ex] = _equal_counts(sigs, a[ex], b[ex])
    sigs.close()
    return a, b, kind, sim


def _read_rows(path: Path, rows: np.ndarray) -> pa.Table:
    """Rows `rows` (sorted doc indices) of docs.parquet, streaming: only they are held."""
    pf = pq.ParquetFile(path)
    out: list[pa.Table] = []
    base = 0
    for batch in pf.iter_batches(batch_size=_BATCH_ROWS):
        lo, hi = np.searchsorted(rows, [base, base + batch.num_rows])
        if hi > lo:
            out.append(pa.Table.from_batches([batch]).take(pa.array(rows[lo:hi] - base)))
        base += batch.num_rows
    return pa.concat_tables(out) if out else pf.schema_arrow.empty_table()


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
    ids = clustered.column("id").combine_chunks()
    ia = ids.take(pa.array(np.searchsorted(nodes, a)))
    ib = ids.take(pa.array(np.searchsorted(nodes, b)))
    swap = np.asarray(pc.greater(ia, ib))
    lo = pc.if_else(pa.array(swap), ib, ia)
    hi = pc.if_else(pa.array(swap), ia, ib)
    t = pa.table(
        {
            "a": lo,
            "b": hi,
            "match": pa.array(np.where(kind == 1, "exact", "near").tolist(), type=pa.string()),
            "jaccard": pa.array((sim / P).astype(np.float32)),
        },
        schema=EDGES_SCHEMA,
    )
    return t.sort_by([("a", "ascending"), ("b", "ascending")])


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

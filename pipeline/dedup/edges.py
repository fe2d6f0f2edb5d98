"""One band partition's edges (issue #18): the candidate pairs of its fine buckets from every
shard's sidecar, verified by estimated Jaccard with only their signature rows, and its exact-key
links; written to work/_parts/part-NNNNN.parquet by `partition_edges` (one task per partition).
The vectorised helpers here (band keys, runs of equal keys, pairs in runs) are what the partition
tasks and the sidecars share; `pipeline/dedup/cluster.py` has the overview of the phase."""

from __future__ import annotations


import json
import math
import resource
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline.dedup.heap import in_reused_heap
from pipeline.dedup.keys import EMPTY_KEY_HASH
from pipeline.dedup.minhash import EMPTY_VALUE
from pipeline.dedup.pairs import PairSink
from pipeline.dedup.sidecar import Gather, Sidecar
from pipeline.dedup.plan import ClusterPlan
from pipeline.hashmix import fmix64_np_inplace


#: Buckets up to this size are verified pair by pair (256 -> 32,640 pairs).
_ALL_PAIRS_MAX = 256
#: Larger buckets: at most this many greedy representatives, then windows of all-pairs.
_GREEDY_ROUNDS = 64
#: Candidate pairs generated per chunk of a partition's buckets.
_PAIRS_PER_CHUNK = 4_000_000
#: Candidate pairs whose documents' signature rows are gathered at once (<= 128k rows, 64 MB; the
#: mapping's pages are dropped right after the gather).
_GATHER_PAIRS = 65_536
#: Members of a large bucket whose signature rows the greedy pass reads once (64 MB at 128 values).
_GREEDY_LOCAL_ROWS = 131_072
#: Rows per block of a partition-wide elementwise pass (1 MB temporaries).
_BLOCK_ROWS = 131_072
#: Candidate pairs compared per block (the two row copies of a block stay in cache).
_VERIFY_BLOCK = 4_096


# --------------------------------------------------------------------------------------------------
# Small vectorised helpers
# --------------------------------------------------------------------------------------------------


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
        h = fmix64_np_inplace(h)
    return h


#: Lower-case hex digits -> their value; anything else 255. Upper case is another string: a key
#: written "ABC..." is hashed like any other string, so keys are equal exactly when the strings are.
_HEX = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i


def _hex_keys(col: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k1, k2, valid) per row: a 32-digit lower-case hex key hash (xxh3-128, what the tagger writes)
    is its own 128 bits; any other string is hashed (xxh3-128 of its UTF-8), so any key column works
    and equal strings give equal keys whatever the other rows of the batch. Null and the
    empty-text key are invalid."""
    n = len(col)
    col = col.cast(pa.string())
    valid = np.asarray(pc.invert(pc.is_null(col)).fill_null(False)) if col.null_count else np.ones(n, bool)
    valid &= ~np.asarray(pc.equal(col, EMPTY_KEY_HASH).fill_null(False))
    k1 = np.zeros(n, dtype=np.uint64)
    k2 = np.zeros(n, dtype=np.uint64)
    if n == 0:
        return k1, k2, valid
    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32)[col.offset : col.offset + n + 1]
    present = np.asarray(pc.is_valid(col))
    rows = np.flatnonzero(present & (np.diff(offsets) == 32))
    parsed = np.zeros(n, dtype=bool)
    if len(rows):
        data = np.frombuffer(col.buffers()[2], dtype=np.uint8)
        nib = _HEX[data[offsets[rows][:, None] + np.arange(32)]]
        ok = (nib != 255).all(axis=1)
        rows, nib64 = rows[ok], nib[ok].astype(np.uint64)
        a = np.zeros(len(rows), dtype=np.uint64)
        b = np.zeros(len(rows), dtype=np.uint64)
        for j in range(16):
            a = (a << np.uint64(4)) | nib64[:, j]
            b = (b << np.uint64(4)) | nib64[:, 16 + j]
        k1[rows], k2[rows] = a, b
        parsed[rows] = True
    rest = np.flatnonzero(present & ~parsed)
    if len(rest):
        for i, s in zip(rest.tolist(), col.take(pa.array(rest)).to_pylist()):
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


def _repeated_rows(
    keys: list[np.ndarray], doc: np.ndarray, by_doc: bool, payload: tuple[np.ndarray, ...] = ()
) -> tuple[list[np.ndarray], np.ndarray]:
    """The rows that may share their key (the tuple `keys`) with another row, sorted by key (and
    by document inside a key when `by_doc`; in no set order otherwise): all that runs of equal
    keys need, since a key held once makes no pair. `payload` columns come back in the same
    order after the keys (`[*keys, *payload]`). One sort of plain values, no gather of the
    whole partition: each row's position packed into the low bits of its first key, a SIMD
    quicksort, then the rows whose high bits repeat (the true repeats plus ~m^2 / 2^(65 - bits)
    chance collisions, which `_runs` leaves alone) sorted by their full key. Measured on the
    bench's partitions (8M / 12.8M / 15M rows from 10 / 40 / 160 presorted shard runs): 0.20 /
    0.33 / 0.40 s, against 0.25 / 0.46 / 0.67 s for an argsort and two gathers (random reads
    over 160 runs) and more for the stable sort."""
    m = len(doc)
    if m < 2:
        return [k[:0] for k in (*keys, *payload)], doc[:0]
    low = np.uint64((1 << int(m - 1).bit_length()) - 1)
    packed = keys[0] & ~low
    rep = np.zeros(m, dtype=bool)
    # temporaries in cache-sized blocks: fresh pages of partition-sized temporaries cost more
    # than the arithmetic (and evict page cache on a full machine)
    for lo in range(0, m, _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, m)
        packed[lo:hi] |= np.arange(lo, hi, dtype=np.uint64)
    packed.sort()
    for lo in range(0, m - 1, _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, m - 1)
        same = (packed[lo + 1 : hi + 1] ^ packed[lo:hi]) <= low  # equal high bits
        rep[lo + 1 : hi + 1] = same
        rep[lo:hi] |= same
    pos = (packed[rep] & low).astype(np.int64)
    del packed, rep
    sub = [k[pos] for k in keys]
    order = np.lexsort((doc[pos], *reversed(sub))) if by_doc or len(sub) > 1 else np.argsort(sub[0])
    rows = pos[order]
    return [k[order] for k in sub] + [p[rows] for p in payload], doc[rows]


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
class EdgeCounts:
    """What a partition task counts (summed over partitions: each is partition-independent)."""

    n_candidate_pairs: int = 0
    n_exempt_pairs: int = 0
    exact_dup_docs: int = 0
    exact_dup_docs_cs: int = 0
    #: signature comparisons made (a pair sharing band keys in k partitions is compared in each):
    #: the partition tasks' main cost; depends on the partitioning, so it is not a stat
    n_comparisons: int = 0


@dataclass
class _Bands:
    bands: int
    rows: int


def equal_counts(sigs: Gather, a: np.ndarray, b: np.ndarray, owner: tuple[np.ndarray, _Bands] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Number of equal signature values per pair; and with `owner` = (each pair's smallest band
    key it was found under, band settings), whether that key is the pair's smallest shared band
    key: each distinct candidate pair is counted once, at that key, whatever the partitioning
    (`verify.py`).

    Pairs go in groups of _GATHER_PAIRS: each distinct document of a group is read once, in
    document order (one visit per shard present, not one per block and shard), and its band keys
    computed once; the group's rows are then compared in blocks of _VERIFY_BLOCK pairs."""
    out = np.empty(len(a), dtype=np.int32)
    own = np.ones(len(a), dtype=bool)
    for lo in range(0, len(a), _GATHER_PAIRS):
        hi = min(lo + _GATHER_PAIRS, len(a))
        docs, inv = np.unique(np.concatenate([a[lo:hi], b[lo:hi]]), return_inverse=True)
        rows = sigs[docs]
        ia, ib = inv[: hi - lo], inv[hi - lo :]
        bk = None
        if owner is not None:  # each document's band keys once, in cache-sized blocks
            bk = np.empty((len(docs), owner[1].bands), dtype=np.uint64)
            for d in range(0, len(docs), _VERIFY_BLOCK):
                bk[d : d + _VERIFY_BLOCK] = _band_keys(rows[d : d + _VERIFY_BLOCK], owner[1].bands, owner[1].rows)
        for blo in range(0, hi - lo, _VERIFY_BLOCK):
            bhi = min(blo + _VERIFY_BLOCK, hi - lo)
            ja, jb = ia[blo:bhi], ib[blo:bhi]
            out[lo + blo : lo + bhi] = np.count_nonzero(rows[ja] == rows[jb], axis=1)
            if owner is not None and bk is not None:
                ka, kb = bk[ja], bk[jb]
                kmin = np.where(ka == kb, ka, np.iinfo(np.uint64).max).min(axis=1)
                own[lo + blo : lo + bhi] = kmin == owner[0][lo + blo : lo + bhi]
    return out, own


def _near_edges(
    cols: list[np.ndarray], sigs: Gather, groups: Gather, need: int, exempt: bool, res: EdgeCounts, sink: PairSink
) -> _Edges:
    """One band partition's candidate pairs: runs of equal keys (`_repeated_rows`); the small
    buckets' pairs (all pairs) go to `sink` with the key they were found under, to be compared
    once each in the verify stage (`verify.py`); the large buckets are verified here, greedily
    (returned edges). A key's bucket is whole in one partition, so neither depends on the
    partitioning. `cols` ([key, doc]) is emptied: the partition-sized arrays are freed as soon as
    the (much smaller) repeated rows are out."""
    (key,), doc = _repeated_rows(cols[:1], cols[1], by_doc=False)  # min/max below; large runs re-sorted
    cols.clear()
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
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if hi <= lo:
            continue
        left, right = _pairs_in_runs(s_starts[lo:hi], s_lens[lo:hi])
        a, b = doc[left], doc[right]
        del left, right
        sink.add(np.minimum(a, b), np.maximum(a, b), np.repeat(run_keys[lo:hi], per_run[lo:hi]))
    for s, m in zip(starts[~small], lens[~small]):
        _bucket_pairs(np.sort(doc[s : s + m]), sigs, groups, need, exempt, edges, res)  # in doc order
    return edges


def _verify(
    a: np.ndarray,
    b: np.ndarray,
    sigs: Gather,
    groups: Gather,
    need: int,
    exempt: bool,
    edges: _Edges,
    res: EdgeCounts,
    owner: tuple[np.ndarray, _Bands] | None = None,
) -> None:
    """Candidate pairs (a[i], b[i]): pairs inside one non-null dedup group are dropped when exempt,
    the rest verified by their count of equal signature values. Counted: the pairs found under
    their smallest shared band key (`equal_counts` with `owner`), all of them without."""
    eq, own = equal_counts(sigs, a, b, owner)
    _link_verified(a, b, eq, own, (groups[a], groups[b]) if exempt else None, need, edges, res)


def _link_verified(
    a: np.ndarray, b: np.ndarray, eq: np.ndarray, own: np.ndarray, grp: tuple[np.ndarray, np.ndarray] | None,
    need: int, edges: _Edges, res: EdgeCounts,
) -> None:  # fmt: skip
    """Compared pairs (eq: equal signature values; own: counted here): same-group pairs out when
    `grp` (both sides' dedup-group hashes) is given, the counts, and the verified edges."""
    res.n_comparisons += len(a)
    if grp is not None:
        same = (grp[0] == grp[1]) & (grp[0] != 0)
        res.n_exempt_pairs += int((same & own).sum())
        keep = ~same
        a, b, eq, own = a[keep], b[keep], eq[keep], own[keep]
    res.n_candidate_pairs += int(own.sum())
    ok = eq >= need
    edges.add(a[ok], b[ok], eq[ok])


def _bucket_pairs(
    members: np.ndarray, sigs: Gather, groups: Gather, need: int, exempt: bool, edges: _Edges, res: EdgeCounts
) -> None:
    """A large bucket (templated pages): the first remaining member is a representative and takes
    every remaining member it verifies against (exact copies go in the first round); repeated up to
    _GREEDY_ROUNDS times, linear in the bucket size each. Leftovers: all pairs inside windows of
    _ALL_PAIRS_MAX members. A pair of leftovers in different windows is not compared (the price of
    bounded work; other bands usually bring such a pair together in a smaller bucket).
    The members' signature rows are read once for all rounds and windows (up to
    _GREEDY_LOCAL_ROWS members: 64 MB; a larger bucket reads them per round)."""
    local = len(members) <= _GREEDY_LOCAL_ROWS
    rows_all = sigs[members] if local else None
    grp_all = groups[members] if exempt else None

    def rows(pos: np.ndarray) -> np.ndarray:
        return rows_all[pos] if rows_all is not None else sigs[members[pos]]

    rest = np.arange(len(members))  # positions in members (doc order)
    for _ in range(_GREEDY_ROUNDS):
        if len(rest) < 2:
            return
        rep, others = rest[0], rest[1:]
        eq = np.empty(len(others), dtype=np.int32)
        row = rows(rest[:1])[0]
        for lo in range(0, len(others), _GATHER_PAIRS):
            hi = min(lo + _GATHER_PAIRS, len(others))
            eq[lo:hi] = np.count_nonzero(rows(others[lo:hi]) == row, axis=1)
        res.n_candidate_pairs += len(others)
        res.n_comparisons += len(others)
        ok = eq >= need
        grep = int(grp_all[rep]) if grp_all is not None else 0
        if grp_all is not None and grep != 0:
            same = grp_all[others] == grep
            res.n_exempt_pairs += int((same & ok).sum())
            ok &= ~same
        edges.add(np.full(int(ok.sum()), members[rep], dtype=np.int64), members[others[ok]], eq[ok])
        rest = others[~ok]
    for lo in range(0, len(rest), _ALL_PAIRS_MAX):
        win = rest[lo : lo + _ALL_PAIRS_MAX]
        left, right = _pairs_in_runs(np.array([0]), np.array([len(win)]))
        if rows_all is None:
            _verify(members[win[left]], members[win[right]], sigs, groups, need, exempt, edges, res)
            continue
        # as _verify (every pair counted), on the rows read above
        pa_, pb_ = win[left], win[right]
        eq = np.empty(len(pa_), dtype=np.int32)
        for blo in range(0, len(pa_), _VERIFY_BLOCK):
            bhi = min(blo + _VERIFY_BLOCK, len(pa_))
            eq[blo:bhi] = np.count_nonzero(rows_all[pa_[blo:bhi]] == rows_all[pb_[blo:bhi]], axis=1)
        own = np.ones(len(pa_), dtype=bool)
        _link_verified(members[pa_], members[pb_], eq, own, (grp_all[pa_], grp_all[pb_]) if grp_all is not None else None, need, edges, res)


def _exact_groups(k1: np.ndarray, k2: np.ndarray, doc: np.ndarray, grp: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(docs sorted by (key, doc), run starts, run lengths, and `grp`, the rows' dedup-group
    hashes, in the docs' order) of one partition's repeated exact keys."""
    (k1, k2, *g), doc = _repeated_rows([k1, k2], doc, by_doc=True, payload=() if grp is None else (grp,))
    starts, lens = _runs([k1, k2])
    return doc, starts, lens, (g[0] if g else None)


def _exact_edges(doc: np.ndarray, starts: np.ndarray, lens: np.ndarray, grp: np.ndarray, num_perm: int, exempt: bool, res: EdgeCounts) -> _Edges:
    """Edges of one partition's exact keys (`grp`: each doc's dedup-group hash, aligned). Equal
    keys are transitive, so a star per key suffices: every member links to the key's first
    member, and members of the first member's own dedup_group (which may not link to it) link to
    the first member of another group instead; the components are those of all non-exempt pairs."""
    res.exact_dup_docs += int((lens - 1).sum())
    edges = _Edges()
    if len(starts) == 0:
        return edges
    run = np.repeat(np.arange(len(starts)), lens)
    pos = _ranges(starts, lens)
    d = doc[pos]
    first = doc[starts][run]
    is_first = d == first
    if not exempt:
        a, b = first[~is_first], d[~is_first]
        edges.add(a, b, np.full(len(a), num_perm))
        return edges
    g = grp[pos]
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


def _ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions of ranges [start, start + len), concatenated in the given order."""
    first = np.cumsum(lens) - lens
    return np.repeat(starts - first, lens) + np.arange(int(lens.sum()), dtype=np.int64)


EXACT_SCHEMA = pa.schema([("doc", pa.int64()), ("group", pa.int64())])


def _write_exact_groups(plan: ClusterPlan, part: int, doc: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> None:
    """This partition's repeated exact keys as (doc, group) rows, group = the key's smallest
    document (`doc` is sorted by (key, doc)): the outputs flag "exact" members from these instead
    of reading every staged row's key_hash string. A key's bucket is in one partition, so every
    document is in at most one group of one partition's file."""
    # the runs' rows (`doc` may hold rows outside them: _repeated_rows keeps candidates by part of
    # the key, _runs the rows whose whole key repeats)
    pos = _ranges(starts, lens)
    table = pa.table({"doc": doc[pos].astype(np.int64), "group": np.repeat(doc[starts], lens).astype(np.int64)}, schema=EXACT_SCHEMA)
    with plan.store.writing(plan.exact_path(part)) as tmp, pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, EXACT_SCHEMA) as w:
        w.write_table(table)


PART_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("kind", pa.int8()), ("sim", pa.int32())])


def gathers(plan: ClusterPlan, sidecars: list[Sidecar]) -> tuple[Gather, Gather]:
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


@in_reused_heap
def partition_edges(plan: ClusterPlan, part: int) -> dict[str, int]:
    """One band partition task: its fine buckets' band keys and exact keys from every shard; the
    small buckets' candidate pairs to work/_parts/pairs-NNNNN.arrow and the exact-key links to
    work/_parts/xpairs-NNNNN.arrow (both compared once each by the verify tasks, `verify.py`);
    the large buckets' greedy edges to work/_parts/part-NNNNN.parquet (a, b: global document
    indices, a < b; kind 0 near; sim: equal signature values). Returns its counts (also in the
    file's metadata) and this process's peak RSS so far (MB). Memory: this partition's keys,
    not the corpus."""
    cfg = plan.cfg
    lo, hi = plan.ranges[part]
    n, P = plan.n_docs, cfg.num_perm
    need = math.ceil(cfg.threshold * P - 1e-9)  # equal values a verified pair needs
    sidecars = plan.open_sidecars()
    sigs, groups = gathers(plan, sidecars)
    counts = EdgeCounts()
    try:
        cols = _load(plan, sidecars, "band", lo, hi, [("key", np.uint64), ("row", np.uint32)])
        with PairSink(plan, part) as sink:
            na, nb, nsim = _near_edges(cols, sigs, groups, need, cfg.exempt_same_tree, counts, sink).distinct(n)
        k1, k2, grp, doc = _load(plan, sidecars, "ex", lo, hi, [("k1", np.uint64), ("k2", np.uint64), ("grp", np.uint64), ("row", np.uint32)])
        xdoc, xstarts, xlens, xgrp = _exact_groups(k1, k2, doc, grp)
        del grp
        _write_exact_groups(plan, part, xdoc, xstarts, xlens)
        ea, eb, _ = _exact_edges(xdoc, xstarts, xlens, xgrp, P, cfg.exempt_same_tree, counts).arrays()  # type: ignore[arg-type]
        # an exact link reports the signatures' own estimate: computed by its verify task, whose
        # rows are read in document order (here they were random reads over every shard)
        with PairSink(plan, part, plan.exact_pairs_path(part)) as xsink:
            xsink.add(ea, eb, np.zeros(len(ea), np.uint64))
        del ea, eb
        if plan.has_cs:
            k1, k2, doc = _load(plan, sidecars, "cs", lo, hi, [("k1", np.uint64), ("k2", np.uint64), ("row", np.uint32)])
            counts.exact_dup_docs_cs += int((_exact_groups(k1, k2, doc)[2] - 1).sum())
        del k1, k2, doc
    finally:
        sigs.close()
    t = pa.table(
        {"a": na, "b": nb, "kind": np.zeros(len(na), np.int8), "sim": nsim.astype(np.int32)},
        schema=PART_SCHEMA,
    ).replace_schema_metadata({"counts": json.dumps(asdict(counts))})
    plan.store.write_table(t, plan.part_path(part), compression="none")
    peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    return {**asdict(counts), "pairs_written": sink.n_pairs, "peak_rss_mb": peak}

"""The cluster phase's second mapped stage (issue #18): each distinct candidate pair compared once.

A pair of documents sharing s band keys sits in up to min(s, P) band partitions; verified inside
them, it was compared in each, so comparisons per document grew with the partition count (0.74M
per million documents at 2 partitions, 1.22M at 17). Instead, a partition task (`edges.py`)
emits its small buckets' candidate pairs, each with the smallest band key it found the pair
under, into `verify_buckets` pair buckets by the range of the pair's first document
(`pairs.PairSink` -> work/_parts/pairs-NNNNN.arrow). One verify task per pair bucket
(`verify_pairs`) reads its bucket from every partition's file, keeps each pair once with its
smallest emitted key, and compares it once, reading the first documents' rows in order.

Counting stays what it was: a distinct pair is counted (`n_candidate_pairs`, `n_exempt_pairs`)
when its smallest shared band key, from the signatures, is its smallest emitted key, that is,
when that key's bucket was small enough to be paired (a larger bucket's pairs are counted where
its greedy pass compares them). The edges are the same pairs at the same estimated Jaccard, so
the outputs do not change; only the comparisons (`n_comparisons`) do.

The exact-key links of the bucket (`xpairs-NNNNN.arrow`, found by the partition tasks) are merged
into the same rounds in pair order: linked whatever their signatures, they get the signatures' own
estimate here, from the rows the candidates read anyway, and are not counted as candidates.
"""

from __future__ import annotations


import json
import math
import resource
from dataclasses import asdict

import numpy as np
import pyarrow as pa

from pipeline.dedup.edges import PART_SCHEMA, EdgeCounts, _Bands, _Edges, _link_verified, equal_counts, gathers
from pipeline.dedup.heap import in_reused_heap
from pipeline.dedup.pairs import read_bucket
from pipeline.dedup.plan import ClusterPlan

#: Distinct pairs a verify task compares per round (signature rows gathered per 64k of them).
_VERIFY_PAIRS = 4_000_000


@in_reused_heap
def verify_pairs(plan: ClusterPlan, j: int) -> dict[str, int]:
    """One verify task: pair bucket j's distinct pairs, each compared once (module doc), and its
    exact-key links' estimates; its near edges (kind 0) and exact links (kind 1) written to
    work/_parts/verify-NNNNN.parquet (PART_SCHEMA) with its counts in
    the file's metadata. Returns the counts and this process's peak RSS so far (MB). Memory:
    this bucket's pairs (~50 bytes each at the sort) and 64k pairs' signature rows."""
    cfg = plan.cfg
    n, P = np.int64(max(plan.n_docs, 1)), cfg.num_perm
    need = math.ceil(cfg.threshold * P - 1e-9)
    a, b, key = read_bucket(plan, j)
    code = a * n + b
    del a, b
    order = np.lexsort((key, code))  # by pair, then key: the first of each pair has its smallest key
    code, key = code[order], key[order]
    del order
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    code, key = code[first], key[first]
    del first
    # the exact-key links of this bucket (each found once, in its key's partition): linked
    # whatever their signatures, with the signatures' own estimate; compared in the same rounds
    # as the candidates, in pair order, so their rows come with the candidates' (one visit of a
    # shard for both)
    xa, xb, _ = read_bucket(plan, j, plan.exact_pairs_path)
    xcode = np.sort(xa * n + xb)
    del xa, xb
    at = np.searchsorted(code, xcode, side="right")  # merged into the sorted candidates: O(n), no sort
    exact = np.insert(np.zeros(len(code), bool), at, True)
    code = np.insert(code, at, xcode)
    key = np.insert(key, at, np.uint64(0))
    del xcode, at
    counts, edges, links = EdgeCounts(), _Edges(), _Edges()
    bands = _Bands(cfg.bands, cfg.rows)
    sidecars = plan.open_sidecars()
    sigs, groups = gathers(plan, sidecars)
    try:
        for lo in range(0, len(code), _VERIFY_PAIRS):
            c, x = code[lo : lo + _VERIFY_PAIRS], exact[lo : lo + _VERIFY_PAIRS]
            a, b = c // n, c % n
            eq, own = equal_counts(sigs, a, b, (key[lo : lo + _VERIFY_PAIRS], bands))
            links.add(a[x], b[x], eq[x])
            near = ~x
            a, b, eq, own = a[near], b[near], eq[near], own[near]
            _link_verified(a, b, eq, own, (groups[a], groups[b]) if cfg.exempt_same_tree else None, need, edges, counts)
    finally:
        sigs.close()
    xa, xb, xsim = links.arrays()
    ea, eb, esim = edges.arrays()
    t = pa.table(
        {
            "a": np.concatenate([xa, ea]),
            "b": np.concatenate([xb, eb]),
            "kind": np.concatenate([np.ones(len(xa), np.int8), np.zeros(len(ea), np.int8)]),
            "sim": np.concatenate([xsim, esim]).astype(np.int32),
        },
        schema=PART_SCHEMA,
    ).replace_schema_metadata({"counts": json.dumps(asdict(counts))})
    plan.store.write_table(t, plan.verify_path(j), compression="none")
    return {**asdict(counts), "peak_rss_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)}

"""The candidate-pairs files between the cluster phase's two mapped stages (issue #18): a band
partition task writes its small buckets' candidate pairs, each with the smallest band key it
found the pair under, into `plan.verify_buckets` pair buckets by the range of the pair's first
document; a verify task (`verify.py`) reads its bucket from every partition's file. The exact-key
links go the same way in a second file per partition (work/_parts/xpairs-NNNNN.arrow, key 0), so
that every signature comparison of the phase is a verify task's, rows read in document order.

File format: an Arrow IPC file per partition, work/_parts/pairs-NNNNN.arrow (columns a, b: global
document indices, a < b; key: uint64), its record batches in flushes of V = `verify_buckets`
batches each, batch f * V + j holding the flush's pairs of bucket j (empty batches included), so
a verify task reads only its batches (IPC's footer has the batch offsets: a range read each on a
store). Written under a temporary name and renamed when complete.
"""

from __future__ import annotations


import contextlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.dedup.plan import ClusterPlan

PAIRS_SCHEMA = pa.schema([("a", pa.int64()), ("b", pa.int64()), ("key", pa.uint64())])
#: Pairs a partition task holds before writing a flush of batches.
_FLUSH_PAIRS = 4_000_000


def pair_bucket(a: np.ndarray, n_docs: int, buckets: int) -> np.ndarray:
    """Pair bucket of pairs whose first document is `a`: contiguous ranges of the document index,
    so a verify task reads its first documents' rows in order."""
    return (a * np.int64(buckets)) // np.int64(max(n_docs, 1))


class PairSink:
    """A partition task's candidate pairs, written to its pairs file in flushes of
    `plan.verify_buckets` batches (module doc). Memory: at most ~_FLUSH_PAIRS pairs held."""

    def __init__(self, plan: ClusterPlan, part: int, path: str | None = None) -> None:
        self.plan, self.path = plan, path or plan.pairs_path(part)
        self._tmp = plan.store.local_tmp(self.path)
        self._sink = pa.OSFile(self._tmp, "wb")
        self._writer: Any = pa.ipc.new_file(self._sink, PAIRS_SCHEMA)
        self._held: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._n_held = 0
        self.n_pairs = 0

    def add(self, a: np.ndarray, b: np.ndarray, key: np.ndarray) -> None:
        """Pairs (a[i] < b[i]) found under band key key[i]; each distinct pair once with its
        smallest key (per call: repeats across calls and partitions go in the verify task)."""
        if len(a) == 0:
            return
        n = np.int64(max(self.plan.n_docs, 1))
        code = a * n + b
        order = np.argsort(code)
        code, key = code[order], key[order]
        del order
        first = np.ones(len(code), dtype=bool)
        first[1:] = code[1:] != code[:-1]
        starts = np.flatnonzero(first)
        key = np.minimum.reduceat(key, starts)
        code = code[starts]
        a, b = code // n, code % n
        keep = a != b  # one document twice under one key (a 64-bit collision)
        self._held.append((a[keep], b[keep], key[keep]))
        self._n_held += int(keep.sum())
        if self._n_held >= _FLUSH_PAIRS:
            self._flush()

    def _flush(self) -> None:
        V = self.plan.verify_buckets
        if self._held:
            a, b, key = (np.concatenate(c) for c in zip(*self._held))
        else:
            a, b, key = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
        self._held, self._n_held = [], 0
        j = pair_bucket(a, self.plan.n_docs, V)
        order = np.argsort(j, kind="stable")
        a, b, key = a[order], b[order], key[order]
        cuts = np.searchsorted(j[order], np.arange(V + 1)).tolist()
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            self._writer.write_batch(pa.record_batch([a[lo:hi], b[lo:hi], key[lo:hi]], schema=PAIRS_SCHEMA))
        self.n_pairs += len(a)

    def close(self) -> None:
        """Writes the last flush (at least one, so every bucket has a batch) and commits the file."""
        try:
            if self._held or self.n_pairs == 0:
                self._flush()
            self._writer.close()
            self._sink.close()
            self.plan.store.put_local(self._tmp, self.path)
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> PairSink:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        """Commits the file when the block ends, removes it when the block raised."""
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(Exception):
            self._sink.close()
        with contextlib.suppress(OSError):
            os.unlink(self._tmp)


def read_bucket(plan: ClusterPlan, j: int, path_of: Callable[[int], str] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pair bucket j from every partition's pairs file (`path_of(i)`; default the candidate
    pairs, `plan.pairs_path`): its batches only (range reads)."""
    V, store = plan.verify_buckets, plan.store
    parts: list[pa.RecordBatch] = []
    for i in range(plan.partitions):
        path = (path_of or plan.pairs_path)(i)
        with pa.OSFile(path, "rb") if store.local else store.open(path) as fh:
            reader = pa.ipc.open_file(fh)
            parts += [reader.get_batch(k) for k in range(j, reader.num_record_batches, V)]
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64)
    t = pa.Table.from_batches(parts, schema=PAIRS_SCHEMA).combine_chunks()
    return t.column("a").to_numpy(), t.column("b").to_numpy(), t.column("key").to_numpy()

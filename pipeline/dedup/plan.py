"""The cluster phase's plan (issue #18): the staged shards in sorted order, their sidecars (written
where missing or stale), the document offsets that give one global numbering, and the band
partitions, as many as keep one partition task under `dedup.cluster_memory_mb`. The plan is small
and picklable: it is all a partition task (in a Dask worker) and the final step need."""

from __future__ import annotations


import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.config import DedupConfig
from pipeline.layout import Store, url_to_fs
from pipeline.dedup.sidecar import FINE_BUCKETS, Sidecar, read_footer, sidecar_ok, sidecar_path, write_sidecar

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




#: Partition-task memory model (measured, bench/cluster_scale.py: 533-566 MB peak for 9.1M band rows
#: at 4M and 16M documents, since signature pages are dropped after each gather; 1.3 GB for 12.8M
#: rows before, when they stayed mapped for a whole block): bytes per band row held, sorted and
#: paired (keys, documents, sort order, copies, candidate pairs; ~35 measured, 48 with a margin),
#: and the fixed part (interpreter, numpy/pyarrow, a chunk of _PAIRS_PER_CHUNK candidate pairs).
#: Fewer partitions also mean fewer comparisons: a pair is compared once per partition holding
#: one of its shared band keys.
_BYTES_PER_BAND_ROW = 48
_TASK_BASE_BYTES = 320 << 20
#: Band rows per partition at most, whatever the budget: a partition's sort and runs cost less per
#: row when smaller (bench/cluster_scale.py shards, partition stage, one worker: 4M documents
#: 3.6 s with 5 partitions, 3.0 s with 8; 16M 17.4 s with 17, 14.7 s with 34, 14.9 s with 68),
#: and two tasks at once slow each other down less (4M, two workers: 1.87-2.03 s with 8 partitions
#: of 8M rows, 1.48-1.55 s with 16 of 4M; one worker 3.2 and 2.93-2.99 s); since each candidate
#: pair is compared once (verify.py), more partitions cost no comparisons.
_MAX_BAND_ROWS = 4_000_000
#: Band rows per pair bucket of the verify stage: its tasks each open every shard's sidecar, so
#: fewer and larger ones are cheaper (4M, one worker: verification 1.24-1.26 s in 8 buckets,
#: 1.36-1.44 s in 16) while a bucket's pairs stay far below a partition's band rows in memory.
_VERIFY_BAND_ROWS = 8_000_000


def choose_partitions(n_band_rows: int, memory_mb: int, workers: int = 1, max_rows: int = _MAX_BAND_ROWS) -> int:
    """Band partitions so that one partition task stays under `memory_mb` and holds at most
    `max_rows` rows, rounded up to a multiple of `workers` (at least two per worker) so the
    workers finish together; at most FINE_BUCKETS. (With max_rows=_VERIFY_BAND_ROWS: the verify
    stage's pair buckets.)"""
    usable = max((memory_mb << 20) - _TASK_BASE_BYTES, 64 << 20)
    p = max(1, math.ceil(n_band_rows * _BYTES_PER_BAND_ROW / usable), math.ceil(n_band_rows / max_rows))
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
    #: pair buckets of the verify stage (`verify.py`): from the band rows like the partitions,
    #: with a larger cap (`_VERIFY_BAND_ROWS`); each holds ~1/V of the candidate pairs, far fewer
    #: bytes than a partition's band rows. Independent of the partitions.
    verify_buckets: int = 1

    @property
    def n_docs(self) -> int:
        return self.offsets[-1]

    @property
    def partitions(self) -> int:
        return len(self.ranges)

    def part_path(self, i: int) -> str:
        """Band partition i's exact links and greedy edges."""
        return f"{self.work}/_parts/part-{i:05d}.parquet"

    def exact_path(self, i: int) -> str:
        """Band partition i's exact groups: (doc, group) for every document whose exact key another
        document shares; group = the group's smallest document (the outputs' "exact" flag)."""
        return f"{self.work}/_parts/exact-{i:05d}.arrow"

    def pairs_path(self, i: int) -> str:
        """Band partition i's candidate pairs, by pair bucket (`pairs.py`)."""
        return f"{self.work}/_parts/pairs-{i:05d}.arrow"

    def exact_pairs_path(self, i: int) -> str:
        """Band partition i's exact-key links, by pair bucket (`pairs.py`; their signature
        estimate is computed by the verify tasks)."""
        return f"{self.work}/_parts/xpairs-{i:05d}.arrow"

    def verify_path(self, j: int) -> str:
        """Pair bucket j's verified near edges."""
        return f"{self.work}/_parts/verify-{j:05d}.parquet"

    def edge_paths(self) -> list[str]:
        """Every edge file of the two mapped stages, in a fixed order."""
        return [self.part_path(i) for i in range(self.partitions)] + [self.verify_path(j) for j in range(self.verify_buckets)]

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
    verify_buckets: int | None = None,
) -> ClusterPlan:
    """Sorted shards, their sidecars (written where missing), document offsets, the band
    partitions (`partitions`, or from the document count and `cfg.cluster_memory_mb`) and the
    verify stage's pair buckets (`verify_buckets`, or the same rule with its own row cap)."""
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
        verify_buckets=max(1, verify_buckets or choose_partitions(n_band_rows, cfg.cluster_memory_mb, workers, _VERIFY_BAND_ROWS)),
        _footers=footers,
    )

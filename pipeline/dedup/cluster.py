"""Global duplicate clustering over staged shards, as parallel tasks with bounded memory (issue #18):
LSH band keys and exact keys come partitioned from the tag tasks (`pipeline/dedup/sidecar.py`: one
sidecar per staged file, keys in FINE_BUCKETS fine buckets by their top bits, signatures as a flat
matrix), each band partition (a contiguous range of fine buckets) is grouped alone by one task (sort
+ runs of equal keys), candidate pairs are verified by estimated Jaccard, and connected components
over the edges only join verified pairs into clusters.

    plan.plan_clusters(paths, work, cfg)   sorted shards, sidecars (written where missing),
                                           document offsets, partitions and pair buckets from
                                           the document count and cfg.cluster_memory_mb
    edges.partition_edges(plan, i)         one task per partition: reads its buckets from every
                                           shard; writes its candidate pairs and its exact links
                                           by pair bucket (work/_parts/pairs-NNNNN.arrow and
                                           xpairs-NNNNN.arrow, `pairs.py`), its large-bucket
                                           edges (work/_parts/part-NNNNN.parquet) and its exact
                                           groups (work/_parts/exact-NNNNN.arrow: the outputs'
                                           "exact" flag without reading key_hash strings)
    verify.verify_pairs(plan, j)           one task per pair bucket: each distinct candidate pair
                                           compared once and each exact link's estimate, reading
                                           only the signatures it needs, in document order;
                                           writes work/_parts/verify-NNNNN.parquet
    cluster_tasks(plan, map_fn, seconds)   the two mapped stages in a row
    components.finish_clusters(plan)       components over the edges, clusters/edges/stats
    cluster(paths, work, cfg)              all of it, here (map_fn: over a pool.ProcessMap or Dask)

Why this shape (design.md, "Data flow"): no in-memory index of the whole corpus, and no array per
document in any process. A partition task holds its partition's band rows (~48 bytes per row at
the sort); signatures are read by row (memory-mapped locally, pages dropped from the resident set
after each verification block), dedup-group hashes likewise; the final step holds the verified
edges and the clustered documents only. Document i of the run is row i - offset[s] of shard s in
sorted shard order (offsets from row counts), so the outputs are those of one global numbering.

Candidates: every pair of documents that shares one of `cfg.bands` band keys (`cfg.rows`
signature values each; 16 x 8 makes a J=0.85 pair a candidate 99.4% of the time, docs/dependencies.md).
A pair sharing several keys is found in several partitions and compared once, in its pair
bucket's verify task, so the comparisons do not grow with the partition count.
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
    _parts/                 each partition task's pairs-*.arrow, xpairs-*.arrow, part-*.parquet
                            and exact-*.arrow, each verify task's verify-*.parquet (document
                            indices); removed at the end unless keep_intermediate=True
Every output file is written under a temporary name and renamed; same inputs + same config give
byte-identical outputs whatever the number of partitions and workers (the partition count is
therefore not in cluster_stats.json: `ClusterResult.n_partitions`).
"""


from __future__ import annotations


import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path


from pipeline.config import DedupConfig
from pipeline.layout import Store, url_to_fs
from pipeline.dedup.sidecar import SUFFIX
from pipeline.dedup.components import ClusterResult, finish_clusters
from pipeline.dedup.edges import partition_edges
from pipeline.dedup.plan import ClusterPlan, plan_clusters
from pipeline.dedup.pool import MapFn, ProcessMap
from pipeline.dedup.verify import verify_pairs


def cluster_tasks(plan: ClusterPlan, map_fn: MapFn, seconds: dict[str, float]) -> list[dict[str, int]]:
    """The phase's two mapped stages through `map_fn` (a process pool, or the flow's task maps):
    one partition task per band partition, then one verify task per pair bucket (which reads
    what every partition task wrote). Their wall times go to `seconds` ("partitions",
    "verify"); returns every task's counts (with its process's peak RSS)."""
    clock = time.perf_counter()
    done = map_fn(partition_edges, plan, list(range(plan.partitions)))
    seconds["partitions"] = time.perf_counter() - clock
    clock = time.perf_counter()
    done += map_fn(verify_pairs, plan, list(range(plan.verify_buckets)))
    seconds["verify"] = time.perf_counter() - clock
    return done

def cluster(
    paths: Sequence[str | Path],
    work_dir: str | Path,
    cfg: DedupConfig,
    *,
    partitions: int | None = None,
    verify_buckets: int | None = None,
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
    cluster_stats.json (module doc): plan_clusters -> cluster_tasks (partition and verify tasks in
    `workers` processes, or through `map_fn(fn, plan, parts)`: e.g. Dask) -> finish_clusters. Paths are read in
    sorted order, so the outputs do not depend on the order given, nor on `partitions`,
    `verify_buckets` (both chosen from the document count when not given) or workers.
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
            paths, work, cfg, store=store, sidecar_store=sidecar_store, sidecar_of=sidecar_of, partitions=partitions, workers=workers,
            verify_buckets=verify_buckets,
        )
        seconds = {"plan": time.perf_counter() - clock}
        done = cluster_tasks(plan, mapper, seconds)
        res = finish_clusters(plan, keep_intermediate=keep_intermediate, map_fn=mapper, groups=workers)
    finally:
        if map_fn is None:
            mapper.close()
        if tmp is not None and not keep_intermediate:
            shutil.rmtree(tmp, ignore_errors=True)
    res.seconds = {**seconds, **res.seconds}
    res.task_peak_rss_mb = max((int(d.get("peak_rss_mb", 0)) for d in done), default=0)
    return res

"""The cluster phase's last step (issue #18): connected components over the verified edges only
(documents in no edge cost nothing), then the outputs: clusters.parquet, edges.parquet and
cluster_stats.json, with the row reading and per-cluster work in shard slices and cluster-id
ranges over the workers when the clustered documents are many. The schemas and `ClusterResult`
are the phase's answers; `pipeline/dedup/cluster.py` has the overview."""

from __future__ import annotations


import json
import math
import resource
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.layout import Store
from pipeline.dedup.edges import PART_SCHEMA, EdgeCounts, _pairs_in_runs, _ranges
from pipeline.dedup.heap import in_reused_heap
from pipeline.dedup.plan import ClusterPlan
from pipeline.dedup.pool import MapFn, ProcessMap

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
    n_comparisons: int = 0  # signature comparisons of the partition tasks (EdgeCounts); not written

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
        d.pop("n_comparisons")  # depends on the partitioning, like n_partitions
        d.pop("n_partitions")  # not an answer: the outputs are the same whatever the partitioning
        return d

    def __getitem__(self, key: str) -> object:
        return self.stats()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.stats())

    def __len__(self) -> int:
        return len(self.stats())


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



def _write_atomic(store: Store, table: pa.Table, path: str) -> None:
    store.write_table(table, path, compression="zstd", compression_level=3)


_DOCS_SCHEMA = pa.schema([("id", pa.string()), ("source", pa.string()), ("n_chars", pa.int64())])
#: Clustered documents per output range task (finish_clusters): beyond this, ranges even with one
#: worker. Below it one process with two threads is faster than the range tasks (their files and
#: concatenations) whatever the workers: bench/cluster_scale.py shards, 16M documents, 2.33M
#: clustered: 2.0-2.5 s in one process (driver peak 1.37 GB, ~500 bytes per clustered document)
#: against 3.05-3.21 s in three range tasks (950 MB); 582k clustered: 0.45-0.53 s against
#: 0.67-1.0 s in two tasks on two workers. The cap keeps the one-process driver near 1.4 GB at most.
_OUTPUT_GROUP_DOCS = 2_500_000
#: Fewer clustered documents than this: the outputs in one process even with several workers.
PARALLEL_OUTPUT_MIN_DOCS = _OUTPUT_GROUP_DOCS


#: Shards read at once by _docs_rows (threads: Arrow's reads and takes release the GIL, and one
#: shard's three columns alone keep a core about half busy).
_READ_THREADS = 4


def _docs_rows(plan: ClusterPlan, nodes: np.ndarray, shards: range | None = None) -> pa.Table:
    """(id, source, n_chars) of documents `nodes` (sorted global indices, all in `shards`), read
    from the staged files a few shards at a time: only the clustered documents are held."""

    def one(s: int) -> pa.Table | None:
        lo, hi = np.searchsorted(nodes, [plan.offsets[s], plan.offsets[s + 1]])
        if hi <= lo:
            return None
        t = plan.store.read_table(plan.shards[s], columns=list(_DOCS_SCHEMA.names))
        t = t.take(pa.array(nodes[lo:hi] - plan.offsets[s]))
        return pa.table({c: t.column(c).cast(_DOCS_SCHEMA.field(c).type) for c in _DOCS_SCHEMA.names}, schema=_DOCS_SCHEMA)

    with ThreadPoolExecutor(_READ_THREADS) as ex:
        out = [t for t in ex.map(one, shards if shards is not None else range(len(plan.shards))) if t is not None]
    return pa.concat_tables(out) if out else _DOCS_SCHEMA.empty_table()


@in_reused_heap
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
    counts = EdgeCounts()
    for path in plan.edge_paths():
        t = store.read_table(path)
        meta = json.loads((t.schema.metadata or {})[b"counts"])
        for k, v in meta.items():
            setattr(counts, k, getattr(counts, k) + int(v))
        tables.append(t)
    edges = pa.concat_tables(tables) if tables else PART_SCHEMA.empty_table()
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
    res.n_comparisons = counts.n_comparisons
    res.exact_dup_docs = counts.exact_dup_docs
    if plan.has_cs:
        res.exact_dup_docs_cs = counts.exact_dup_docs_cs
        res.casing_impact = res.exact_dup_docs - res.exact_dup_docs_cs
    res.n_near_edges = int((kind == 0).sum())
    res.n_exact_edges = int((kind == 1).sum())
    nodes, root = connected_components(a, b)
    xgroup = _exact_group_of(plan, nodes)
    res.seconds["components"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # many clustered documents: the output work in ranges even with one worker (bounded memory)
    groups = max(groups if len(nodes) >= min_parallel_docs else 1, math.ceil(len(nodes) / _OUTPUT_GROUP_DOCS))
    map_fn = map_fn or ProcessMap(1)
    if groups > 1 and len(nodes):
        table, edges_t, res.source_pairs, res.source_docs = _outputs_parallel(plan, nodes, root, xgroup, a, b, kind, sim, groups, map_fn)
        _write_outputs(store, work, lambda: table, lambda: edges_t, sources=False)
        del table, edges_t
    else:
        clustered = _docs_rows(plan, nodes) if len(nodes) else _DOCS_SCHEMA.empty_table()
        rank = _dense_ranks(clustered.column("id"))
        got = _write_outputs(
            store, work,
            lambda: _clusters_table(clustered, root, xgroup, rank),
            lambda: _edges_table(nodes, clustered, a, b, kind, sim, cfg.num_perm, rank),
            sources=True,
        )  # fmt: skip
        assert got is not None
        res.source_pairs, res.source_docs = got
    res.n_clusters = int(np.count_nonzero(root == nodes))  # a component's root is its smallest node
    res.n_clustered_docs = len(nodes)
    res.n_duplicates = res.n_clustered_docs - res.n_clusters
    store.write_bytes(f"{work}/cluster_stats.json", (json.dumps(res.stats(), indent=2, sort_keys=True) + "\n").encode("utf-8"))
    if not keep_intermediate:
        store.rm_tree(f"{work}/_parts")
    res.seconds["outputs"] = time.perf_counter() - clock
    return res


_Sources = tuple[dict[str, dict[str, int]], dict[str, int]]


def _write_outputs(store: Store, work: str, clusters: Callable[[], pa.Table], edges: Callable[[], pa.Table], sources: bool) -> _Sources | None:
    """Builds and writes edges.parquet in a second thread while clusters.parquet is built and
    written here, and (`sources`) computes the clusters' _source_matrix in that thread while this
    one writes (numpy's sorts, Arrow's takes and the Parquet encoder release the GIL: 4M bench set,
    582k clustered documents, one process: outputs 0.72-0.75 -> 0.45-0.53 s with the threaded
    shard reads)."""
    with ThreadPoolExecutor(1) as ex:
        wrote = ex.submit(lambda: _write_atomic(store, edges(), f"{work}/edges.parquet"))
        table = clusters()
        matrix = ex.submit(_source_matrix, table) if sources else None
        _write_atomic(store, table, f"{work}/clusters.parquet")
        wrote.result()
        return matrix.result() if matrix is not None else None


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
    """An output task's intermediate, streamed to a local file (no in-memory copy of the whole
    file, then of its bytes) and put in place."""
    with store.writing(path) as tmp, pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def _read_ipc(store: Store, path: str) -> pa.Table:
    """Memory-mapped locally (the table's buffers are the file's pages: no read copy)."""
    if store.local:
        return pa.ipc.open_file(pa.memory_map(path)).read_all()
    return pa.ipc.open_file(pa.py_buffer(store.read_bytes(path))).read_all()


def _rows_task(op: _Outputs, k: int) -> dict[str, int]:
    """Output task 1 (one per slice of shards): the clustered documents' (id, source, n_chars)
    from the staged files of its shards, in document order."""
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
    cols = {c: rows.column(c).to_numpy() for c in ("comp", "xg", "rank")}
    table = _clusters_table(rows.drop_columns(list(cols)), cols["comp"], cols["xg"], cols["rank"])
    _write_ipc(st, table, op.path("clusters", k))
    e = _read_ipc(st, op.path("gedges", k))
    order = np.lexsort((e.column("rb").to_numpy(), e.column("ra").to_numpy()))  # by (a, b): stable
    _write_ipc(st, e.drop_columns(["ra", "rb"]).take(pa.array(order)), op.path("edges", k))
    matrix, docs = _source_matrix(table)
    st.write_bytes(op.path("sources", k), json.dumps({"matrix": matrix, "docs": docs}).encode())
    return {"peak_rss_mb": int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)}


def _outputs_parallel(
    plan: ClusterPlan, nodes: np.ndarray, root: np.ndarray, xgroup: np.ndarray, a: np.ndarray, b: np.ndarray, kind: np.ndarray, sim: np.ndarray,
    groups: int, map_fn: MapFn,
) -> tuple[pa.Table, pa.Table, dict[str, dict[str, int]], dict[str, int]]:  # fmt: skip
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
    # every string comparison below is one of the ids' dense ranks (one string sort here)
    rank = _dense_ranks(ids)
    # cluster id of each component = its smallest id (as a rank); ranges of cluster ids -> groups
    roots = nodes[root == nodes]  # a component's root is its smallest node: sorted, one each
    comp_of = np.searchsorted(roots, root)
    cid = np.full(len(roots), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(cid, comp_of, rank)
    cid_sorted = np.sort(cid)
    n_c = len(cid_sorted)
    bounds = np.unique([cid_sorted[(n_c * k) // groups] for k in range(1, groups)] if n_c else np.zeros(0, np.int64))

    def group_of(ranks: np.ndarray) -> np.ndarray:
        return np.searchsorted(bounds, ranks, side="right")  # bounds at or below: greater_equal

    # a cluster's rows go to the group of its cluster id
    row_group = group_of(cid[comp_of])
    rows = rows.append_column("comp", pa.array(root, type=pa.int64())).append_column("xg", pa.array(xgroup)).append_column("rank", pa.array(rank))
    # edges as ids (a < b), grouped by the range of a
    edges, ra, rb = _edge_rows(ids, nodes, a, b, kind, sim, plan.cfg.num_perm, rank)
    edge_group = group_of(ra)
    edges = edges.append_column("ra", pa.array(ra)).append_column("rb", pa.array(rb))
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


#: The `match` column's two values, taken by 0/1 flags (no Python string per row).
_MATCH = pa.array(["near", "exact"], type=pa.string())


def _dense_ranks(strings: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each string's rank in byte order, equal strings sharing one: integer keys that sort
    (stably), compare and take minima exactly as the strings do, so the outputs' string sorts,
    group minima and range cuts are numpy work after this one string sort."""
    n = len(strings)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.asarray(pc.sort_indices(strings))
    ordered = strings.take(pa.array(order))
    new = np.ones(n, dtype=bool)
    new[1:] = np.asarray(pc.not_equal(ordered.slice(1), ordered.slice(0, n - 1)))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.cumsum(new) - 1
    return out


def _exact_group_of(plan: ClusterPlan, nodes: np.ndarray) -> np.ndarray:
    """The exact group (edges.EXACT_SCHEMA: the smallest document sharing its exact key) of each
    of `nodes`, -1 for none, from the partition tasks' files: memory for the documents with a
    shared key, not for the corpus, and no key_hash string read."""
    parts = [_read_ipc(plan.store, plan.exact_path(i)) for i in range(plan.partitions)]
    if not parts or not any(t.num_rows for t in parts):
        return np.full(len(nodes), -1, dtype=np.int64)
    t = pa.concat_tables(parts)
    doc, group = t.column("doc").to_numpy(), t.column("group").to_numpy()
    order = np.argsort(doc, kind="stable")
    doc, group = doc[order], group[order]
    pos = np.minimum(np.searchsorted(doc, nodes), len(doc) - 1)
    return np.where(doc[pos] == nodes, group[pos], -1)


def _clusters_table(docs: pa.Table, root: np.ndarray, xgroup: np.ndarray, rank: np.ndarray | None = None) -> pa.Table:
    """docs (rows aligned with `root`, the component of each, and `xgroup`, the exact group of
    each or -1; `rank`: their ids' _dense_ranks, computed here when not given) -> CLUSTERS_SCHEMA,
    sorted."""
    if docs.num_rows == 0:
        return CLUSTERS_SCHEMA.empty_table()
    rank = _dense_ranks(docs.column("id")) if rank is None else rank
    # the order of sort_by([("comp", "ascending"), ("id", "ascending")]): both sorts are stable
    order = np.lexsort((rank, root))
    comp, rank_sorted = np.asarray(root)[order], rank[order]
    xg = np.asarray(xgroup, dtype=np.int64)[order]
    first = np.ones(len(comp), dtype=bool)
    first[1:] = comp[1:] != comp[:-1]
    run = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    sizes = np.diff(starts, append=len(comp))
    # "exact": another member of the cluster has the same (non-empty) key_hash, i.e. is in the same
    # exact group: equal (cluster, group) codes; a document in no group (its key unshared, empty
    # or missing: those never link) gets a code of its own
    code = run.astype(np.int64) * np.int64(int(xg.max(initial=0)) + 1) + xg
    no_key = xg < 0
    code[no_key] = -1 - np.arange(int(no_key.sum()), dtype=np.int64)
    dup = _counts_of_equal(code) >= 2
    # sorted by (cluster, id): the rows are grouped by component with ids ascending, and a
    # cluster's id is its first, so ordering the components by cluster id is enough (a sort of
    # the clusters' ids, not of every row by two string keys); the two orders composed, so that
    # the strings are gathered once
    by_cluster = np.argsort(rank_sorted[starts], kind="stable")
    perm = _ranges(starts[by_cluster], sizes[by_cluster])
    rows = pa.array(order[perm])
    ids = docs.column("id").take(rows)
    return pa.table(
        {
            "id": ids,
            "cluster": docs.column("id").take(pa.array(order[starts[run[perm]]])),
            "cluster_size": pa.array(sizes[run[perm]], type=pa.int64()),
            "match": _MATCH.take(pa.array(dup[perm].astype(np.int8))),
            "source": docs.column("source").take(rows),
            "n_chars": docs.column("n_chars").take(rows),
        },
        schema=CLUSTERS_SCHEMA,
    ).combine_chunks()


def _counts_of_equal(code: np.ndarray) -> np.ndarray:
    """For each element, how many elements hold its value (one stable sort; np.unique's
    return_inverse/return_counts cost ~4x this here)."""
    order = np.argsort(code, kind="stable")
    sc = code[order]
    new = np.ones(len(sc), dtype=bool)
    new[1:] = sc[1:] != sc[:-1]
    grp = np.cumsum(new) - 1
    out = np.empty(len(code), dtype=np.int64)
    out[order] = np.bincount(grp)[grp]
    return out


def _edges_table(
    nodes: np.ndarray, clustered: pa.Table, a: np.ndarray, b: np.ndarray, kind: np.ndarray, sim: np.ndarray, P: int,
    rank: np.ndarray | None = None,
) -> pa.Table:  # fmt: skip
    """EDGES_SCHEMA rows sorted by (a, b); `rank`: _dense_ranks of `clustered`'s ids, if known."""
    if len(a) == 0:
        return EDGES_SCHEMA.empty_table()
    ids = clustered.column("id").combine_chunks()
    return _edge_rows(ids, nodes, a, b, kind, sim, P, _dense_ranks(ids) if rank is None else rank, ordered=True)[0]


def _edge_rows(
    ids: pa.Array, nodes: np.ndarray, a: np.ndarray, b: np.ndarray, kind: np.ndarray, sim: np.ndarray, P: int, rank: np.ndarray,
    ordered: bool = False,
) -> tuple[pa.Table, np.ndarray, np.ndarray]:  # fmt: skip
    """Edges (doc indices, `ids` aligned with the sorted `nodes`, `rank` their _dense_ranks) as
    EDGES_SCHEMA rows: the two ids ordered (a < b as strings), the match kind and the estimated
    Jaccard; and the ranks of the rows' a and b ids. `ordered`: rows sorted by (a, b), as
    sort_by([("a", ...), ("b", ...)]) would (stable), before the ids are gathered."""
    pa_, pb_ = np.searchsorted(nodes, a), np.searchsorted(nodes, b)
    ra, rb = rank[pa_], rank[pb_]
    swap = ra > rb
    lo, hi = np.where(swap, pb_, pa_), np.where(swap, pa_, pb_)
    if ordered:
        order = np.lexsort((rank[hi], rank[lo]))
        lo, hi, kind, sim = lo[order], hi[order], kind[order], sim[order]
    table = pa.table(
        {
            "a": ids.take(pa.array(lo)),
            "b": ids.take(pa.array(hi)),
            "match": _MATCH.take(pa.array((kind == 1).astype(np.int8))),
            "jaccard": pa.array((sim / P).astype(np.float32)),
        },
        schema=EDGES_SCHEMA,
    )
    return table, rank[lo], rank[hi]


def _source_matrix(table: pa.Table) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Duplicate pairs (all pairs of members of each cluster) by (source, source), symmetric;
    and clustered documents per source. `table` is sorted by cluster (CLUSTERS_SCHEMA order).
    From the (cluster, source) member counts: c(c-1)/2 pairs inside one source, ca*cb across
    two; numpy over the counts, not a join of the counts with themselves."""
    if table.num_rows == 0:
        return {}, {}
    cl = table.column("cluster").combine_chunks()
    enc = pc.dictionary_encode(table.column("source").combine_chunks())
    names = enc.dictionary.to_pylist()
    src = enc.indices.to_numpy().astype(np.int64)
    n_src = len(names)
    new_cluster = np.ones(len(src), dtype=bool)
    new_cluster[1:] = np.asarray(pc.not_equal(cl.slice(1), cl.slice(0, len(cl) - 1)))
    run = np.cumsum(new_cluster) - 1
    # (cluster, source) entries with their member counts, in cluster order
    code = run * np.int64(n_src) + src
    code.sort()
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    starts = np.flatnonzero(first)
    count = np.diff(starts, append=len(code))
    e_run, e_src = code[starts] // n_src, code[starts] % n_src
    pairs = np.zeros((n_src, n_src), dtype=np.int64)
    np.add.at(pairs, (e_src, e_src), count * (count - 1) // 2)
    # entries of one cluster are contiguous: every two entries of a cluster, both orders
    e_first = np.ones(len(e_run), dtype=bool)
    e_first[1:] = e_run[1:] != e_run[:-1]
    r_starts = np.flatnonzero(e_first)
    r_lens = np.diff(r_starts, append=len(e_run))
    multi = r_lens >= 2
    if multi.any():
        left, right = _pairs_in_runs(r_starts[multi], r_lens[multi])
        prod = count[left] * count[right]
        np.add.at(pairs, (e_src[left], e_src[right]), prod)
        np.add.at(pairs, (e_src[right], e_src[left]), prod)
    matrix = {
        x: {y: int(pairs[i, j]) for y, j in sorted((names[j], j) for j in range(n_src)) if pairs[i, j]}
        for x, i in sorted((names[i], i) for i in range(n_src))
    }
    matrix = {x: row for x, row in matrix.items() if row}
    per = np.bincount(src, minlength=n_src)
    docs = {names[i]: int(per[i]) for i in sorted(range(n_src), key=lambda i: names[i]) if per[i]}
    return matrix, docs

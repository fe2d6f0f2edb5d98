"""Cost curve of the partitioned cluster phase (issue #18): seconds and peak memory per process at
1M, 4M, 16M documents with 1 and 2 workers, printed as JSON.

Staged shards (100k rows each: id, source, key_hash, key_hash_cs, dedup_group, n_chars, minhash
fixed_size_list<uint32>[128]) come from a seeded generator like bench/dedup_memory.py's, vectorised:
random signatures, 10% near-duplicates (a share of values in [0, 0.3] redrawn) of a document of the
same or the previous shard, 2% exact copies (same key_hash; a quarter of them in their original's dedup group), 5% of
documents in a dedup group, and
0.3% templated pages sharing their first band (buckets above the all-pairs limit: the greedy path).
Each staged shard's sidecar is written as the tag task writes it (in a pool of the largest worker
count: that is tag-phase work, reported apart as `sidecar_seconds`, not in the cluster phase).

The cluster phase (`pipeline.dedup.cluster.cluster`: plan -> partition tasks -> verify tasks ->
components -> outputs) runs in a fresh driver subprocess per (size, workers); the partition and
verify tasks run in a process pool of `workers` processes (`pipeline.dedup.pool.pool_map`, the
library's mechanism for `curate shard`/run_local; the Prefect flow maps the same
`partition_edges` and `verify_pairs` over its Dask workers).
The pool starts before the clock and closes after it (a run's Dask workers are up before its
cluster phase and stay up after it): `pool_start_seconds` and `pool_close_seconds` apart.
`max_peak_rss_mb` is the largest ru_maxrss of the driver and of every pool process (each partition
task reports its process's). `output_sha256`: of clusters.parquet and the keeper flags.

`--repeat N` runs each (size, workers) N times in a row and `summary` gives, from the best of the
N (on these shared machines a run only ever gets slower from other load: 2-2.8x slower CPU-bound
tasks were seen minutes apart), seconds per million documents by size, each size's ratio to the
smallest size's (the acceptance's "16M within 1.3x of 1M", `per_million_ratio_to_smallest`) and
the speed-up of each worker count over one worker (`speedup_over_1_worker`, same size).

    python bench/cluster_scale.py [--sizes 1M,4M,16M] [--workers 1,2] [--repeat 1] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARD_ROWS = 100_000
NUM_PERM = 128
_HEXCHARS = b"0123456789abcdef"


def _hex_strings(keys: "object") -> "object":
    """(m, 2) uint64 -> pa.string array of 32 hex digits each, vectorised."""
    import numpy as np
    import pyarrow as pa

    k = np.ascontiguousarray(keys).astype(">u8").view(np.uint8).reshape(len(keys), 16)
    nib = np.stack([k >> 4, k & 15], axis=2).reshape(len(keys), 32)
    data = np.frombuffer(_HEXCHARS, np.uint8)[nib].reshape(-1)
    offsets = np.arange(0, 32 * len(keys) + 1, 32, dtype=np.int32)
    return pa.StringArray.from_buffers(len(keys), pa.py_buffer(offsets), pa.py_buffer(data))


def generate_shard(folder: Path, shard: int, m: int, seed: int, prev_sig: "object" = None) -> tuple[Path, "object"]:
    """One seeded staged shard (module doc); returns its path and its signatures (the next shard's
    cross-shard duplicates copy from them)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng([seed, shard])
    sig = rng.integers(0, 2**32 - 1, size=(m, NUM_PERM), dtype=np.uint32)
    keys = rng.integers(0, 2**63, size=(m, 2), dtype=np.uint64)
    near = np.flatnonzero(rng.random(m) < 0.10)
    src = rng.integers(0, m, size=len(near))
    pool = sig.copy() if prev_sig is None else np.concatenate([sig, prev_sig])
    cross = rng.random(len(near)) < (0.3 if prev_sig is not None else 0.0)
    src = np.where(cross, m + rng.integers(0, len(pool) - m, size=len(near)) if prev_sig is not None else src, src)
    rows = pool[src]
    redraw = rng.random((len(near), NUM_PERM)) < rng.uniform(0, 0.3, size=(len(near), 1))
    rows[redraw] = rng.integers(0, 2**32 - 1, size=int(redraw.sum()), dtype=np.uint32)
    sig[near] = rows
    exact = np.flatnonzero(rng.random(m) < 0.02)
    esrc = rng.integers(0, m, size=len(exact))
    sig[exact] = sig[esrc]
    keys[exact] = keys[esrc]
    templ = np.flatnonzero(rng.random(m) < 0.003)
    sig[templ, :8] = np.arange(8, dtype=np.uint32) + np.uint32(shard % 2)  # one shared first band
    key_hash = _hex_strings(keys)
    groups = rng.integers(0, 2000, size=m)
    has_group = rng.random(m) < 0.05
    tree = exact[rng.random(len(exact)) < 0.25]  # a quarter of the exact copies: same message tree (exempt)
    tsrc = esrc[np.isin(exact, tree)]
    groups[tree], has_group[tree], has_group[tsrc] = groups[tsrc], True, True
    gstr = pc.binary_join_element_wise("tree-", pc.cast(pa.array(groups), pa.string()), "")
    ids = pc.binary_join_element_wise(f"gen/{shard:05d}/", pc.utf8_lpad(pc.cast(pa.array(np.arange(m)), pa.string()), 6, "0"), "")
    sources = pa.array(["redpajama", "oasst", "wudao", "zhwiki"]).take(pa.array(rng.integers(0, 4, size=m)))
    t = pa.table(
        {
            "id": ids,
            "source": sources,
            "key_hash": key_hash,
            "key_hash_cs": key_hash,
            "dedup_group": pc.if_else(pa.array(has_group), gstr, pa.scalar(None, pa.string())),
            "n_chars": rng.integers(50, 5000, size=m),
            "minhash": pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1), type=pa.uint32()), NUM_PERM),
        }
    )
    path = folder / f"staged-{shard:05d}.parquet"
    pq.write_table(t, path)
    return path, sig


def generate(folder: Path, n: int, seed: int, shard_rows: int = SHARD_ROWS) -> list[Path]:
    """Seeded staged shards of n documents in total (module doc)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, prev = [], None
    for shard, lo in enumerate(range(0, n, shard_rows)):
        path, prev = generate_shard(folder, shard, min(shard_rows, n - lo), seed, prev)
        paths.append(path)
    return paths


def _sidecar(path: str) -> int:
    from pipeline.config import DedupConfig
    from pipeline.dedup.sidecar import sidecar_path, write_sidecar
    from pipeline.layout import Store, url_to_fs

    store = Store(*url_to_fs("/"), "/")
    write_sidecar(store, path, store, sidecar_path(path), DedupConfig())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)


def child(folder: Path, work: Path, workers: int) -> dict[str, object]:
    """The cluster phase in this (driver) process, partition tasks in a pool of `workers`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.config import DedupConfig
    from pipeline.dedup.cluster import cluster
    from pipeline.dedup.pool import pool_map
    from pipeline.dedup.keepers import choose_keepers
    from pipeline.dedup.sidecar import sidecar_path
    from pipeline.layout import Store, url_to_fs

    store = Store(*url_to_fs("/"), "/")
    # the pool's processes start before the clock, as a run's Dask workers are up before its
    # cluster phase; their start-up is reported apart (`pool_start_seconds`)
    pool = pool_map(workers)
    t0 = time.perf_counter()
    pool.start()
    pool_start = time.perf_counter() - t0
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    try:
        res = cluster(
            sorted(folder.glob("staged-*.parquet")), work, DedupConfig(), store=store, sidecar_store=store, sidecar_of=sidecar_path,
            workers=workers, map_fn=pool,
        )
        seconds = time.perf_counter() - t0
    finally:
        # the pool's shutdown (joining its processes: ~0.1 s) is not the phase's either: a run's
        # Dask workers stay up after it; reported apart like the start-up
        t1 = time.perf_counter()
        pool.close()
        pool_close = time.perf_counter() - t1
    driver = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
    h = hashlib.sha256((work / "clusters.parquet").read_bytes())
    keepers = choose_keepers(pq.read_table(work / "clusters.parquet"), [])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, keepers.schema) as w:
        w.write_table(keepers.combine_chunks())
    h.update(sink.getvalue().to_pybytes())
    return {
        "docs": res.n_docs,
        "workers": workers,
        "seconds": round(seconds, 2),
        "seconds_by_step": {k: round(v, 2) for k, v in res.seconds.items()},
        "pool_close_seconds": round(pool_close, 2),
        "pool_start_seconds": round(pool_start, 1),
        "max_peak_rss_mb": max(driver, res.task_peak_rss_mb),
        "driver_peak_rss_mb": driver,
        "task_peak_rss_mb": res.task_peak_rss_mb,
        "partitions": res.n_partitions,
        "clusters": res.n_clusters,
        "clustered_docs": res.n_clustered_docs,
        "near_edges": res.n_near_edges,
        "candidate_pairs": res.n_candidate_pairs,
        # signature comparisons of all tasks: each distinct candidate pair once (verify tasks) plus
        # the greedy passes over over-large buckets; the same whatever the partition count
        "comparisons": res.n_comparisons,
        "exact_edges": res.n_exact_edges,
        "output_sha256": h.hexdigest(),
        "loadavg_1m_before": round(load_before, 2),  # other jobs on this shared machine
    }


def _size(s: str) -> int:
    s = s.strip().upper()
    mult = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(s[-1:], 1)
    return int(float(s.rstrip("KMG")) * mult)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1M,4M,16M")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each (size, workers); the summary takes the best")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="generate into DIR and keep it (reused when present)")
    ap.add_argument("--child", nargs=3, metavar=("FOLDER", "WORK", "WORKERS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), int(args.child[2]))))
        return
    workers = [int(w) for w in args.workers.split(",")]
    runs, prep = [], []
    for n in (_size(s) for s in args.sizes.split(",")):
        base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="cluster-scale-"))
        folder = base / f"docs-{n}"
        try:
            t0 = time.perf_counter()
            if not folder.exists() or not list(folder.glob("staged-*.parquet")):
                generate(folder, n, args.seed)
            gen = time.perf_counter() - t0
            t0 = time.perf_counter()
            with ProcessPoolExecutor(max(workers)) as pool:
                side_rss = max(pool.map(_sidecar, [str(p) for p in sorted(folder.glob("staged-*.parquet"))]))
            prep.append({"docs": n, "generate_seconds": round(gen, 1), "sidecar_seconds": round(time.perf_counter() - t0, 1), "sidecar_peak_rss_mb": side_rss})
            for _ in range(max(args.repeat, 1)):
                for w in workers:
                    work = base / f"work-{n}-{w}"
                    shutil.rmtree(work, ignore_errors=True)
                    out = subprocess.run(
                        [sys.executable, __file__, "--child", str(folder), str(work), str(w)], check=True, capture_output=True, text=True
                    )
                    runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
                    print(json.dumps(runs[-1]), file=sys.stderr, flush=True)
                    shutil.rmtree(work, ignore_errors=True)
        finally:
            if not args.keep:
                shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"runs": runs, "summary": summary(runs), "tag_phase_sidecars": prep, "cpus": os.cpu_count()}, indent=2))


def summary(runs: list[dict[str, object]]) -> dict[str, object]:
    """Best-of-repeat seconds per (size, workers) and the two acceptance ratios (module doc). Runs of
    one size must agree on the outputs (`outputs_identical`: whatever the worker count or run)."""
    best: dict[tuple[int, int], float] = {}
    shas: dict[int, set[str]] = {}
    for r in runs:
        key = (int(r["docs"]), int(r["workers"]))  # type: ignore[call-overload]
        best[key] = min(best.get(key, float("inf")), float(r["seconds"]))  # type: ignore[arg-type]
        shas.setdefault(key[0], set()).add(str(r["output_sha256"]))
    sizes = sorted({d for d, _ in best})
    out: dict[str, object] = {"best_seconds": {f"{d}/{w}w": s for (d, w), s in sorted(best.items())}}
    per_m = {(d, w): s / (d / 1e6) for (d, w), s in best.items()}
    out["seconds_per_million"] = {f"{d}/{w}w": round(v, 3) for (d, w), v in sorted(per_m.items())}
    out["per_million_ratio_to_smallest"] = {
        f"{d}/{w}w": round(v / per_m[(sizes[0], w)], 3) for (d, w), v in sorted(per_m.items()) if (sizes[0], w) in per_m
    }
    out["speedup_over_1_worker"] = {
        f"{d}/{w}w": round(best[(d, 1)] / s, 3) for (d, w), s in sorted(best.items()) if w != 1 and (d, 1) in best
    }
    out["outputs_identical"] = {str(d): len(v) == 1 for d, v in sorted(shas.items())}
    return out


if __name__ == "__main__":
    main()

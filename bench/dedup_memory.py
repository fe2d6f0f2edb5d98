"""Peak memory of the cluster step for 100k and 1M documents' signatures, next to an in-memory
datasketch MinHashLSH of the same signatures, printed as JSON.

Staged shards (100k rows each: id, source, key_hash, key_hash_cs, dedup_group, n_chars, minhash
fixed_size_list<uint32>[128]) are generated with a seeded generator into a temporary folder: random
signatures, 10% near-duplicates of another document (a share of values in [0, 0.3] redrawn),
2% exact copies (same key_hash), 5% of documents in a dedup group. Each measurement runs in its own
subprocess and reports its `ru_maxrss` (peak resident set, file-backed pages of the memory-mapped
signature matrix included) and its resident size after imports (the Python + numpy + pyarrow
floor), so the two methods are compared on what they add.

    python bench/dedup_memory.py [--sizes 100000 1000000] [--lsh-max 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SHARD_ROWS = 100_000
NUM_PERM = 128


def rss_now_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def generate(folder: Path, n: int, seed: int) -> list[Path]:
    """Seeded staged shards of n documents in total (see module doc)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    sources = np.array(["redpajama", "oasst", "wudao", "zhwiki"])
    for shard, lo in enumerate(range(0, n, SHARD_ROWS)):
        m = min(SHARD_ROWS, n - lo)
        sig = rng.integers(0, 2**32 - 1, size=(m, NUM_PERM), dtype=np.uint32)
        keys = rng.integers(0, 2**63, size=(m, 2), dtype=np.uint64)
        near = np.flatnonzero(rng.random(m) < 0.10)
        src = rng.integers(0, m, size=len(near))
        for i, j in zip(near.tolist(), src.tolist()):
            redraw = rng.random(NUM_PERM) < rng.uniform(0, 0.3)
            row = sig[j].copy()
            row[redraw] = rng.integers(0, 2**32 - 1, size=int(redraw.sum()), dtype=np.uint32)
            sig[i] = row
        exact = np.flatnonzero(rng.random(m) < 0.02)
        esrc = rng.integers(0, m, size=len(exact))
        sig[exact] = sig[esrc]
        keys[exact] = keys[esrc]
        key_hash = [f"{a:016x}{b:016x}" for a, b in keys.tolist()]
        groups = rng.integers(0, 2000, size=m)
        has_group = rng.random(m) < 0.05
        t = pa.table(
            {
                "id": [f"gen/{shard:04d}/{i:06d}" for i in range(m)],
                "source": sources[rng.integers(0, len(sources), size=m)].tolist(),
                "key_hash": key_hash,
                "key_hash_cs": key_hash,
                "dedup_group": pa.array([f"tree-{g}" if h else None for g, h in zip(groups.tolist(), has_group.tolist())], pa.string()),
                "n_chars": rng.integers(50, 5000, size=m),
                "minhash": pa.FixedSizeListArray.from_arrays(pa.array(sig.reshape(-1), type=pa.uint32()), NUM_PERM),
            }
        )
        path = folder / f"staged-{shard:04d}.parquet"
        pq.write_table(t, path)
        paths.append(path)
    return paths


def child_cluster(folder: Path, work: Path) -> dict[str, object]:
    from pipeline.config import DedupConfig
    from pipeline.dedup.cluster import cluster

    base = rss_now_mb()
    t0 = time.perf_counter()
    res = cluster(sorted(folder.glob("staged-*.parquet")), work, DedupConfig())
    seconds = time.perf_counter() - t0
    return {
        "rss_after_imports_mb": round(base, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(seconds, 1),
        "seconds_by_step": {k: round(v, 1) for k, v in res.seconds.items()},
        "docs": res.n_docs,
        "partitions": res.n_partitions,
        "clusters": res.n_clusters,
        "clustered_docs": res.n_clustered_docs,
        "near_edges": res.n_near_edges,
        "exact_edges": res.n_exact_edges,
    }


def child_lsh(folder: Path, query: bool) -> dict[str, object]:
    import numpy as np
    import pyarrow.parquet as pq
    from datasketch import LeanMinHash, MinHashLSH

    base = rss_now_mb()
    t0 = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=NUM_PERM, params=(16, 8))
    sketches: list[LeanMinHash] = []
    doc = 0
    with lsh.insertion_session() as session:
        for path in sorted(folder.glob("staged-*.parquet")):
            col = pq.read_table(path, columns=["minhash"]).column("minhash").combine_chunks()
            sig = np.asarray(col.values).reshape(-1, NUM_PERM)
            for row in sig:
                m = LeanMinHash(seed=1, hashvalues=row, scheme="affine32")
                session.insert(doc, m, check_duplication=False)
                if query:
                    sketches.append(m)
                doc += 1
    t_insert = time.perf_counter() - t0
    candidates = 0
    if query:
        for m in sketches:
            candidates += len(lsh.query(m)) - 1
    return {
        "rss_after_imports_mb": round(base, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds_insert": round(t_insert, 1),
        "seconds_total": round(time.perf_counter() - t0, 1),
        "docs": doc,
        "queried": query,
        "candidate_pairs_x2": candidates if query else None,
    }


def run_child(args: list[str], timeout: float) -> dict[str, object]:
    try:
        out = subprocess.run(
            [sys.executable, __file__, *args], check=True, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    except subprocess.CalledProcessError as e:
        return {"error": e.stderr[-2000:]}
    return json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--lsh-max", type=int, default=1_000_000, help="largest size also indexed with MinHashLSH")
    ap.add_argument("--lsh-query", action="store_true", help="also query every document (slow)")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, default=None, help="keep the generated shards here")
    ap.add_argument("--child", choices=["cluster", "lsh"], help=argparse.SUPPRESS)
    ap.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child == "cluster":
        print(json.dumps(child_cluster(args.dir, args.dir / "work")))
        return
    if args.child == "lsh":
        print(json.dumps(child_lsh(args.dir, args.lsh_query)))
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="dedup-memory-"))
    result: dict[str, object] = {"num_perm": NUM_PERM, "bands_x_rows": "16x8", "machine_cpus": os.cpu_count()}
    try:
        for n in args.sizes:
            folder = root / f"n{n}"
            if not folder.exists():
                t0 = time.perf_counter()
                generate(folder, n, args.seed)
                gen_s = time.perf_counter() - t0
            else:
                gen_s = 0.0
            entry: dict[str, object] = {"generate_seconds": round(gen_s, 1)}
            entry["cluster"] = run_child(["--child", "cluster", "--dir", str(folder)], args.timeout)
            if n <= args.lsh_max:
                extra = ["--lsh-query"] if args.lsh_query else []
                entry["datasketch_minhashlsh"] = run_child(["--child", "lsh", "--dir", str(folder), *extra], args.timeout)
            else:
                entry["datasketch_minhashlsh"] = {"skipped": f"size > --lsh-max {args.lsh_max}"}
            result[str(n)] = entry
            shutil.rmtree(folder / "work", ignore_errors=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

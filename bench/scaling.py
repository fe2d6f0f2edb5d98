"""Scale-out of the Prefect flow on Dask: the same corpus with 1 and with 2 local Dask workers,
printed as JSON (wall time, docs/s and speedup per stage group and in total).

Stage groups: shard-level (tag + select: one task per shard, what workers parallelise) and global
(cluster + finish: one task each, no parallelism by design). The corpus (default 200 MB) is built
from the shipped samples (data/samples) as several English and Chinese JSONL files, one shard each;
every document is shuffled with a per-file seed (words for English, characters per line for
Chinese), so files are not duplicates of each other and dedup does a real corpus's work. Both runs
report to one temporary Prefect server (PREFECT_HOME in the work directory); the outputs of the
runs are compared byte for byte. The load average before and after is printed: on a shared
2-core machine other processes take cores from the workers, so compare runs on a quiet machine.

Baseline in the same run: the tag step alone over the first --baseline-shards shards in a plain
process pool of 1 and of 2 processes (no Prefect, no Dask, models loaded before the clock starts).
Its speedup is what this machine gives this workload at two processes (cache and memory contention
included); the flow's shard-level speedup is reported beside it and as a share of it.

    python bench/scaling.py [--mb 200] [--shards 16] [--workers 1,2] [--baseline-shards 4] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from samples import chinese_texts, shuffled, web_texts  # noqa: E402

TARGET_SHARD_SPEEDUP_2 = 1.6



def write_shard(texts: list[str], path: Path, mb: float, seed: int, chinese: bool) -> int:
    """About `mb` MB of JSONL documents, each a seeded variant of a sample text."""
    rnd = random.Random(seed)
    target = int(mb * 1e6)
    size = n = 0
    with open(path, "wb") as f:
        while size < target:
            for t in texts:
                line = orjson.dumps({"text": shuffled(t, rnd, chinese)}) + b"\n"
                f.write(line)
                size += len(line)
                n += 1
                if size >= target:
                    break
    return n


def make_corpus(work: Path, mb: float, shards: int) -> Path:
    """`shards` files, half English, half Chinese, of mb/shards MB each; returns the run config."""
    inputs = work / "in"
    inputs.mkdir(parents=True, exist_ok=True)
    web, zh = web_texts(), chinese_texts()
    per = mb / shards
    for i in range(shards):
        chinese = i % 2 == 1
        name = f"{'zh' if chinese else 'en'}-{i // 2:03d}.jsonl"
        if not (inputs / name).exists():
            write_shard(zh if chinese else web, inputs / name, per, seed=1000 + i, chinese=chinese)
    config = {
        "sources": [
            {"name": "bench_en", "type": "generic", "lang": "en", "paths": [str(inputs / "en-*.jsonl")]},
            {"name": "bench_zh", "type": "generic", "lang": "zh", "paths": [str(inputs / "zh-*.jsonl")]},
        ],
    }
    path = work / "scaling.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _warm(work: str) -> None:
    """Pool initializer: loads every model once per process (fastText, BPE ranks, jieba, ...)."""
    from pipeline.config import parse_config
    from pipeline.runner import plan
    from pipeline.tag import tag_shard

    src = Path(work) / "warm.jsonl"
    if not src.exists():
        src.write_bytes(b"".join(orjson.dumps({"text": t}) + b"\n" for t in web_texts()[:20] + chinese_texts()[:20]))
    cfg = parse_config({"sources": [{"name": "warm", "type": "generic", "paths": [str(src)]}]})
    for shard, s in plan(cfg):
        tag_shard(shard, s, cfg, Path(tempfile.mkdtemp(prefix="warm-", dir=work)))


def _tag_one(args: tuple[str, int, str]) -> float:
    from pipeline.config import load_config
    from pipeline.runner import plan
    from pipeline.tag import tag_shard

    config, index, out = args
    cfg = load_config(config)
    shard, src = plan(cfg)[index]
    t0 = time.perf_counter()
    tag_shard(shard, src, cfg, Path(out))
    return time.perf_counter() - t0


def plain_pool_baseline(config: Path, work: Path, shards: int) -> dict[str, object]:
    """Tag step of the first `shards` shards (alternating en/zh files) in 1 and 2 plain processes."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from pipeline.config import load_config
    from pipeline.runner import plan

    n = min(shards, len(plan(load_config(config))))
    # plan order is all English files, then all Chinese: take from both halves
    half = len(plan(load_config(config))) // 2
    picks = [i // 2 if i % 2 == 0 else half + i // 2 for i in range(n)]
    walls: dict[int, float] = {}
    for procs in (1, 2):
        out = work / f"baseline-{procs}"
        shutil.rmtree(out, ignore_errors=True)
        with ProcessPoolExecutor(procs, mp.get_context("spawn"), initializer=_warm, initargs=(str(work),)) as pool:
            list(pool.map(time.sleep, [0.5] * procs))  # every worker started and warmed
            t0 = time.perf_counter()
            list(pool.map(_tag_one, [(str(config), i, str(out)) for i in picks]))
            walls[procs] = time.perf_counter() - t0
    return {
        "shards": n,
        "seconds_1_process": round(walls[1], 2),
        "seconds_2_processes": round(walls[2], 2),
        "speedup_2": round(walls[1] / walls[2], 2),
    }


def _hashes(out: Path) -> dict[str, str]:
    from pipeline.shards import file_sha256

    files = sorted((out / "data").rglob("*.parquet")) + [out / "stats" / "stats.json", out / "manifest.json"]
    return {p.relative_to(out).as_posix(): file_sha256(p) for p in files}


def _rate(docs: int, secs: float) -> float:
    return round(docs / secs, 1) if secs > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=200.0, help="megabytes of input in total")
    ap.add_argument("--shards", type=int, default=16, help="input files (one shard each), half English, half Chinese")
    ap.add_argument("--workers", default="1,2", help="comma-separated Dask worker counts to run")
    ap.add_argument("--baseline-shards", type=int, default=4, help="shards in the plain process-pool baseline (0: skip it)")
    ap.add_argument("--keep", type=Path, default=None, help="work directory to keep (the corpus is reused when present)")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="curate-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    # Prefect reads its settings at import: a private home and quiet settings first
    os.environ.update(
        {
            "PREFECT_HOME": str(work / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "1",
            "PREFECT_SERVER_UI_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_LOGGING_TO_API_ENABLED": "false",
            "DASK_LOGGING__DISTRIBUTED": "warning",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
        }
    )
    os.environ.pop("PREFECT_API_URL", None)
    from flows.workers import run_curation
    from flows.prefect_api import temporary_api

    try:
        g0 = time.perf_counter()
        config = make_corpus(work, args.mb, args.shards)
        gen = time.perf_counter() - g0
        input_mb = sum(p.stat().st_size for p in (work / "in").glob("*.jsonl")) / 1e6
        load_before = os.getloadavg()
        runs: dict[str, dict[str, object]] = {}
        hashes: dict[int, dict[str, str]] = {}
        with temporary_api():  # one server for both runs: its start-up is in neither
            for n in [int(x) for x in args.workers.split(",")]:
                out = work / f"out-{n}"
                shutil.rmtree(out, ignore_errors=True)
                w0 = time.perf_counter()
                outcome = run_curation(str(config), str(out), workers=n)
                wall = time.perf_counter() - w0
                s = outcome.seconds
                stages = outcome.summary.stats.to_dict()["stages"]
                docs = stages["read"]["total"]["docs_in"]
                shard_level = s["tag"] + s["select"]
                global_ = s["cluster"] + s["finish"]
                runs[str(n)] = {
                    "workers": n,
                    "docs": docs,
                    "kept_docs": outcome.summary.stats.to_dict()["sizes"]["total"]["docs"],
                    "seconds": {k: round(v, 2) for k, v in s.items()}
                    | {"shard_level": round(shard_level, 2), "global": round(global_, 2), "wall_incl_cluster_start": round(wall, 2)},
                    "docs_per_s": {
                        "tag": _rate(docs, s["tag"]),
                        "select": _rate(stages["language"]["total"]["docs_in"], s["select"]),
                        "shard_level": _rate(docs, shard_level),
                        "global": _rate(docs, global_),
                        "total": _rate(docs, s["total"]),
                    },
                    "mb_per_s_total": round(input_mb / s["total"], 2),
                }
                hashes[n] = _hashes(out)
        baseline = plain_pool_baseline(config, work, args.baseline_shards) if args.baseline_shards else None
        load_after = os.getloadavg()
        base = runs.get("1")
        speedup: dict[str, dict[str, float]] = {}
        if base:
            b = base["seconds"]
            for key, r in runs.items():
                if key == "1":
                    continue
                rs = r["seconds"]
                speedup[key] = {g: round(b[g] / rs[g], 2) for g in ("tag", "select", "shard_level", "cluster", "finish", "global", "total")}  # type: ignore[index]
        result = {
            "benchmark": "curate run on a local Dask cluster (prefect-dask), 1 vs N workers, one thread each",
            "input_mb": round(input_mb, 1),
            "input_shards": args.shards,
            "corpus_generation_s": round(gen, 1),
            "cpu_count": os.cpu_count(),
            "load_avg_1_5_15_before": [round(x, 2) for x in load_before],
            "load_avg_1_5_15_after": [round(x, 2) for x in load_after],
            "runs": runs,
            "speedup_vs_1_worker": speedup,
            "target_shard_level_speedup_at_2": TARGET_SHARD_SPEEDUP_2,
            "meets_target": speedup.get("2", {}).get("shard_level", 0.0) >= TARGET_SHARD_SPEEDUP_2 if "2" in speedup else None,
            "baseline_plain_process_pool_tag": baseline,
            "shard_level_speedup_share_of_baseline": round(speedup["2"]["shard_level"] / baseline["speedup_2"], 2)
            if baseline and "2" in speedup
            else None,
            "identical_outputs": len({json.dumps(h, sort_keys=True) for h in hashes.values()}) == 1,
            "note": "phase times are measured in the flow (tag = all tag tasks, ...); wall_incl_cluster_start adds "
            "starting the Dask workers. The flow process and the Prefect server share the cores with the workers.",
        }
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

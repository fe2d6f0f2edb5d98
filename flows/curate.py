"""The curation flow: tag tasks mapped over input shards, select tasks over tagged shards, finish.

Tasks pass paths and small stats objects, never documents, so the same flow can run its tasks in
other processes or on other machines. All work is done by the library; this module only maps it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipeline.config import RunConfig, SourceConfig, load_config
from pipeline.runner import RunSummary, cluster_step, finish, plan, reset_select
from pipeline.select import SelectResult, select_shard
from pipeline.sources import InputShard
from pipeline.tag import TagResult, tag_shard


@task(name="tag", task_run_name="tag {shard.source}/{shard.name}", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def tag_task(shard: InputShard, src: SourceConfig, cfg: RunConfig, out: str) -> TagResult:
    logger = get_run_logger()
    start = time.perf_counter()
    res = tag_shard(shard, src, cfg, Path(out))
    if res.skipped:
        logger.info("skipped %s: already tagged with the same config and input (key %s)", shard.name, res.key[:12])
    else:
        read = res.stats.stage_total("read")
        secs = time.perf_counter() - start
        logger.info(
            "tagged %s: %d documents, %d rejected, %.2f MB in %.1fs (%.2f MB/s)",
            shard.name,
            read.docs_kept,
            read.docs_rejected,
            read.bytes_in / 1e6,
            secs,
            read.bytes_in / 1e6 / max(secs, 1e-9),
        )
    return res


@task(name="select", task_run_name="select {tagged.shard}", cache_policy=NO_CACHE)
def select_task(tagged: TagResult, cfg: RunConfig, out: str) -> SelectResult:
    res = select_shard(tagged.shard, tagged.staged, cfg, Path(out))
    kept = sum(s.docs for s in res.stats.sizes.values())
    get_run_logger().info("selected %s: %d documents kept", tagged.shard, kept)
    return res


@task(name="cluster", cache_policy=NO_CACHE)
def cluster_task(cfg: RunConfig, out: str, tagged: list[TagResult]) -> dict[str, Any]:
    start = time.perf_counter()
    summary = cluster_step(cfg, Path(out), tagged, reuse=all(t.skipped for t in tagged))
    get_run_logger().info("clustered duplicates in %.1fs: %s", time.perf_counter() - start, {k: v for k, v in summary.items() if not isinstance(v, (dict, list))})
    return summary


@task(name="finish", cache_policy=NO_CACHE)
def finish_task(
    cfg: RunConfig, out: str, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any]
) -> RunSummary:
    summary = finish(cfg, Path(out), tagged, selected, dedup)
    total = summary.stats.to_dict()["sizes"]["total"]
    get_run_logger().info(
        "finished: %d documents, %.2f MB, %d tokens in %d files", total["docs"], total["bytes"] / 1e6, total["tokens"], len(summary.files)
    )
    return summary


@flow(name="curate")
def curate_flow(config_path: str, out: str) -> RunSummary:
    """One curation run of CONFIG into OUT (tag -> select -> finish)."""
    cfg = load_config(config_path)
    Path(out).mkdir(parents=True, exist_ok=True)
    shards: list[tuple[InputShard, SourceConfig]] = plan(cfg)
    # Tasks run one after another in this process: the work is CPU-bound Python, so threads would
    # only interleave under the GIL (and blur the per-shard MB/s in the logs).
    tagged = [tag_task(shard, src, cfg, out) for shard, src in shards]
    reset_select(Path(out))
    dedup = cluster_task(cfg, out, tagged)  # reuses clusters when every shard's tags were reused
    selected = [select_task(t, cfg, out) for t in tagged]
    return finish_task(cfg, out, tagged, selected, dedup)

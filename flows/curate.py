"""The curation flow: tag tasks mapped over input shards, the cluster phase (a plan task, one task
per band partition then one per pair bucket mapped over the workers, then components + keepers), select tasks mapped over
tagged shards, then the finish task (stats, report, card: `pipeline.runner.finish`), in the order
of the library's one phase driver (`pipeline.driver.run_phases`), which `PrefectPhases` serves.

Tasks pass paths, configs and small stats objects, never documents, so the same flow runs its tasks
in this process (default: one at a time) or in Dask worker processes on this or other machines
(`flows.workers`). Every task writes under OUT only through the library's atomic writes, and tag
tasks are skipped when their shard is staged under the same key, so a killed run resumes where it
stopped. All work is done by the library; this module only maps it and reports.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run as prefect_flow_run
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import TaskRun
from prefect.states import State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import Task, exponential_backoff

from pipeline.config import RunConfig, SourceConfig, load_config
from pipeline.layout import Layout
from pipeline.lock import OutLock
from pipeline.dedup.cluster import cluster_tasks
from pipeline.dedup.edges import partition_edges
from pipeline.dedup.verify import verify_pairs
from pipeline.dedup.plan import ClusterPlan
from pipeline.driver import run_phases
from pipeline.runner import ClusterWork, RunSummary, cluster_begin, cluster_end, finish, plan
from pipeline.select import SelectResult, select_shard
from pipeline.sources import InputShard
from pipeline.tag import TagResult, tag_shard

#: Seconds between progress lines of a running tag task.
PROGRESS_EVERY = 10.0
#: Retries of the I/O-bound shard tasks (reads of inputs, maybe over the network; staged writes).
IO_RETRIES = 2
#: Artifact key of the run summary (a new version per run in the UI's Artifacts page).
ARTIFACT_KEY = "curate-run-summary"


def retry_on_io(task: Task[Any, Any], task_run: TaskRun, state: State[Any]) -> bool:
    """Retry transient I/O failures only (network, EIO: OSError, which requests' and fsspec's errors
    are); a full disk, a denied write, a bad config or a bug fail the same way again, so at once."""
    from pipeline.errors import retryable

    return retryable(state.data) if isinstance(state.data, BaseException) else False


_io_retries: dict[str, Any] = {
    "retries": IO_RETRIES,
    "retry_delay_seconds": exponential_backoff(backoff_factor=5),  # 5 s, then 10 s
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_on_io,
}


class _LogProgress:
    """tag_shard's progress callback: a log line every PROGRESS_EVERY seconds (documents, MB/s),
    so a long shard shows it is moving in the flow run's logs and on the worker's console."""

    def __init__(self, shard: str, log: Callable[..., None]) -> None:
        self.shard = shard
        self.log = log
        self.start = self.last = time.perf_counter()
        self.docs = 0
        self.bytes = 0

    def __call__(self, docs: int, n_bytes: int) -> None:
        self.docs += docs
        self.bytes += n_bytes
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY:
            self.last = now
            secs = now - self.start
            self.log(
                "tag %s: %d documents, %.1f MB so far (%.2f MB/s)", self.shard, self.docs, self.bytes / 1e6, self.bytes / 1e6 / secs
            )


@task(name="tag", task_run_name="tag {shard.source}/{shard.name}", cache_policy=NO_CACHE, **_io_retries)
def tag_task(shard: InputShard, src: SourceConfig, cfg: RunConfig, out: Layout) -> TagResult:
    """One input shard -> staged tags under OUT/.staging (skipped when staged with the same key)."""
    logger = get_run_logger()
    start = time.perf_counter()
    res = tag_shard(shard, src, cfg, out, progress=_LogProgress(shard.name, logger.info))
    if res.skipped:
        logger.info("skipped %s: already tagged with the same config and input (key %s)", shard.name, res.key[:12])
    else:
        read = res.stats.stage_total("read")
        secs = time.perf_counter() - start
        logger.info(
            "tagged %s: %d documents (%d rejected), %.2f MB in %.1fs (%.2f MB/s, %.0f docs/s)",
            shard.name,
            read.docs_in,
            read.docs_rejected,
            read.bytes_in / 1e6,
            secs,
            read.bytes_in / 1e6 / max(secs, 1e-9),
            read.docs_in / max(secs, 1e-9),
        )
    return res


@task(name="cluster-plan", cache_policy=NO_CACHE)
def cluster_plan_task(cfg: RunConfig, out: Layout, tagged: list[TagResult], reuse: bool, workers: int = 1) -> ClusterWork:
    """Global, first part: drops what an earlier select derived, checks ids, and plans the band
    partitions over the staged shards' sidecars (or decides the clusters of the same key are reused:
    `reuse`, when every shard's tags were reused)."""
    cw = cluster_begin(cfg, out, tagged, reuse=reuse, workers=workers)
    logger = get_run_logger()
    if cw.plan is not None:
        logger.info("cluster: %d documents in %d band partitions (%.1fs to plan)", cw.plan.n_docs, cw.plan.partitions, cw.seconds["plan"])
    elif cw.enabled:
        logger.info("cluster: reusing the clusters of the same key")
    return cw


@task(name="cluster-partition", task_run_name="cluster partition {part:05d}", cache_policy=NO_CACHE, **_io_retries)
def cluster_partition_task(plan: ClusterPlan, part: int) -> dict[str, int]:
    """One band partition: its buckets from every shard's sidecar, its candidate pairs by pair
    bucket, large buckets and exact keys verified, under OUT/.staging/dedup/_parts (rewritten
    whole on a retry). Gets the plan only (paths and offsets), not the tag results."""
    start = time.perf_counter()
    counts = partition_edges(plan, part)
    lo, hi = plan.ranges[part]
    get_run_logger().info(
        "partition %d (fine buckets %d-%d): %d candidate pairs for verification in %.1fs, peak RSS %d MB",
        part, lo, hi - 1, counts["pairs_written"], time.perf_counter() - start, counts["peak_rss_mb"],
    )
    return counts


@task(name="cluster-verify", task_run_name="cluster verify {bucket:05d}", cache_policy=NO_CACHE, **_io_retries)
def cluster_verify_task(plan: ClusterPlan, bucket: int) -> dict[str, int]:
    """One pair bucket: its candidate pairs from every partition, each distinct pair compared once
    against the signatures it needs; its edges under OUT/.staging/dedup/_parts."""
    start = time.perf_counter()
    counts = verify_pairs(plan, bucket)
    get_run_logger().info(
        "pair bucket %d: %d comparisons, %d candidate pairs counted here, in %.1fs, peak RSS %d MB",
        bucket, counts["n_comparisons"], counts["n_candidate_pairs"], time.perf_counter() - start, counts["peak_rss_mb"],
    )
    return counts


def _task_map(fn: Callable[[ClusterPlan, int], dict[str, int]], plan: ClusterPlan, parts: list[int]) -> list[dict[str, int]]:
    """The cluster phase's `map_fn` in the flow: one task run per part, spread over the workers."""
    task_of = {partition_edges: cluster_partition_task, verify_pairs: cluster_verify_task}
    return list(task_of[fn].map(unmapped(plan), parts).result())


@task(name="cluster", cache_policy=NO_CACHE)
def cluster_task(cfg: RunConfig, out: Layout, cw: ClusterWork) -> tuple[dict[str, Any], dict[str, float]]:
    """Global, last part: components over the edges, clusters/edges/stats, one keeper per cluster.
    Returns the summary and the seconds per step (kept out of stats.json)."""
    summary = cluster_end(cfg, out, cw)
    if summary.get("enabled"):
        get_run_logger().info(
            "clustered duplicates: %s documents, %s clusters, %s duplicates (%s exact edges, %s near); %s",
            summary.get("n_docs"),
            summary.get("n_clusters"),
            summary.get("n_duplicates"),
            summary.get("n_exact_edges"),
            summary.get("n_near_edges"),
            ", ".join(f"{k} {v:.1f}s" for k, v in cw.seconds.items()),
        )
    else:
        get_run_logger().info("dedup off")
    return summary, dict(cw.seconds)


@task(name="select", task_run_name="select {tagged.source}/{tagged.shard}", cache_policy=NO_CACHE, **_io_retries)
def select_task(tagged: TagResult, cfg: RunConfig, out: Layout) -> SelectResult:
    """One tagged shard -> kept parts per source/lang + rejects (thresholds, keepers, words)."""
    start = time.perf_counter()
    res = select_shard(tagged.shard, tagged.staged, cfg, out)
    secs = time.perf_counter() - start
    entered = res.stats.stage_total("language")
    kept = sum(s.docs for s in res.stats.sizes.values())
    get_run_logger().info(
        "selected %s: %d of %d documents kept, %.2f MB in %.1fs (%.2f MB/s)",
        tagged.shard,
        kept,
        entered.docs_in,
        entered.bytes_in / 1e6,
        secs,
        entered.bytes_in / 1e6 / max(secs, 1e-9),
    )
    return res


@task(name="finish", cache_policy=NO_CACHE)
def finish_task(
    cfg: RunConfig, out: Layout, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any]
) -> RunSummary:
    """Final shard names, rejects, stats, manifest (and whatever else finish writes). Not retried:
    publishing moves the selected parts, so a second attempt would not find them."""
    start = time.perf_counter()
    summary = finish(cfg, out, tagged, selected, dedup)
    total = summary.stats.to_dict()["sizes"]["total"]
    get_run_logger().info(
        "finished in %.1fs: %d documents, %.2f MB, %d tokens in %d files",
        time.perf_counter() - start,
        total["docs"],
        total["bytes"] / 1e6,
        total["tokens"],
        len(summary.files),
    )
    return summary


@dataclass
class CurateOutcome:
    """What a flow run returns: the library's summary and the wall time of each phase."""

    summary: RunSummary
    seconds: dict[str, float] = field(default_factory=dict)
    shards: int = 0
    flow_run_id: str = ""
    cluster_seconds: dict[str, float] = field(default_factory=dict)  # the cluster phase by step


def summary_markdown(outcome: CurateOutcome, config_path: str) -> str:
    """The run's summary for the Prefect UI: kept data per source x language, the stage funnel,
    tag reuse and phase times."""
    s = outcome.summary
    d = s.stats.to_dict()
    lines = [
        f"# curate run: `{config_path}` -> `{s.out}`",
        "",
        f"{outcome.shards} input shards, {len(s.skipped_shards)} reused (tagged earlier with the same key); "
        + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.seconds.items()),
        "",
        *(
            ["Cluster phase by step: " + ", ".join(f"{k} {v:.1f}s" for k, v in outcome.cluster_seconds.items()), ""]
            if outcome.cluster_seconds
            else []
        ),
        "## Kept documents per source and language",
        "",
        "| source | lang | docs | MB | tokens |",
        "|---|---|---:|---:|---:|",
    ]
    for src, langs in sorted(d["sizes"]["by_source"].items()):
        for lang, z in sorted(langs.items()):
            lines.append(f"| {src} | {lang} | {z['docs']:,} | {z['bytes'] / 1e6:,.2f} | {z['tokens']:,} |")
    t = d["sizes"]["total"]
    lines += [
        f"| **total** | | **{t['docs']:,}** | **{t['bytes'] / 1e6:,.2f}** | **{t['tokens']:,}** |",
        "",
        "## Stage funnel",
        "",
        "| stage | in | kept | rejected | top reasons |",
        "|---|---:|---:|---:|---|",
    ]
    for stage, block in d["stages"].items():
        tot = block["total"]
        reasons = sorted(tot["rejected_by_reason"].items(), key=lambda kv: (-kv[1], kv[0]))[:4]
        why = ", ".join(f"{k} {v:,}" for k, v in reasons) or "-"
        lines.append(f"| {stage} | {tot['docs_in']:,} | {tot['docs_kept']:,} | {tot['docs_rejected']:,} | {why} |")
    return "\n".join(lines) + "\n"


# Default: one task at a time in this process. The work is CPU-bound Python, so threads would only
# interleave under the GIL (and blur the per-shard MB/s); parallelism comes from Dask processes.
@flow(name="curate", task_runner=ThreadPoolTaskRunner(max_workers=1))
def curate_flow(config_path: str, out: str, staging: str | None = None, wait: bool = False, workers: int = 1) -> CurateOutcome:
    """One curation run of CONFIG into OUT (a folder or a store URL), holding OUT's lock:
    tag (per shard) -> cluster (plan, one task per band partition, components + keepers) ->
    select (per shard) -> finish. `wait`: wait for another run's lock instead of failing.
    `workers`: how many workers run the tasks (the band partitions come in multiples of it)."""
    logger = get_run_logger()
    cfg = load_config(config_path)
    lay = Layout(out, staging)  # local paths become absolute: tasks may run with another working directory
    with OutLock(lay, wait=wait, log=logger.info):
        return _run(cfg, config_path, lay, workers)


class PrefectPhases:
    """The phases as Prefect tasks (driver.Phases): tag and select mapped over shards, one task
    per band partition, the global steps as single tasks. Each phase passes the previous phase's
    futures on, so the UI draws the run's graph; the runner (this process's threads, or Dask
    workers) decides where they run."""

    def __init__(self, cfg: RunConfig, lay: Layout, workers: int = 1) -> None:
        self.cfg, self.lay, self.workers = cfg, lay, workers
        self._tagged: Any = None
        self._cluster: Any = None
        self._selected: Any = None

    def tag(self, shards: Sequence[tuple[InputShard, SourceConfig]]) -> list[TagResult]:
        self._tagged = tag_task.map([s for s, _ in shards], [src for _, src in shards], unmapped(self.cfg), unmapped(self.lay))
        return list(self._tagged.result())

    def cluster_begin(self, tagged: list[TagResult], reuse: bool) -> ClusterWork:
        return cluster_plan_task.submit(self.cfg, self.lay, self._tagged or tagged, reuse, self.workers).result()

    def cluster_partitions(self, cw: ClusterWork) -> None:
        assert cw.plan is not None  # one task run per band partition, then per pair bucket
        cluster_tasks(cw.plan, _task_map, cw.seconds)

    def cluster_end(self, cw: ClusterWork) -> tuple[dict[str, Any], dict[str, float]]:
        self._cluster = cluster_task.submit(self.cfg, self.lay, cw)
        return self._cluster.result()

    def select(self, tagged: list[TagResult]) -> list[SelectResult]:
        self._selected = select_task.map(self._tagged or tagged, unmapped(self.cfg), unmapped(self.lay), wait_for=[self._cluster])
        return list(self._selected.result())  # raises the first select failure here, not as finish's upstream error

    def finish(self, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any]) -> RunSummary:
        return finish_task.submit(self.cfg, self.lay, self._tagged or tagged, self._selected or selected, dedup).result()

    def close(self) -> None:
        pass


def _run(cfg: RunConfig, config_path: str, lay: Layout, workers: int = 1) -> CurateOutcome:
    logger = get_run_logger()
    shards: list[tuple[InputShard, SourceConfig]] = plan(cfg)
    logger.info("%d input shards from %d sources -> %s", len(shards), len(cfg.sources), lay.out.display(lay.out.root))
    res = run_phases(PrefectPhases(cfg, lay, workers), shards, log=logger.info)
    outcome = CurateOutcome(
        summary=res.summary, seconds=res.seconds, shards=len(shards), flow_run_id=str(prefect_flow_run.id), cluster_seconds=res.cluster_seconds
    )
    create_markdown_artifact(
        summary_markdown(outcome, config_path), key=ARTIFACT_KEY, description=f"curate run of {config_path} into {lay.out.display(lay.out.root)}"
    )
    return outcome

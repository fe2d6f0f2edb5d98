"""The export flow: one Prefect task per final shard of OUT (`pipeline.export.export_shard`), then
the manifest. Tasks pass the shard's path and options, never tokens, so they run in this process or
in Dask worker processes (`--workers N`), each writing its own files atomically; a rerun skips the
shards already exported with the same input, tokenizer and options (resume after a kill).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from pipeline.export import ExportOptions, ShardJob, check_dest, export_shard, plan, write_manifest
from pipeline.user_tokenizers import get_tokenizer


@task(name="export-shard", cache_policy=NO_CACHE, task_run_name="export {job.path}")
def export_task(job: ShardJob, dest: str, opts: ExportOptions) -> dict[str, Any]:
    entry = export_shard(job, dest, opts)
    state = "skipped (exported already)" if entry.get("skipped") else "exported"
    get_run_logger().info("%s: %s: %d documents, %d tokens", job.path, state, entry["documents"], entry["tokens"])
    return entry


@flow(name="curate-export", task_runner=ThreadPoolTaskRunner(max_workers=1))
def export_shards_flow(out: str, dest: str, opts: ExportOptions) -> dict[str, Any]:
    """Every shard of OUT as its own task, then DIR/manifest.json once all are done."""
    check_dest(out, dest)
    get_tokenizer(opts.tokenizer)  # a bad tokenizer fails here, once, not in every task
    root = Path(dest).resolve()  # tasks may run in processes with another working directory
    root.mkdir(parents=True, exist_ok=True)
    jobs = plan(out)
    get_run_logger().info("%d shards of %s -> %s (%s, %s)", len(jobs), out, root, opts.format, opts.tokenizer)
    entries: list[dict[str, Any]] = export_task.map(jobs, unmapped(str(root)), unmapped(opts)).result()
    return write_manifest(root, out, opts, entries)


def export_flow(out: str, dest: str, opts: ExportOptions, workers: int | None = None, address: str | None = None) -> dict[str, Any]:
    """One flow run; with Dask (`workers` or `address`) a temporary local Prefect API serves the run
    and its workers, as for `curate run`."""
    from flows.workers import check_remote_api, dask_task_runner
    from flows.prefect_api import temporary_api

    check_remote_api(address)
    runner = dask_task_runner(workers, address)
    flow_obj = export_shards_flow if runner is None else export_shards_flow.with_options(task_runner=runner)
    api = temporary_api() if runner is not None else contextlib.nullcontext()
    with api:
        result: dict[str, Any] = flow_obj(out=out, dest=dest, opts=opts)
    return result

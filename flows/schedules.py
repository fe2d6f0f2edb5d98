"""Scheduled runs: a deployment of the curation flow with a cron or interval schedule, served by
this process (`flow.serve`): the Prefect server's scheduler creates the runs, this process polls
for them and executes each one in a subprocess.

Needs a Prefect API that keeps running (`make server`, a remote server or Prefect Cloud): an
ephemeral server would stop with this process, and its scheduler would not create runs.
"""

from __future__ import annotations

from pathlib import Path

from prefect.types.entrypoint import EntrypointType

from flows.workers import configured_flow
from flows.prefect_api import configured_api_url
from pipeline.layout import is_url


class NoServerError(RuntimeError):
    """Serving needs a Prefect API (PREFECT_API_URL or a logged-in Prefect Cloud profile)."""


def deployment_name(config: Path, name: str | None) -> str:
    """The given name, else the config's file stem (`sample` for data/configs/sample.yaml)."""
    return name or config.stem


def serve_curation(
    config: Path,
    out: str,
    cron: str | None = None,
    interval: float | None = None,
    name: str | None = None,
    workers: int | None = None,
    address: str | None = None,
) -> None:
    """Registers the deployment `curate/<name>` with the schedule and serves it until stopped
    (SIGTERM or Ctrl-C; the schedule is paused then). One run at a time: runs of one deployment
    write the same OUT; each run waits for OUT's lock, so a scheduled run never overlaps a manual
    one (or a run served by another process)."""
    if (cron is None) == (interval is None):
        raise ValueError("give exactly one schedule: --cron or --interval")
    if not configured_api_url():
        raise NoServerError(
            "curate serve needs a Prefect server that keeps running: start one with `make server` and "
            "export PREFECT_API_URL=http://127.0.0.1:4200/api (or log in to Prefect Cloud: prefect cloud login)"
        )
    flow_obj = configured_flow(workers, address)
    flow_obj.serve(
        name=deployment_name(config, name),
        cron=cron,
        interval=interval,
        # absolute: runs start in subprocesses of this process, which may change directory
        parameters={"config_path": str(config.resolve()), "out": out if is_url(out) else str(Path(out).resolve()), "wait": True},
        description=f"curate run {config} --out {out}",
        tags=["curate"],
        limit=1,
        global_limit=1,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )

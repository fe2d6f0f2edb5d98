"""Where the flow's tasks run: in this process (default), on a local Dask cluster of N worker
processes, or on an existing Dask cluster; and which Prefect API they all report to.

Shard-level tasks are the unit of parallelism: one task per input shard (tag) and per tagged shard
(select), each a single-threaded process's worth of CPU, so workers get one thread each.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from prefect.task_runners import TaskRunner
from prefect_dask import DaskTaskRunner

from flows.curate import CurateOutcome, curate_flow
from flows.prefect_api import configured_api_url, temporary_api


def dask_task_runner(workers: int | None = None, address: str | None = None) -> DaskTaskRunner | None:
    """A DaskTaskRunner for `--workers N` (a LocalCluster of N single-threaded worker processes,
    no dashboard) or `--dask-address` (an existing scheduler); None for the in-process default."""
    if workers and address:
        raise ValueError("give either a number of local Dask workers or the address of an existing cluster, not both")
    if address:
        return DaskTaskRunner(address=address)
    if workers:
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        cluster: dict[str, Any] = {"n_workers": workers, "threads_per_worker": 1, "processes": True, "dashboard_address": None}
        return DaskTaskRunner(cluster_kwargs=cluster)
    return None


def configured_flow(workers: int | None = None, address: str | None = None) -> Any:
    """The curation flow with the task runner these options ask for."""
    runner: TaskRunner[Any] | None = dask_task_runner(workers, address)
    return curate_flow if runner is None else curate_flow.with_options(task_runner=runner)


_LOOPBACK_HOSTS = ("127.", "localhost", "[::1]", "::1")


class RemoteClusterNeedsAPI(ValueError):
    """A Dask cluster off this machine cannot reach a temporary server bound to 127.0.0.1."""


def check_remote_api(address: str | None) -> None:
    """Refuses `--dask-address` on another machine without a configured PREFECT_API_URL: the
    temporary server listens on loopback, so remote workers would report to their own localhost."""
    if not address or configured_api_url():
        return
    host = urlsplit(address if "://" in address else f"tcp://{address}").hostname or ""
    if not host.startswith(_LOOPBACK_HOSTS):
        raise RemoteClusterNeedsAPI(
            f"--dask-address {address} is not on this machine, and no PREFECT_API_URL is configured: start a "
            "Prefect server every worker can reach (`make server` on a shared host, or Prefect Cloud) and set "
            "PREFECT_API_URL on this machine and on every worker"
        )


def run_curation(
    config: str, out: str, workers: int | None = None, address: str | None = None, staging: str | None = None, wait: bool = False
) -> CurateOutcome:
    """One flow run. With Dask and no configured PREFECT_API_URL, a temporary local Prefect server
    serves the flow and every worker for the run (instead of one ephemeral server per worker); a
    cluster on another machine needs a configured API (check_remote_api)."""
    check_remote_api(address)
    runner = dask_task_runner(workers, address)
    flow_obj = curate_flow if runner is None else curate_flow.with_options(task_runner=runner)
    api = temporary_api() if runner is not None else contextlib.nullcontext()
    with api:
        outcome: CurateOutcome = flow_obj(config_path=config, out=out, staging=staging, wait=wait, workers=workers or 1)
    return outcome

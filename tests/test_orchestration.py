"""Production orchestration against real processes: a `prefect server start` on a free port, a
scheduled deployment served by `curate serve`, `curate run` killed with SIGKILL and resumed, a
changed input, a Dask cluster of `dask scheduler` + two `dask worker` processes, and `--workers 2`
with its temporary Prefect server. Every process is stopped by its PID, also when a test fails.

One server and one reference run (in process, no Prefect) serve the whole module; the reference
is computed while the server starts."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId, FlowRunFilter, FlowRunFilterId
from prefect.settings import PREFECT_API_URL, temporary_settings
from test_orchestration_resume import curate_cmd, kill_tree, result_hashes, write_corpus

from flows.prefect_api import LocalServer, free_port, launch_server
from pipeline.config import load_config
from pipeline.runner import plan, run_local

#: Quiet server settings (docs/dependencies.md) and a scheduler that looks for due runs every second.
SERVER_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("orchestration")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[LocalServer]:
    """Started first (not waited for): it boots while the reference run computes."""
    env = {**os.environ, **SERVER_ENV, "PREFECT_HOME": str(home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    srv = launch_server(port=free_port(), env=env)
    try:
        yield srv
    finally:
        srv.stop()
        assert srv.process.poll() is not None


@pytest.fixture(scope="module")
def corpus(home: Path) -> Path:
    return write_corpus(home / "in")


@pytest.fixture(scope="module")
def reference(server: LocalServer, corpus: Path, home: Path) -> dict[str, str]:
    """An uninterrupted in-process run of the corpus: what every orchestrated run must equal."""
    out = home / "reference"
    run_local(load_config(corpus), out)
    return result_hashes(out)


@pytest.fixture(scope="module")
def api_url(server: LocalServer, reference: dict[str, str]) -> str:
    return server.wait_healthy().api_url


def env_for(api: str | None, home: Path) -> dict[str, str]:
    """The test environment with Prefect's task logs on (the tests read them) and the module's
    PREFECT_HOME; PREFECT_API_URL set, or left out (then `curate run` picks the API itself)."""
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "INFO", "PREFECT_HOME": str(home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    if api:
        env["PREFECT_API_URL"] = api
    return env


def shard_names(config: Path) -> list[str]:
    return [shard.name for shard, _ in plan(load_config(config))]


def flow_run_id(stdout: str) -> str:
    m = re.search(r"^flow run: ([0-9a-f-]{36})$", stdout, re.M)
    assert m, stdout
    return m.group(1)


def task_run_states(api: str, run_id: str, expected: int, timeout: float = 60) -> dict[str, str]:
    """Task run name -> state type as the API records them (state events arrive asynchronously)."""
    deadline = time.monotonic() + timeout
    with temporary_settings(updates={PREFECT_API_URL: api}), get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
            states = {r.name: r.state_type.value if r.state_type else "" for r in runs}
            done = sum(v == "COMPLETED" for v in states.values())
            if done >= expected or time.monotonic() > deadline:
                return states
            time.sleep(0.5)


def stop_by_pid(proc: subprocess.Popen[bytes], children: list[psutil.Process] | None = None, timeout: float = 20) -> None:
    """SIGTERM by PID, SIGKILL if it lingers; then whatever children it left behind."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    for child in children or []:
        try:
            child.kill()
            child.wait(10)
        except psutil.NoSuchProcess:
            pass


def test_killed_run_resumes_remaining_shards_and_matches_a_clean_run(
    home: Path, corpus: Path, reference: dict[str, str], api_url: str
) -> None:
    names = shard_names(corpus)
    out = home / "killed"
    markers = out / ".staging" / "tagged"
    env = env_for(api_url, home)

    log = open(home / "killed.log", "wb")
    proc = subprocess.Popen(curate_cmd("run", str(corpus), "--out", str(out)), stdout=log, stderr=subprocess.STDOUT, env=env)
    children: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 180
        while not list(markers.glob("*.json")) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert list(markers.glob("*.json")), (home / "killed.log").read_text()[-3000:]
    finally:
        kill_tree(proc.pid, children)  # kill -9: no cleanup runs in the killed process
        proc.wait()
        log.close()
    done = sorted(p.name.removesuffix(".json") for p in markers.glob("*.json"))
    assert 1 <= len(done) < len(names), f"the kill came too late: {done}"
    assert not (out / "manifest.json").exists()

    rerun = subprocess.run(curate_cmd("run", str(corpus), "--out", str(out)), capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    logs = rerun.stdout + rerun.stderr
    for name in names:
        if name in done:
            assert f"skipped {name}: already tagged" in logs, name
            assert f"tagged {name}:" not in logs, name
        else:
            assert f"tagged {name}:" in logs, name
    assert f"tag: {len(names) - len(done)} shards tagged, {len(done)} skipped" in rerun.stdout
    assert result_hashes(out) == reference
    assert [p for p in (out / "data").rglob("*") if p.is_file() and not p.name.endswith(".parquet")] == []


def test_changed_inputs_redo_only_their_shards(home: Path, api_url: str) -> None:
    config = write_corpus(home / "in-changed", n_en=3, mb_each=0.3)
    cfg = load_config(config)
    names = {Path(shard.location).name: shard.name for shard, _ in plan(cfg)}
    out = home / "changed"
    run_local(cfg, out)

    # a new dump under the same name: fewer records (a new size) ...
    shorter = home / "in-changed" / "web-01.jsonl"
    lines = shorter.read_bytes().splitlines(keepends=True)
    shorter.write_bytes(b"".join(lines[: len(lines) // 2]))
    # ... and one of the same size with other content (only the mtime tells)
    same_size = home / "in-changed" / "zh-00.jsonl"
    before = same_size.stat()
    blob = same_size.read_bytes()
    swapped = blob.replace("的".encode(), "地".encode(), 1)
    assert swapped != blob and len(swapped) == len(blob)
    time.sleep(0.01)
    same_size.write_bytes(swapped)
    assert same_size.stat().st_size == before.st_size and same_size.stat().st_mtime_ns != before.st_mtime_ns

    res = subprocess.run(curate_cmd("run", str(config), "--out", str(out)), capture_output=True, text=True, env=env_for(api_url, home), timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    logs = res.stdout + res.stderr
    redone = {names["web-01.jsonl"], names["zh-00.jsonl"]}
    for name in names.values():
        if name in redone:
            assert f"tagged {name}:" in logs, name
        else:
            assert f"skipped {name}: already tagged" in logs, name
    assert f"tag: 2 shards tagged, {len(names) - 2} skipped" in res.stdout

    fresh = home / "changed-fresh"
    run_local(load_config(config), fresh)
    assert result_hashes(out) == result_hashes(fresh)


def test_existing_dask_cluster_reports_to_one_api(home: Path, corpus: Path, reference: dict[str, str], api_url: str) -> None:
    """`dask scheduler` + two `dask worker` processes on loopback, started in another directory
    and WITHOUT PREFECT_API_URL: every task run still lands in the flow's API (Prefect ships the
    flow's settings with each task), and the shards equal the in-process run's."""
    port = free_port()
    worker_env = env_for(None, home)
    work_dir = home / "dask"
    work_dir.mkdir()
    logs = {name: open(home / f"dask-{name}.log", "wb") for name in ("scheduler", "w1", "w2")}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=logs["scheduler"], stderr=subprocess.STDOUT, env=worker_env, cwd=work_dir,
            )
        )
        for name in ("w1", "w2"):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1",
                     "--no-nanny", "--no-dashboard", "--name", name],
                    stdout=logs[name], stderr=subprocess.STDOUT, env=worker_env, cwd=work_dir,
                )
            )
        out = home / "dask-out"
        res = subprocess.run(
            curate_cmd("run", str(corpus), "--out", str(out), "--dask-address", f"tcp://127.0.0.1:{port}"),
            capture_output=True, text=True, env=env_for(api_url, home), timeout=300,
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert result_hashes(out) == reference
    finally:
        for p in reversed(procs):
            stop_by_pid(p)
        for f in logs.values():
            f.close()
    worker_logs = "".join((home / f"dask-{n}.log").read_text() for n in ("w1", "w2"))
    # both workers did shard work, and none started an ephemeral Prefect server of its own
    assert "Task run 'tag web/" in worker_logs and "Starting temporary server" not in worker_logs
    for name in ("w1", "w2"):
        assert "Task run '" in (home / f"dask-{name}.log").read_text(), f"worker {name} ran no task"
    n = len(shard_names(corpus))
    run_id = flow_run_id(res.stdout)
    states = task_run_states(api_url, run_id, expected=2 * n + 2)
    assert sum(k.startswith("tag ") for k in states) == n and sum(k.startswith("select ") for k in states) == n
    assert set(states.values()) == {"COMPLETED"}, states
    # the run's summary artifact: kept documents per source x language and the stage funnel
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    assert artifact.key == "curate-run-summary" and artifact.type == "markdown"
    assert "| web | en |" in artifact.data and "| zh | zh |" in artifact.data and "| dedup |" in artifact.data


def test_local_dask_workers_share_one_temporary_server(home: Path, corpus: Path, reference: dict[str, str], api_url: str) -> None:
    """`--workers 2` with no PREFECT_API_URL: one temporary `prefect server start` for the flow and
    both workers (no ephemeral server per worker), stopped by its PID at the end."""
    out = home / "workers-out"
    res = subprocess.run(
        curate_cmd("-v", "run", str(corpus), "--out", str(out), "--workers", "2"),
        capture_output=True, text=True, env=env_for(None, home), timeout=300,
    )
    logs = res.stdout + res.stderr
    assert res.returncode == 0, logs
    m = re.search(r"started a temporary Prefect server at (http://127\.0\.0\.1:\d+/api) \(PID (\d+)\)", logs)
    assert m, logs
    assert f"stopped the temporary Prefect server (PID {m.group(2)})" in logs
    assert not psutil.pid_exists(int(m.group(2))) or psutil.Process(int(m.group(2))).status() == psutil.STATUS_ZOMBIE
    assert "Starting temporary server" not in logs  # Prefect's own ephemeral server, per process
    assert result_hashes(out) == reference
    # the temporary server kept its runs in PREFECT_HOME's database, which the module's server reads
    n = len(shard_names(corpus))
    run_id = flow_run_id(res.stdout)
    # tag and select per shard; cluster plan, 4 band partitions (2 per worker), 4 pair buckets, cluster; finish
    states = task_run_states(api_url, run_id, expected=2 * n + 11)
    assert sum(k.startswith("tag ") for k in states) == n and set(states.values()) == {"COMPLETED"}, states
    assert sorted(k for k in states if k.startswith("cluster partition ")) == [f"cluster partition {i:05d}" for i in range(4)], states
    assert sorted(k for k in states if k.startswith("cluster verify ")) == [f"cluster verify {i:05d}" for i in range(4)], states
    # the run summary artifact lists the cluster phase's time per step
    with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        (artifact,) = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    step_line = next(line for line in artifact.data.splitlines() if line.startswith("Cluster phase by step: "))
    assert all(f"{step} " in step_line for step in ("plan", "partitions", "verify", "components", "outputs", "keepers")), step_line


def test_scheduler_runs_the_served_deployment(home: Path, corpus: Path, reference: dict[str, str], api_url: str) -> None:
    """`curate serve --interval 5`: the server's scheduler creates a run (auto-scheduled) within
    seconds, the serve process executes it, and it completes with the reference outputs."""
    out = home / "served"
    env = {**env_for(api_url, home), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    log = open(home / "serve.log", "wb")
    proc = subprocess.Popen(
        curate_cmd("serve", str(corpus), "--out", str(out), "--interval", "5", "--name", "orchestration-test"),
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    children: list[psutil.Process] = []
    completed = None
    try:
        deadline = time.monotonic() + 180
        with temporary_settings(updates={PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            deployment = None
            while time.monotonic() < deadline and proc.poll() is None:
                children = psutil.Process(proc.pid).children(recursive=True) or children
                if deployment is None:
                    try:
                        deployment = client.read_deployment_by_name("curate/orchestration-test")
                    except Exception:  # not registered yet (ObjectNotFound)
                        time.sleep(0.5)
                        continue
                runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))
                completed = next((r for r in runs if r.state_type and r.state_type.value == "COMPLETED"), None)
                if completed is not None:
                    break
                time.sleep(0.5)
            if completed is not None and deployment is not None:
                # the interval keeps scheduling runs: pause it, and let a run that already started
                # finish, so no flow-run process still writes OUT while it is checked and removed
                client.pause_deployment(deployment.id)
                settle = time.monotonic() + 120
                while time.monotonic() < settle and proc.poll() is None:
                    runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])))
                    if not any(r.state_type and r.state_type.value in ("RUNNING", "PENDING", "CANCELLING") for r in runs):
                        break
                    time.sleep(0.5)
                children = psutil.Process(proc.pid).children(recursive=True) or children
        assert completed is not None, (home / "serve.log").read_text()[-4000:]
    finally:
        log.close()
        stop_by_pid(proc, children)
    assert completed.auto_scheduled, "the run was not created by the scheduler"
    assert completed.parameters == {"config_path": str(corpus.resolve()), "out": str(out.resolve()), "wait": True}  # runs wait for the lock
    assert result_hashes(out) == reference
    assert not psutil.pid_exists(proc.pid)
    shutil.rmtree(out / ".staging")  # the module's tmp dir stays small

"""A local Prefect server as a child process: one API for a flow and all of its Dask workers.

In ephemeral mode (no PREFECT_API_URL) every process that talks to Prefect starts its own
temporary server, so each Dask worker would start one (and record its task runs there, not next to
the flow run). `temporary_api()` starts one `prefect server start` on a free loopback port for the
run, points the flow, this process's children and every task's serialized settings at it, and
stops it by its PID afterwards. Its SQLite database is the default one under PREFECT_HOME, so the
run stays visible to a later `prefect server start` (`make server`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

log = logging.getLogger("curate.flows")

#: Seconds to wait for /api/health (a cold start migrates the SQLite database first: 5-15 s).
STARTUP_TIMEOUT = 120.0

# Runs `prefect server start` with PR_SET_PDEATHSIG set: a server whose parent dies (kill -9 of
# `curate run`) gets SIGTERM instead of lingering on its port. Set in a fresh single-threaded
# interpreter before exec (a preexec_fn would run in a fork of a threaded process), and a no-op
# where prctl does not exist. Linux sends the signal when the *thread* that started the server
# ends: start it from a thread that outlives it (the CLI's main thread does).
_LAUNCHER = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
except (AttributeError, OSError):
    pass
if os.getppid() != parent:  # the parent died before prctl
    sys.exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


def free_port() -> int:
    """A loopback port nobody listens on now (the server binds it a moment later)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LocalServer:
    """A `prefect server start` child process."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> LocalServer:
        """Blocks until /api/health answers; raises with the server's log if it exits or times out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise ServerStartError(f"Prefect server on port {self.port} did not become healthy (log {self.log_path}):\n{tail}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM by PID (the server shuts down cleanly), SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()


class ServerStartError(RuntimeError):
    """`prefect server start` exited or did not answer /api/health in time."""


def launch_server(port: int | None = None, services: bool = True, env: dict[str, str] | None = None) -> LocalServer:
    """Starts `prefect server start --host 127.0.0.1 --port PORT` (SQLite under PREFECT_HOME) and
    returns at once (`wait_healthy` to wait for it). `services=False` leaves out the scheduler and
    late-run services, which a server for one run does not need (the event services that record
    task runs stay on). `env` is the child's whole environment (default: this process's)."""
    environ = dict(os.environ if env is None else env)
    home = Path(environ.get("PREFECT_HOME") or get_current_settings().home).expanduser()
    home.mkdir(parents=True, exist_ok=True)
    p = port or free_port()
    log_path = home / f"curate-server-{p}.log"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(p), "--no-ui", "--analytics-off"]
    if not services:
        cmd += ["--no-scheduler", "--no-late-runs"]
    with open(log_path, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(os.getpid()), *cmd],
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=environ,
        )
    return LocalServer(proc, p, log_path)


def start_server(services: bool = True, env: dict[str, str] | None = None, timeout: float = STARTUP_TIMEOUT) -> LocalServer:
    """`launch_server` on a free port and wait until it is healthy; another port if someone took
    the free one in between."""
    for attempt in range(3):
        server = launch_server(services=services, env=env)
        try:
            return server.wait_healthy(timeout)
        except ServerStartError as e:
            if "address already in use" not in str(e).lower() or attempt == 2:
                raise
    raise AssertionError("unreachable")


def configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active profile (`prefect cloud login`,
    `prefect config set`), or None: ephemeral mode."""
    return get_current_settings().api.url


@contextlib.contextmanager
def temporary_api() -> Iterator[str]:
    """One Prefect API for this process and its Dask workers: the configured one, or else a
    temporary local server for the duration of the block.

    The flow's settings reach tasks on Dask workers through Prefect's serialized task context, and
    PREFECT_API_URL in os.environ reaches worker processes that a LocalCluster spawns."""
    url = configured_api_url()
    if url:
        yield url
        return
    server = start_server(services=False)
    log.info("started a temporary Prefect server at %s (PID %d) for this run", server.api_url, server.pid)
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server.api_url
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous
        server.stop()
        server.log_path.unlink(missing_ok=True)
        log.info("stopped the temporary Prefect server (PID %d)", server.pid)

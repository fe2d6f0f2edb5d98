"""Child-process plumbing the loopback servers of the tests share (tests/remote_servers.py's HTTP
file server and Hub stand-in, tests/s3_server.py's moto): start-up handshake, stderr to a file,
stop by PID, and the JSON control requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import threading
import urllib.request
from typing import Any, TypeVar

_S = TypeVar("_S", bound="ChildServer")

__all__ = ["ChildServer", "read_ready", "request_json", "stderr_file", "stop_pid", "tail"]



def stop_pid(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM the server's PID, then SIGKILL it if it has not gone within `timeout` seconds."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def stderr_file() -> Any:
    """Where a child's stderr goes: a file, not a pipe nobody drains (moto logs every request, and a
    full pipe would block the server in the middle of a test)."""
    return tempfile.TemporaryFile()


def tail(f: Any, n: int = 2000) -> str:
    f.seek(0)
    return f.read().decode(errors="replace")[-n:]


def read_ready(proc: subprocess.Popen[bytes], what: str, timeout: float, err: Any) -> int:
    """The port from the child's `READY <port>` line (its stderr in the error when it died instead)."""
    assert proc.stdout is not None
    result: list[bytes] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    line = result[0].decode() if result else ""
    if not line.startswith("READY "):
        stop_pid(proc)
        raise RuntimeError(f"{what} did not start within {timeout:.0f} s: {line!r} {tail(err)}")
    return int(line.split()[1])


def request_json(url: str, method: str = "GET", payload: Any = None, timeout: float = 10.0) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


class ChildServer:
    """A server in a child process: `start()` (each subclass's own) sets proc, err, port and
    startup_s; `stop()` stops it by PID and closes its streams; a context manager around both."""

    def __init__(self, start_timeout: float) -> None:
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.err: Any = None  # the child's stderr (a temporary file)
        self.port = 0
        self.startup_s = 0.0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self: _S) -> _S:  # each server starts its own process
        raise NotImplementedError(type(self).__name__)

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)
            for stream in (self.proc.stdout, self.err):
                if stream:
                    stream.close()

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

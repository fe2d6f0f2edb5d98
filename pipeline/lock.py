"""One writer per OUT: a lock file on a local filesystem, a lease object on an object store.

Two runs writing one OUT interleave their shards and the last manifest wins: a nightly schedule
overlapping a manual run silently loses one run's documents. So every run takes OUT's lock before
it writes anything and holds it to the end.

The lock is `OUT/.lock.json`: owner (a random token), host, pid, start time and expiry. The holder
renews the expiry every `RENEW` seconds from a background thread. A second run fails at once
naming the holder (`LockHeld`), or with `wait=True` polls until the lock is free. A lock left by a
killed run is taken over, with a log line: on the same host when its pid is gone, anywhere once
its lease has expired (the holder stopped renewing it).

Creation is exclusive: `O_CREAT | O_EXCL` locally; on S3 a conditional PUT (`If-None-Match: *`,
honoured by S3 and moto); on stores without conditional writes, write then read back and compare
the owner token after a short settle (a race between two starts within that window is possible
there, and said in the README).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from pipeline.layout import Layout, Store

log = logging.getLogger("curate.lock")

__all__ = ["LockHeld", "OutLock", "TTL", "RENEW"]

#: Seconds a lease stays valid without renewal.
TTL = float(os.environ.get("CURATE_LOCK_TTL", "60"))
#: Seconds between renewals (a third of the TTL: two renewals may fail before others take over).
RENEW = TTL / 3
#: Seconds between attempts with `wait=True`.
POLL = 1.0


class LockHeld(RuntimeError):
    """Another run holds OUT's lock; the message names it."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed, not yet reaped by its parent) still answers kill(0)
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def describe_holder(info: dict[str, Any]) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(info.get("started", 0))))
    return f"pid {info.get('pid')} on {info.get('host')} (started {started}, {info.get('command', 'curate')})"


class OutLock:
    """Context manager: holds OUT's lock for the block (see module doc)."""

    def __init__(self, lay: Layout, wait: bool = False, log: Callable[[str], None] | None = None, command: str = "curate") -> None:
        self.store: Store = lay.out
        self.path = lay.lock()
        self.wait = wait
        self.say = log or (lambda msg: None)
        self.token = uuid.uuid4().hex
        self.info: dict[str, Any] = {}
        self.command = command
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- the lock object -----------------------------------------------------------------------
    def _record(self) -> bytes:
        now = time.time()
        self.info = {
            "owner": self.token,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": self.info.get("started", now),
            "expires": now + TTL,
            "command": self.command,
        }
        return json.dumps(self.info, sort_keys=True).encode()

    def _create(self) -> bool:
        """Exclusive creation; False when the lock exists."""
        data = self._record()
        if self.store.local:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            return True
        fs = self.store.fs
        if type(fs).__name__ == "S3FileSystem":
            bucket, key = self.path.split("/", 1)
            try:
                fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
                fs.invalidate_cache(self.path)
                return True
            except FileExistsError:  # s3fs's translation of 412 PreconditionFailed
                return False
            except Exception as e:  # noqa: BLE001 (botocore raises ClientError, s3fs may translate it)
                if _precondition_failed(e):
                    return False
                raise
        if self.store.exists(self.path):
            return False
        self.store.write_bytes(self.path, data)
        time.sleep(0.5)
        return self._read().get("owner") == self.token

    def _read(self) -> dict[str, Any]:
        try:
            if not self.store.local:
                self.store.fs.invalidate_cache(self.path)
            data: dict[str, Any] = json.loads(self.store.read_bytes(self.path))
            return data
        except (FileNotFoundError, ValueError):
            return {}

    def _stale(self, info: dict[str, Any]) -> str | None:
        """Why a lock may be taken over, or None when its holder is alive."""
        if not info:
            return "unreadable lock file"
        if info.get("host") == socket.gethostname() and isinstance(info.get("pid"), int) and not _pid_alive(info["pid"]):
            return f"its process (pid {info['pid']}) is gone"
        if float(info.get("expires", 0)) < time.time():
            return "its lease expired"
        return None

    # ---- protocol ------------------------------------------------------------------------------
    def acquire(self) -> None:
        announced = False
        while True:
            if self._create():
                break
            info = self._read()
            why = self._stale(info) if self.store.exists(self.path) else "released"
            if why is not None:
                if why != "released":
                    msg = f"taking over the lock of {self.store.display(self.path)}: {describe_holder(info)} held it, {why}"
                    log.warning(msg)
                    self.say(msg)
                    self.store.rm(self.path)
                continue
            if not self.wait:
                raise LockHeld(
                    f"{self.store.display(self.store.root)} is being written by another run: {describe_holder(info)}; "
                    "wait for it, or start this one with --wait"
                )
            if not announced:
                self.say(f"waiting for the lock of {self.store.display(self.path)}: held by {describe_holder(info)}")
                announced = True
            time.sleep(POLL)
        self._thread = threading.Thread(target=self._renew, name="curate-lock", daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(RENEW):
            try:
                if self._read().get("owner") != self.token:
                    log.error("lost the lock of %s to another run", self.store.display(self.path))
                    return
                self.store.write_bytes(self.path, self._record())
            except OSError as e:  # a store blip: the next renewal tries again before the lease ends
                log.warning("could not renew the lock of %s: %s", self.store.display(self.path), e)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            if self._read().get("owner") == self.token:
                self.store.rm(self.path)

    def __enter__(self) -> OutLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _precondition_failed(e: BaseException) -> bool:
    resp = getattr(e, "response", None)
    if isinstance(resp, dict):
        code = resp.get("Error", {}).get("Code")
        status = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)
    return "PreconditionFailed" in str(e) or "412" in str(e)

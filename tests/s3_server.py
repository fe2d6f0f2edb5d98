"""moto's standalone S3 server for the tests (`moto_server -H 127.0.0.1 -p PORT`, as s3fs's own tests
run it), started and stopped by PID, and `Bucket`, the listing helpers a test polls."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from child_process import ChildServer, stderr_file, stop_pid, tail

__all__ = ["AWS_ENV_KEYS", "Bucket", "MotoServer", "free_port"]

#: What a test and its subprocesses need to reach the local S3 server and nothing else.
AWS_ENV_KEYS = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoServer(ChildServer):
    """moto's standalone S3 server in a child process (`moto_server -H 127.0.0.1 -p PORT`), stopped by PID."""

    def __init__(self, start_timeout: float = 60.0) -> None:
        super().__init__(start_timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """The environment for boto3/s3fs (and curate subprocesses): this endpoint, dummy keys, us-east-1."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        t0 = time.perf_counter()
        last = ""
        for _ in range(3):  # the port is free when chosen; another process may take it before moto binds
            self.port = free_port()
            self.err = stderr_file()
            self.proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(self.port)], stdout=subprocess.DEVNULL, stderr=self.err, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    urllib.request.urlopen(self.url + "/moto-api/data.json", timeout=2).read()
                    self.startup_s = time.perf_counter() - t0
                    return self
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    time.sleep(0.05)
            stop_pid(self.proc)
            last = tail(self.err)
            self.err.close()
        raise RuntimeError(f"moto_server did not start on 127.0.0.1 within {self.start_timeout:.0f} s: {last}")

    def reset(self) -> None:
        """Forget every bucket and object (moto's own reset endpoint)."""
        urllib.request.urlopen(urllib.request.Request(self.url + "/moto-api/reset", method="POST"), timeout=10).read()

    def client(self) -> Any:
        """A boto3 S3 client on this server (its own session: no profile, no environment lookups)."""
        import boto3

        env = self.env
        return boto3.session.Session(aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"], region_name=env["AWS_DEFAULT_REGION"]).client("s3", endpoint_url=self.url)


class Bucket:
    """One bucket on the local S3 server, with the listing helpers a test polls."""

    def __init__(self, server: MotoServer, name: str, client: Any = None) -> None:
        self.server = server
        self.name = name
        self.s3 = client if client is not None else server.client()

    @property
    def url(self) -> str:
        return f"s3://{self.name}"

    def listing(self, prefix: str = "") -> dict[str, dict[str, Any]]:
        """key -> {"size", "etag", "last_modified"} for every object under prefix."""
        out: dict[str, dict[str, Any]] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = {"size": obj["Size"], "etag": obj["ETag"], "last_modified": obj["LastModified"].timestamp()}
        return out

    def get(self, key: str) -> bytes | None:
        """The object's bytes, or None when there is no such key."""
        try:
            return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None

    def put(self, key: str, data: bytes) -> str:
        return self.s3.put_object(Bucket=self.name, Key=key, Body=data)["ETag"]

    def snapshot(self, read: Sequence[str] = ("manifest.json",), prefix: str = "") -> dict[str, Any]:
        """The bytes of the `read` keys (None where absent), THEN the listing: a manifest read here can
        only name files that existed before the listing was taken, so "the manifest names a key the
        listing lacks" really means the bucket held a manifest naming a missing file."""
        contents = {k: self.get(prefix + k) for k in read}
        return {"time": time.time(), "read": contents, "listing": self.listing(prefix)}

    @contextmanager
    def watch(self, read: Sequence[str] = ("manifest.json",), prefix: str = "", interval: float = 0.02) -> Iterator[list[dict[str, Any]]]:
        """Poll the bucket in a thread while the block runs (a run being killed and rerun); yields the
        list that collects one `snapshot()` per poll, the last one taken after the block ended."""
        snaps: list[dict[str, Any]] = []
        stop = threading.Event()
        errors: list[BaseException] = []

        def loop() -> None:
            poller = Bucket(self.server, self.name)  # its own boto3 client: not shared across threads
            while not stop.is_set():
                try:
                    snaps.append(poller.snapshot(read, prefix))
                except BaseException as e:  # noqa: BLE001 - reported to the test below
                    errors.append(e)
                    return
                stop.wait(interval)

        thread = threading.Thread(target=loop, name=f"watch-{self.name}", daemon=True)
        thread.start()
        try:
            yield snaps
        finally:
            stop.set()
            thread.join(30)
            if errors:
                raise errors[0]
            snaps.append(self.snapshot(read, prefix))

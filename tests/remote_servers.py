"""Loopback servers for the remote-input tests (issue #17), each run as its own process and stopped by PID.

- `python tests/remote_servers.py http --root DIR [--port 0] [--log FILE]`: a static file server
  (http.server subclass) that sends what fsspec's HTTPFileSystem and a change detector need and the
  stdlib handler lacks: a strong ETag (sha256 of the bytes, so it changes whenever the content does,
  even within one mtime tick), Last-Modified, Content-Length, HEAD, Accept-Ranges and single Range
  requests (206 + Content-Range, 416). Faults are set at run time through a control API, so a test
  can break one file for the next K requests without restarting anything:

      POST   /_faults  {"path": "/a.jsonl", "status": 503, "count": 2}        5xx/404/403 for K requests
      POST   /_faults  {"path": "/a.jsonl", "drop_after": 1000, "count": 1}   close mid-body after N bytes
                       (+ "rst": true to reset instead of a clean close; "methods": ["GET"] to narrow;
                       "count": null means every request until cleared)
      POST   /_faults  {"path": "/a.jsonl", "delay": 2.5, "count": 1}         stall before answering
      GET    /_faults  the rules left;  DELETE /_faults  clears them
      GET    /_log     every request answered so far (method, path, range, status, bytes, fault)
      DELETE /_log     clears it;  GET /_ping  "ok" (readiness)

  On start it prints `READY <port>` on stdout (port 0 = a free port chosen by the kernel, no race).
- `python tests/remote_servers.py hub [--port 0]`: tests/hub_standin.py's Hub in its own process, for
  runs that must outlive or be killed apart from the test process; its test-only control endpoint
  `POST /_standin/commit` commits files (see HubStandin.control).
- moto's S3 server (`moto_server -H 127.0.0.1 -p PORT`) is started by `MotoServer` in tests/s3_server.py.

The classes `HttpFileServer`, `HubProcess` (here) and `MotoServer` start these processes, wait until they
answer, and stop them by PID (SIGTERM, then SIGKILL); the pytest fixtures in tests/conftest.py wrap them.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from child_process import ChildServer, read_ready, request_json, stderr_file

HERE = Path(__file__).resolve().parent
_CHUNK = 64 * 1024


# ============================================================== HTTP file server (runs in the child)


class FaultBook:
    """Fault rules and the request log, shared by the handler threads of one server."""

    def __init__(self, log_file: Path | None = None) -> None:
        self.lock = threading.Lock()
        self.rules: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self.log_file = log_file
        self.etags: dict[tuple[int, ...], str] = {}  # (inode, size, mtime_ns, ctime_ns) -> sha256

    def add(self, rule: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(rule.get("path"), str) or not rule["path"].startswith("/"):
            raise ValueError('a fault needs "path" starting with "/"')
        if sum(k in rule for k in ("status", "drop_after", "delay")) != 1:
            raise ValueError('a fault needs exactly one of "status", "drop_after" or "delay"')
        count = rule.get("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ValueError('"count" must be a positive integer or null')
        clean = {
            "path": rule["path"],
            "count": count,
            "methods": [m.upper() for m in rule.get("methods", ["GET"] if "drop_after" in rule else ["GET", "HEAD"])],
        }
        if "status" in rule:
            clean["status"] = int(rule["status"])
        elif "delay" in rule:
            clean["delay"] = float(rule["delay"])
        else:
            clean["drop_after"] = int(rule["drop_after"])
            clean["rst"] = bool(rule.get("rst", False))
        with self.lock:
            self.rules.append(clean)
        return clean

    def take(self, method: str, path: str) -> dict[str, Any] | None:
        """The first rule for this request, used up by one (None when the request is served normally)."""
        with self.lock:
            for rule in self.rules:
                if rule["path"] == path and method in rule["methods"]:
                    if rule["count"] is not None:
                        rule["count"] -= 1
                        if rule["count"] == 0:
                            self.rules.remove(rule)
                    return dict(rule)
        return None

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)
            if self.log_file is not None:
                with self.log_file.open("a") as f:
                    f.write(json.dumps(entry) + "\n")

    def etag(self, path: Path, st: os.stat_result) -> str:
        key = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)  # ctime: a rewrite that restores the mtime still shows
        with self.lock:
            known = self.etags.get(key)
        if known is None:
            h = hashlib.sha256()
            with path.open("rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
            known = h.hexdigest()
            with self.lock:
                self.etags[key] = known
        return f'"{known}"'


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(start, end inclusive) of a single `bytes=` range, or None when it cannot be satisfied.
    Raises ValueError for a header that is not a single byte range (answered with the whole file)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        raise ValueError(header)
    first, _, last = spec.strip().partition("-")
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0 or size == 0:
            return None
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


class FileHandler(SimpleHTTPRequestHandler):
    """Serves `server.root` with ETag/Range/HEAD and the fault/log control API under /_."""

    protocol_version = "HTTP/1.1"  # keep-alive, as a real file server (every answer has a length)
    server: FileServer

    # --------------------------------------------------------------- control API

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _control(self) -> bool:
        path = urlsplit(self.path).path
        if not path.startswith("/_"):
            return False
        book = self.server.book
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/_ping":
            self._json(200, "ok")
        elif path == "/_faults" and self.command == "POST":
            try:
                self._json(200, book.add(json.loads(body)))
            except (ValueError, TypeError, KeyError) as e:
                self._json(400, {"error": str(e)})
        elif path == "/_faults" and self.command == "GET":
            with book.lock:
                self._json(200, list(book.rules))
        elif path == "/_faults" and self.command == "DELETE":
            with book.lock:
                book.rules.clear()
            self._json(200, [])
        elif path == "/_log" and self.command == "GET":
            with book.lock:
                self._json(200, list(book.log))
        elif path == "/_log" and self.command == "DELETE":
            with book.lock:
                book.log.clear()
            self._json(200, [])
        else:
            self._json(404, {"error": f"no control endpoint {self.command} {path}"})
        return True

    def do_POST(self) -> None:
        if not self._control():
            self.close_connection = True  # its body is not read
            self._json(405, {"error": "read-only server"})

    do_DELETE = do_PUT = do_POST

    # --------------------------------------------------------------- files

    def do_GET(self) -> None:
        self._guarded(body=True)

    def do_HEAD(self) -> None:
        self._guarded(body=False)

    def _guarded(self, body: bool) -> None:
        """Serve, and log a request whose client went away before the answer was out (a timeout)."""
        self._entry: dict[str, Any] | None = None
        try:
            self._file(body)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.close_connection = True
            if self._entry is not None and "status" not in self._entry:
                sent = self._entry.pop("sent_so_far", 0)
                self._entry.update(status=None, bytes=sent, error=f"client went away: {type(e).__name__}")
                self.server.book.record(self._entry)

    def translate_path(self, path: str) -> str:
        root = self.server.root
        rel = unquote(urlsplit(path).path).lstrip("/")
        target = (root / rel).resolve()
        if target != root and root not in target.parents:  # no escaping the root with ../
            return ""
        return str(target)

    def _file(self, body: bool) -> None:
        if self._control():
            return
        url_path = unquote(urlsplit(self.path).path)
        entry: dict[str, Any] = {"method": self.command, "path": url_path, "range": self.headers.get("Range"), "time": time.time()}
        self._entry = entry
        fault = self.server.book.take(self.command, url_path)
        entry["fault"] = fault
        if fault and "delay" in fault:  # a stalled server: the client's read timeout fires first
            time.sleep(fault["delay"])
        if fault and "status" in fault:
            entry.update(status=fault["status"], bytes=0, fault=fault)
            self.server.book.record(entry)
            msg = {403: "Forbidden", 404: "Not Found"}.get(fault["status"], "injected fault")
            data = msg.encode()
            self.send_response(fault["status"])
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)
            return
        translated = self.translate_path(self.path)
        local = Path(translated)
        if translated and local.is_dir():  # the stdlib listing (fsspec parses its links for ls/glob)
            entry.update(status=200, bytes=None, fault=None)
            self.server.book.record(entry)
            super().do_GET() if body else super().do_HEAD()
            return
        try:
            if not translated:
                raise PermissionError(self.path)
            f = local.open("rb")
        except OSError:
            entry.update(status=404, bytes=0, fault=None)
            self.server.book.record(entry)
            self.send_error(404, "File not found")
            return
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            start, end, status = 0, size - 1, 200
            if self.headers.get("Range"):
                try:
                    rng = parse_range(self.headers["Range"], size)
                except ValueError:  # several ranges or another unit: the whole file, as RFC 9110 allows
                    rng = False
                if rng is None:
                    entry.update(status=416, bytes=0, fault=None)
                    self.server.book.record(entry)
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if rng:
                    (start, end), status = rng, 206
            length = end - start + 1 if size else 0
            self.send_response(status)
            self.send_header("Content-Type", self.guess_type(str(local)) if not local.name.endswith((".gz", ".zst")) else "application/octet-stream")
            self.send_header("Content-Length", str(length))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("ETag", self.server.book.etag(local, st))
            self.send_header("Last-Modified", email.utils.formatdate(st.st_mtime, usegmt=True))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            sent = 0
            entry["sent_so_far"] = 0
            limit = fault.get("drop_after") if fault else None
            if body:
                f.seek(start)
                while sent < length:
                    n = min(_CHUNK, length - sent)
                    if limit is not None:
                        n = min(n, limit - sent)
                        if n <= 0:
                            break
                    block = f.read(n)
                    if not block:
                        break
                    self.wfile.write(block)
                    sent += len(block)
                    entry["sent_so_far"] = sent
            del entry["sent_so_far"]
            entry.update(status=status, bytes=sent, fault=fault)
            self.server.book.record(entry)
            if limit is not None and sent < length:
                self._drop(fault.get("rst", False))

    def _drop(self, rst: bool) -> None:
        """End the connection in the middle of the body, as a proxy or a dying server does."""
        self.wfile.flush()
        self.close_connection = True
        if rst:  # RST instead of FIN: the client reads "connection reset by peer"
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        else:
            self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, format: str, *args: object) -> None:  # the log is /_log, not stderr
        pass


class FileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, root: Path, log_file: Path | None) -> None:
        self.root = root.resolve()
        self.book = FaultBook(log_file)
        super().__init__(("127.0.0.1", port), FileHandler)


# ============================================================== process management (runs in the test)


class HttpFileServer(ChildServer):
    """`with HttpFileServer(root) as srv:` serves root on srv.url (a child process, stopped by PID)."""

    def __init__(self, root: Path, log_file: Path | None = None, start_timeout: float = 20.0) -> None:
        super().__init__(start_timeout)
        self.root = Path(root)
        self.log_file = log_file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HttpFileServer:
        t0 = time.perf_counter()
        argv = [sys.executable, str(HERE / "remote_servers.py"), "http", "--root", str(self.root), "--port", "0"]
        if self.log_file is not None:
            argv += ["--log", str(self.log_file)]
        self.err = stderr_file()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.err, stdin=subprocess.DEVNULL)
        self.port = read_ready(self.proc, "the HTTP file server", self.start_timeout, self.err)
        self.startup_s = time.perf_counter() - t0
        return self

    def publish(self, files: dict[str, bytes], url_list: str | None = "urls.txt") -> list[str]:
        """Write `files` (relative path -> bytes) under the root and, as RedPajama publishes its
        shards, a URL list naming each one's absolute URL, one a line; returns those URLs in order."""
        urls = []
        for rel, data in files.items():
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            urls.append(f"{self.url}/{rel}")
        if url_list is not None:
            (self.root / url_list).write_text("".join(u + "\n" for u in urls))
        return urls

    # ----------------------------------------------------------- control (see the module docstring)

    def fail(self, path: str, status: int, count: int | None = 1, methods: Sequence[str] = ("GET", "HEAD")) -> None:
        """Answer `status` (500/503/404/403...) for the next `count` requests of path (None: until cleared)."""
        request_json(self.url + "/_faults", "POST", {"path": path, "status": status, "count": count, "methods": list(methods)})

    def drop(self, path: str, after_bytes: int, count: int | None = 1, rst: bool = False) -> None:
        """Close the connection after `after_bytes` bytes of the body for the next `count` GETs of path."""
        request_json(self.url + "/_faults", "POST", {"path": path, "drop_after": after_bytes, "count": count, "rst": rst})

    def delay(self, path: str, seconds: float, count: int | None = 1, methods: Sequence[str] = ("GET", "HEAD")) -> None:
        """Wait `seconds` before answering the next `count` requests of path (a client timeout)."""
        request_json(self.url + "/_faults", "POST", {"path": path, "delay": seconds, "count": count, "methods": list(methods)})

    def faults(self) -> list[dict[str, Any]]:
        return request_json(self.url + "/_faults")

    def clear_faults(self) -> None:
        request_json(self.url + "/_faults", "DELETE")

    def log(self) -> list[dict[str, Any]]:
        """Every request answered so far, in order: method, path, range, status, bytes sent, fault."""
        return request_json(self.url + "/_log")

    def clear_log(self) -> None:
        request_json(self.url + "/_log", "DELETE")


# ============================================================== the Hub stand-in in its own process


class HubProcess(ChildServer):
    """tests/hub_standin.py's HubStandin in a child process (stopped by PID); `commit()` adds or
    replaces files through its control endpoint and returns the new commit sha."""

    def __init__(self, start_timeout: float = 30.0) -> None:
        super().__init__(start_timeout)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> HubProcess:
        t0 = time.perf_counter()
        self.err = stderr_file()
        self.proc = subprocess.Popen([sys.executable, str(HERE / "remote_servers.py"), "hub", "--port", "0"], stdout=subprocess.PIPE, stderr=self.err, stdin=subprocess.DEVNULL)
        self.port = read_ready(self.proc, "the Hub stand-in", self.start_timeout, self.err)
        self.startup_s = time.perf_counter() - t0
        return self

    def commit(self, repo_id: str, files: dict[str, bytes], delete: Sequence[str] = (), lfs: Sequence[str] | None = None, kind: str = "datasets") -> str:
        payload = {"repo": repo_id, "kind": kind, "files": {p: base64.b64encode(c).decode() for p, c in files.items()}, "delete": list(delete), "lfs": None if lfs is None else list(lfs)}
        return request_json(self.endpoint + "/_standin/commit", "POST", payload)["commitOid"]

    def unknown(self) -> list[list[str]]:
        """The requests the stand-in does not implement (method, url)."""
        return request_json(self.endpoint + "/_standin/unknown")


# ============================================================== entry point of the child processes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Loopback servers for curate's remote-input tests (127.0.0.1 only).")
    sub = parser.add_subparsers(dest="cmd", required=True)
    http = sub.add_parser("http", help="serve a directory with ETag, Range and fault injection")
    http.add_argument("--root", type=Path, required=True, help="directory to serve")
    http.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed as READY <port>)")
    http.add_argument("--log", type=Path, default=None, help="also append every request as a JSON line to this file")
    hub = sub.add_parser("hub", help="the Hub stand-in of tests/hub_standin.py")
    hub.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one, printed as READY <port>)")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.cmd == "http":
        if not args.root.is_dir():
            print(f"remote_servers: --root {args.root} is not a directory", file=sys.stderr)
            return 2
        server = FileServer(args.port, args.root, args.log)
        print(f"READY {server.server_address[1]}", flush=True)
        try:
            server.serve_forever(poll_interval=0.1)
        finally:
            server.server_close()
        return 0
    sys.path.insert(0, str(HERE))
    from hub_standin import HubStandin

    standin = HubStandin(port=args.port)
    print(f"READY {standin.server.server_address[1]}", flush=True)
    try:
        standin.server.serve_forever(poll_interval=0.1)
    finally:
        standin.server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

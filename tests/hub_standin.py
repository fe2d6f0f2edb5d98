"""A local stand-in for the Hugging Face Hub API: enough for huggingface_hub's create_repo, card
validation, create_commit/upload_folder with inline (regular) files, list_repo_files and repo_info,
and for reading a dataset repo pinned at a commit sha (issue #17: remote inputs and change detection).

Endpoints, as found by running the real client (huggingface_hub, HfFileSystem) against it:

    POST /api/repos/create                               create_repo
    POST /api/validate-yaml                              card validation
    GET  /api/agent-harnesses                            the client's agent detection (telemetry)
    GET  /api/{kind}/{repo}[/revision/{rev}]             repo_info / dataset_info (?blobs=true:
                                                         siblings with size, blobId, lfs) and
                                                         HfFileSystem's revision check
    POST /api/{kind}/{repo}/preupload/{rev}              create_commit (upload modes)
    POST /api/{kind}/{repo}/commit/{rev}                 create_commit (NDJSON, inline files)
    GET  /api/{kind}/{repo}/tree/{rev}[/{path}]          list_repo_tree (?recursive, ?expand: lfs
                                                         sha256 + lastCommit), HfFileSystem ls/glob
    POST /api/{kind}/{repo}/paths-info/{rev}             get_paths_info, HfFileSystem info
    GET|HEAD /{datasets/|spaces/|}{repo}/resolve/{rev}/{path}
                                                         hf_hub_download, get_hf_file_metadata,
                                                         HfFileSystem open (Range reads, 206); headers
                                                         X-Repo-Commit, ETag, Content-Length and, for
                                                         LFS files, X-Linked-Etag / X-Linked-Size
    POST /_standin/commit, GET /_standin/unknown         test control (HubStandin.control), when the
                                                         stand-in runs in its own process

A revision is "main", the head sha, or the sha of an earlier commit made through the commit endpoint
or `put_files` (each keeps a snapshot of the tree), so a source pinned at an old sha keeps reading the
old bytes after `put_files` replaced a file. Files matching LFS_PATTERNS (or given as `lfs=`) are
reported as LFS: their blob id is the oid of their LFS pointer and `lfs.oid` is the sha256 of the
content, as on the Hub.

It runs a ThreadingHTTPServer on 127.0.0.1 (a free port) in a thread and keeps repos, files and
commits in memory, so a test can point HF_ENDPOINT at it and check what a push sent. Requests it does
not know are answered 404 and recorded in `unknown`, so a new call of the client shows up in a test
instead of being guessed at.
"""

from __future__ import annotations

import base64
import email.utils
import fnmatch
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

#: What the Hub's /api/validate-yaml refuses among what a dataset card can get wrong here.
SIZE_CATEGORIES = {
    "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M",
    "100M<n<1B", "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T", "unknown",
}  # fmt: skip

_REPO = r"(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"

#: Files `put_files` stores as LFS unless told otherwise (as the Hub's default .gitattributes tracks them).
LFS_PATTERNS = ("*.parquet", "*.arrow", "*.gz", "*.zst", "*.bz2", "*.xz")


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's oid."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(content: bytes) -> bytes:
    """The git-lfs pointer file the Hub stores in git for an LFS file."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{hashlib.sha256(content).hexdigest()}\nsize {len(content)}\n".encode()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass
class Commit:
    oid: str
    summary: str
    description: str
    added: dict[str, bytes]
    deleted: list[str]
    parent: str | None
    parent_claimed: str | None = None  # the header's parentCommit, when the client sent one
    date: str = field(default_factory=_now)


@dataclass
class Repo:
    repo_id: str
    kind: str
    private: bool
    token: str | None  # the token that created it
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)  # through the commit endpoint only
    lfs: set[str] = field(default_factory=set)  # paths stored as LFS files
    snapshots: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> tree after it
    last_commit: dict[str, str] = field(default_factory=dict)  # path -> sha of the commit that wrote it

    @property
    def head(self) -> str:
        return self.commits[-1].oid if self.commits else "0" * 40

    def at(self, revision: str | None) -> dict[str, bytes] | None:
        """The files at a revision ("main", the head or an earlier commit's sha); None if unknown."""
        if revision in (None, "main", self.head):
            return self.files
        return self.snapshots.get(revision)

    def entry(self, path: str, content: bytes, expand: bool) -> dict[str, Any]:
        """A file as the tree and paths-info endpoints describe it."""
        if path in self.lfs:
            pointer = lfs_pointer(content)
            e: dict[str, Any] = {"type": "file", "path": path, "oid": git_blob_oid(pointer), "size": len(content), "lfs": {"oid": hashlib.sha256(content).hexdigest(), "size": len(content), "pointerSize": len(pointer)}}
        else:
            e = {"type": "file", "path": path, "oid": git_blob_oid(content), "size": len(content)}
        if expand:
            oid = self.last_commit.get(path, self.head)
            c = next((c for c in self.commits if c.oid == oid), None)
            e["lastCommit"] = {"id": oid, "title": c.summary if c else "initial commit", "date": c.date if c else _now()}
        return e


@dataclass
class _Raw:
    """A non-JSON answer (a file's bytes) with its own headers."""

    body: bytes
    headers: dict[str, str]


class HubStandin:
    """`with HubStandin() as hub:` serves on hub.endpoint until the block ends."""

    def __init__(self, port: int = 0) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.unknown: list[tuple[str, str]] = []
        self.tokens: set[str | None] = set()
        self.validated: list[str] = []  # card contents sent to /api/validate-yaml
        # called after every tree listing is answered: a test can commit "from elsewhere" there
        self.after_tree: Callable[[Repo], None] | None = None
        self.lock = threading.RLock()  # put_files may run inside route (the control endpoint)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="hub-standin", daemon=True)

    def __enter__(self) -> HubStandin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def repo(self, repo_id: str, kind: str = "datasets") -> Repo:
        return self.repos[(kind, repo_id)]

    def put_files(self, repo_id: str, files: dict[str, bytes], delete: Sequence[str] = (), lfs: Sequence[str] | None = None, kind: str = "datasets", summary: str = "update from the test", private: bool = False) -> str:
        """Commit files "upstream" (creating the public repo if needed), as a dataset's maintainers
        would: adds or replaces `files`, removes `delete`; returns the new commit sha. `lfs` names the
        paths stored as LFS (default: those matching LFS_PATTERNS)."""
        with self.lock:
            repo = self.repos.get((kind, repo_id))
            if repo is None:
                repo = Repo(repo_id=repo_id, kind=kind, private=private, token=None)
                repo.files[".gitattributes"] = b"".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n".encode() for p in LFS_PATTERNS)
                self.repos[(kind, repo_id)] = repo
            for p in delete:
                if p not in repo.files:
                    raise KeyError(f"{repo_id}: {p} does not exist")
            as_lfs = {p for p in files if any(fnmatch.fnmatch(p.rsplit("/", 1)[-1], pat) for pat in LFS_PATTERNS)} if lfs is None else set(lfs)
            repo.lfs = (repo.lfs - set(files) - set(delete)) | as_lfs
            return self._apply(repo, summary, "", added=dict(files), deleted=list(delete), parent_claimed=None)

    def _apply(self, repo: Repo, summary: str, description: str, added: dict[str, bytes], deleted: list[str], parent_claimed: str | None) -> str:
        """Make a commit on main (the caller holds self.lock); returns its sha."""
        if not repo.snapshots:  # the tree before the first commit stays readable at its sha
            repo.snapshots[repo.head] = dict(repo.files)
        for p in deleted:
            repo.files.pop(p, None)
            repo.last_commit.pop(p, None)
        repo.files.update(added)
        digest = hashlib.sha1(repo.head.encode() + b"".join(p.encode() + hashlib.sha256(c).digest() for p, c in sorted(added.items())) + "\n".join(deleted).encode())
        oid = digest.hexdigest()
        repo.commits.append(Commit(oid=oid, summary=summary, description=description, added=added, deleted=deleted, parent=repo.commits[-1].oid if repo.commits else None, parent_claimed=parent_claimed))
        repo.snapshots[oid] = dict(repo.files)
        for p in added:
            repo.last_commit[p] = oid
        return oid

    def control(self, path: str, method: str, raw: bytes) -> tuple[int, Any]:
        """Test-only endpoints, for a stand-in in its own process (tests/remote_servers.py hub):
        POST /_standin/commit {"repo", "kind", "files": {path: base64}, "delete": [...], "lfs": [...]|null}
        -> {"commitOid"}; GET /_standin/unknown -> the requests not implemented."""
        if method == "POST" and path == "/_standin/commit":
            body = json.loads(raw)
            try:
                oid = self.put_files(body["repo"], {p: base64.b64decode(c) for p, c in body.get("files", {}).items()}, body.get("delete", []), body.get("lfs"), body.get("kind", "datasets"))
            except KeyError as e:
                return 404, {"error": str(e)}
            return 200, {"commitOid": oid}
        if method == "GET" and path == "/_standin/unknown":
            with self.lock:
                return 200, [list(u) for u in self.unknown]
        return 404, {"error": f"no control endpoint {method} {path}"}

    # ---------------------------------------------------------------- endpoints

    def create_repo(self, body: dict[str, Any], token: str | None) -> tuple[int, Any]:
        if token is None:
            return 401, {"error": "Invalid credentials in Authorization header"}
        kind = (body.get("type") or "model") + "s"
        repo_id = f"{body.get('organization') or 'user'}/{body['name']}"
        url = f"{self.endpoint}/{'' if kind == 'models' else kind + '/'}{repo_id}"
        if (kind, repo_id) in self.repos:
            return 409, {"error": "You already created this dataset repo", "url": url}
        private = body.get("visibility") == "private" or body.get("private") is True
        repo = Repo(repo_id=repo_id, kind=kind, private=private, token=token)
        repo.files[".gitattributes"] = b"*.parquet filter=lfs diff=lfs merge=lfs -text\n"  # as a new Hub repo has
        self.repos[(kind, repo_id)] = repo
        return 200, {"url": url, "name": repo_id, "id": hashlib.sha1(repo_id.encode()).hexdigest()[:24]}

    def validate_yaml(self, body: dict[str, Any]) -> tuple[int, Any]:
        """The checks of the Hub's validator that a dataset card from this project can fail."""
        content = body.get("content", "")
        self.validated.append(content)
        m = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        errors: list[str] = []
        meta: Any = {}
        if m:
            try:
                meta = yaml.safe_load(m.group(1)) or {}
            except yaml.YAMLError as e:
                errors.append(f"YAML: {e}")
        if not isinstance(meta, dict):
            errors.append("metadata must be a mapping")
            meta = {}
        sizes = meta.get("size_categories", [])
        for s in [sizes] if isinstance(sizes, str) else sizes:
            if s not in SIZE_CATEGORIES:
                errors.append(f'"size_categories" with value "{s}" is not valid')
        langs = meta.get("language", [])
        for lang in [langs] if isinstance(langs, str) else langs:
            if not re.fullmatch(r"[a-z]{2,3}", str(lang)):
                errors.append(f'"language" with value "{lang}" is not valid. It must be an ISO 639-1, 639-2 or 639-3 code')
        for i, c in enumerate(meta.get("configs", [])):
            if not isinstance(c, dict) or "config_name" not in c or "data_files" not in c:
                errors.append(f'"configs[{i}]" needs config_name and data_files')
        if errors:
            return 400, {"errors": [{"message": e} for e in errors], "warnings": []}
        return 200, {"errors": [], "warnings": []}

    def preupload(self, repo: Repo, body: dict[str, Any]) -> tuple[int, Any]:
        files = []
        for f in body.get("files", []):
            old = repo.files.get(f["path"])
            files.append({"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": git_blob_oid(old) if old is not None else None})
        return 200, {"files": files, "commitOid": repo.head}

    def commit(self, repo: Repo, raw: bytes) -> tuple[int, Any]:
        lines = [json.loads(line) for line in raw.splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            return 400, {"error": "the first NDJSON line must be the header"}
        header = lines[0]["value"]
        if header.get("parentCommit") and header["parentCommit"] != repo.head:
            return 412, {"error": "parent commit is not the head of the branch"}
        added: dict[str, bytes] = {}
        deleted: list[str] = []
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            if key == "file":
                if value.get("encoding") != "base64":
                    return 400, {"error": f"unsupported encoding for {value.get('path')}"}
                added[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if value["path"] not in repo.files:
                    return 404, {"error": f"{value['path']} does not exist"}
                deleted.append(value["path"])
            elif key == "deletedFolder":
                prefix = value["path"].rstrip("/") + "/"
                deleted += [p for p in repo.files if p.startswith(prefix)]
            else:  # lfsFile etc.: the stand-in has no LFS/Xet storage (preupload never asks for it)
                return 400, {"error": f"the stand-in does not take {key!r} lines"}
        repo.lfs -= set(added)  # inline files are regular files
        oid = self._apply(repo, header.get("summary", ""), header.get("description", ""), added, deleted, header.get("parentCommit"))
        return 200, {"success": True, "commitOid": oid, "commitUrl": f"{self.endpoint}/{repo.kind}/{repo.repo_id}/commit/{oid}"}

    def tree(self, repo: Repo, path: str, recursive: bool, revision: str | None = None, expand: bool = False) -> tuple[int, Any]:
        files = repo.at(revision)
        if files is None:
            return 404, {"error": f"Invalid rev id: {revision}", "code": "RevisionNotFound"}
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries: dict[str, dict[str, Any]] = {}
        for p, content in sorted(files.items()):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if recursive or "/" not in rest:
                entries[p] = repo.entry(p, content, expand)
            if "/" in rest:  # the folders on the way
                parts = rest.split("/")[:-1]
                for i in range(1 if not recursive else len(parts)):
                    d = prefix + "/".join(parts[: i + 1])
                    entries.setdefault(d, {"type": "directory", "path": d, "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0})
        if prefix and not entries:
            return 404, {"error": f"{path} not found"}
        return 200, sorted(entries.values(), key=lambda e: e["path"])

    def info(self, repo: Repo, revision: str | None = None, blobs: bool = False) -> tuple[int, Any]:
        files = repo.at(revision)
        if files is None:
            return 404, {"error": f"Invalid rev id: {revision}", "code": "RevisionNotFound"}
        sha = repo.head if revision in (None, "main") else revision
        siblings = []
        for p in sorted(files):
            s: dict[str, Any] = {"rfilename": p}
            if blobs:
                e = repo.entry(p, files[p], expand=False)
                s.update(size=e["size"], blobId=e["oid"])
                if "lfs" in e:
                    s["lfs"] = {"sha256": e["lfs"]["oid"], "size": e["size"], "pointerSize": e["lfs"]["pointerSize"]}
            siblings.append(s)
        date = next((c.date for c in repo.commits if c.oid == sha), _now())
        return 200, {"id": repo.repo_id, "private": repo.private, "sha": sha, "lastModified": date, "siblings": siblings}

    def paths_info(self, repo: Repo, revision: str, paths: list[str], expand: bool) -> tuple[int, Any]:
        """What get_paths_info gets: the entries for the paths that exist (files or folders)."""
        files = repo.at(revision)
        if files is None:
            return 404, {"error": f"Invalid rev id: {revision}", "code": "RevisionNotFound"}
        out = []
        for path in paths:
            path = path.strip("/")
            if path in files:
                out.append(repo.entry(path, files[path], expand))
            elif any(p.startswith(path + "/") for p in files):
                out.append({"type": "directory", "path": path, "oid": hashlib.sha1(path.encode()).hexdigest(), "size": 0})
        return 200, out

    def resolve(self, repo: Repo, revision: str, path: str, headers: dict[str, str]) -> tuple[int, Any]:
        """A file's bytes (a 206 slice for a Range header) and the headers huggingface_hub reads."""
        files = repo.at(revision)
        if files is None:
            return 404, {"error": f"Invalid rev id: {revision}", "code": "RevisionNotFound"}
        if path not in files:
            return 404, {"error": f"{path} does not exist at {revision}", "code": "EntryNotFound"}
        content = files[path]
        sha = repo.head if revision == "main" else revision
        e = repo.entry(path, content, expand=False)
        extra = {"X-Repo-Commit": sha, "Accept-Ranges": "bytes", "ETag": f'"{e["lfs"]["oid"] if "lfs" in e else e["oid"]}"', "Last-Modified": email.utils.formatdate(usegmt=True)}
        if "lfs" in e:
            extra.update({"X-Linked-Etag": f'"{e["lfs"]["oid"]}"', "X-Linked-Size": str(len(content))})
        status, body = 200, content
        rng = headers.get("range", "")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
        if m and (m[1] or m[2]):
            size = len(content)
            start, end = (int(m[1]), int(m[2]) if m[2] else size - 1) if m[1] else (max(0, size - int(m[2])), size - 1)
            if start >= size or end < start:
                return 416, _Raw(b"", {"Content-Range": f"bytes */{size}", **extra})
            end = min(end, size - 1)
            status, body = 206, content[start : end + 1]
            extra["Content-Range"] = f"bytes {start}-{end}/{size}"
        return status, _Raw(body, extra)

    # ---------------------------------------------------------------- dispatch

    def route(self, method: str, url: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(url)
        path, query = unquote(parts.path), parse_qs(parts.query)
        auth = headers.get("authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else None
        with self.lock:
            self.requests.append((method, path))
            self.tokens.add(token)
            if method == "POST" and path == "/api/repos/create":
                return self.create_repo(json.loads(raw), token)
            if method == "POST" and path == "/api/validate-yaml":
                return self.validate_yaml(json.loads(raw))
            if method == "GET" and path == "/api/agent-harnesses":  # the client's agent detection (telemetry)
                return 200, {"standardEnvVars": [], "harnesses": {}}
            if path.startswith("/_standin/"):
                return self.control(path, method, raw)
            r = re.fullmatch(r"/(?:(?P<kind>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)", path)
            if r and method in ("GET", "HEAD") and not path.startswith("/api/"):
                repo = self.repos.get((r["kind"] or "models", r["repo"]))
                if repo is None or (repo.private and token != repo.token):
                    return 404, {"error": "Repository not found", "code": "RepoNotFound"}
                return self.resolve(repo, r["rev"], r["path"], headers)
            m = re.fullmatch(rf"/api/{_REPO}(?P<rest>/.*)?", path)
            if m:
                repo = self.repos.get((m["kind"], m["repo"]))
                if repo is None:
                    return 404, {"error": "Repository not found"}
                if repo.private and token != repo.token:
                    return 404, {"error": "Repository not found"}
                rest = m["rest"] or ""
                if method == "POST" and re.fullmatch(r"/preupload/[^/]+", rest):
                    return self.preupload(repo, json.loads(raw))
                if method == "POST" and re.fullmatch(r"/commit/[^/]+", rest):
                    return self.commit(repo, raw)
                t = re.fullmatch(r"/tree/(?P<rev>[^/]+)(?P<path>/.*)?", rest)
                if method == "GET" and t:
                    flag = lambda k: query.get(k, ["false"])[0].lower() in ("1", "true")  # noqa: E731
                    answer = self.tree(repo, t["path"] or "", flag("recursive"), t["rev"], flag("expand"))
                    if self.after_tree is not None:
                        self.after_tree(repo)
                    return answer
                rv = re.fullmatch(r"/revision/(?P<rev>[^/]+)", rest)
                if method == "GET" and (rest == "" or rv):
                    return self.info(repo, rv["rev"] if rv else None, query.get("blobs", ["false"])[0].lower() in ("1", "true"))
                pi = re.fullmatch(r"/paths-info/(?P<rev>[^/]+)", rest)
                if method == "POST" and pi:
                    if headers.get("content-type", "").startswith("application/json"):
                        form = json.loads(raw)
                        paths, expand = list(form.get("paths", [])), bool(form.get("expand"))
                    else:
                        form = parse_qs(raw.decode())
                        paths, expand = form.get("paths", []), form.get("expand", ["false"])[0].lower() in ("1", "true")
                    return self.paths_info(repo, pi["rev"], paths, expand)
            self.unknown.append((method, url))
            return 404, {"error": f"hub stand-in: {method} {path} is not implemented"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _serve(self) -> None:
                raw = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, payload = standin.route(self.command, self.path, headers, raw)
                except Exception as e:  # a bug in the stand-in must show up as an error, not a hang
                    status, payload = 500, {"error": f"hub stand-in: {type(e).__name__}: {e}"}
                if isinstance(payload, _Raw):
                    self.send_response(status)
                    self.send_header("Content-Type", "application/octet-stream")
                    self.send_header("Content-Length", str(len(payload.body)))
                    for k, v in payload.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload.body)
                    return
                if status >= 400 and "text/plain" in headers.get("accept", "") and isinstance(payload, dict):
                    text = "\n".join(e["message"] for e in payload.get("errors", [])) or payload.get("error", "")
                    data, ctype = text.encode(), "text/plain; charset=utf-8"
                else:
                    data, ctype = json.dumps(payload).encode(), "application/json"
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                if status >= 400:
                    self.send_header("X-Error-Message", str(payload.get("error", "")) if isinstance(payload, dict) else "")
                    if isinstance(payload, dict) and payload.get("code"):  # how the client tells RevisionNotFound etc.
                        self.send_header("X-Error-Code", payload["code"])
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        return Handler

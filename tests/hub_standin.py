"""A local stand-in for the Hugging Face Hub API: enough for huggingface_hub's create_repo, card
validation, create_commit/upload_folder with inline (regular) files, list_repo_files and repo_info.

It runs a ThreadingHTTPServer on 127.0.0.1 (a free port) in a thread and keeps repos, files and
commits in memory, so a test can point HF_ENDPOINT at it and check what a push sent. Requests it does
not know are answered 404 and recorded in `unknown`, so a new call of the client shows up in a test
instead of being guessed at.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

#: What the Hub's /api/validate-yaml refuses among what a dataset card can get wrong here.
SIZE_CATEGORIES = {
    "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M",
    "100M<n<1B", "1B<n<10B", "10B<n<100B", "100B<n<1T", "n>1T", "unknown",
}  # fmt: skip

_REPO = r"(?P<kind>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"


def git_blob_oid(content: bytes) -> str:
    """The git object id of a blob: what the Hub reports as a regular file's oid."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Commit:
    oid: str
    summary: str
    description: str
    added: dict[str, bytes]
    deleted: list[str]
    parent: str | None
    parent_claimed: str | None = None  # the header's parentCommit, when the client sent one


@dataclass
class Repo:
    repo_id: str
    kind: str
    private: bool
    token: str | None  # the token that created it
    files: dict[str, bytes] = field(default_factory=dict)
    commits: list[Commit] = field(default_factory=list)  # through the commit endpoint only

    @property
    def head(self) -> str:
        return self.commits[-1].oid if self.commits else "0" * 40


class HubStandin:
    """`with HubStandin() as hub:` serves on hub.endpoint until the block ends."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.unknown: list[tuple[str, str]] = []
        self.tokens: set[str | None] = set()
        self.validated: list[str] = []  # card contents sent to /api/validate-yaml
        # called after every tree listing is answered: a test can commit "from elsewhere" there
        self.after_tree: Callable[[Repo], None] | None = None
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
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
        for p in deleted:
            repo.files.pop(p, None)
        repo.files.update(added)
        digest = hashlib.sha1(repo.head.encode() + b"".join(p.encode() + hashlib.sha256(c).digest() for p, c in sorted(added.items())) + "\n".join(deleted).encode())
        oid = digest.hexdigest()
        repo.commits.append(Commit(oid=oid, summary=header.get("summary", ""), description=header.get("description", ""), added=added, deleted=deleted, parent=repo.commits[-1].oid if repo.commits else None, parent_claimed=header.get("parentCommit")))
        return 200, {"success": True, "commitOid": oid, "commitUrl": f"{self.endpoint}/{repo.kind}/{repo.repo_id}/commit/{oid}"}

    def tree(self, repo: Repo, path: str, recursive: bool) -> tuple[int, Any]:
        prefix = path.strip("/") + "/" if path.strip("/") else ""
        entries: dict[str, dict[str, Any]] = {}
        for p, content in sorted(repo.files.items()):
            if not p.startswith(prefix):
                continue
            rest = p[len(prefix):]
            if recursive or "/" not in rest:
                entries[p] = {"type": "file", "path": p, "oid": git_blob_oid(content), "size": len(content)}
            if "/" in rest:  # the folders on the way
                parts = rest.split("/")[:-1]
                for i in range(1 if not recursive else len(parts)):
                    d = prefix + "/".join(parts[: i + 1])
                    entries.setdefault(d, {"type": "directory", "path": d, "oid": hashlib.sha1(d.encode()).hexdigest(), "size": 0})
        if prefix and not entries:
            return 404, {"error": f"{path} not found"}
        return 200, sorted(entries.values(), key=lambda e: e["path"])

    def info(self, repo: Repo) -> tuple[int, Any]:
        return 200, {
            "id": repo.repo_id,
            "private": repo.private,
            "sha": repo.head,
            "siblings": [{"rfilename": p} for p in sorted(repo.files)],
        }

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
                    answer = self.tree(repo, t["path"] or "", query.get("recursive", ["false"])[0].lower() in ("1", "true"))
                    if self.after_tree is not None:
                        self.after_tree(repo)
                    return answer
                if method == "GET" and (rest == "" or re.fullmatch(r"/revision/[^/]+", rest)):
                    return self.info(repo)
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
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

        return Handler

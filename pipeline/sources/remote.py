"""Remote input files through fsspec: listing (globs, URL lists, Hub repos at a pinned commit),
fingerprints (what the store says about a file), and byte streams that survive a dropped connection.

Why here and not `datasets`: `datasets` fails a whole file on one bad line, and one Hub id was one
input shard whatever its size. Every remote file is an input shard of its own, read by the same
robust line reader as local files (`reader.py`), so a bad line is one reject naming the URL and line,
and a failure redoes one file, not a source.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import random
import re
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from pipeline.layout import is_url, redact_url, url_to_fs

log = logging.getLogger("curate.remote")

__all__ = [
    "RemoteReadError",
    "RetryingReader",
    "hub_repo_files",
    "is_transient",
    "list_remote",
    "open_input",
    "remote_fingerprint",
]

#: Attempts per remote file (the first read and the retries after transient errors).
ATTEMPTS = 5
#: Seconds before the first retry; doubled each time, jittered.
BACKOFF = 0.5
#: Data file extensions taken from a Hub repo listing.
DATA_EXTENSIONS = (".jsonl", ".json", ".ndjson", ".parquet", ".txt", ".csv", ".tsv")
_COMPRESSED = ("", ".gz", ".zst", ".zstd")


class RemoteReadError(ValueError):
    """A remote file that cannot be read (404, 403, or transient errors past every retry). A
    ValueError so the CLI reports it as one line naming the URL."""


def _status(e: BaseException) -> int | None:
    for attr in ("status", "status_code", "code"):
        v = getattr(e, attr, None)
        if isinstance(v, int):
            return v
    resp = getattr(e, "response", None)
    if isinstance(resp, dict):  # botocore ClientError
        code = resp.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return code if isinstance(code, int) else None
    v = getattr(resp, "status_code", None)
    return v if isinstance(v, int) else None


def _cause_status(e: BaseException) -> int | None:
    """The HTTP status behind an error, also where a client wrapped it (fsspec's HTTP info turns a
    503 into FileNotFoundError raised from the response error)."""
    seen = 0
    cur: BaseException | None = e
    while cur is not None and seen < 8:
        status = _status(cur)
        if status is not None:
            return status
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


def is_transient(e: BaseException) -> bool:
    """Connection resets, timeouts, 5xx and 429 are worth another try; 404/403, bad requests and
    content errors are not (retrying gives the same answer)."""
    chain: list[BaseException] = []
    cur: BaseException | None = e
    while cur is not None and len(chain) < 8:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    if isinstance(e, (PermissionError, IsADirectoryError, NotADirectoryError)):
        return False
    if isinstance(e, FileNotFoundError) and len(chain) == 1:
        return False
    names = {c.__name__ for x in chain for c in type(x).__mro__ if c.__name__ != "FileNotFoundError"}
    transient_names = {
        "ConnectionError", "ConnectionResetError", "ConnectionAbortedError", "BrokenPipeError", "TimeoutError",
        "ClientPayloadError", "ServerDisconnectedError", "ClientConnectionError", "ClientOSError",
        "ServerTimeoutError", "ContentLengthError", "TransferEncodingError", "IncompleteRead",
        "EndpointConnectionError", "ReadTimeoutError", "ConnectTimeoutError", "ResponseStreamingError",
        "ReadTimeout", "ConnectTimeout", "RemoteProtocolError", "ReadError", "ProtocolError",
    }  # fmt: skip
    if names & transient_names:  # first: aiohttp's payload errors carry a parser "code" of 400
        return True
    status = _cause_status(e)
    if status is not None:
        return status >= 500 or status == 429
    return False


def _not_found(url: str, e: BaseException) -> RemoteReadError:
    status = _cause_status(e)
    what = "not found (404)" if isinstance(e, FileNotFoundError) or status == 404 else (
        "access denied (403)" if isinstance(e, PermissionError) or status in (401, 403) else f"{type(e).__name__}: {e}"
    )
    return RemoteReadError(f"{redact_url(url)}: {what}")


def with_retries(url: str, call: Callable[[], Any], attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> Any:
    """`call()`, retried with exponential backoff on transient errors; 404/403 fail at once."""
    delay = backoff
    for attempt in range(attempts):
        try:
            return call()
        except Exception as e:  # noqa: BLE001 (classified below)
            if not is_transient(e):
                raise _not_found(url, e) from e
            if attempt == attempts - 1:
                raise RemoteReadError(f"{redact_url(url)}: {type(e).__name__} after {attempts} attempts: {e}") from e
            log.warning("%s: %s, retrying in %.1fs (attempt %d of %d)", redact_url(url), type(e).__name__, delay, attempt + 2, attempts)
            time.sleep(delay * (1 + random.random() * 0.5))
            delay *= 2
    raise AssertionError("unreachable")


class RetryingReader:
    """A read-only byte stream over a remote file that reopens it after a transient error and goes
    on from the byte it had reached (seek, or read and discard when the file cannot seek), so the
    decoder above sees one unbroken stream: no document twice, none missing."""

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None, attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> None:
        self.url = url
        self.fs, self.path = url_to_fs(url, storage_options)
        self.attempts = attempts
        self.backoff = backoff
        self.pos = 0
        self.retries = 0
        self._fh: BinaryIO | None = None
        self._open()

    def _open(self) -> None:
        self._fh = with_retries(self.url, lambda: self.fs.open(self.path, "rb"), self.attempts, self.backoff)
        if self.pos:
            self._seek_to(self.pos)

    def _seek_to(self, pos: int) -> None:
        assert self._fh is not None
        try:
            self._fh.seek(pos)
            return
        except (OSError, ValueError, NotImplementedError):
            pass
        left = pos
        while left:
            chunk = self._fh.read(min(left, 1 << 20))
            if not chunk:
                raise RemoteReadError(f"{redact_url(self.url)}: shorter than before ({pos - left} of {pos} bytes) after a reconnect")
            left -= len(chunk)

    def read(self, n: int = -1) -> bytes:
        for attempt in range(self.attempts):
            try:
                assert self._fh is not None
                data: bytes = self._fh.read(n)
                self.pos += len(data)
                return data
            except Exception as e:  # noqa: BLE001
                if not is_transient(e) or attempt == self.attempts - 1:
                    if is_transient(e):
                        raise RemoteReadError(f"{redact_url(self.url)}: {type(e).__name__} after {self.attempts} attempts at byte {self.pos}: {e}") from e
                    raise _not_found(self.url, e) from e
                log.warning("%s: %s at byte %d, reconnecting", redact_url(self.url), type(e).__name__, self.pos)
                time.sleep(self.backoff * (2**attempt))
                self.retries += 1
                self.close()
                self._open()
        raise AssertionError("unreachable")

    def seek(self, pos: int, whence: int = 0) -> int:
        assert self._fh is not None
        if whence == os.SEEK_END:
            size = self.fs.size(self.path)
            pos = size + pos
        elif whence == os.SEEK_CUR:
            pos = self.pos + pos
        self._fh.seek(pos)
        self.pos = pos
        return pos

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except Exception:  # noqa: BLE001 (a broken connection may fail to close; it is gone anyway)
                pass
            self._fh = None

    def __enter__(self) -> RetryingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_input(location: str, storage_options: dict[str, Any] | None = None) -> BinaryIO:
    """A binary stream of a local path or a URL (remote ones retry transient errors)."""
    if not is_url(location) or location.startswith("file://"):
        return open(location.removeprefix("file://"), "rb")  # noqa: SIM115
    return RetryingReader(location, storage_options)  # type: ignore[return-value]


def remote_fingerprint(location: str, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the store says about a file: ETag and size (S3, GCS, HTTP with ETag), else size and
    Last-Modified. Fails at once, naming the URL, on 404/403."""
    fs, path = url_to_fs(location, storage_options)
    meta = with_retries(location, lambda: fs.info(path))
    out: dict[str, Any] = {"location": redact_url(location), "kind": "remote"}
    lower = {str(k).lower(): v for k, v in meta.items()}
    size = lower.get("size")
    if size is not None:
        out["size"] = int(size)
    etag = lower.get("etag") or lower.get("e_tag") or lower.get("md5_checksum") or lower.get("md5hash")
    if etag:
        out["etag"] = str(etag).strip('"')
    if "etag" not in out:
        modified = lower.get("last-modified") or lower.get("lastmodified") or lower.get("last_modified") or lower.get("mtime") or lower.get("updated")
        if modified is not None:
            out["last_modified"] = str(modified)
    if "etag" not in out and "last_modified" not in out:
        out["last_modified"] = _http_last_modified(fs, path)
    return out


def _http_last_modified(fs: Any, path: str) -> str | None:
    """fsspec's HTTP info keeps ETag but not Last-Modified: one HEAD for servers without ETag."""
    if type(fs).__name__ != "HTTPFileSystem":
        return None
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(path, method="HEAD"), timeout=30) as resp:  # noqa: S310
            return resp.headers.get("Last-Modified")
    except OSError:
        return None


def list_remote(pattern: str, storage_options: dict[str, Any] | None = None) -> list[str]:
    """URLs matched by a remote glob (stores that can list: s3, gs, hf, memory); a plain URL is
    itself. Sorted; FileNotFoundError naming the pattern when nothing matches."""
    fs, path = url_to_fs(pattern, storage_options)
    proto = pattern.split("://", 1)[0]
    if any(c in path for c in "*?["):
        if type(fs).__name__ == "HTTPFileSystem":
            raise ValueError(f"{redact_url(pattern)}: HTTP servers cannot be listed; give the URLs (or a URL list) instead of a glob")
        found = sorted(p for p in fs.glob(path) if fs.isfile(p))
        if not found:
            raise FileNotFoundError(f"input {redact_url(pattern)} matches no file")
        return [f"{proto}://{p}" if not str(p).startswith(proto + "://") else str(p) for p in found]
    return [pattern]


# --------------------------------------------------------------------------------------------------
# Hub repos
# --------------------------------------------------------------------------------------------------


def _is_data_file(path: str) -> bool:
    low = path.lower()
    return any(low.endswith(ext + comp) for ext in DATA_EXTENSIONS for comp in _COMPRESSED)


_SPLIT_WORDS = {
    "train": ("train", "training"),
    "validation": ("validation", "valid", "val", "dev"),
    "test": ("test", "testing", "eval", "evaluation"),
}


def _split_of(path: str) -> str | None:
    """The split a Hub file name or folder says (the Hub's own convention: a keyword between
    separators), or None."""
    parts = re.split(r"[-._ /0-9]+", path.lower())
    for split, words in _SPLIT_WORDS.items():
        if any(w in parts for w in words):
            return split
    return None


def hub_repo_files(repo: str, revision: str | None, name: str | None, split: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """(commit sha, [(hf:// URL pinned at that commit, fingerprint)]) for the data files of a Hub
    dataset repo: files under the config folder `name` when given, of split `split` when the file
    names say splits; the repo card's `configs` are honoured when it declares them."""
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import (
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    api = HfApi(endpoint=constants.ENDPOINT)
    try:
        info = api.dataset_info(repo, revision=revision)
        sha = info.sha
        assert sha is not None
        tree = list(api.list_repo_tree(repo, repo_type="dataset", revision=sha, recursive=True, expand=False))
    except (RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise RemoteReadError(f"hub dataset {repo!r}" + (f" revision {revision!r}" if revision else "") + f": not found ({type(e).__name__})") from e
    except (HfHubHTTPError, OSError) as e:
        raise RemoteReadError(f"hub dataset {repo!r}: cannot list its files ({type(e).__name__}: {e})") from e
    files = {f.path: f for f in tree if getattr(f, "size", None) is not None}
    patterns = _card_patterns(api, repo, sha, name, split)
    chosen: list[str] = []
    for path in sorted(files):
        if not _is_data_file(path) or path.startswith(".") or "/." in path:
            continue
        if patterns is not None:
            if any(fnmatch.fnmatch(path, p) for p in patterns):
                chosen.append(path)
            continue
        if name and not (path.startswith(name + "/") or f"/{name}/" in path):
            continue
        file_split = _split_of(path)
        if file_split is not None and file_split != split:
            continue
        chosen.append(path)
    if not chosen:
        raise RemoteReadError(
            f"hub dataset {repo!r} at {sha[:12]}: no data file for" + (f" config {name!r}" if name else "") + f" split {split!r}"
        )
    out = []
    for path in chosen:
        f = files[path]
        lfs = getattr(f, "lfs", None)
        fp: dict[str, Any] = {
            "location": f"hf://datasets/{repo}@{sha}/{path}",
            "kind": "hub",
            "repo": repo,
            "path": path,
            "blob_id": f.blob_id,
            "size": f.size,
            "commit": sha,
        }
        if lfs is not None:
            fp["sha256"] = lfs.sha256 if hasattr(lfs, "sha256") else lfs.get("sha256")
        out.append((fp["location"], fp))
    return sha, out


def _card_patterns(api: Any, repo: str, sha: str, name: str | None, split: str) -> list[str] | None:
    """data_files globs of the repo card's `configs` for (name, split); None when the card has none."""
    import yaml

    try:
        path = api.hf_hub_download(repo, "README.md", repo_type="dataset", revision=sha)
    except Exception:  # noqa: BLE001 (no card, or not reachable: fall back to the folder convention)
        return None
    text = open(path, encoding="utf-8").read()
    if not text.startswith("---"):
        return None
    try:
        header = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError:
        return None
    configs = header.get("configs") if isinstance(header, dict) else None
    if not isinstance(configs, list):
        return None
    for c in configs:
        if not isinstance(c, dict):
            continue
        if (name is None and (c.get("default") or len(configs) == 1)) or c.get("config_name") == name:
            data_files = c.get("data_files")
            if isinstance(data_files, str):
                return [data_files]
            if isinstance(data_files, list):
                pats: list[str] = []
                for d in data_files:
                    if isinstance(d, str):
                        pats.append(d)
                    elif isinstance(d, dict) and d.get("split", "train") == split:
                        p = d.get("path")
                        pats += p if isinstance(p, list) else [p]
                return [p for p in pats if isinstance(p, str)]
    return None

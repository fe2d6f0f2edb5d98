"""Every path under OUT and its staging area, and all I/O on them, through fsspec.

OUT (and the staging area, which defaults to OUT/.staging) may be a local folder or an object store
URL (`s3://bucket/run`, `gs://...`, `file://...`). Tasks only ever hand each other a `Layout` (it
pickles: the filesystem object carries its own options, never a document), so a Dask worker on
another machine reads and writes the same OUT without a shared POSIX filesystem.

Object stores have no atomic rename, so nothing here relies on one: a file is written completely
(a local temporary file, then one upload) before anything names it; a reader never sees a partial
object. Locally, the same functions write a temporary file next to the target and rename it.
Final files get content-addressed names and `manifest.json` is the commit point (see
`pipeline.shards.publish` and `pipeline.runner.finish`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

__all__ = ["Layout", "as_layout", "is_url", "redact_url", "url_to_fs"]

#: Prefix of every temporary file this package writes (swept at the start of the next run).
TMP_MARK = ".tmp-curate-"


def is_url(path: str | os.PathLike[str]) -> bool:
    """`s3://...`, `https://...`, `hf://...` (not a Windows drive letter, not a plain path)."""
    s = os.fspath(path)
    head, sep, _ = s.partition("://")
    return bool(sep) and len(head) > 1 and head.replace("+", "").replace("-", "").isalnum()


def redact_url(url: str) -> str:
    """A URL fit for a log line or an error: no user:password, no query string (presigned URLs and
    tokens travel there)."""
    if not is_url(url):
        return url
    proto, rest = url.split("://", 1)
    host, slash, path = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rsplit("@", 1)[1]
    path = path.split("?", 1)[0] + ("?***" if "?" in path else "")
    return f"{proto}://{host}{slash}{path}"


def url_to_fs(url: str | os.PathLike[str], storage_options: dict[str, Any] | None = None) -> tuple[fsspec.AbstractFileSystem, str]:
    """(filesystem, path within it). Local paths become absolute (tasks may run elsewhere)."""
    s = os.fspath(url)
    if not is_url(s):
        return LocalFileSystem(), os.path.abspath(os.path.expanduser(s))
    fs, path = fsspec.core.url_to_fs(s, **(storage_options or {}))
    return fs, path.rstrip("/")


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    return isinstance(fs, LocalFileSystem)


class Store:
    """One filesystem and a root folder in it: atomic writes, reads, listing, removal."""

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, url: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/") or "/"
        self.url = url
        self.local = _is_local(fs)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *(p.strip("/") for p in parts if p)])

    def rel(self, path: str) -> str:
        """Path relative to the root (posix)."""
        p = path.rstrip("/")
        if p == self.root:
            return ""
        if not p.startswith(self.root + "/"):
            raise ValueError(f"{path} is not under {self.root}")
        return p[len(self.root) + 1 :]

    def display(self, path: str) -> str:
        """Where a user finds the file: a local path, or the store URL."""
        if self.local:
            return path
        return redact_url(self.fs.unstrip_protocol(path))

    # ---- reads ---------------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return bool(self.fs.exists(path))

    def isfile(self, path: str) -> bool:
        return bool(self.fs.isfile(path))

    def read_bytes(self, path: str) -> bytes:
        if self.local:
            with open(path, "rb") as fh:
                return fh.read()
        return bytes(self.fs.cat_file(path))

    def open(self, path: str, mode: str = "rb") -> BinaryIO:
        if self.local:
            return open(path, mode)  # noqa: SIM115 (the caller closes it)
        return self.fs.open(path, mode)  # type: ignore[no-any-return]

    def size(self, path: str) -> int:
        if self.local:
            return os.path.getsize(path)
        return int(self.fs.size(path))

    def parquet_file(self, path: str, **kwargs: Any) -> pq.ParquetFile:
        if self.local:
            return pq.ParquetFile(path, **kwargs)
        return pq.ParquetFile(self.fs.open(path, "rb"), **kwargs)

    def read_table(self, path: str, columns: list[str] | None = None, schema: pa.Schema | None = None) -> pa.Table:
        if self.local:
            return pq.read_table(path, columns=columns, schema=schema)
        with self.fs.open(path, "rb") as fh:
            return pq.read_table(fh, columns=columns, schema=schema)

    def read_schema(self, path: str) -> pa.Schema:
        if self.local:
            return pq.read_schema(path)
        with self.fs.open(path, "rb") as fh:
            return pq.read_schema(fh)

    def files(self, folder: str, suffix: str = "") -> list[str]:
        """Every file below `folder` (recursive), sorted; [] when the folder does not exist."""
        if not self.fs.exists(folder):
            return []
        found = self.fs.find(folder)
        return sorted(str(p) for p in found if str(p).endswith(suffix))

    # ---- writes --------------------------------------------------------------------------------
    def makedirs(self, path: str) -> None:
        if self.local:
            os.makedirs(path, exist_ok=True)

    def write_bytes(self, path: str, data: bytes) -> None:
        """Atomically: a reader sees the old file or the new one, never a part."""
        if self.local:
            write_atomic(path, data)
            return
        self.fs.pipe_file(path, data)  # one PUT: the object appears complete or not at all

    def put_local(self, local_file: str, path: str) -> None:
        """Moves a finished local file to `path` in one step (rename, or one upload then delete)."""
        if self.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            try:
                os.replace(local_file, path)
            except OSError:  # another device: copy next to the target, then rename
                tmp = _tmp_name(path)
                shutil.copyfile(local_file, tmp)
                os.replace(tmp, path)
                os.unlink(local_file)
            return
        try:
            self.fs.put_file(local_file, path)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(local_file)

    def local_tmp(self, path: str) -> str:
        """A temporary local file name for writing what will become `path` (next to it locally, so
        the final step is a rename; in the temporary folder for a store)."""
        if self.local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return _tmp_name(path)
        fd, tmp = tempfile.mkstemp(prefix=TMP_MARK, suffix="-" + os.path.basename(path))
        os.close(fd)
        return tmp

    @contextlib.contextmanager
    def writing(self, path: str) -> Iterator[str]:
        """A local file to write what becomes `path`: put in place when the block ends, removed
        if it raises (the writer that streams into a file rather than handing over bytes)."""
        tmp = self.local_tmp(path)
        try:
            yield tmp
            self.put_local(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def write_table(self, table: pa.Table, path: str, **kwargs: Any) -> None:
        with self.writing(path) as tmp:
            pq.write_table(table, tmp, **kwargs)

    def copy(self, src: Store, src_path: str, path: str) -> None:
        """A complete copy of a file of `src` to `path` here."""
        if self.local and src.local:
            tmp = _tmp_name(path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            shutil.copyfile(src_path, tmp)
            os.replace(tmp, path)
        elif src.fs is self.fs or (type(src.fs) is type(self.fs) and not self.local and src.fs.storage_options == self.fs.storage_options):
            self.fs.copy(src_path, path)  # server-side; the copy appears complete
        else:
            tmp = self.local_tmp(path)
            src.fs.get_file(src_path, tmp)
            self.put_local(tmp, path)

    def rm(self, path: str) -> None:
        if self.local:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(path)

    def rm_tree(self, folder: str) -> None:
        if self.local:
            shutil.rmtree(folder, ignore_errors=True)
            return
        if self.fs.exists(folder):
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(folder, recursive=True)

    def sweep_tmp(self, folder: str) -> int:
        """Removes temporary files an earlier run left (killed mid-write, or a disk-full error)."""
        n = 0
        for p in self.files(folder):
            name = p.rsplit("/", 1)[-1]
            if name.startswith(TMP_MARK) or ".tmp-" in name:
                self.rm(p)
                n += 1
        return n


def _tmp_name(path: str) -> str:
    head, name = os.path.split(path)
    return os.path.join(head, f"{TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}-{name}")


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Writes a local file in one step, the one way every module does it: a temporary name next to
    it (marked, so a killed writer's leftover is swept), then a rename, so a reader sees the old
    file or the new one, never a part; the temporary file is removed on any error."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = _tmp_name(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Layout:
    """OUT's layout: where each file of a run lives (final files under `out`, intermediates under
    `staging`), and the two stores that hold them.

    Final:   data/<source>/<lang>/train-*.parquet, rejected/<stage>/part-*.parquet, stats/,
             manifest.json (the commit point), README.md (the card), .lock.json (one writer)
    Staging: tagged/<shard>-*.parquet + tagged/<shard>.json (marker), rejected/<stage>/<shard>.parquet,
             words/<shard>.parquet, dedup/ (clusters), keepers/<shard>.parquet,
             selected/<source>/<lang>/<shard>-*.parquet
    """

    def __init__(
        self, out: str | os.PathLike[str], staging: str | os.PathLike[str] | None = None, storage_options: dict[str, Any] | None = None
    ) -> None:
        fs, root = url_to_fs(out, storage_options)
        self.out = Store(fs, root, os.fspath(out))
        if staging is None:
            self.stage = Store(fs, self.out.path(".staging"), os.fspath(out) + "/.staging")
        else:
            sfs, sroot = url_to_fs(staging, storage_options)
            self.stage = Store(sfs, sroot, os.fspath(staging))
        self.storage_options = dict(storage_options or {})

    def __repr__(self) -> str:
        return f"Layout({self.out.display(self.out.root)!r})"

    # a Layout travels to Dask workers: keep it comparable for tests and logs
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and (self.out.root, self.stage.root) == (other.out.root, other.stage.root)

    def __hash__(self) -> int:
        return hash((self.out.root, self.stage.root))

    @property
    def local(self) -> bool:
        return self.out.local and self.stage.local

    @property
    def root(self) -> Path:
        """OUT as a local Path (only for local OUT: the report's plots, the Hub push)."""
        if not self.out.local:
            raise ValueError(f"{self.out.display(self.out.root)} is not a local folder")
        return Path(self.out.root)

    # ---- final files ---------------------------------------------------------------------------
    def data_dir(self, source: str | None = None, lang: str | None = None) -> str:
        return self.out.path("data", source or "", lang or "")

    def rejected_dir(self, stage: str | None = None) -> str:
        return self.out.path("rejected", stage or "")

    def stats_dir(self) -> str:
        return self.out.path("stats")

    def stats_json(self) -> str:
        return self.out.path("stats", "stats.json")

    def manifest(self) -> str:
        return self.out.path("manifest.json")

    def card(self) -> str:
        return self.out.path("README.md")

    def lock(self) -> str:
        return self.out.path(".lock.json")

    # ---- staging -------------------------------------------------------------------------------
    def tagged_prefix(self, shard: str) -> str:
        return self.stage.path("tagged", shard)

    def tagged_marker(self, shard: str) -> str:
        return self.stage.path("tagged", f"{shard}.json")

    def staged_rejects(self, stage: str, shard: str) -> str:
        return self.stage.path("rejected", stage, f"{shard}.parquet")

    def staged_rejects_dir(self, stage: str) -> str:
        return self.stage.path("rejected", stage)

    def words_cache(self, shard: str) -> str:
        return self.stage.path("words", f"{shard}.parquet")

    def dedup_dir(self) -> str:
        return self.stage.path("dedup")

    def clusters(self) -> str:
        return self.stage.path("dedup", "clusters.parquet")

    def keepers_dir(self) -> str:
        return self.stage.path("keepers")

    def keepers(self, shard: str) -> str:
        return self.stage.path("keepers", f"{shard}.parquet")

    def selected_dir(self) -> str:
        return self.stage.path("selected")

    def selected_prefix(self, source: str, lang: str, shard: str) -> str:
        return self.stage.path("selected", source, lang, shard)

    def staged(self, rel: str) -> str:
        """A staging path from its name relative to the staging root (what results carry)."""
        return self.stage.path(rel)

    def staged_rel(self, path: str) -> str:
        return self.stage.rel(path)


def as_layout(out: Layout | str | os.PathLike[str]) -> Layout:
    """Library functions take a Layout, or OUT as a path or URL (then staging is OUT/.staging)."""
    return out if isinstance(out, Layout) else Layout(out)


@contextlib.contextmanager
def local_scratch(prefix: str = "curate-") -> Iterator[str]:
    """A local temporary folder (cluster intermediates: memory-mapped signatures), removed after."""
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)

"""Parquet shard writing: zstd, row groups by size, size-based rotation, atomic files, Hub names.

Every file is written under a temporary name and renamed when complete, so a reader (or a rerun
after a crash) never sees a partial Parquet file. Final names `train-0000k-of-0000N.parquet` need N,
which is known only once a source/lang group is complete: select writes parts under `.staging`, and
`publish` packs them into final files in sorted order and swaps the group's folder in one step.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import hashlib
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import OutputConfig

MB = 1024 * 1024


def _compression(cfg: OutputConfig) -> tuple[str, int | None]:
    if cfg.compression == "none":
        return "none", None
    level = cfg.compression_level if cfg.compression in ("zstd", "gzip") else None
    return cfg.compression, level


def tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def staging_output(cfg: OutputConfig) -> OutputConfig:
    """Settings for intermediates under .staging (read once or twice, rewritten by finish): the
    fastest zstd level; final files keep the configured one."""
    return cfg.model_copy(update={"compression": "zstd", "compression_level": 1})


def write_table_atomic(table: pa.Table, path: Path, cfg: OutputConfig) -> None:
    """Small one-shot files (rejects of one shard, clusters): one call, still atomic."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path(path)
    codec, level = _compression(cfg)
    pq.write_table(
        table,
        tmp,
        compression=codec,
        compression_level=level,
        row_group_size=_rows_per_group(table, cfg),
        write_statistics=True,
    )
    os.replace(tmp, path)


def _rows_per_group(table: pa.Table, cfg: OutputConfig) -> int:
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, int(cfg.row_group_mb * MB // per_row))


class RotatingWriter:
    """Streams tables into `<prefix>-00000.parquet`, `<prefix>-00001.parquet`, ... rotating when a
    file reaches `shard_size_mb` on disk; row groups are cut at `row_group_mb` of in-memory data.

    Files appear (by rename) only when closed; `close()` returns the finished paths in order."""

    def __init__(self, prefix: Path, schema: pa.Schema, cfg: OutputConfig) -> None:
        self.prefix = prefix
        self.schema = schema
        self.cfg = cfg
        self._codec, self._level = _compression(cfg)
        self._index = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None
        self._tmp: Path | None = None
        self._buffer: list[pa.Table] = []
        self._buffered_bytes = 0
        self.paths: list[Path] = []
        self.rows = 0

    def _path(self) -> Path:
        return self.prefix.with_name(f"{self.prefix.name}-{self._index:05d}.parquet")

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        self._buffer.append(table)
        self._buffered_bytes += table.nbytes
        self.rows += table.num_rows
        if self._buffered_bytes >= self.cfg.row_group_mb * MB:
            self._flush()

    def _flush(self, force_file: bool = False) -> None:
        if not self._buffer and not force_file:
            return
        table = pa.concat_tables(self._buffer).cast(self.schema) if self._buffer else self.schema.empty_table()
        self._buffer, self._buffered_bytes = [], 0
        if self._writer is None:
            final = self._path()
            final.parent.mkdir(parents=True, exist_ok=True)
            self._tmp = tmp_path(final)
            self._sink = open(self._tmp, "wb")
            self._writer = pq.ParquetWriter(
                self._sink, self.schema, compression=self._codec, compression_level=self._level
            )
        if table.num_rows:
            self._writer.write_table(table, row_group_size=table.num_rows)
        if self._sink.tell() >= self.cfg.shard_size_mb * MB:
            self._close_file()

    def _close_file(self) -> None:
        if self._writer is None:
            return
        self._writer.close()
        self._sink.close()
        final = self._path()
        assert self._tmp is not None
        os.replace(self._tmp, final)
        self.paths.append(final)
        self._writer = self._sink = self._tmp = None
        self._index += 1

    def close(self, ensure_file: bool = False) -> list[Path]:
        """`ensure_file` writes an empty file when nothing was written, for layouts that must exist."""
        self._flush(force_file=ensure_file and not self.paths and self._writer is None)
        self._close_file()
        return self.paths

    def abort(self) -> None:
        """Drop the file being written (an error mid-shard must not leave a half file)."""
        if self._writer is not None:
            self._writer.close()
            self._sink.close()
            assert self._tmp is not None
            self._tmp.unlink(missing_ok=True)
            self._writer = self._sink = self._tmp = None


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MB), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to OUT
    rows: int
    bytes: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "rows": self.rows, "bytes": self.bytes, "sha256": self.sha256}


def describe(path: Path, root: Path) -> FileEntry:
    return FileEntry(
        path=path.relative_to(root).as_posix(),
        rows=pq.ParquetFile(path).metadata.num_rows,
        bytes=path.stat().st_size,
        sha256=file_sha256(path),
    )


def _pack(parts: list[Path], target: int) -> list[list[Path]]:
    """Consecutive parts into bins of about `target` bytes; order is kept, sizes decide, so the
    result is deterministic for the same parts."""
    bins: list[list[Path]] = []
    current: list[Path] = []
    size = 0
    for p in parts:
        s = p.stat().st_size
        if current and size + s > target:
            bins.append(current)
            current, size = [], 0
        current.append(p)
        size += s
    if current:
        bins.append(current)
    return bins


def _concat_files(parts: list[Path], dest: Path, schema: pa.Schema, cfg: OutputConfig) -> None:
    """Row group by row group, so memory stays at one row group whatever the parts' total size."""
    codec, level = _compression(cfg)
    tmp = tmp_path(dest)
    with pq.ParquetWriter(tmp, schema, compression=codec, compression_level=level) as w:
        for p in parts:
            pf = pq.ParquetFile(p)
            for i in range(pf.num_row_groups):
                rg = pf.read_row_group(i).cast(schema)
                w.write_table(rg, row_group_size=max(1, rg.num_rows))
    os.replace(tmp, dest)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.cache
def _renameat2() -> Callable[..., int] | None:
    if sys.platform != "linux":
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # glibc < 2.28, musl
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn  # type: ignore[no-any-return]


def exchange_dirs(a: Path, b: Path) -> bool:
    """Swaps two directories in one step (Linux renameat2 RENAME_EXCHANGE), so whoever opens `b`
    gets the old folder or the new one, never a mix. False where the system or the filesystem
    cannot (the caller then falls back to file-by-file renames)."""
    fn = _renameat2()
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def publish(
    parts: list[Path], dest_dir: Path, stem: str, schema: pa.Schema, cfg: OutputConfig, total_width: int = 5
) -> list[Path]:
    """Packs `parts` (sorted, complete) into `dest_dir/<stem>-0000k-of-0000N.parquet`.

    A bin holding one part is renamed (no rewrite); several small parts are concatenated. The new
    set is assembled in a folder next to the parts (under .staging, same filesystem) and swapped
    with `dest_dir` in one step, so `dest_dir` holds the old complete set or the new one: a kill at
    any moment leaves neither a mix of old and new files nor a temporary file there. Files of an
    earlier run that this run does not produce go with the old folder."""
    bins = _pack(parts, int(cfg.shard_size_mb * MB))
    n = len(bins)
    names = [f"{stem}-{k:0{total_width}d}-of-{n:0{total_width}d}.parquet" for k in range(n)]
    dest_dir.mkdir(parents=True, exist_ok=True)
    if not parts:
        for old in dest_dir.glob("*.parquet"):
            old.unlink()
        return []
    # a plain mkdir (not mkdtemp's 0700): this folder becomes dest_dir
    work = parts[0].parent / f".publish-{dest_dir.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    work.mkdir()
    for name, b in zip(names, bins):
        if len(b) == 1:
            os.replace(b[0], work / name)
        else:
            _concat_files(b, work / name, schema, cfg)
            for p in b:
                p.unlink()
    if exchange_dirs(work, dest_dir):
        shutil.rmtree(work)  # now the old set
    else:
        for name in names:
            os.replace(work / name, dest_dir / name)
        for old in dest_dir.glob("*.parquet"):
            if old.name not in names:
                old.unlink()
        shutil.rmtree(work)
    return [dest_dir / name for name in names]


def remove_stale_dirs(root: Path, keep: Iterable[Path]) -> None:
    """Removes leaf directories under `root` not in `keep` (a source/lang group of an earlier run)."""
    keep_set = {p.resolve() for p in keep}
    if not root.exists():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if d.resolve() in keep_set or any(k.is_relative_to(d.resolve()) for k in keep_set):
            continue
        shutil.rmtree(d)

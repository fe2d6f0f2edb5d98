"""Parquet shard writing: zstd, row groups by size, size-based rotation, atomic files, Hub names.

Every file is written completely (a local temporary file, renamed or uploaded in one step) before
it appears, so a reader (or a rerun after a crash) never sees a partial Parquet file, on a local
disk or an object store alike. Final names `train-0000k-of-0000N-<hash>.parquet` need N, known only
once a source/lang group is complete: select writes parts under staging, and `publish` packs them
into final files in sorted order. The content hash in the name means a new run never overwrites a
file the previous `manifest.json` names: the old set stays valid until the new manifest replaces
it, and finish removes the old files only after that (`pipeline.runner.finish`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.config import OutputConfig
from pipeline.layout import Store, url_to_fs

MB = 1024 * 1024
#: Hex digits of the sha256 in a final file's name.
NAME_HASH = 12


def _local_store() -> Store:
    fs, root = url_to_fs("/")
    return Store(fs, "/", "/")


def _compression(cfg: OutputConfig) -> tuple[str, int | None]:
    if cfg.compression == "none":
        return "none", None
    level = cfg.compression_level if cfg.compression in ("zstd", "gzip") else None
    return cfg.compression, level


def staging_output(cfg: OutputConfig) -> OutputConfig:
    """Settings for intermediates under staging (read once or twice, rewritten by finish): the
    fastest zstd level; final files keep the configured one."""
    return cfg.model_copy(update={"compression": "zstd", "compression_level": 1})


#: A string or binary value longer than this many bytes turns statistics off for its column in the
#: file written (`statistics_for`): the Parquet writer copies a column's min and max per page and
#: column chunk, ~260 MB of peak memory for one 60 MB document, and such min/max values are not
#: stored anyway (Parquet C++ drops those over its statistics size limit; only the null count goes).
LONG_VALUE_BYTES = 1 << 20


def statistics_for(tables: list[pa.Table]) -> bool | list[str]:
    """`write_statistics` for a file holding `tables`: True, or every column but those with a value
    over LONG_VALUE_BYTES (a run without such values writes exactly as before)."""
    long: set[str] = set()
    for t in tables:
        for name, col in zip(t.column_names, t.columns):
            typ = col.type
            if not (pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_binary(typ) or pa.types.is_large_binary(typ)):
                continue
            if len(col) and (pc.max(pc.binary_length(col)).as_py() or 0) > LONG_VALUE_BYTES:
                long.add(name)
    if not long:
        return True
    return [n for n in tables[0].column_names if n not in long]


def write_table_atomic(table: pa.Table, path: str | Path, cfg: OutputConfig, store: Store | None = None) -> None:
    """Small one-shot files (rejects of one shard, clusters): one call, still atomic."""
    codec, level = _compression(cfg)
    (store or _local_store()).write_table(
        table,
        os.fspath(path),
        compression=codec,
        compression_level=level,
        row_group_size=_rows_per_group(table, cfg),
        write_statistics=statistics_for([table]),
    )


def _rows_per_group(table: pa.Table, cfg: OutputConfig) -> int:
    if table.num_rows == 0:
        return 1
    per_row = max(1, table.nbytes // table.num_rows)
    return max(1, int(cfg.row_group_mb * MB // per_row))


class RotatingWriter:
    """Streams tables into `<prefix>-00000.parquet`, `<prefix>-00001.parquet`, ... rotating when a
    file reaches `shard_size_mb` on disk; row groups are cut at `row_group_mb` of in-memory data.

    Each file is written to a local temporary file and appears (rename or upload) only when
    closed; `close()` returns the finished paths in order (Paths for a Path prefix)."""

    def __init__(self, prefix: str | Path, schema: pa.Schema, cfg: OutputConfig, store: Store | None = None) -> None:
        self._paths_type = type(prefix) if isinstance(prefix, Path) else str
        self.prefix = os.fspath(prefix)
        self.store = store or _local_store()
        self.schema = schema
        self.cfg = cfg
        self._codec, self._level = _compression(cfg)
        self._index = 0
        self._writer: pq.ParquetWriter | None = None
        self._sink: Any = None
        self._tmp: str | None = None
        self._buffer: list[pa.Table] = []
        self._buffered_bytes = 0
        self._paths: list[str] = []
        self.rows = 0

    @property
    def paths(self) -> list[Any]:
        return [self._paths_type(p) for p in self._paths]

    def _path(self) -> str:
        return f"{self.prefix}-{self._index:05d}.parquet"

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
            self._tmp = self.store.local_tmp(self._path())
            self._sink = open(self._tmp, "wb")
            # decided when the file opens, from its first row group (a writer's options are fixed)
            stats = statistics_for([table])
            self._writer = pq.ParquetWriter(
                self._sink, self.schema, compression=self._codec, compression_level=self._level, write_statistics=stats
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
        self.store.put_local(self._tmp, final)
        self._paths.append(final)
        self._writer = self._sink = self._tmp = None
        self._index += 1

    def close(self, ensure_file: bool = False) -> list[Any]:
        """`ensure_file` writes an empty file when nothing was written, for layouts that must exist."""
        self._flush(force_file=ensure_file and not self._paths and self._writer is None)
        self._close_file()
        return self.paths

    def abort(self) -> None:
        """Drop the file being written (an error mid-shard must not leave a half file)."""
        if self._writer is not None:
            try:
                self._writer.close()
                self._sink.close()
            finally:
                assert self._tmp is not None
                if os.path.exists(self._tmp):
                    os.unlink(self._tmp)
                self._writer = self._sink = self._tmp = None


def file_sha256(path: str | Path, store: Store | None = None) -> str:
    h = hashlib.sha256()
    with (store.open(os.fspath(path)) if store else open(path, "rb")) as f:
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


def describe(path: str | Path, root: str | Path | Store) -> FileEntry:
    """Rows, bytes and sha256 of a final file; `root` is OUT (a local folder or its Store)."""
    if isinstance(root, Store):
        store, rel = root, root.rel(os.fspath(path))
    else:
        store, rel = _local_store(), Path(path).relative_to(root).as_posix()
    p = os.fspath(path)
    return FileEntry(path=rel, rows=store.parquet_file(p).metadata.num_rows, bytes=store.size(p), sha256=file_sha256(p, store))


def _pack(sizes: list[int], target: int) -> list[list[int]]:
    """Consecutive parts (by index) into bins of about `target` bytes; order is kept, sizes decide,
    so the result is deterministic for the same parts."""
    bins: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, s in enumerate(sizes):
        if current and size + s > target:
            bins.append(current)
            current, size = [], 0
        current.append(i)
        size += s
    if current:
        bins.append(current)
    return bins


def _concat_to_local(stage: Store, parts: list[str], dest: str, schema: pa.Schema, cfg: OutputConfig) -> None:
    """Row group by row group, so memory stays at one row group whatever the parts' total size."""
    codec, level = _compression(cfg)
    with pq.ParquetWriter(dest, schema, compression=codec, compression_level=level) as w:
        for p in parts:
            pf = stage.parquet_file(p)
            for i in range(pf.num_row_groups):
                rg = pf.read_row_group(i).cast(schema)
                w.write_table(rg, row_group_size=max(1, rg.num_rows))


def publish(
    stage: Store, parts: list[str], out: Store, dest_dir: str, stem: str, schema: pa.Schema, cfg: OutputConfig, total_width: int = 5
) -> list[str]:
    """Packs `parts` (sorted, complete, in `stage`) into `dest_dir/<stem>-0000k-of-0000N-<hash>.parquet`
    in `out`, and returns the final paths. Files of an earlier run are left alone (the caller removes
    them once the new manifest is written); a file whose name is already there holds the same bytes
    (the name carries its hash) and is not written again.

    A bin of one part is moved (renamed locally, copied within a store); several small parts are
    concatenated into a local temporary file first. Either way the final file appears complete."""
    sizes = [stage.size(p) for p in parts]
    bins = _pack(sizes, int(cfg.shard_size_mb * MB))
    n = len(bins)
    final: list[str] = []
    for k, b in enumerate(bins):
        group = [parts[i] for i in b]
        if len(group) == 1 and stage.local:
            tmp = group[0]  # a local part is hashed and moved as it is
        else:
            tmp = out.local_tmp(f"{dest_dir}/{stem}.parquet")
            if len(group) == 1:
                stage.fs.get_file(group[0], tmp)
            else:
                _concat_to_local(stage, group, tmp, schema, cfg)
        digest = file_sha256(tmp)
        dest = f"{dest_dir}/{stem}-{k:0{total_width}d}-of-{n:0{total_width}d}-{digest[:NAME_HASH]}.parquet"
        if out.exists(dest):
            os.unlink(tmp)  # the same bytes are there already (the name carries their hash)
        else:
            out.put_local(tmp, dest)
        for p in group:
            if p != tmp:
                stage.rm(p)
        final.append(dest)
    return final

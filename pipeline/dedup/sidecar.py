"""Per-shard dedup sidecar: what the partitioned cluster step needs of one staged shard, written by
the tag task next to the shard (`<staged>.parquet` -> `<staged>.lsh`), so the global ingest pass of
the cluster step disappears and its cost is spread over the parallel tag phase (issue #18).

Why this layout: the final number of band partitions depends on the corpus size, which a tag task
does not know. So every key (LSH band key, exact key) goes to one of `FINE_BUCKETS` fine buckets by
its top bits, rows sorted by bucket, with bucket offsets; a partition task takes a contiguous range
of buckets and reads, from every shard, only that byte range (fsspec range reads; a local file is
read the same way). Rows are stored as row-within-shard (uint32), never as a global document
index: the global index is the shard's offset in sorted shard order plus the row, computed at
cluster time from the row counts. Signatures are a flat (n, num_perm) uint32 matrix and dedup-group
hashes a flat uint64 vector, read by row (memory-mapped when local) only for the docs a task needs.

File format (little-endian): sections back to back, then a JSON footer, then its length (uint64):
    sig      n x num_perm uint32       (empty signature = all EMPTY_VALUE)
    groups   n uint64                  (xxh3-64 of dedup_group, 0 = none)
    band_off FINE_BUCKETS + 1 int64     band rows before each bucket
    band_key uint64, band_row uint32   band keys of non-empty signatures, sorted by (bucket, key, row)
    ex_off / ex_k1 / ex_k2 / ex_row    exact keys (key_hash; empty key and null left out), by bucket of k1
    ex_grp   uint64                    each exact row's dedup-group hash (the exemption, read with
                                       the keys instead of gathered from `groups` by row)
    cs_off / cs_k1 / cs_k2 / cs_row    the same for key_hash_cs (only when the shard has the column)
The footer names each section's byte offset and records num_perm, bands, rows, the format version,
the row count and size of the staged file it was made from: a sidecar that does not match is
rebuilt from the staged shard by the cluster step (old staging, changed band settings).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.config import DedupConfig
from pipeline.dedup.keys import KEY_HASH_CS
from pipeline.layout import Store

__all__ = ["FINE_BUCKETS", "SUFFIX", "Gather", "Sidecar", "read_footer", "sidecar_ok", "sidecar_path", "write_sidecar"]

#: Fine buckets by a key's top bits: 1024 -> up to 1024 partitions, contiguous ranges of buckets each.
FINE_BUCKETS = 1024
_SHIFT = np.uint64(64 - 10)
#: 2: exact keys parsed row by row (1 switched a whole batch to hashed strings on one null or
#: non-hex key, and parsed upper-case hex like lower-case): sidecars of version 1 are rebuilt.
#: 3: the exact-key section carries each row's dedup-group hash (`ex_grp`), so a partition task
#: reads its exact documents' groups with their keys instead of gathering them from every shard.
VERSION = 3
SUFFIX = ".lsh"
_BATCH_ROWS = 16_384
#: Bytes around a gather's rows whose mapped pages are dropped after it (fault-around maps up to
#: 64 kB around a faulting page by default).
_MAP_MARGIN = 1 << 20


def sidecar_path(staged: str) -> str:
    """Where the tag task puts a staged file's sidecar: next to it."""
    return (staged[: -len(".parquet")] if staged.endswith(".parquet") else staged) + SUFFIX


def bucket_of(keys: np.ndarray) -> np.ndarray:
    return (keys >> _SHIFT).astype(np.int64)


def _sorted_by_bucket(cols: list[np.ndarray], rows: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Rows sorted by (bucket of cols[0], cols..., row), and the bucket offsets."""
    order = np.lexsort((rows, *reversed(cols)))  # cols[0] is the primary key: its top bits are the bucket
    cols = [c[order] for c in cols]
    rows = rows[order]
    off = np.searchsorted(bucket_of(cols[0]), np.arange(FINE_BUCKETS + 1)).astype(np.int64)
    return cols, rows, off


def write_sidecar(store: Store, staged: str, out: Store, path: str, cfg: DedupConfig) -> dict[str, Any]:
    """Reads the staged shard `staged` (of `store`) once and writes its sidecar at `path` (of `out`),
    atomically. Per-shard memory: the shard's band keys (12 bytes x bands per document)."""
    from pipeline.dedup.edges import _band_keys, _group_hashes, _hex_keys, _signature_matrix
    from pipeline.dedup.plan import _check_schema
    from pipeline.dedup.minhash import is_empty

    P = cfg.num_perm
    schema = _check_schema(store, staged, P)
    has_cs = KEY_HASH_CS in schema.names
    cols = ["minhash", "key_hash", "dedup_group"] + ([KEY_HASH_CS] if has_cs else [])
    tmp = out.local_tmp(path)
    band_k: list[np.ndarray] = []
    band_r: list[np.ndarray] = []
    ex: dict[str, list[list[np.ndarray]]] = {"ex": [[], [], []], "cs": [[], [], []]}
    groups: list[np.ndarray] = []
    n = n_empty = 0
    try:
        with open(tmp, "wb") as fh:
            pf = store.parquet_file(staged, pre_buffer=False, buffer_size=1 << 20)
            have = set(pf.schema_arrow.names)
            for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=[c for c in cols if c in have]):
                m = batch.num_rows
                if m == 0:
                    continue
                sig = _signature_matrix(batch.column("minhash"), P)
                fh.write(sig.tobytes())
                gcol = batch.column("dedup_group") if "dedup_group" in batch.schema.names else None
                groups.append(_group_hashes(gcol, m))
                rows = np.arange(n, n + m, dtype=np.uint32)
                nonempty = ~is_empty(sig)
                n_empty += int(m - nonempty.sum())
                band_k.append(_band_keys(sig[nonempty], cfg.bands, cfg.rows).reshape(-1))
                band_r.append(np.repeat(rows[nonempty], cfg.bands))
                for name, col in (("ex", "key_hash"), ("cs", KEY_HASH_CS)):
                    if col in batch.schema.names:
                        k1, k2, ok = _hex_keys(batch.column(col))
                        for lst, arr in zip(ex[name], (k1[ok], k2[ok], rows[ok])):
                            lst.append(arr)
                n += m
            sections: dict[str, int] = {"sig": 0}
            pos = n * P * 4

            def put(name: str, arr: np.ndarray) -> None:
                nonlocal pos
                sections[name] = pos
                data = np.ascontiguousarray(arr).tobytes()
                fh.write(data)
                pos += len(data)

            gall = np.concatenate(groups) if groups else np.zeros(0, np.uint64)
            put("groups", gall)
            cat = lambda xs, dt: np.concatenate(xs).astype(dt, copy=False) if xs else np.zeros(0, dt)  # noqa: E731
            (bk,), br, boff = _sorted_by_bucket([cat(band_k, np.uint64)], cat(band_r, np.uint32))
            del band_k, band_r
            put("band_off", boff)
            put("band_key", bk)
            put("band_row", br)
            del bk, br
            for name in ("ex", "cs") if has_cs else ("ex",):
                k1s, k2s, rs = ex[name]
                (k1, k2), r, off = _sorted_by_bucket([cat(k1s, np.uint64), cat(k2s, np.uint64)], cat(rs, np.uint32))
                put(f"{name}_off", off)
                put(f"{name}_k1", k1)
                put(f"{name}_k2", k2)
                put(f"{name}_row", r)
                if name == "ex":
                    put("ex_grp", gall[r])  # the row's dedup-group hash, in the section's order
            footer = {
                "version": VERSION,
                "num_perm": P,
                "bands": cfg.bands,
                "rows": cfg.rows,
                "buckets": FINE_BUCKETS,
                "n": n,
                "n_empty": n_empty,
                "has_cs": has_cs,
                "staged_size": store.size(staged),
                "sections": sections,
            }
            blob = json.dumps(footer, sort_keys=True).encode()
            fh.write(blob)
            fh.write(np.uint64(len(blob)).tobytes())
        out.put_local(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return footer


def read_footer(store: Store, path: str) -> dict[str, Any] | None:
    """The sidecar's footer (None: missing or unreadable)."""
    try:
        size = store.size(path)
        with store.open(path) as fh:
            fh.seek(size - 8)
            length = int(np.frombuffer(fh.read(8), dtype=np.uint64)[0])
            fh.seek(size - 8 - length)
            footer: dict[str, Any] = json.loads(fh.read(length))
        return footer
    except (OSError, ValueError, IndexError, FileNotFoundError):
        return None


def sidecar_ok(footer: dict[str, Any] | None, cfg: DedupConfig, n_rows: int, staged_size: int) -> bool:
    """Was this sidecar made from this staged file with these band settings?"""
    return (
        footer is not None
        and footer.get("version") == VERSION
        and footer.get("buckets") == FINE_BUCKETS
        and (footer.get("num_perm"), footer.get("bands"), footer.get("rows")) == (cfg.num_perm, cfg.bands, cfg.rows)
        and footer.get("n") == n_rows
        and footer.get("staged_size") == staged_size
    )


@dataclass
class Sidecar:
    """Reader of one sidecar: bucket ranges by range reads, signature/group rows by row (local:
    memory-mapped, the pages a gather touched dropped from the resident set right after it)."""

    store: Store
    path: str
    footer: dict[str, Any]

    def __post_init__(self) -> None:
        self._mm: mmap.mmap | None = None
        self._fh: Any = None
        self._fd: int | None = None

    @property
    def n(self) -> int:
        return int(self.footer["n"])

    def _read(self, offset: int, count: int, dtype: Any) -> np.ndarray:
        dt = np.dtype(dtype)
        if count == 0:
            return np.zeros(0, dt)
        if self.store.local:
            # one descriptor per task, positioned reads into the array: a partition task makes
            # ~10 reads per shard, so at 160 shards np.fromfile's open per read was ~20% of it
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY)
            out = np.empty(count, dt)
            view, at = memoryview(out).cast("B"), 0
            while at < len(view):
                got = os.preadv(self._fd, [view[at:]], offset + at)
                if got <= 0:
                    raise OSError(f"{self.path}: sidecar shorter than its footer says")
                at += got
            return out
        with self.store.open(self.path) as fh:
            fh.seek(offset)
            return np.frombuffer(fh.read(count * dt.itemsize), dtype=dt)

    def offsets(self, name: str) -> np.ndarray:
        return self._read(self.footer["sections"][f"{name}_off"], FINE_BUCKETS + 1, np.int64)

    def bucket_range(self, name: str, lo: int, hi: int, fields: Sequence[tuple[str, Any]], off: np.ndarray | None = None) -> list[np.ndarray]:
        """Columns `fields` ((suffix, dtype)) of section `name` for fine buckets [lo, hi)."""
        off = self.offsets(name) if off is None else off
        a, b = int(off[lo]), int(off[hi])
        sec = self.footer["sections"]
        return [self._read(sec[f"{name}_{f}"] + a * np.dtype(dt).itemsize, b - a, dt) for f, dt in fields]

    def _map(self) -> mmap.mmap:
        if self._mm is None:
            self._fh = open(self.path, "rb")  # noqa: SIM115 (closed in close())
            self._mm = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        return self._mm

    def rows(self, section: str, idx: np.ndarray, width: int, dtype: Any) -> np.ndarray:
        """Rows `idx` of a flat (n, width) section: mapped locally, range reads on a store."""
        dt = np.dtype(dtype)
        base = self.footer["sections"][section]
        if self.store.local:
            mm = self._map()
            view = np.frombuffer(mm, dtype=dt, count=self.n * width, offset=base).reshape(self.n, width)
            got = view[idx]
            if len(idx) and hasattr(mmap, "MADV_DONTNEED"):
                # drop the pages this gather mapped (the kernel's fault-around maps neighbours too:
                # hence the margin), so the resident set holds no signature pages between gathers
                lo = max(base + int(idx.min()) * width * dt.itemsize - _MAP_MARGIN, 0)
                hi = min(base + (int(idx.max()) + 1) * width * dt.itemsize + _MAP_MARGIN, len(mm))
                lo -= lo % mmap.PAGESIZE
                mm.madvise(mmap.MADV_DONTNEED, lo, hi - lo)
            return got
        # a store: one ranged GET per distinct row (sorted, coalesced by fsspec's cat_ranges)
        uniq, inv = np.unique(idx, return_inverse=True)
        step = width * dt.itemsize
        starts = (base + uniq * step).tolist()
        blobs = self.store.fs.cat_ranges([self.path] * len(uniq), starts, [s + step for s in starts])
        got = np.frombuffer(b"".join(blobs), dtype=dt).reshape(len(uniq), width)
        return got[inv]

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._mm is not None:
            with contextlib.suppress(BufferError):
                self._mm.close()
            self._fh.close()
            self._mm = self._fh = None


class Gather:
    """Rows of a per-document section over all shards of a run, by global document index (shard
    offset in sorted shard order + row): the `sigs[idx]` / `groups[idx]` of the cluster code."""

    def __init__(self, sidecars: Sequence[Sidecar], offsets: np.ndarray, section: str, width: int, dtype: Any) -> None:
        self.sidecars = list(sidecars)
        self.offsets = np.asarray(offsets, dtype=np.int64)  # len(sidecars) + 1
        self.section, self.width, self.dtype = section, width, np.dtype(dtype)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, idx: np.ndarray | int) -> np.ndarray:
        if np.isscalar(idx):
            return self[np.array([idx], dtype=np.int64)][0]
        idx = np.asarray(idx, dtype=np.int64)
        out = np.empty((len(idx), self.width), dtype=self.dtype)
        if len(idx) == 0:
            return out if self.width > 1 else out[:, 0]
        # rows grouped by shard with one sort (no mask per shard: a block may span thousands of
        # shards), visited only for the shards present, in increasing row order within each
        presorted = bool((idx[1:] >= idx[:-1]).all())
        order = None if presorted else np.argsort(idx, kind="stable")
        sidx = idx if order is None else idx[order]
        cuts = np.searchsorted(sidx, self.offsets).tolist()
        for s in np.flatnonzero(np.diff(cuts)).tolist():
            a, b = cuts[s], cuts[s + 1]
            got = self.sidecars[s].rows(self.section, sidx[a:b] - self.offsets[s], self.width, self.dtype)
            if order is None:
                out[a:b] = got
            else:
                out[order[a:b]] = got
        return out if self.width > 1 else out[:, 0]

    def close(self) -> None:
        for sc in self.sidecars:
            sc.close()


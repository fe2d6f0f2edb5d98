"""Input sources: which shards a source has (`expand_inputs`) and its documents (`iter_shard`).

One input shard is one file: a local path, a URL (`http(s)://`, `s3://`, `gs://`, `hf://`), one line
of a URL list, or one data file of a Hub repo at a pinned commit. Every file goes through our own
readers (`reader.py` for line formats and whole JSON, `tabular.py` for CSV/TSV, XML and Parquet:
one outcome per line or record, bad lines become `malformed` rejects with file and line), remote
ones through fsspec with retries (`remote.py`). One adapter per source type turns records into
Documents (or Rejects, always with stage "read").
"""

from __future__ import annotations

import glob
import itertools
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import xxhash

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.layout import is_url
from pipeline.sources.alpaca import iter_alpaca
from pipeline.sources.chinese import (
    iter_chinese_poetry,
    iter_clue,
    iter_wudao,
    iter_zhwiki,
)
from pipeline.sources.detect import file_stem, unique_stems
from pipeline.sources.dolma import iter_dolma
from pipeline.sources.generic import iter_generic
from pipeline.sources.hub import HubReadError, hub_data_files
from pipeline.sources.oasst import iter_oasst
from pipeline.sources.reader import read_file
from pipeline.sources.records import RawRecord
from pipeline.sources.redpajama import iter_redpajama, iter_redpajama_v2
from pipeline.sources.remote import (
    RemoteReadError,
    hub_repo_files,
    list_remote,
    remote_fingerprint,
)
from pipeline.sources.squad import iter_squad
from pipeline.sources.stackexchange import iter_stackexchange
from pipeline.sources.streams import storage_options

__all__ = ["InputShard", "expand_inputs", "input_fingerprint", "iter_shard", "ADAPTERS", "RawRecord", "HubReadError", "RemoteReadError"]

Adapter = Callable[[Iterable[RawRecord | Reject], SourceConfig], Iterator[Document | Reject]]

ADAPTERS: dict[str, Adapter] = {
    "redpajama": iter_redpajama,
    "redpajama_v2": iter_redpajama_v2,
    "dolma": iter_dolma,
    "oasst": iter_oasst,
    "wudao": iter_wudao,
    "clue": iter_clue,
    "zhwiki": iter_zhwiki,
    "chinese_poetry": iter_chinese_poetry,
    "squad": iter_squad,
    "alpaca": iter_alpaca,
    "generic": iter_generic,
    "stackexchange": iter_stackexchange,
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: Longest shard-name stem: names become file names, and very long ones hit OS limits.
MAX_NAME_STEM = 80


@dataclass(frozen=True)
class InputShard:
    """One unit of parallel work: one input file, local or remote.

    `stem` is the id stem of the file (`<source>/<stem>/<record>` ids), unique within the source;
    left empty it is derived from `location`. `fingerprint` is what the listing already said about
    the file (Hub blob id and commit); empty for files fingerprinted when their task runs."""

    source: str
    index: int
    location: str
    kind: Literal["file", "remote", "hub"]
    stem: str = ""
    fingerprint: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def id_stem(self) -> str:
        if self.stem:
            return self.stem
        return file_stem(self.location)

    @property
    def name(self) -> str:
        """`<source>-<stem>`: deterministic, safe as a file name, and independent of the file's
        position in the listing (a file added to or removed from a URL list renames no other shard,
        so no other shard is re-tagged). Stems are unique within a source; where the slug loses
        characters or is cut, 8 hex digits of the stem's hash keep names unique."""
        stem = self.id_stem
        slug = _slug(stem)
        if slug == stem and len(slug) <= MAX_NAME_STEM:
            return f"{self.source}-{slug}"
        return f"{self.source}-{slug[:MAX_NAME_STEM]}-{xxhash.xxh3_64_hexdigest(stem.encode())[:8]}"


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "input"


def _local_matches(pattern: str) -> list[str]:
    expanded = os.path.expanduser(pattern)
    if glob.has_magic(expanded):
        matches = [m for m in glob.glob(expanded, recursive=True) if os.path.isfile(m)]
    else:
        matches = [expanded] if os.path.isfile(expanded) else []
    if not matches:
        what = "is a directory (use a glob such as dir/*.jsonl)" if os.path.isdir(expanded) else "matches no file"
        raise FileNotFoundError(f"input {pattern!r} {what}")
    return matches


def expand_inputs(src: SourceConfig) -> list[InputShard]:
    """Every input file of a source, one shard each, sorted and de-duplicated: local paths and globs
    (`**` recurses), URLs and store globs (s3, gs, hf), the lines of a URL list, or the data files of
    a Hub repo at the commit its revision names now. A pattern that matches nothing raises
    FileNotFoundError naming it."""
    if src.hub is not None and not (src.hub.data_files or src.hub.data_files_from):
        spec = src.hub
        _, files = hub_repo_files(spec.path, spec.revision, spec.name, spec.split)
        stems = unique_stems([fp["path"] for _, fp in files])
        return [InputShard(src.name, i, loc, "hub", s, fp) for i, ((loc, fp), s) in enumerate(zip(files, stems))]
    found: dict[str, str] = {}  # identity (real path or URL) -> location as given
    patterns = hub_data_files(src.hub) if src.hub is not None else list(src.paths)
    try:
        for pattern in patterns:
            if is_url(pattern) and not pattern.startswith("file://"):
                for url in list_remote(pattern, src.storage_options):
                    found.setdefault(url, url)
                continue
            for m in _local_matches(pattern.removeprefix("file://")):
                found.setdefault(os.path.realpath(m), os.path.normpath(m))
    except FileNotFoundError as e:
        raise FileNotFoundError(f"source {src.name!r}: {e}") from e
    files = sorted(found.values())
    stems = unique_stems(files)
    return [
        InputShard(src.name, i, f, "remote" if is_url(f) else "file", s) for i, (f, s) in enumerate(zip(files, stems))
    ]


def input_fingerprint(shard: InputShard, src: SourceConfig | None = None) -> dict[str, Any]:
    """What identifies the content of a shard's file without reading it: path, size and mtime for
    a local file; ETag and size (or Last-Modified) for a URL; blob id and commit for a Hub file.
    A new dump under the same name is a different input."""
    if shard.fingerprint:
        return dict(shard.fingerprint)
    if shard.kind == "file":
        st = os.stat(shard.location)
        return {"location": shard.location, "kind": "file", "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    return remote_fingerprint(shard.location, src.storage_options if src else None)


def iter_shard(
    shard: InputShard, src: SourceConfig, invalid_utf8: Literal["reject", "repair"] = "reject"
) -> Iterator[Document | Reject]:
    """Documents and rejects (stage "read") of one shard, in input order, through the adapter of
    `src.type`; `hub.limit` stops each file after that many records (samples, smoke tests)."""
    adapter = ADAPTERS[src.type]

    def records() -> Iterator[RawRecord | Reject]:
        with storage_options(src.storage_options):
            items: Iterable[RawRecord | Reject] = read_file(
                shard.location,
                src.name,
                fmt=src.format,
                invalid_utf8=invalid_utf8,
                txt_unit=src.txt_unit,
                stem=shard.id_stem,
                encoding=src.encoding,
            )
            if src.hub is not None and src.hub.limit is not None:
                items = itertools.islice(items, src.hub.limit)
            yield from items

    return adapter(records(), src)

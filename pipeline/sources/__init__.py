"""Input sources: which shards a source has (`expand_inputs`) and its documents (`iter_shard`).

One input shard is one local file or one Hub stream. Local files go through our own line reader
(`reader.py`: one outcome per line, bad lines become `malformed` rejects with file and line); Hub ids
go through `datasets` (`hub.py`). Both yield the same RawRecord, and one adapter per source type turns
records into Documents (or Rejects, always with stage "read").
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources.chinese import iter_alpaca, iter_chinese_poetry, iter_clue, iter_squad, iter_wudao, iter_zhwiki
from pipeline.sources.generic import iter_generic
from pipeline.sources.hub import HubReadError, hub_stem, iter_hub
from pipeline.sources.oasst import iter_oasst
from pipeline.sources.reader import RawRecord, file_stem, read_file, unique_stems
from pipeline.sources.redpajama import iter_dolma, iter_redpajama, iter_redpajama_v2
from pipeline.sources.stackexchange import iter_stackexchange

__all__ = ["InputShard", "expand_inputs", "iter_shard", "ADAPTERS", "RawRecord", "HubReadError"]

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
    """One unit of parallel work: a local file or a Hub stream.

    `stem` is the id stem of the file (`<source>/<stem>/<record>` ids), unique within the source;
    left empty it is derived from `location`."""

    source: str
    index: int
    location: str
    kind: Literal["file", "hub"]
    stem: str = ""

    @property
    def id_stem(self) -> str:
        if self.stem:
            return self.stem
        return file_stem(self.location) if self.kind == "file" else _slug(self.location)

    @property
    def name(self) -> str:
        """`<source>-<index:05d>-<stem>`: deterministic and safe as a file name (the index keeps
        names unique even when stems are cut or slugged alike)."""
        return f"{self.source}-{self.index:05d}-{_slug(self.id_stem)[:MAX_NAME_STEM]}"


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.") or "input"


def expand_inputs(src: SourceConfig) -> list[InputShard]:
    """Local paths (files or globs; `**` recurses) -> sorted, de-duplicated file shards; a Hub
    spec -> one hub shard. A pattern that matches no file raises FileNotFoundError naming it."""
    if src.hub is not None:
        spec = src.hub
        return [InputShard(src.name, 0, spec.path, "hub", hub_stem(spec))]
    found: dict[str, str] = {}  # real path -> path as matched (relative paths stay relative)
    for pattern in src.paths:
        expanded = os.path.expanduser(pattern)
        if glob.has_magic(expanded):
            matches = [m for m in glob.glob(expanded, recursive=True) if os.path.isfile(m)]
        else:
            matches = [expanded] if os.path.isfile(expanded) else []
        if not matches:
            what = "is a directory (use a glob such as dir/*.jsonl)" if os.path.isdir(expanded) else "matches no file"
            raise FileNotFoundError(f"source {src.name!r}: input {pattern!r} {what}")
        for m in matches:
            found.setdefault(os.path.realpath(m), os.path.normpath(m))
    files = sorted(found.values())
    stems = unique_stems(files)
    return [InputShard(src.name, i, f, "file", s) for i, (f, s) in enumerate(zip(files, stems))]


def iter_shard(
    shard: InputShard, src: SourceConfig, invalid_utf8: Literal["reject", "repair"] = "reject"
) -> Iterator[Document | Reject]:
    """Documents and rejects (stage "read") of one shard, in input order, through the adapter of
    `src.type`. `invalid_utf8` applies to local files; Hub rows arrive decoded by `datasets`."""
    adapter = ADAPTERS[src.type]
    records: Iterable[RawRecord | Reject]
    if shard.kind == "hub":
        if src.hub is None:
            raise ValueError(f"source {src.name!r}: shard {shard.name} is a hub shard but the source has no `hub`")
        records = iter_hub(src.hub)
    else:
        records = read_file(
            shard.location,
            src.name,
            fmt=src.format,
            invalid_utf8=invalid_utf8,
            txt_unit=src.txt_unit,
            stem=shard.id_stem,
            encoding=src.encoding,
        )
    return adapter(records, src)

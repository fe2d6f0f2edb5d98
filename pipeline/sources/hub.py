"""Hub (and any `datasets` builder) input: `datasets.load_dataset(..., streaming=True)` -> RawRecords.

Explicit `data_files` (or a URL list, `data_files_from`, as RedPajama publishes) are loaded one file
at a time, so every record names the file it came from and its index within that file: ids stay
stable when the list is filtered or extended, and an error names the file. A Hub id without data
files is one stream (file = the Hub id). `datasets` is imported lazily: it costs about a second.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

from pipeline.config import HubSpec
from pipeline.sources.reader import RawRecord, unique_stems

__all__ = ["HubReadError", "read_listing", "hub_data_files", "hub_stem", "iter_hub"]

#: Seconds to wait for a URL list.
LISTING_TIMEOUT = 60


class HubReadError(ValueError):
    """`datasets` could not load or stream a Hub source. A ValueError so the CLI reports it as one
    clean line (it names the Hub id and the data file) instead of a traceback."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "hub"


def hub_stem(spec: HubSpec) -> str:
    """Id stem of a Hub stream without data files: the id, config and split (`train` and
    `validation` rows must not share ids)."""
    return _slug("_".join(x for x in (spec.path, spec.name, spec.split) if x))


def read_listing(location: str) -> list[str]:
    """Lines of a URL list (local path or http(s) URL); blank lines and #comments skipped."""
    try:
        if re.match(r"^https?://", location):
            with urllib.request.urlopen(location, timeout=LISTING_TIMEOUT) as resp:  # noqa: S310 (http(s) only)
                body = resp.read().decode("utf-8")
        else:
            with open(os.path.expanduser(location), encoding="utf-8") as fh:
                body = fh.read()
    except (OSError, UnicodeDecodeError) as e:
        raise HubReadError(f"cannot read data file list {location!r}: {e}") from e
    out = []
    for line in body.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def hub_data_files(spec: HubSpec) -> list[str]:
    """Explicit data files, then the listed ones (prefix/suffix applied), filtered by substring."""
    files = list(spec.data_files)
    if spec.data_files_from:
        files += [f"{spec.data_files_prefix}{x}{spec.data_files_suffix}" for x in read_listing(spec.data_files_from)]
    if spec.data_files_filter:
        files = [f for f in files if spec.data_files_filter in f]
        if not files:
            raise HubReadError(f"hub source {spec.path!r}: no data file contains {spec.data_files_filter!r}")
    return files


def _load(spec: HubSpec, data_files: list[str] | None) -> Any:
    import datasets

    kwargs: dict[str, Any] = {"split": spec.split, "streaming": True}
    if spec.revision:
        kwargs["revision"] = spec.revision
    if data_files:
        # a plain list would land in the "train" split; map it to the split asked for
        kwargs["data_files"] = {spec.split: data_files}
    return datasets.load_dataset(spec.path, spec.name, **kwargs)


def iter_hub(spec: HubSpec) -> Iterator[RawRecord]:
    """Rows of a Hub data set as RawRecords (line=None, record = index within the data file, or
    within the stream without data files); stops after `spec.limit` records in all. Any error from
    `datasets` is re-raised as HubReadError naming the Hub id (and data file)."""
    files = hub_data_files(spec)
    targets: list[tuple[str, str, list[str] | None]]
    if files:
        targets = [(f, stem, [f]) for f, stem in zip(files, unique_stems(files))]
    else:
        targets = [(spec.path, hub_stem(spec), None)]
    left = spec.limit
    for file, stem, data_files in targets:
        if left is not None and left <= 0:
            return
        where = f"hub source {spec.path!r}" + (f" config {spec.name!r}" if spec.name else "") + f" split {spec.split!r}"
        if data_files:
            where += f", data file {file!r}"
        i = 0
        try:
            ds = _load(spec, data_files)
            it = iter(ds)
            while left is None or left > 0:
                try:
                    row = next(it)
                except StopIteration:
                    break
                yield RawRecord(dict(row), file, None, i, None, 0, stem)
                i += 1
                if left is not None:
                    left -= 1
        except HubReadError:
            raise
        except Exception as e:  # datasets raises many types (FileNotFoundError, ConnectionError, ArrowInvalid, ...)
            raise HubReadError(f"{where}: {type(e).__name__}: {e} (after {i} records)") from e

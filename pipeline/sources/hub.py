"""URL lists and explicit data files of a `hub:` source: one input shard per listed file.

RedPajama publishes its files as URL lists (`urls.txt`); RedPajama-V2's listings hold stems that a
prefix and suffix turn into URLs. Every listed file is read by our own reader (`reader.py`), so its
records name the file they came from and their index within it: ids stay stable when the list is
filtered or extended. A Hub repo without data files is listed in `remote.hub_repo_files`.
"""

from __future__ import annotations

import os

from pipeline.config import HubSpec
from pipeline.layout import is_url, redact_url

__all__ = ["HubReadError", "read_listing", "hub_data_files"]

#: Seconds to wait for a URL list.
LISTING_TIMEOUT = 60


class HubReadError(ValueError):
    """A URL list or a data file list that cannot be used. A ValueError so the CLI reports it as one
    clean line naming the list instead of a traceback."""


def read_listing(location: str) -> list[str]:
    """Lines of a URL list (local path or URL: http(s), s3, hf...); blank lines and #comments skipped."""
    try:
        if is_url(location):
            from pipeline.sources.remote import RemoteReadError, open_input

            try:
                with open_input(location) as fh:
                    body = fh.read().decode("utf-8")
            except RemoteReadError as e:
                raise OSError(str(e)) from e
        else:
            with open(os.path.expanduser(location), encoding="utf-8") as fh:
                body = fh.read()
    except (OSError, UnicodeDecodeError) as e:
        raise HubReadError(f"cannot read data file list {redact_url(location)!r}: {e}") from e
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



"""Finding a run's files by what they are, not by their content-addressed names
(`part-00000-of-00001-<sha256[:12]>.parquet`, see pipeline/shards.py)."""

from __future__ import annotations

from pathlib import Path


def only_part(folder: Path) -> Path:
    """The single Parquet file of a folder of OUT (e.g. rejected/<stage>/ of a small run)."""
    files = sorted(folder.glob("*.parquet"))
    assert len(files) == 1, f"{folder}: expected one Parquet file, found {[f.name for f in files]}"
    return files[0]

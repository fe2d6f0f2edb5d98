"""Helpers of the input-format tests: one `curate shard` run and what it wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
from click.testing import CliRunner, Result

from pipeline.cli import main


def shard(inputs: list[Path], out: Path, *args: str) -> Result:
    """`curate shard INPUTS --out OUT ARGS` with no quality rule and every language kept, so the
    read stage alone decides what is kept."""
    cmd = ["shard", *map(str, inputs), "--out", str(out), "--quality-profile", "none", "--languages", "all", "--no-progress", *args]
    return CliRunner().invoke(main, cmd)


def read_stage(out: Path) -> dict[str, Any]:
    """stats.json's read-stage totals."""
    stats = orjson.loads((out / "stats" / "stats.json").read_bytes())
    return stats["stages"]["read"]["total"]  # type: ignore[no-any-return]


def normalize_changes(out: Path) -> dict[str, dict[str, int]]:
    return orjson.loads((out / "stats" / "stats.json").read_bytes())["normalize"]  # type: ignore[no-any-return]


def read_rejects(out: Path) -> list[dict[str, Any]]:
    paths = sorted((out / "rejected" / "read").glob("*.parquet"))
    return [r for p in paths for r in pq.read_table(p).to_pylist()]


def kept_rows(out: Path) -> list[dict[str, Any]]:
    rows = [r for f in sorted((out / "data").rglob("*.parquet")) for r in pq.read_table(f).to_pylist()]
    for r in rows:
        r["meta"] = orjson.loads(r["meta"]) if r.get("meta") else {}
    return rows

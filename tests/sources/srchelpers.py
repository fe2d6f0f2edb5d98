"""Helpers shared by the source tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import SourceConfig
from pipeline.document import Document, Reject
from pipeline.sources import expand_inputs, iter_shard

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
SAMPLES = REPO / "data" / "samples"

Items = list[Document | Reject]


def read_source(invalid_utf8: str = "reject", **cfg: Any) -> Items:
    """Every document and reject of a source, all shards in order."""
    src = SourceConfig(**{"name": "src", **cfg})
    out: Items = []
    for shard in expand_inputs(src):
        out.extend(iter_shard(shard, src, invalid_utf8))  # type: ignore[arg-type]
    return out


def docs(items: Items) -> list[Document]:
    return [x for x in items if isinstance(x, Document)]


def rejects(items: Items) -> list[Reject]:
    return [x for x in items if isinstance(x, Reject)]

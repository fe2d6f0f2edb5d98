"""Shared helpers of the dedup tests: real sample texts and staged-shard tables built from them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.dedup.keys import case_sensitive_key_hash
from pipeline.dedup.minhash import signatures
from pipeline.dedup.keys import key_hash, normalize_key

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def c4_texts() -> list[str]:
    return [json.loads(line)["text"] for line in (SAMPLES / "en/c4_demo.jsonl").read_text("utf-8").splitlines()]


def cmrc_texts() -> list[str]:
    data = json.loads((SAMPLES / "zh/cmrc2018_dev.json").read_text("utf-8"))
    return [p["context"] for d in data["data"] for p in d["paragraphs"]]


def oasst_texts() -> list[str]:
    out = []
    for line in (SAMPLES / "oasst/en_100_tree.jsonl").read_text("utf-8").splitlines():
        p = json.loads(line)["prompt"]
        out.append(p["text"])
        out += [r["text"] for r in p.get("replies", [])]
    return out


def alpaca_texts() -> list[str]:
    recs = json.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_text("utf-8"))
    return ["\n\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x) for r in recs]


def poems() -> list[str]:
    recs = json.loads((SAMPLES / "zh/poet.tang.0.json").read_text("utf-8"))
    return [r["title"] + "\n" + "\n".join(r["paragraphs"]) for r in recs]


@dataclass
class Doc:
    id: str
    source: str
    text: str
    group: str | None = None


def staged_table(docs: list[Doc], cfg: DedupConfig, *, list_type: bool = False) -> pa.Table:
    """A staged-shard-like table (the columns cluster() reads) for `docs`."""
    sigs = signatures([d.text for d in docs], cfg)
    values = pa.array(sigs.reshape(-1), type=pa.uint32())
    if list_type:
        offsets = pa.array(np.arange(0, len(docs) * cfg.num_perm + 1, cfg.num_perm, dtype=np.int32))
        minhash = pa.ListArray.from_arrays(offsets, values)
    else:
        minhash = pa.FixedSizeListArray.from_arrays(values, cfg.num_perm)
    return pa.table(
        {
            "id": [d.id for d in docs],
            "source": [d.source for d in docs],
            "key_hash": [key_hash(normalize_key(d.text)) for d in docs],
            "key_hash_cs": [case_sensitive_key_hash(d.text) for d in docs],
            "dedup_group": pa.array([d.group for d in docs], type=pa.string()),
            "n_chars": pa.array([len(d.text) for d in docs], type=pa.int64()),
            "minhash": minhash,
        }
    )


def write_shards(docs: list[Doc], folder: Path, cfg: DedupConfig, shards: int = 2) -> list[Path]:
    """Writes `docs` as `shards` staged Parquet files (contiguous slices) and returns the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    table = staged_table(docs, cfg)
    paths = []
    step = -(-len(docs) // shards)
    for i in range(shards):
        part = table.slice(i * step, step)
        path = folder / f"staged-{i:03d}.parquet"
        pq.write_table(part, path)
        paths.append(path)
    return paths


def clusters_of(path: Path) -> dict[str, set[str]]:
    """cluster id -> member ids of a clusters.parquet."""
    out: dict[str, set[str]] = {}
    for r in pq.read_table(path).to_pylist():
        out.setdefault(r["cluster"], set()).add(r["id"])
    return out

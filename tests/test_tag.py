"""Tag-level options on real samples: Traditional -> Simplified, oasst tree groups, language hints."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import parse_config
from pipeline.runner import run_local

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def test_t2s_converts_traditional_and_keeps_the_variant_tag(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "sources": [{"name": "tang", "type": "chinese_poetry", "paths": [str(SAMPLES / "zh/poet.tang.0.json")]}],
            "normalize": {"t2s": True},
            "dedup": {"enabled": False},
            "quality": {"enabled": False},
        }
    )
    run_local(cfg, tmp_path)
    rows = pq.read_table(tmp_path / "data" / "tang" / "zh").to_pylist()
    assert len(rows) == 1000
    first = next(r for r in rows if r["text"].startswith("帝京篇十首 一"))
    # 壯 -> 壮, 綺 -> 绮, 離宮 -> 离宫 (poet.tang.0.json, record 0)
    assert "函谷壮皇居" in first["text"] and "绮殿千寻起，离宫百雉余。" in first["text"]
    assert {r["zh_variant"] for r in rows} == {"zh-Hant"}
    stats = json.loads((tmp_path / "stats" / "stats.json").read_text())
    assert stats["normalize"]["tang"]["t2s_converted"] >= 990
    assert stats["dedup"] == {"enabled": False}


def test_oasst_threads_carry_their_tree_and_hint(tmp_path: Path) -> None:
    cfg = parse_config({"sources": [{"name": "oasst", "type": "oasst", "paths": [str(SAMPLES / "oasst/en_100_tree.jsonl")]}]})
    run_local(cfg, tmp_path)
    (staged,) = sorted((tmp_path / ".staging" / "tagged").glob("*.parquet"))
    t = pq.read_table(staged, columns=["dedup_group", "lang_hint", "lang", "minhash"])
    groups = t.column("dedup_group").to_pylist()
    assert all(g is not None and g.startswith("oasst/") for g in groups)
    assert len(set(groups)) == 100  # one group per message tree
    assert set(t.column("lang_hint").to_pylist()) == {"en"}
    assert len(t.column("minhash")[0]) == 128
    stats = json.loads((tmp_path / "stats" / "stats.json").read_text())
    assert stats["lang_hint"]["oasst"]["agreement"] == 1.0
    assert stats["stages"]["dedup"]["total"]["docs_rejected"] == 0  # threads of one tree are exempt

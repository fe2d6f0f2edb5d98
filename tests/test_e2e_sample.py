"""End to end on the shipped samples (in-process): layout, readability, manifest, accounting, determinism."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.config import load_config
from pipeline.document import FINAL_SCHEMA, REJECT_SCHEMA
from pipeline.runner import RunSummary, run_local
from pipeline.shards import file_sha256
from pipeline.stats import STAGES
from outfiles import only_part

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"

EXPECTED_DOCS = {
    # + 1 half-French comment thread -> rejected/language; 43 pages fail the Gopher/C4 web rules
    # (29 of them under Gopher's 50 words) -> rejected/quality
    ("redpajama_c4", "en"): 255,
    ("cc_en", "en"): 18,  # 2 fail the web rules (ellipsis lines, min words)
    ("oasst", "en"): 626,  # threads (root-to-leaf paths) of the 100 trees in en_100_tree.jsonl
    ("poetry_tang", "zh"): 991,  # 8 poems appear twice in the file (under two titles); 1 has □ placeholders
    ("poetry_song", "zh"): 997,  # 1 near-duplicate ci; 2 with placeholder symbols
    ("cmrc2018", "zh"): 835,  # 12 paragraphs repeat long n-grams (curated profile)
    ("cmrc2018", "en"): 1,  # a paragraph whose English track list outweighs its Chinese
    ("alpaca_zh", "zh"): 964,  # 8 exact duplicates removed, 2 fail the instruction profile
    ("alpaca_zh", "en"): 24,  # English translation/code tasks (+1 es, +1 hu -> rejected/language)
}


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary]:
    out = tmp_path_factory.mktemp("sample") / "out"
    cfg = load_config(REPO / "data/configs/sample.yaml")
    return out, run_local(cfg, out)


def _data_files(out: Path) -> list[Path]:
    return sorted((out / "data").rglob("*.parquet"))


def test_layout_and_exact_counts(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    groups = {}
    for f in _data_files(out):
        rel = f.relative_to(out / "data")
        assert re.fullmatch(r"train-\d{5}-of-\d{5}-[0-9a-f]{12}\.parquet", rel.name)
        key = (rel.parts[0], rel.parts[1])
        groups[key] = groups.get(key, 0) + pq.ParquetFile(f).metadata.num_rows
    assert groups == EXPECTED_DOCS
    for stage in STAGES:
        assert only_part(out / "rejected" / stage).exists()
    assert (out / "stats" / "stats.json").exists()
    assert (out / "manifest.json").exists()
    assert not [p for p in out.rglob("*") if ".tmp-" in p.name]


def test_every_shard_reads_with_the_final_schema(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    for f in _data_files(out):
        table = pq.read_table(f)
        assert table.schema.equals(FINAL_SCHEMA), f
        assert table.column("text").null_count == 0
        ids = table.column("id").to_pylist()
        assert len(ids) == len(set(ids))
    for f in (out / "rejected").rglob("*.parquet"):
        assert pq.read_table(f).schema.equals(REJECT_SCHEMA)


def test_manifest_matches_files(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = sorted(p.relative_to(out).as_posix() for p in list((out / "data").rglob("*.parquet")) + list((out / "rejected").rglob("*.parquet")))
    assert sorted(listed) == on_disk
    for rel, entry in listed.items():
        path = out / rel
        assert entry["sha256"] == file_sha256(path)
        assert entry["bytes"] == path.stat().st_size
        assert entry["rows"] == pq.ParquetFile(path).metadata.num_rows
    assert manifest["totals"]["data_rows"] == sum(EXPECTED_DOCS.values())
    assert len(manifest["config_hash"]) == 64
    assert {"python", "pyarrow", "tiktoken", "curate"} <= set(manifest["packages"])


def test_stats_balance_for_every_stage(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    stats = json.loads((out / "stats" / "stats.json").read_text())
    assert list(stats["stages"]) == list(STAGES)
    for stage, block in stats["stages"].items():
        for s in [block["total"], *block["by_source"].values()]:
            assert s["docs_in"] == s["docs_kept"] + s["docs_rejected"], stage
            assert s["docs_rejected"] == sum(s["rejected_by_reason"].values())
    for prev, nxt in zip(STAGES, STAGES[1:]):
        assert stats["stages"][prev]["total"]["docs_kept"] == stats["stages"][nxt]["total"]["docs_in"]
    final = stats["stages"][STAGES[-1]]["total"]
    assert final["docs_kept"] == stats["sizes"]["total"]["docs"] == sum(EXPECTED_DOCS.values())
    # tokens counted in tag add up to the kept sizes
    assert final["tokens_kept"] == stats["sizes"]["total"]["tokens"]
    zh = stats["sizes"]["by_lang"]["zh"]
    en = stats["sizes"]["by_lang"]["en"]
    assert zh["bytes_per_char"] > 2.5 and en["bytes_per_char"] < 1.1  # UTF-8 Chinese ~3 bytes/char


CJK_PUNCT = re.compile("[，。！？；：、「」『』（）《》〈〉【】…—·]")


def _poetry_texts(name: str) -> list[str]:
    return [
        (r.get("title") or r.get("rhythmic") or "") + "\n" + "\n".join(r["paragraphs"])
        for r in orjson.loads((SAMPLES / "zh" / name).read_bytes())
    ]


def _all_texts(out: Path, source: str) -> list[str]:
    """Every document of a source after normalization: kept ones and those select rejected."""
    texts = [t for f in sorted((out / "data" / source).rglob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]
    for stage in ("language", "quality", "dedup"):
        rej = pq.read_table(only_part(out / "rejected" / stage))
        texts += [r["text"] for r in rej.to_pylist() if r["source"] == source]
    return texts


@pytest.mark.parametrize(("source", "file"), [("poetry_tang", "poet.tang.0.json"), ("poetry_song", "ci.song.0.json")])
def test_chinese_punctuation_survives(sample_run: tuple[Path, RunSummary], source: str, file: str) -> None:
    out, _ = sample_run
    texts = _all_texts(out, source)
    originals = _poetry_texts(file)
    assert len(texts) == len(originals) == 1000
    assert sorted(CJK_PUNCT.findall(t) for t in texts) == sorted(CJK_PUNCT.findall(o) for o in originals)
    total = Counter(c for t in texts for c in CJK_PUNCT.findall(t))
    assert total["，"] > 1000 and total["。"] > 1000


def test_cmrc_contexts_keep_their_punctuation(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    data = orjson.loads((SAMPLES / "zh" / "cmrc2018_dev.json").read_bytes())
    contexts = [p["context"] for d in data["data"] for p in d["paragraphs"]]
    texts = _all_texts(out, "cmrc2018")
    assert len(texts) == len(contexts) == 848
    assert sorted(CJK_PUNCT.findall(t) for t in texts) == sorted(CJK_PUNCT.findall(c) for c in contexts)


def test_rerun_skips_tagging_and_is_byte_identical(sample_run: tuple[Path, RunSummary], tmp_path: Path) -> None:
    out, first = sample_run
    before = {p: file_sha256(p) for p in sorted(out.rglob("*")) if p.is_file() and ".staging" not in p.parts}
    cfg = load_config(REPO / "data/configs/sample.yaml")
    again = run_local(cfg, out)
    assert len(again.skipped_shards) == 8 and not first.skipped_shards  # 8 input files
    after = {p: file_sha256(p) for p in sorted(out.rglob("*")) if p.is_file() and ".staging" not in p.parts}
    assert before == after
    # a fresh output directory gives the same bytes too
    fresh = tmp_path / "fresh"
    run_local(cfg, fresh)
    fresh_hashes = {p.relative_to(fresh): file_sha256(p) for p in sorted(fresh.rglob("*")) if p.is_file() and ".staging" not in p.parts}
    assert fresh_hashes == {p.relative_to(out): h for p, h in before.items()}


def test_rejects_say_why_and_of_what(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    lang = pq.read_table(only_part(out / "rejected" / "language")).to_pylist()
    assert sorted((r["source"], r["drop_value"]) for r in lang) == [("alpaca_zh", "es"), ("alpaca_zh", "hu"), ("redpajama_c4", "fr")]
    assert all(r["lang"] == r["drop_value"] and 0 < r["lang_score"] <= 1 for r in lang)
    quality = pq.read_table(only_part(out / "rejected" / "quality")).to_pylist()
    assert len(quality) == 63
    for r in quality:
        rule = r["drop_reason"].removeprefix("quality:")
        assert r["drop_reason"].startswith("quality:") and rule in r["q_failed"] and r["drop_value"] is not None
    dups = pq.read_table(only_part(out / "rejected" / "dedup")).to_pylist()
    assert Counter(r["drop_reason"] for r in dups) == {"exact_duplicate": 8, "near_duplicate": 9}
    kept_ids = {i for f in _data_files(out) for i in pq.read_table(f, columns=["id"]).column("id").to_pylist()}
    for r in dups:
        assert r["duplicate_of"] in kept_ids and r["duplicate_of"] != r["id"]
        assert r["stage"] == "dedup"
    stats = json.loads((out / "stats" / "stats.json").read_text())
    assert stats["dedup"]["casing_impact"] >= 0
    assert stats["lang_hint"]["poetry_tang"]["agreement"] == 1.0


def test_final_columns_variant_words_and_clusters(sample_run: tuple[Path, RunSummary]) -> None:
    out, _ = sample_run
    tang = pq.read_table(out / "data" / "poetry_tang" / "zh").to_pylist()
    song = pq.read_table(out / "data" / "poetry_song" / "zh").to_pylist()
    assert {r["zh_variant"] for r in tang} == {"zh-Hant"}
    assert {r["zh_variant"] for r in song} == {"zh-Hans"}
    assert all(r["n_words"] > 0 for r in tang + song)
    survivors = [r for r in tang if r["dup_cluster"] is not None]
    assert len(survivors) == 8 and all(r["dup_cluster_size"] >= 2 for r in survivors)
    assert all(r["dup_cluster_size"] == 1 for r in tang if r["dup_cluster"] is None)

"""stats.json of a real run: valid against its JSON Schema, consistent with the shards it describes,
and equal to statistics computed on the whole run at once (shard stats add up)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.select import _account_kept
from pipeline.sketches import hll_count, hll_registers, vocab_registers
from pipeline.stats import STAGES, RunStats
from outfiles import only_part

REPO = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((REPO / "pipeline" / "stats.schema.json").read_text())


@pytest.fixture(scope="module")
def stats(sample_out: Path) -> dict:
    return json.loads((sample_out / "stats" / "stats.json").read_text())


@pytest.fixture(scope="module")
def final(sample_out: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(f) for f in sorted((sample_out / "data").rglob("*.parquet")))


def test_schema_is_valid_and_the_run_matches_it(stats: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.Draft202012Validator(SCHEMA).validate(stats)


def test_schema_rejects_a_broken_file(stats: dict) -> None:
    broken = json.loads(json.dumps(stats))
    del broken["stages"]["dedup"]["total"]["rejected_bytes_by_reason"]
    with pytest.raises(jsonschema.ValidationError, match="rejected_bytes_by_reason"):
        jsonschema.validate(broken, SCHEMA)
    broken = json.loads(json.dumps(stats))
    broken["sizes"]["total"]["tokens"] = -1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


def test_totals_equal_the_shard_columns(stats: dict, final: pa.Table) -> None:
    total = stats["sizes"]["total"]
    assert total["docs"] == final.num_rows
    for unit, col in (("bytes", "n_bytes"), ("chars", "n_chars"), ("tokens", "n_tokens"), ("words", "n_words")):
        assert total[unit] == pc.sum(final.column(col)).as_py(), unit
    assert stats["stages"]["dedup"]["total"]["tokens_kept"] == total["tokens"]


def test_funnel_balances_in_docs_bytes_and_tokens(stats: dict) -> None:
    prev = None
    for stage in STAGES:
        for block in [stats["stages"][stage]["total"], *stats["stages"][stage]["by_source"].values()]:
            assert block["docs_in"] == block["docs_kept"] + sum(block["rejected_by_reason"].values())
            assert block["bytes_in"] == block["bytes_kept"] + sum(block["rejected_bytes_by_reason"].values())
            assert block["tokens_in"] == block["tokens_kept"] + sum(block["rejected_tokens_by_reason"].values())
        total = stats["stages"][stage]["total"]
        if prev is not None:
            assert total["docs_in"] == prev["docs_kept"]
        prev = total


def test_duplicate_rates_match_the_dedup_rejects(stats: dict, sample_out: Path) -> None:
    rejects = pq.read_table(only_part(sample_out / "rejected" / "dedup"))
    dup = stats["duplicates"]
    assert dup["total"]["within"] + dup["total"]["across"] == rejects.num_rows == 17
    per_source = Counter(rejects.column("source").to_pylist())
    for src, block in dup["by_source"].items():
        assert block["within"] + block["across"] == per_source.get(src, 0)
        assert block["docs_in"] == stats["stages"]["dedup"]["by_source"][src]["docs_in"]
    # on the samples every duplicate has its keeper in its own source
    assert dup["total"]["across"] == 0
    assert {s: sum(v["docs"] for v in k.values()) for s, k in dup["pairs"].items()} == dict(per_source)
    assert dup["pairs"]["alpaca_zh"]["alpaca_zh"]["tokens"] == pc.sum(
        rejects.filter(pc.equal(rejects.column("source"), "alpaca_zh")).column("n_tokens")
    ).as_py()


def test_stats_from_shards_equal_stats_of_the_whole_run(stats: dict, final: pa.Table) -> None:
    """Recompute the kept-document sketches from the final shards in one go (one table per
    source x language) and compare with what select summed shard by shard."""
    whole = RunStats()
    groups = final.group_by(["source", "lang"]).aggregate([]).to_pylist()
    for g in groups:
        part = final.filter(pc.and_(pc.equal(final.column("source"), g["source"]), pc.equal(final.column("lang"), g["lang"])))
        _account_kept(whole, g["source"], g["lang"], part)
    d = whole.to_dict()
    assert d["histograms"] == stats["histograms"]
    assert d["variants"] == stats["variants"]
    assert d["vocab"] == stats["vocab"]


def test_variants_and_histograms_on_the_samples(stats: dict) -> None:
    zh = stats["variants"]["by_lang"]["zh"]
    # Tang poems are stored in Traditional characters, the rest of the Chinese samples in Simplified
    assert stats["variants"]["by_source"]["poetry_tang"]["zh"] == {"zh-Hant": {"docs": 991, "chars": 65197}}
    assert zh["zh-Hant"]["docs"] + zh["zh-Hans"]["docs"] == stats["sizes"]["by_lang"]["zh"]["docs"]
    hist = stats["histograms"]["chars"]["by_lang"]["en"]
    assert hist["docs"] == stats["sizes"]["by_lang"]["en"]["docs"]
    assert sum(b[2] for b in hist["buckets"]) == hist["docs"]
    q = hist["quantiles"]
    assert q["p10"] <= q["p50"] <= q["p90"] <= q["p99"]


def test_casing_figures(stats: dict) -> None:
    # one exact duplicate on the samples is a duplicate only when case is ignored
    assert stats["casing"] == {"exact_dup_docs": 10, "exact_dup_docs_cased": 9, "extra_duplicates": 1}
    en = stats["vocab"]["by_lang"]["en"]
    assert en["uncased"] < en["cased"]
    assert en["reduction"] == round(1 - en["uncased"] / en["cased"], 4)


def test_hll_registers_match_datasketch_and_estimate_well() -> None:
    import xxhash
    from datasketch import HyperLogLog

    words = [f"word{i}".encode() for i in range(20_000)]
    ref = HyperLogLog(p=12, hashfunc=lambda b: xxhash.xxh3_64_intdigest(b) & 0xFFFFFFFF)
    for w in words:
        ref.update(w)
    reg = hll_registers(np.array([xxhash.xxh3_64_intdigest(w) for w in words], dtype=np.uint64))
    assert np.array_equal(reg, ref.reg)
    assert abs(hll_count(reg) - 20_000) / 20_000 < 0.05


def test_vocab_words_have_case_and_skip_caseless_scripts() -> None:
    cased, uncased = vocab_registers(pa.array(["Hello World hello, 你好 World! The the THE café Ünïcode ひらがな"]))
    # Hello World hello The the THE café Ünïcode / hello world the café ünïcode
    assert (hll_count(cased), hll_count(uncased)) == (8, 5)

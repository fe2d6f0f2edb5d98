"""`curate mix` (issue 20 item 4): token shares, the epoch limit and its shortfall, a validation split
without shared documents or duplicate clusters, byte-identical reruns, --plan equal to the output."""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from pipeline.mix import MixError, MixOptions, parse_count, plan_mix, plan_table, write_mix

WEIGHTS = {"redpajama_c4": 0.25, "cmrc2018": 0.25, "poetry_tang": 0.25, "cc_en": 0.25}
BUDGET = 400_000


def _read(dest: Path, split: str) -> pa.Table:
    files = sorted((dest / "data").glob(f"{split}-*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files])


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_shares_epochs_and_shortfall(sample_out: Path, tmp_path: Path) -> None:
    opts = MixOptions(tokens=BUDGET, weights=WEIGHTS, max_epochs=4, validation=0.02, seed=3)
    plan = plan_mix(sample_out, opts)
    doc = write_mix(sample_out, tmp_path / "mix", plan)
    train = _read(tmp_path / "mix", "train")
    by_source = Counter()
    for src, n in zip(train.column("source").to_pylist(), train.column("n_tokens").to_pylist()):
        by_source[src] += n
    sources = {s["source"]: s for s in doc["sources"]}
    # cc_en holds ~33K tokens: 100K would be 3 epochs, so it suffices; the others are sampled
    for src, w in WEIGHTS.items():
        assert sources[src]["shortfall"] == 0
        assert abs(by_source[src] / BUDGET - w) <= 0.01 * w, (src, by_source[src])
        assert by_source[src] == sources[src]["tokens"]
    assert set(by_source) == set(WEIGHTS)
    reps = Counter(zip(train.column("source").to_pylist(), train.column("id").to_pylist()))
    # cc_en: 3 whole passes over its pool, then a sample of the rest: some documents 4 times, none more
    assert 3 < sources["cc_en"]["epochs"] <= 4
    assert max(n for (s, _), n in reps.items() if s == "cc_en") == 4 == pc.max(train.column("mix_epoch")).as_py() + 1
    assert min(n for (s, _), n in reps.items() if s == "cc_en") == 3
    assert sources["poetry_tang"]["epochs"] > 1 and sources["cmrc2018"]["epochs"] < 1


def test_max_epochs_caps_a_small_source(sample_out: Path) -> None:
    plan = plan_mix(sample_out, MixOptions(tokens=BUDGET, weights={"cc_en": 0.5, "oasst": 0.5}, max_epochs=4, seed=1))
    cc = next(s for s in plan.sources if s.source == "cc_en")
    assert cc.epochs == 4.0 and cc.tokens == 4 * cc.pool
    assert cc.shortfall == 200_000 - 4 * cc.pool > 0
    assert f"shortfall: cc_en reaches {cc.tokens:,} of 200,000 tokens (4.000 epochs, limit 4)" in plan_table(plan)
    half = plan_mix(sample_out, MixOptions(tokens=BUDGET, weights={"cc_en": 0.5, "oasst": 0.5}, max_epochs=2.5, seed=1))
    cc = next(s for s in half.sources if s.source == "cc_en")
    assert 2.4 <= cc.epochs <= 2.6 and cc.shortfall > 0


def test_validation_shares_no_document_or_cluster(sample_out: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(sample_out, out)
    # give cmrc2018 real multi-document clusters (as label_only dedup would keep them)
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    (rel,) = [f["path"] for f in manifest["files"] if f["path"].startswith("data/cmrc2018/zh/")]
    t = pq.read_table(out / rel)
    clusters = pa.array([f"cluster-{i % 60}" for i in range(t.num_rows)], pa.string())
    t = t.set_column(t.schema.get_field_index("dup_cluster"), "dup_cluster", clusters)
    pq.write_table(t, out / rel)
    for f in manifest["files"]:
        if f["path"] == rel:
            f["sha256"] = hashlib.sha256((out / rel).read_bytes()).hexdigest()
    (out / "manifest.json").write_bytes(orjson.dumps(manifest))
    write_mix(out, tmp_path / "mix", plan_mix(out, MixOptions(tokens=BUDGET, weights=WEIGHTS, validation=0.1, seed=5)))
    train, val = _read(tmp_path / "mix", "train"), _read(tmp_path / "mix", "validation")
    key = lambda tb: set(zip(tb.column("source").to_pylist(), tb.column("id").to_pylist()))  # noqa: E731
    assert val.num_rows > 0 and not key(train) & key(val)
    val_clusters = {c for c in val.column("dup_cluster").to_pylist() if c}
    assert any(c.startswith("cluster-") for c in val_clusters)
    assert not val_clusters & {c for c in train.column("dup_cluster").to_pylist() if c}
    card = (tmp_path / "mix" / "README.md").read_text(encoding="utf-8")
    assert "  - split: validation\n    path: data/validation-*.parquet" in card


def test_same_seed_same_bytes(sample_out: Path, tmp_path: Path) -> None:
    opts = MixOptions(tokens=BUDGET, weights=WEIGHTS, validation=0.02, seed=11, shard_size_mb=0.5)
    write_mix(sample_out, tmp_path / "a", plan_mix(sample_out, opts))
    write_mix(sample_out, tmp_path / "b", plan_mix(sample_out, opts))
    a, b = _tree_bytes(tmp_path / "a"), _tree_bytes(tmp_path / "b")
    assert a == b and sum(k.startswith("data/train-") for k in a) > 1
    write_mix(sample_out, tmp_path / "c", plan_mix(sample_out, MixOptions(tokens=BUDGET, weights=WEIGHTS, validation=0.02, seed=12, shard_size_mb=0.5)))
    c = _tree_bytes(tmp_path / "c")
    first = min(k for k in a if k.startswith("data/train-"))
    assert c[first] != a[first]


def test_cli_plan_equals_what_the_mix_writes(sample_out: Path, tmp_path: Path) -> None:
    from pipeline.cli import main

    args = ["mix", str(sample_out), "--model-params", "20K", "--tokens-per-param", "20"]
    for src, w in WEIGHTS.items():
        args += ["--weight", f"{src}={w}"]
    args += ["--validation", "0.02", "--seed", "4"]
    planned = CliRunner().invoke(main, [*args, "--plan"])
    assert planned.exit_code == 0, planned.output
    assert planned.output.startswith("mixture of 400,000 tokens (o200k_base tokens), max 4 epochs, validation 0.02, seed 4\n")
    assert not (tmp_path / "mix").exists()
    real = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "mix")])
    assert real.exit_code == 0, real.output
    assert real.output.startswith(planned.output)
    doc = orjson.loads((tmp_path / "mix" / "mix.json").read_bytes())
    train = _read(tmp_path / "mix", "train")
    for s in doc["sources"]:
        rows = train.filter(pc.equal(train.column("source"), s["source"]))
        assert (rows.num_rows, pc.sum(rows.column("n_tokens")).as_py()) == (s["documents"], s["tokens"])
        assert f"{s['tokens']:,}" in planned.output
    # the mixture tokenizes with `curate export` like any OUT
    res = CliRunner().invoke(main, ["export", str(tmp_path / "mix"), "--tokenizer", "o200k_base", "--out", str(tmp_path / "tok")])
    assert res.exit_code == 0, res.output
    m = orjson.loads((tmp_path / "tok" / "manifest.json").read_bytes())
    assert m["totals"]["documents"] == doc["totals"]["documents"] + doc["totals"]["validation_documents"]


def test_bad_options_are_one_line(sample_out: Path) -> None:
    from pipeline.cli import main

    with pytest.raises(MixError, match=r"--weight nope: no such source in .*; sources: alpaca_zh, cc_en, cmrc2018"):
        plan_mix(sample_out, MixOptions(tokens=10, weights={"nope": 1.0}))
    assert parse_count("1.3B", "--model-params") == 1.3e9 and parse_count("300M", "x") == 3e8
    res = CliRunner().invoke(main, ["mix", str(sample_out), "--tokens", "lots", "--plan"])
    assert res.exit_code == 1 and res.output.strip() == "Error: --tokens 'lots': not a number (examples: 2e9, 300M, 1.3B)"
    res = CliRunner().invoke(main, ["mix", str(sample_out), "--tokens", "1M", "--weight", "cc_en", "--plan"])
    assert res.exit_code == 1 and "write SOURCE=WEIGHT" in res.output

"""Inputs that yield nothing (issue 19, items 2 and 6): zero-record files write an empty but valid OUT,
a source whose records are all rejected says so loudly, and neither exits 0 unless --allow-empty."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import jsonschema
import orjson
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.outcome import detail, malformed_warning
from pipeline.stats import StageStats
from outfiles import only_part

REPO = Path(__file__).resolve().parents[1]

#: Hotel reviews in ChnSentiCorp's CSV layout (label,review; hand-written for this test): a CSV file
#: fed as JSONL is the issue's "7,767 of 7,767 invalid_json, exit 0" case.
REVIEWS_CSV = (
    "label,review\n"
    '1,"距离川沙公路较近,但是公交指示不对,如果是""蔡陆线""的话,会非常麻烦.建议用别的路线."\n'
    "1,商务大床房，房间很大，床有2M宽，整体感觉经济实惠不错!\n"
    "0,早餐太差，无论去多少人，那边也不加食品的。酒店应该重视一下这个问题了。\n"
    "1,地理位置很好，走路到西湖只要十分钟，服务员态度也热情。\n"
    "0,房间隔音太差，隔壁说话听得一清二楚，一晚上没睡好。\n"
)


def _shard(args: list[str]) -> object:
    return CliRunner().invoke(main, ["shard", *args, "--source-type", "generic", "--no-progress"])


def _rows(path: Path) -> int:
    return pq.read_metadata(path).num_rows


def _assert_empty_valid_out(out: Path, records: int) -> None:
    """stats.json (schema-valid), manifest, report and card exist; every stage balances; nothing kept."""
    stats = orjson.loads((out / "stats" / "stats.json").read_bytes())
    jsonschema.validate(stats, orjson.loads((REPO / "pipeline" / "stats.schema.json").read_bytes()))
    assert stats["sizes"]["total"]["docs"] == 0
    for block in stats["stages"].values():
        t = block["total"]
        assert t["docs_in"] == t["docs_kept"] + t["docs_rejected"]
    read = stats["stages"].get("read", {}).get("total", {"docs_in": 0})
    assert read["docs_in"] == records
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["totals"] == {"data_rows": 0, "rejected_rows": sum(t["total"]["docs_rejected"] for t in stats["stages"].values())}
    assert not list((out / "data").rglob("*.parquet"))
    for stage in ("read", "normalize", "language", "quality", "dedup"):
        assert only_part(out / "rejected" / stage).exists()
    assert "0 documents (0 UTF-8 bytes" in (out / "README.md").read_text(encoding="utf-8")
    assert (out / "stats" / "report.html").exists()


@pytest.mark.parametrize("name", ["e.jsonl", "e.jsonl.gz", "e_empty_member.jsonl.gz"])
def test_zero_record_input_writes_empty_valid_out_and_exits_1(tmp_path: Path, name: str) -> None:
    src = tmp_path / name
    if name == "e_empty_member.jsonl.gz":
        src.write_bytes(gzip.compress(b""))  # a valid gzip stream of an empty file
    else:
        src.write_bytes(b"")  # 0 bytes, whatever the extension says
    out = tmp_path / "out"
    res = _shard([str(src), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert res.output.splitlines()[-2:] == [
        f"Error: nothing was produced: the inputs held no record; {out} holds an empty but valid dataset (rejects, stats, manifest, card)",
        "pass --allow-empty (checks.allow_empty: true) to accept an empty result",
    ]
    _assert_empty_valid_out(out, records=0)
    report = (out / "stats" / "report.md").read_text(encoding="utf-8")
    assert "No record entered the pipeline (the inputs held none): every stage saw 0 documents." in report

    res = _shard([str(src), "--out", str(out), "--allow-empty"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == (
        f"warning: nothing was produced: the inputs held no record; {out} holds an empty but valid dataset (rejects, stats, manifest, card)"
    )


def test_dedup_of_an_empty_file_is_a_valid_empty_out(tmp_path: Path) -> None:
    src = tmp_path / "e.jsonl"
    src.write_bytes(b"")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["dedup", str(src), "--source-type", "generic", "--out", str(out), "--allow-empty"])
    assert res.exit_code == 0, res.output
    _assert_empty_valid_out(out, records=0)


def test_run_of_an_empty_file_exits_1_then_0_with_the_config_switch(tmp_path: Path) -> None:
    """`curate run` (the Prefect flow) over a zero-record input; `checks.allow_empty` accepts it."""
    src = tmp_path / "e.jsonl"
    src.write_bytes(b"")
    config = tmp_path / "empty.yaml"
    cfg = {"sources": [{"name": "empty", "type": "generic", "paths": [str(src)]}]}
    config.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(config), "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "tag: 1 shards tagged, 0 skipped" in res.output
    assert f"Error: nothing was produced: the inputs held no record; {out} holds an empty but valid dataset" in res.output
    _assert_empty_valid_out(out, records=0)
    config.write_text(yaml.safe_dump({**cfg, "checks": {"allow_empty": True}}))
    res = CliRunner().invoke(main, ["run", str(config), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "warning: nothing was produced: the inputs held no record" in res.output


def test_csv_read_as_jsonl_fails_loudly_with_source_files_and_reasons(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    src = tmp_path / "ChnSentiCorp_htl_demo.csv"
    src.write_text(REVIEWS_CSV, encoding="utf-8")
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="curate"):
        res = _shard([str(src), "--format", "jsonl", "--name", "hotel", "--out", str(out)])
    assert res.exit_code == 1, res.output
    assert "  read       in        6  kept        0  rejected      6 (malformed=6)" in res.output
    assert res.output.splitlines()[-3:] == [
        f"Error: source 'hotel': all 6 records were rejected at read (invalid_json: 6); files: {src}; no document was produced",
        f"nothing was produced: 0 of 6 records were kept; {out} holds an empty but valid dataset (rejects, stats, manifest, card)",
        "pass --allow-empty (checks.allow_empty: true) to accept an empty result",
    ]
    assert [r.getMessage() for r in caplog.records if r.name == "curate" and r.levelname == "WARNING"] == [
        f"{src}: 6 of 6 records (100.0%) rejected at read, more than checks.warn_malformed_share 10% (invalid_json: 6); see rejected/read/"
    ]
    _assert_empty_valid_out(out, records=6)  # in == kept + rejected: 6 == 0 + 6
    assert _rows(only_part(out / "rejected" / "read")) == 6

    res = _shard([str(src), "--format", "jsonl", "--name", "hotel", "--out", str(out), "--allow-empty"])
    assert res.exit_code == 0, res.output
    assert f"warning: source 'hotel': all 6 records were rejected at read (invalid_json: 6); files: {src}; no document was produced" in res.output


def test_one_empty_source_among_good_ones_still_fails(tmp_path: Path) -> None:
    """The run kept documents, but one source yielded none: the message names that source only."""
    good = tmp_path / "good.jsonl"
    good.write_bytes(b"\n".join(orjson.dumps({"text": t}) for t in ["The hotel was quiet and clean, and the staff were kind to us.", "早餐很丰富，房间干净，下次还会再来。"]) + b"\n")
    bad = tmp_path / "reviews.csv"
    bad.write_text(REVIEWS_CSV, encoding="utf-8")
    config = tmp_path / "two.yaml"
    config.write_text(yaml.safe_dump({
        "sources": [
            {"name": "good", "type": "generic", "paths": [str(good)]},
            {"name": "hotel", "type": "generic", "format": "jsonl", "paths": [str(bad)]},
        ],
        "quality": {"enabled": False},
    }))  # fmt: skip
    from pipeline.config import load_config
    from pipeline.outcome import EmptyOutputError, check_outcome
    from pipeline.runner import run_local

    summary = run_local(load_config(config), tmp_path / "out")
    with pytest.raises(EmptyOutputError) as err:
        check_outcome(summary.stats, summary.out, allow_empty=False)
    assert str(err.value).splitlines() == [
        f"source 'hotel': all 6 records were rejected at read (invalid_json: 6); files: {bad}; no document was produced",
        "pass --allow-empty (checks.allow_empty: true) to accept an empty result",
    ]
    assert sum(s.docs for s in summary.stats.sizes.values()) == 2


def test_partly_malformed_shard_warns_with_top_reasons(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """2 of 10 records malformed (20% > 10%): a warning naming them, exit 0 (documents were produced)."""
    lines = [orjson.dumps({"text": f"Review number {i}: the room was clean and the breakfast was good."}) for i in range(8)]
    lines += [b'{"text": "broken', orjson.dumps({"body": "no text field"})]
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    with caplog.at_level("WARNING", logger="curate"):
        res = _shard([str(src), "--out", str(out), "--quality-profile", "none", "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert [r.getMessage() for r in caplog.records if r.name == "curate"] == [
        f"{src}: 2 of 10 records (20.0%) rejected at read, more than checks.warn_malformed_share 10% "
        "(invalid_json: 1, missing_field: 1); see rejected/read/"
    ]


def test_malformed_warning_threshold() -> None:
    read = StageStats()
    read.keep(n=9)
    read.reject("malformed")
    assert malformed_warning("f.jsonl", read, 0.1) is None  # 10% is not more than 10%
    read.reject("malformed")
    assert malformed_warning("f.jsonl", read, None) is None
    assert malformed_warning("f.jsonl", read, 0.1, Counter({"invalid_json": 2})) == (
        "f.jsonl: 2 of 11 records (18.2%) rejected at read, more than checks.warn_malformed_share 10% (invalid_json: 2); see rejected/read/"
    )
    assert malformed_warning("f.jsonl", StageStats(), 0.1) is None
    assert detail("malformed", "invalid_utf8: invalid UTF-8 at byte 3") == "invalid_utf8"
    assert detail("empty", None) == "empty"


def test_source_emptied_by_the_users_own_rules_is_a_warning(tmp_path: Path) -> None:
    """A language filter that drops a whole source is a choice, not bad input: a warning, and the
    run succeeds because other sources kept documents."""
    en = tmp_path / "en.jsonl"
    en.write_bytes(b"\n".join((REPO / "data/samples/en/c4_demo.jsonl").read_bytes().splitlines()[:5]) + b"\n")
    zh = tmp_path / "zh.jsonl"
    zh.write_bytes(b"\n".join(orjson.dumps({"text": t}) for t in ["早餐很丰富，房间干净，服务员也很热情，下次还会再来。", "地理位置很好，走路到西湖只要十分钟。"]) + b"\n")
    config = tmp_path / "zh_only.yaml"
    config.write_text(yaml.safe_dump({
        "sources": [{"name": "web", "type": "generic", "paths": [str(en)]}, {"name": "reviews", "type": "generic", "paths": [str(zh)]}],
        "quality": {"enabled": False},
        "select": {"languages": ["zh"]},
    }, allow_unicode=True))  # fmt: skip
    from pipeline.config import load_config
    from pipeline.outcome import check_outcome
    from pipeline.runner import run_local

    summary = run_local(load_config(config), tmp_path / "out")
    assert check_outcome(summary.stats, summary.out, allow_empty=False) == [
        f"source 'web': all 5 records were rejected at language (language: 5); files: {en}; no document was produced"
    ]

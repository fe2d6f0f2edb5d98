"""The tagger protocol: a tagger defined here alone (no change under pipeline/) is registered, its
column staged and used by a select rule; decontamination and PII end to end through the CLI, with
`in == kept + rejected` and refilter re-thresholding contamination without re-tagging."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from pipeline import document, select, taggers
from pipeline.cli import main
from pipeline.config import RunConfig, load_config
from pipeline.runner import refilter, run_local
from outfiles import only_part

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data/samples"


class ExclamationTagger:
    """Toy tagger: how many '!' a document has."""

    name = "exclamations"

    def fields(self, cfg: RunConfig) -> list[pa.Field]:
        return [pa.field("n_exclaim", pa.int32(), nullable=False)]

    def config(self, cfg: RunConfig) -> Any:
        return {"char": "!"}

    def tag(self, batch: taggers.TagBatch) -> dict[str, Any]:
        return {"n_exclaim": pa.array([t.count("!") for t in batch.texts], pa.int32())}


def exclaim_rule(batch: pa.Table, cfg: RunConfig) -> select.Verdict:
    mask = pc.greater_equal(batch.column("n_exclaim"), 3).combine_chunks()
    reasons = pc.if_else(mask, "exclaim:too_many", pa.scalar(None, pa.string()))
    return mask, reasons, pc.cast(batch.column("n_exclaim"), pa.string()).combine_chunks(), None


def test_toy_tagger_is_staged_and_used_by_a_select_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(taggers, "TAGGERS", [*taggers.TAGGERS, ExclamationTagger()])
    monkeypatch.setattr(select, "RULES", [*select.RULES, ("exclaim", exclaim_rule)])
    assert "n_exclaim" in [f.name for f in document.STAGED_EXTRA_FIELDS]
    cfg = load_config(_config(tmp_path, sources=[{"name": "c4", "type": "redpajama", "subset": "c4", "paths": [str(SAMPLES / "en/c4_demo.jsonl")]}]))
    out = tmp_path / "out"
    run_local(cfg, out)
    staged = pq.read_table(next((out / ".staging/tagged").glob("*.parquet")))
    texts = staged.column("text").to_pylist()
    assert staged.column("n_exclaim").to_pylist() == [t.count("!") for t in texts]
    stats = orjson.loads((out / "stats/stats.json").read_bytes())
    ex = stats["stages"]["exclaim"]["total"]
    rej = pq.read_table(only_part(out / "rejected/exclaim"))
    assert ex["docs_in"] == ex["docs_kept"] + ex["docs_rejected"] == stats["stages"]["pii"]["total"]["docs_kept"]
    assert ex["docs_rejected"] == rej.num_rows > 0
    assert set(rej.column("drop_reason").to_pylist()) == {"exclaim:too_many"}
    assert all(int(v) >= 3 for v in rej.column("drop_value").to_pylist())
    assert stats["stages"]["dedup"]["total"]["docs_in"] == ex["docs_kept"]


def _config(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(extra, allow_unicode=True))
    return path


def _stats(out: Path) -> dict[str, Any]:
    return orjson.loads((out / "stats/stats.json").read_bytes())


def test_shard_decontaminates_and_redacts_end_to_end(tmp_path: Path) -> None:
    """cmrc2018 dev against itself: every paragraph overlaps; alpaca with planted PII is redacted."""
    data = orjson.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_bytes())[:40]
    data[0]["output"] += " 联系我：13812345678 或 wei.zhang@example.com。"
    data[1]["output"] += " 身份证 11010519491231002X。"
    para = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())["data"][3]["paragraphs"][0]["context"]
    data[2]["output"] = "下面是一段文字：" + para
    src = tmp_path / "alpaca.json"
    src.write_bytes(orjson.dumps(data))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["shard", str(src), "--source-type", "alpaca", "--lang", "zh", "--out", str(out), "--no-progress",
                                    "--decontaminate", str(SAMPLES / "zh/cmrc2018_dev.json"), "--pii", "redact", "--quality-profile", "none"])
    assert res.exit_code == 0, res.output
    stats = _stats(out)
    c = stats["stages"]["contamination"]["total"]
    # at the default min_ngrams 2 only the planted paragraph; at 1 two common phrases shared with a
    # cmrc2018 paragraph (中的一个重要概念, 获得诺贝尔和平奖: one 8-gram each) would be flagged too
    assert c["docs_in"] == c["docs_kept"] + c["docs_rejected"] and c["rejected_by_reason"] == {"contamination:cmrc2018_dev": 1}
    rej = {r["id"]: r for r in pq.read_table(only_part(out / "rejected/contamination")).to_pylist()}
    assert list(rej) == ["alpaca/alpaca/2"]
    assert len(rej["alpaca/alpaca/2"]["drop_value"]) == 200  # the longest span, cut to 200 characters
    assert para.startswith(rej["alpaca/alpaca/2"]["drop_value"][:8])  # folded tokens, punctuation dropped
    assert stats["contamination"] == {"alpaca": {"cmrc2018_dev": {"docs": 1, "tokens": rej["alpaca/alpaca/2"]["n_tokens"]}}}
    kept = pq.read_table(next((out / "data/alpaca/zh").glob("*.parquet"))).to_pylist()
    by_id = {r["id"]: r["text"] for r in kept}
    assert "<PHONE>" in by_id["alpaca/alpaca/0"] and "<EMAIL>" in by_id["alpaca/alpaca/0"] and "13812345678" not in by_id["alpaca/alpaca/0"]
    assert "<ID_NUMBER>" in by_id["alpaca/alpaca/1"]
    assert stats["pii"]["alpaca"]["phone"] == {"docs": 1, "values": 1}
    assert stats["pii"]["alpaca"]["any"] == {"redacted_docs": 2}


def test_pii_drop_and_refilter_rethresholds_contamination(tmp_path: Path) -> None:
    cfg = {
        "sources": [{"name": "cmrc", "type": "squad", "lang": "zh", "paths": [str(SAMPLES / "zh/cmrc2018_dev.json")]},
                    {"name": "c4", "type": "redpajama", "subset": "c4", "paths": [str(SAMPLES / "en/c4_demo.jsonl")]}],
        "quality": {"enabled": False},
        "decontamination": {"eval_sets": [{"name": "cmrc2018", "path": str(SAMPLES / "zh/cmrc2018_dev.json"), "fields": ["question", "answers"]}]},
        "pii": {"policies": {"c4": "drop"}},
    }
    out = tmp_path / "out"
    run_local(load_config(_config(tmp_path, **cfg)), out)
    first = _stats(out)
    assert first["stages"]["pii"]["total"]["rejected_by_reason"] == {"pii:email": 7}
    hit = first["stages"]["contamination"]["by_source"]["cmrc"]["docs_rejected"]
    assert 0 < hit < 848  # only the questions and answers are the eval items here
    markers = {p: p.stat().st_mtime_ns for p in (out / ".staging/tagged").glob("*.json")}
    cfg["decontamination"]["min_ngrams"] = 5
    cfg["decontamination"]["mode"] = "filter"
    summary = refilter(load_config(_config(tmp_path, **cfg)), out)
    assert {p: p.stat().st_mtime_ns for p in (out / ".staging/tagged").glob("*.json")} == markers  # nothing re-tagged
    second = _stats(out)
    fewer = second["stages"]["contamination"]["by_source"]["cmrc"]["docs_rejected"]
    assert fewer < hit
    staged = pa.concat_tables(pq.read_table(p, columns=["source", "decon_ngrams"]) for p in sorted((out / ".staging/tagged").glob("*.parquet")))
    assert fewer == pc.sum(pc.and_(pc.equal(staged.column("source"), "cmrc"), pc.greater_equal(staged.column("decon_ngrams"), 5))).as_py()
    for stage in ("contamination", "pii"):
        t = second["stages"][stage]["total"]
        assert t["docs_in"] == t["docs_kept"] + t["docs_rejected"]
    assert summary.stats.balanced()
    cfg["decontamination"]["mode"] = "label_only"
    refilter(load_config(_config(tmp_path, **cfg)), out)
    third = _stats(out)
    assert third["stages"]["contamination"]["total"]["docs_rejected"] == 0
    assert third["contamination"]["cmrc"]["cmrc2018"]["docs"] == fewer  # still counted for the report


def test_bad_eval_file_is_a_one_line_error(tmp_path: Path) -> None:
    bad = tmp_path / "evalset.jsonl"
    bad.write_text("{broken\n")
    res = CliRunner().invoke(main, ["shard", str(SAMPLES / "en/cc_en_head-0174.jsonl"), "--source-type", "dolma", "--out", str(tmp_path / "o"), "--no-progress", "--decontaminate", str(bad)])
    assert res.exit_code != 0
    assert "evalset.jsonl:1: invalid JSON" in res.output and "Traceback" not in res.output

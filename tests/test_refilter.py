"""`curate refilter`: new thresholds from the staged tags; back to the old ones gives the same bytes."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.shards import file_sha256

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def _config(path: Path, **select: object) -> Path:
    cfg = {
        "sources": [
            {"name": "c4", "type": "redpajama", "subset": "c4", "paths": [str(SAMPLES / "en/c4_demo.jsonl")]},
            {"name": "alpaca_zh", "type": "alpaca", "lang": "zh", "paths": [str(SAMPLES / "zh/alpaca_zh_demo.json")]},
        ],
        "select": select or {"languages": ["en", "zh"]},
    }
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return path


def _hashes(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): file_sha256(p) for p in sorted(out.rglob("*.parquet")) if ".staging" not in p.parts}


def test_refilter_stricter_then_original_is_byte_identical(tmp_path: Path) -> None:
    runner = CliRunner()
    original = _config(tmp_path / "original.yaml")
    strict = _config(tmp_path / "strict.yaml", languages=["zh"], min_lang_score={"zh": 0.9})
    out = tmp_path / "out"
    from pipeline.config import load_config
    from pipeline.runner import run_local

    run_local(load_config(original), out)
    first = _hashes(out)

    res = runner.invoke(main, ["refilter", str(out), "--config", str(strict)])
    assert res.exit_code == 0, res.output
    assert "rejected" in res.output
    strict_hashes = _hashes(out)
    assert strict_hashes != first
    assert not any(p.startswith("data/c4/") for p in strict_hashes)  # English dropped by the new config

    res = runner.invoke(main, ["refilter", str(out), "--config", str(original)])
    assert res.exit_code == 0, res.output
    assert _hashes(out) == first


def test_refilter_refuses_changed_tag_settings(tmp_path: Path) -> None:
    from pipeline.config import load_config
    from pipeline.runner import run_local

    original = _config(tmp_path / "original.yaml")
    out = tmp_path / "out"
    run_local(load_config(original), out)
    changed = yaml.safe_load(original.read_text())
    changed["normalize"] = {"fullwidth_alnum": "keep"}
    (tmp_path / "changed.yaml").write_text(yaml.safe_dump(changed, allow_unicode=True))
    res = CliRunner().invoke(main, ["refilter", str(out), "--config", str(tmp_path / "changed.yaml")])
    assert res.exit_code == 1
    assert "no staged tags for shard" in res.output and "curate run" in res.output


def test_refilter_works_from_the_staged_data_when_an_input_moved(tmp_path: Path) -> None:
    """Issue #19.1: an input that left the config's glob (moved, deleted) since the run that made OUT
    does not shrink a refilter: its shard's staged tags are used, nothing is read."""
    import shutil

    import orjson

    from pipeline.config import load_config
    from pipeline.runner import run_local

    inputs = tmp_path / "in"
    inputs.mkdir()
    lines = [x for x in (SAMPLES / "en/c4_demo.jsonl").read_bytes().splitlines() if x.strip()]
    for i in range(3):
        (inputs / f"c4-{i}.jsonl").write_bytes(b"\n".join(lines[i::3]) + b"\n")
    cfg_path = tmp_path / "run.yaml"
    cfg_path.write_text(yaml.safe_dump({"sources": [{"name": "c4", "type": "redpajama", "subset": "c4", "paths": [str(inputs / "c4-*.jsonl")]}]}))
    out = tmp_path / "out"
    run_local(load_config(cfg_path), out)
    before = orjson.loads((out / "stats" / "stats.json").read_bytes())["stages"]["read"]["total"]["docs_in"]
    assert before == 300
    shutil.move(str(inputs / "c4-2.jsonl"), str(tmp_path / "elsewhere.jsonl"))
    res = CliRunner().invoke(main, ["refilter", str(out), "--config", str(cfg_path)])
    assert res.exit_code == 0, res.output
    after = orjson.loads((out / "stats" / "stats.json").read_bytes())["stages"]["read"]["total"]["docs_in"]
    assert after == before
    # a source the run did not have is refused with the shard named
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"sources": [{"name": "web", "type": "redpajama", "paths": [str(inputs / "c4-*.jsonl")]}]}))
    res = CliRunner().invoke(main, ["refilter", str(out), "--config", str(other)])
    assert res.exit_code == 1 and "belongs to source 'c4', which this config does not have" in res.output

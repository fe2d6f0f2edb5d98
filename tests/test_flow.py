"""`curate run` goes through a real Prefect flow (ephemeral server) and matches the in-process run."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_config
from pipeline.runner import run_local
from pipeline.shards import file_sha256

REPO = Path(__file__).resolve().parents[1]


def _hashes(out: Path) -> dict[str, str]:
    return {
        p.relative_to(out).as_posix(): file_sha256(p)
        for p in sorted(out.rglob("*"))
        if p.is_file() and ".staging" not in p.parts
    }


def test_prefect_flow_run_equals_in_process_run(tmp_path: Path) -> None:
    sample = yaml.safe_load((REPO / "data/configs/sample.yaml").read_text())
    keep = {"redpajama_c4", "oasst", "poetry_tang"}
    sample["sources"] = [
        {**s, "paths": [str(REPO / p) for p in s["paths"]]} for s in sample["sources"] if s["name"] in keep
    ]
    config = tmp_path / "small.yaml"
    config.write_text(yaml.safe_dump(sample, allow_unicode=True))

    flow_out = tmp_path / "flow"
    res = CliRunner().invoke(main, ["run", str(config), "--out", str(flow_out)])
    assert res.exit_code == 0, res.output
    assert "oasst/en: 626 docs" in res.output
    assert "tag: 3 shards tagged, 0 skipped" in res.output

    local_out = tmp_path / "local"
    run_local(load_config(config), local_out)
    flow_hashes = _hashes(flow_out)
    assert flow_hashes == _hashes(local_out)
    assert [k for k in flow_hashes if k.startswith("data/poetry_tang/zh/train-00000-of-00001-")]


    # a second flow run skips every tag task (and says so) and leaves the outputs unchanged
    res = CliRunner().invoke(main, ["run", str(config), "--out", str(flow_out)])
    assert res.exit_code == 0, res.output
    assert "tag: 0 shards tagged, 3 skipped (done, same key)" in res.output
    assert _hashes(flow_out) == flow_hashes

"""Start-up cost (issue 19 item 14): `curate --help` loads no part of the heavy stack, a small one-off
shard loads only what it uses, and the code written out to avoid datasketch's ~2 s import (its
package pulls in scipy) gives datasketch's own numbers. Timings are in bench/startup.py, not here."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import orjson
from datasketch import HyperLogLog

from pipeline.sketches import HLL_P, hll_count, hll_registers

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("prefect", "datasets", "matplotlib", "fasttext", "jieba", "tiktoken", "datasketch", "scipy", "pandas", "pyarrow", "huggingface_hub", "dask")


def _loaded_after(code: str, cwd: Path) -> list[str]:
    probe = f"{code}\nimport sys\nprint('LOADED', *(m for m in {HEAVY!r} if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True)
    return res.stdout.splitlines()[-1].split()[1:]


def test_help_imports_none_of_the_heavy_stack(tmp_path: Path) -> None:
    code = "from pipeline.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0"
    assert _loaded_after(code, tmp_path) == []
    code = "from pipeline.cli import main\ntry:\n    main(['shard', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0"
    assert _loaded_after(code, tmp_path) == []


def test_small_shard_without_report_skips_prefect_plots_and_datasketch(tmp_path: Path) -> None:
    src = tmp_path / "five.jsonl"  # the first 5 documents of the shipped C4 sample
    lines = (REPO / "data" / "samples" / "en" / "c4_demo.jsonl").read_bytes().splitlines()[:5]
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    code = (
        "from pipeline.cli import main\n"
        f"main(['shard', {str(src)!r}, '--source-type', 'generic', '--out', {str(out)!r}, '--no-report', '--no-progress'], standalone_mode=False)"
    )
    loaded = _loaded_after(code, tmp_path)
    assert not {"prefect", "matplotlib", "datasketch", "scipy", "datasets", "dask"} & set(loaded), loaded
    assert {"pyarrow", "fasttext", "tiktoken"} <= set(loaded)  # what a shard really needs
    assert (out / "stats" / "stats.json").exists() and (out / "README.md").exists()
    assert not (out / "stats" / "report.md").exists()
    stats = orjson.loads((out / "stats" / "stats.json").read_bytes())
    assert stats["sizes"]["total"]["docs"] == 5


def test_no_report_removes_an_earlier_report(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipeline.cli import main

    src = tmp_path / "two.jsonl"
    src.write_bytes(b'{"text": "The first line of text for the report."}\n{"text": "A second, different line of text."}\n')
    out = tmp_path / "out"
    args = ["shard", str(src), "--source-type", "generic", "--out", str(out), "--quality-profile", "none"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert (out / "stats" / "report.md").exists() and (out / "stats" / "funnel.png").exists()
    assert CliRunner().invoke(main, [*args, "--no-report"]).exit_code == 0
    assert sorted(p.name for p in (out / "stats").iterdir()) == ["stats.json"]


def test_hll_count_equals_datasketch() -> None:
    rng = np.random.default_rng(7)
    m = 1 << HLL_P
    cases = [np.zeros(m, np.int8)]  # empty sketch: 0
    for n in (1, 5, 100, 2_000, 10_000, 50_000, 1_000_000):  # small range (linear counting) to normal range
        cases.append(hll_registers(rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)))
    cases.append(np.full(m, 20, np.int8))  # large-range correction
    for p in (4, 5, 6, 8):  # other precisions: datasketch's alpha table
        cases.append(rng.integers(0, 6, 1 << p).astype(np.int8))
    for reg in cases:
        with warnings.catch_warnings():  # datasketch warns near its small/large-range switch
            warnings.simplefilter("ignore", UserWarning)
            expected = int(round(HyperLogLog(reg=reg.copy()).count()))
        assert hll_count(reg) == expected
    assert hll_count(cases[0]) == 0

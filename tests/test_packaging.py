"""Packaging (issue 19 item 16): the licence is an SPDX expression, so building the package's
metadata prints no setuptools deprecation banner (pip showed the `project.license` one three times)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_license_is_an_spdx_string() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "Apache-2.0"
    assert not any(c.startswith("License ::") for c in project.get("classifiers", []))  # superseded by the expression


def test_building_metadata_prints_no_deprecation_banner(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "pipeline").mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    shutil.copy(REPO / "pipeline" / "stats.schema.json", src / "pipeline")
    (src / "pipeline" / "__init__.py").write_text("")
    code = f"from setuptools import build_meta; print(build_meta.prepare_metadata_for_build_wheel({str(tmp_path / 'md')!r}))"
    (tmp_path / "md").mkdir()
    res = subprocess.run([sys.executable, "-W", "always", "-c", code], cwd=src, capture_output=True, text=True, check=True)
    log = res.stdout + res.stderr
    assert "Deprecat" not in log and "deprecat" not in log, log
    metadata = (tmp_path / "md" / res.stdout.strip().splitlines()[-1] / "METADATA").read_text(encoding="utf-8")
    assert "License-Expression: Apache-2.0" in metadata.splitlines()

"""The committed fixtures are what tests/fixtures/make_fixtures.py makes (reproducible)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from srchelpers import FIXTURES


def test_make_fixtures_reproduces_the_committed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "make_fixtures", mod)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "HERE", tmp_path)
    mod.main()
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made, "nothing generated"
    for rel in made:
        committed = FIXTURES / rel
        assert committed.exists(), f"{rel} is generated but not committed"
        if rel.suffix == ".parquet":  # bytes depend on the pyarrow version; the rows must not
            assert pq.read_table(tmp_path / rel).equals(pq.read_table(committed))
        else:
            assert (tmp_path / rel).read_bytes() == committed.read_bytes(), rel

"""The one phase driver: the order of the phases, what is reused, and that what the phases started
is released whatever happens (the real phases are exercised by every end-to-end test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipeline.config import parse_config
from pipeline.driver import run_phases
from pipeline.runner import ClusterWork, LocalPhases, all_stages, plan


class Recorder:
    """Phases that record their calls; `fail` names the phase that raises."""

    def __init__(self, skipped: bool = False, plan_partitions: bool = True, fail: str = "") -> None:
        self.calls: list[str] = []
        self.skipped, self.plan_partitions, self.fail = skipped, plan_partitions, fail
        self.reuse: bool | None = None

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail:
            raise OSError(f"{name} failed")

    def tag(self, shards: Any) -> list[Any]:
        self._call("tag")
        return [type("T", (), {"skipped": self.skipped})() for _ in shards]

    def cluster_begin(self, tagged: list[Any], reuse: bool) -> ClusterWork:
        self._call("cluster_begin")
        self.reuse = reuse
        return ClusterWork(tagged, "key", plan=object() if self.plan_partitions else None)  # type: ignore[arg-type]

    def cluster_partitions(self, cw: ClusterWork) -> None:
        self._call("cluster_partitions")

    def cluster_end(self, cw: ClusterWork) -> tuple[dict[str, Any], dict[str, float]]:
        self._call("cluster_end")
        return {"enabled": True}, dict(cw.seconds)

    def select(self, tagged: list[Any]) -> list[Any]:
        self._call("select")
        return []

    def finish(self, tagged: list[Any], selected: list[Any], dedup: dict[str, Any]) -> Any:
        self._call("finish")
        return "summary"

    def close(self) -> None:
        self.calls.append("close")


def test_phases_run_in_order_and_clusters_are_reused_only_when_every_shard_was() -> None:
    rec = Recorder()
    out = run_phases(rec, [("a", None), ("b", None)])  # type: ignore[list-item]
    assert rec.calls == ["tag", "cluster_begin", "cluster_partitions", "cluster_end", "select", "finish", "close"]
    assert rec.reuse is False
    assert out.summary == "summary" and out.dedup == {"enabled": True}
    assert set(out.seconds) == {"tag", "cluster", "select", "finish", "total"}
    assert set(out.cluster_seconds) == {"partitions"}

    rec = Recorder(skipped=True, plan_partitions=False)
    lines: list[str] = []
    run_phases(rec, [("a", None)], log=lines.append)  # type: ignore[list-item]
    assert rec.reuse is True
    assert "cluster_partitions" not in rec.calls  # clusters reused: no partition tasks
    assert lines[0].startswith("tag: 0 shards tagged, 1 skipped (done, same key) in ")


def test_refilter_reuses_staged_tags_without_tagging() -> None:
    rec = Recorder(plan_partitions=False)
    out = run_phases(rec, staged=[])
    assert rec.calls == ["cluster_begin", "cluster_end", "select", "finish", "close"]
    assert rec.reuse is True and "tag" not in out.seconds


def test_close_runs_when_a_phase_fails() -> None:
    rec = Recorder(fail="cluster_partitions")
    with pytest.raises(OSError, match="cluster_partitions failed"):
        run_phases(rec, [("a", None)])  # type: ignore[list-item]
    assert rec.calls[-2:] == ["cluster_partitions", "close"]


def test_shards_or_staged_not_both() -> None:
    with pytest.raises(ValueError, match="shards .* or staged"):
        run_phases(Recorder(), [], staged=[])
    with pytest.raises(ValueError, match="shards .* or staged"):
        run_phases(Recorder())


def test_local_phases_give_the_run_summary(tmp_path: Path) -> None:
    """The real in-process phases through the driver: in == kept + rejected over the run."""
    src = tmp_path / "in.jsonl"
    src.write_text("".join(f'{{"text": "Document number {i} says something about the weather in town."}}\n' for i in range(5)) + "not json\n")
    cfg = parse_config({"sources": [{"name": "s", "type": "generic", "lang": "en", "paths": [str(src)]}], "quality": {"enabled": False}})
    res = run_phases(LocalPhases(cfg, tmp_path / "out"), plan(cfg))
    read = res.summary.stats.stage_total("read")
    assert (read.docs_in, read.docs_rejected) == (6, 1)
    kept = res.summary.stats.to_dict()["sizes"]["total"]["docs"]
    rejected_later = sum(res.summary.stats.stage_total(s).docs_rejected for s in all_stages()[1:])
    assert kept + rejected_later == 5
    assert [t.skipped for t in res.tagged] == [False]

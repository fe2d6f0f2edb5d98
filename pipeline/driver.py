"""The order of a run's phases, written once: tag -> cluster (begin, band partitions, end) -> select
-> finish.

Who carries a phase out is a `Phases` object: `runner.LocalPhases` runs them in this process
(`curate shard`, `curate refilter`, the benches), `flows.curate.PrefectPhases` maps them onto
Prefect tasks (`curate run`, Dask workers). Both get the same calls in the same order from
`run_phases`, so a change to the sequence is made here and nowhere else, and the two paths cannot
drift apart. No Prefect here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pipeline.config import SourceConfig
    from pipeline.runner import ClusterWork, RunSummary
    from pipeline.select import SelectResult
    from pipeline.sources import InputShard
    from pipeline.tag import TagResult


class Phases(Protocol):
    """One run's phases, each over every shard (or over every band partition): how they are
    carried out (a loop, a process pool, Prefect tasks on Dask) is the implementation's business."""

    def tag(self, shards: Sequence[tuple[InputShard, SourceConfig]]) -> list[TagResult]:
        """Tags every input shard (or reuses its staged tags of the same key)."""

    def cluster_begin(self, tagged: list[TagResult], reuse: bool) -> ClusterWork:
        """Drops an earlier select's outputs, checks ids, plans the band partitions (or decides
        the clusters of the same key are reused, when `reuse`)."""

    def cluster_partitions(self, cw: ClusterWork) -> None:
        """Candidate pairs and edges of every band partition of `cw.plan` (not None here), then
        each pair bucket's verification (`dedup.cluster.cluster_tasks`); the stages' seconds go
        to `cw.seconds`."""

    def cluster_end(self, cw: ClusterWork) -> tuple[dict[str, Any], dict[str, float]]:
        """Components, cluster outputs and keepers: the dedup summary and the seconds per step."""

    def select(self, tagged: list[TagResult]) -> list[SelectResult]:
        """Thresholds, keepers and word counts per tagged shard."""

    def finish(self, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any]) -> RunSummary:
        """Final shards, rejects, the manifest (commit point), stats, report and card."""

    def close(self) -> None:
        """Releases what the phases started (a process pool); called once, whatever happened."""


@dataclass
class PhaseOutcome:
    """What a run of the phases gives back: the library's summary, the tag and select results,
    the dedup summary, and the wall time of each phase (not in stats.json: not deterministic)."""

    summary: RunSummary
    tagged: list[TagResult]
    selected: list[SelectResult]
    dedup: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)  # per phase, and "total"
    cluster_seconds: dict[str, float] = field(default_factory=dict)  # the cluster phase by step


def run_phases(
    phases: Phases,
    shards: Sequence[tuple[InputShard, SourceConfig]] | None = None,
    *,
    staged: Sequence[TagResult] | None = None,
    log: Callable[[str], None] | None = None,
) -> PhaseOutcome:
    """Runs every phase in order. Give `shards` (a run: each is tagged, or its staged tags reused;
    the clusters are reused only when every shard's tags were) or `staged` (a refilter: the tag
    results of the run that made OUT; nothing is read or tagged, the clusters of the same key are
    reused)."""
    if (shards is None) == (staged is None):
        raise ValueError("run_phases takes shards (tag them) or staged (tag results to reuse), not both or neither")
    seconds: dict[str, float] = {}
    try:
        start = clock = time.perf_counter()
        if shards is not None:
            tagged = phases.tag(shards)
            reuse = all(t.skipped for t in tagged)
            seconds["tag"] = time.perf_counter() - clock
            skipped = sum(t.skipped for t in tagged)
            if log:
                log(f"tag: {len(tagged) - skipped} shards tagged, {skipped} skipped (done, same key) in {seconds['tag']:.1f}s")
        else:
            tagged, reuse = list(staged or []), True

        clock = time.perf_counter()
        cw = phases.cluster_begin(tagged, reuse)
        if cw.plan is not None:
            step = time.perf_counter()
            phases.cluster_partitions(cw)
            # the whole, unless the phases recorded their stages ("partitions", "verify")
            cw.seconds.setdefault("partitions", time.perf_counter() - step)
        dedup, cluster_seconds = phases.cluster_end(cw)
        seconds["cluster"] = time.perf_counter() - clock

        clock = time.perf_counter()
        selected = phases.select(tagged)
        seconds["select"] = time.perf_counter() - clock

        clock = time.perf_counter()
        summary = phases.finish(tagged, selected, dedup)
        seconds["finish"] = time.perf_counter() - clock
        seconds["total"] = time.perf_counter() - start
    finally:
        phases.close()
    return PhaseOutcome(summary, tagged, selected, dedup, seconds, cluster_seconds)

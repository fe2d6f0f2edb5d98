"""Plain-Python orchestration: plan the shards, tag, select, finish. No Prefect here.

The phases' order is `driver.run_phases`'s: `run_local` (the `curate shard` path) and `refilter`
give it `LocalPhases` (this process); the Prefect flow in `flows/` gives it tasks over the same
functions, so both produce byte-identical outputs. Every path goes
through a `Layout` (pipeline/layout.py), so OUT may be a local folder or an object store.

The commit protocol of finish (the same on a local disk and on a store, which has no atomic rename):
1. final files are written under content-addressed names (`train-00000-of-00002-<sha256[:12]>.parquet`),
   each complete before it appears, never over a file the current manifest names;
2. `manifest.json` is written in one step: the commit point. Before it, the previous manifest and
   the files it names are untouched and valid; after it, the new ones are;
3. stats.json, the report and the card are rewritten from the committed state;
4. files under data/ and rejected/ that the new manifest does not name are removed.
A run killed anywhere leaves one valid manifest whose files all exist; the next run sweeps the rest.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import xxhash

from pipeline import __version__
from pipeline.user_tokenizers import tokenizer_settings
from pipeline.card import write_card
from pipeline.config import RunConfig, SourceConfig
from pipeline.document import FINAL_SCHEMA, REJECT_SCHEMA
from pipeline.driver import run_phases
from pipeline.dedup.components import finish_clusters
from pipeline.dedup.cluster import cluster_tasks
from pipeline.dedup.plan import ClusterPlan, plan_clusters
from pipeline.dedup.pool import MapFn, ProcessMap
from pipeline.layout import Layout, as_layout
from pipeline.lock import OutLock
from pipeline.report import remove_report, write_report
from pipeline.dedup.keepers import choose_cluster_keepers
from pipeline.select import SelectResult, select_shard, select_stages
from pipeline.shards import RotatingWriter, describe, publish
from pipeline.sources import InputShard, expand_inputs
from pipeline.stats import RunStats
from pipeline.tag import Progress, TagResult, load_done, read_marker, tag_key, tag_shard

log = logging.getLogger("curate.runner")

#: Packages whose versions go into the manifest (what decides the bytes of the outputs).
TRACKED_PACKAGES = ("curate", "pyarrow", "tiktoken", "datasets", "orjson", "zstandard", "xxhash", "numpy")


class AccountingError(RuntimeError):
    """A stage's documents in != kept + rejected, or one stage's output != the next one's input."""


def all_stages() -> tuple[str, ...]:
    """Every stage in pipeline order: tag's, then select's (select.RULES, so a rule added there
    gets its rejects folder and its place in the accounting chain)."""
    return ("read", "normalize", *select_stages())


def plan(cfg: RunConfig) -> list[tuple[InputShard, SourceConfig]]:
    """Every input shard of the run in a fixed order (sources as configured, files sorted)."""
    return [(shard, src) for src in cfg.sources for shard in expand_inputs(src)]


def reset_select(out: Layout | str | Path) -> None:
    """Select always starts from the staged shards: drop what an earlier select derived (clusters
    are kept: `cluster_begin` decides by their key whether they still hold)."""
    lay = as_layout(out)
    lay.stage.rm_tree(lay.selected_dir())
    lay.stage.rm_tree(lay.keepers_dir())
    for stage in select_stages():
        lay.stage.rm_tree(lay.staged_rejects_dir(stage))


def _cluster_key(cfg: RunConfig, tagged: list[TagResult]) -> str:
    """Clusters depend on the signatures (the tag keys) and the dedup settings, not on thresholds."""
    blob = orjson.dumps(
        {"dedup": cfg.dedup.model_dump(mode="json", exclude={"source_priority", "cluster_memory_mb"}), "tags": sorted(t.key for t in tagged)},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(blob).hexdigest()


class DuplicateIdError(ValueError):
    """Two staged documents share an id: clusters, keepers and rejects are keyed by id."""


def check_unique_ids(out: Layout | str | Path, tagged: list[TagResult]) -> None:
    """Ids must be unique across the run. A source's own ids can repeat across its files (the same
    URL in two crawl snapshots): fail loudly, naming them, instead of mixing up keepers."""
    lay = as_layout(out)
    hashes: list[np.ndarray] = []
    for t in tagged:
        for rel in t.staged:
            ids = lay.stage.read_table(lay.staged(rel), columns=["id"]).column("id").to_pylist()
            hashes.append(np.fromiter((xxhash.xxh3_64_intdigest(i.encode()) for i in ids), dtype=np.uint64, count=len(ids)))
    if not hashes:
        return
    allh = np.concatenate(hashes)
    uniq, counts = np.unique(allh, return_counts=True)
    if len(uniq) == len(allh):
        return
    dup = set(uniq[counts > 1].tolist())
    examples: list[str] = []
    for t in tagged:
        for rel in t.staged:
            for i in lay.stage.read_table(lay.staged(rel), columns=["id"]).column("id").to_pylist():
                if xxhash.xxh3_64_intdigest(i.encode()) in dup and len(examples) < 5:
                    examples.append(f"{i} ({t.shard})")
    raise DuplicateIdError(
        f"{len(allh) - len(uniq)} documents share an id with another one, e.g. {', '.join(examples)}: "
        "give each input a source of its own (ids are <source>/<own id>) or drop the repeated records"
    )


@dataclass
class ClusterWork:
    """What `cluster_begin` decides: nothing to do (dedup off, or clusters reused for the same key),
    or the plan whose partition tasks must run before `cluster_end`."""

    ordered: list[TagResult]
    key: str = ""
    plan: ClusterPlan | None = None  # None: nothing to compute
    enabled: bool = True
    seconds: dict[str, float] = field(default_factory=dict)  # per step; not in stats.json (not deterministic)


def cluster_begin(cfg: RunConfig, out: Layout | str | Path, tagged: list[TagResult], reuse: bool = False, workers: int = 1) -> ClusterWork:
    """First part of the global cluster step: what an earlier select derived goes (select starts
    from the staged shards), unique ids, then (unless the clusters of the same key are reused) the
    partition plan over the staged shards' sidecars (written by tag; rebuilt where missing or
    stale). Partitions: from the document count, cfg.dedup.cluster_memory_mb and `workers`."""
    lay = as_layout(out)
    reset_select(lay)
    check_unique_ids(lay, tagged)
    ordered = sorted(tagged, key=lambda r: r.shard)
    if not cfg.dedup.enabled:
        return ClusterWork(ordered, enabled=False)
    work = lay.dedup_dir()
    key = _cluster_key(cfg, ordered)
    key_file, stats_file = f"{work}/cluster_key.txt", f"{work}/cluster_stats.json"
    st = lay.stage
    if reuse and st.exists(key_file) and st.read_bytes(key_file).decode() == key and st.exists(stats_file):
        return ClusterWork(ordered, key)
    st.rm_tree(work)
    clock = time.perf_counter()
    plan = plan_clusters([lay.staged(p) for t in ordered for p in t.staged], work, cfg.dedup, store=st, workers=workers)
    return ClusterWork(ordered, key, plan, seconds={"plan": time.perf_counter() - clock})


def cluster_end(cfg: RunConfig, out: Layout | str | Path, cw: ClusterWork, map_fn: MapFn | None = None, workers: int = 1) -> dict[str, Any]:
    """Last part: components + outputs (when computed; the costly output work in `workers` tasks
    through `map_fn` when given), the cluster key, then one keeper per cluster among the documents
    that pass the other rules; returns the summary (cluster_stats.json)."""
    if not cw.enabled:
        return {"enabled": False}
    lay = as_layout(out)
    work, st = lay.dedup_dir(), lay.stage
    if cw.plan is not None:
        res = finish_clusters(cw.plan, map_fn=map_fn, groups=workers if map_fn is not None else 1)
        cw.seconds.update(res.seconds)
        st.write_bytes(f"{work}/cluster_key.txt", cw.key.encode())
    # one source of truth for the summary, whether the clusters are new or reused
    summary: dict[str, Any] = orjson.loads(st.read_bytes(f"{work}/cluster_stats.json"))
    clock = time.perf_counter()
    choose_cluster_keepers(cfg, lay, [(t.shard, t.staged) for t in cw.ordered])
    cw.seconds["keepers"] = time.perf_counter() - clock
    return {"enabled": True, **summary}


def casing_summary(dedup: dict[str, Any]) -> dict[str, int] | None:
    """Exact duplicates under the case-folded key vs a case-sensitive one (None: dedup off or old
    staged shards without the case-sensitive key)."""
    if not dedup.get("enabled") or dedup.get("exact_dup_docs_cs") is None:
        return None
    return {
        "exact_dup_docs": dedup["exact_dup_docs"],
        "exact_dup_docs_cased": dedup["exact_dup_docs_cs"],
        "extra_duplicates": dedup["exact_dup_docs"] - dedup["exact_dup_docs_cs"],
    }


def check_accounting(stats: RunStats) -> None:
    """Raises unless every stage balances and each stage's kept documents enter the next stage."""
    for (stage, src), s in stats.stages.items():
        if not s.balanced():
            raise AccountingError(f"stage {stage!r} source {src!r}: in {s.docs_in} != kept {s.docs_kept} + rejected {s.docs_rejected}")
    sources = {src for _, src in stats.stages}
    for src in sources:
        stages = all_stages()
        for prev, nxt in zip(stages, stages[1:]):
            a = stats.stages.get((prev, src))
            b = stats.stages.get((nxt, src))
            kept = a.docs_kept if a else 0
            entered = b.docs_in if b else 0
            if kept != entered:
                raise AccountingError(f"source {src!r}: {kept} kept by {prev!r} but {entered} entered {nxt!r}")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions



def _json_bytes(data: Any, sort_keys: bool = True) -> bytes:
    """Deterministic JSON. stats.json keeps its built order (stages in pipeline order)."""
    option = orjson.OPT_INDENT_2 | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    return orjson.dumps(data, option=option) + b"\n"


@dataclass
class RunSummary:
    stats: RunStats
    files: list[dict[str, Any]]
    skipped_shards: list[str]
    out: Path | str


def _publish_rejects(lay: Layout, stage: str, paths: Iterable[str], cfg: RunConfig) -> list[str]:
    """One stage's rejects of every shard, packed into content-addressed final files (an empty
    stage still gets its empty file: the layout does not depend on the data)."""
    writer = RotatingWriter(lay.stage.path("_rejects", stage, "part"), REJECT_SCHEMA, cfg.output, lay.stage)
    try:
        for rel in paths:
            writer.write(lay.stage.read_table(lay.staged(rel), schema=REJECT_SCHEMA))
        parts = writer.close(ensure_file=True)
    except BaseException:
        writer.abort()
        raise
    return publish(lay.stage, parts, lay.out, lay.rejected_dir(stage), "part", REJECT_SCHEMA, cfg.output)


def _remove_unlisted(lay: Layout, keep: set[str]) -> None:
    """After the commit: files under data/ and rejected/ that the manifest does not name (an
    earlier run's, or left by a run killed before its commit), and temporary files."""
    for folder in (lay.data_dir(), lay.rejected_dir()):
        for path in lay.out.files(folder):
            if path not in keep:
                lay.out.rm(path)
        if lay.out.local:
            _remove_empty_dirs(Path(folder))


def _remove_empty_dirs(root: Path) -> None:
    if not root.exists():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(d.iterdir()):
            d.rmdir()


def input_records(tagged: list[TagResult]) -> dict[str, Any]:
    """The manifest's inputs: each shard's location and fingerprint (no secrets: URLs are redacted)."""
    return {t.shard: t.inputs for t in sorted(tagged, key=lambda r: r.shard)}


def finish(
    cfg: RunConfig, out: Layout | str | Path, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any] | None = None,
    report: bool = True,
) -> RunSummary:
    """Merges stats, writes the final shards and rejects, commits manifest.json, then stats.json,
    the report and the card, and removes what the new manifest does not name (module doc)."""
    lay = as_layout(out)
    stats: RunStats = sum((t.stats for t in tagged), RunStats()) + sum((s.stats for s in selected), RunStats())
    check_accounting(stats)
    for folder in (lay.data_dir(), lay.rejected_dir(), lay.stats_dir()):
        lay.out.sweep_tmp(folder)  # what a killed or disk-full run left (we hold the lock: nobody else writes)

    groups: dict[str, list[str]] = {}
    for res in sorted(selected, key=lambda r: r.shard):
        for group, parts in res.parts.items():
            groups.setdefault(group, []).extend(parts)
    final: list[str] = []
    for group in sorted(groups):
        src, lang = group.split("/")
        parts = [lay.staged(p) for p in sorted(groups[group])]
        final += publish(lay.stage, parts, lay.out, lay.data_dir(src, lang), "train", FINAL_SCHEMA, cfg.output)

    reject_sources: dict[str, list[str]] = {}
    for res in sorted(tagged, key=lambda r: r.shard):
        for stage, rel in res.rejects.items():
            reject_sources.setdefault(stage, []).append(rel)
    for res in sorted(selected, key=lambda r: r.shard):
        for stage, rel in res.rejects.items():
            reject_sources.setdefault(stage, []).append(rel)
    for stage in all_stages():
        final += _publish_rejects(lay, stage, reject_sources.get(stage, []), cfg)

    files = [describe(p, lay.out).to_dict() for p in sorted(final)]
    dedup = dedup or {"enabled": False}
    stats_doc = {"config_hash": cfg.hash(), "version": __version__, **stats.to_dict(), "dedup": dedup, "casing": casing_summary(dedup)}
    # the report is rebuilt from stats.json alone (`curate report OUT`), so its settings travel in it
    stats_doc["report_settings"] = {**cfg.report.model_dump(mode="json"), "encoding": cfg.tokens.encoding, "tokenizers": tokenizer_settings(cfg.tokens.tokenizer)}
    stats_bytes = _json_bytes(stats_doc, sort_keys=False)
    manifest = {
        "config_hash": cfg.hash(),
        "config": cfg.model_dump(mode="json"),
        "packages": package_versions(),
        "inputs": input_records(tagged),
        "files": files,
        "stats_sha256": hashlib.sha256(stats_bytes).hexdigest(),
        "totals": {
            "data_rows": sum(f["rows"] for f in files if f["path"].startswith("data/")),
            "rejected_rows": sum(f["rows"] for f in files if f["path"].startswith("rejected/")),
        },
    }
    lay.out.write_bytes(lay.manifest(), _json_bytes(manifest))  # the commit point
    lay.out.write_bytes(lay.stats_json(), stats_bytes)
    # OUT/stats/report.md, report.html, *.png from stats.json (not listed in the manifest); `--no-report`
    # removes an earlier run's report instead, so no report ever disagrees with stats.json
    write_report(lay) if report else remove_report(lay)
    write_card(lay)  # OUT/README.md from stats.json + manifest.json (not listed in the manifest)
    _remove_unlisted(lay, set(final))
    lay.stage.rm_tree(lay.stage.path("_rejects"))
    out_ref: Path | str = Path(lay.out.root) if lay.out.local else lay.out.url
    return RunSummary(stats=stats, files=files, skipped_shards=[t.shard for t in tagged if t.skipped], out=out_ref)


class LocalPhases:
    """The phases in this process (driver.Phases): tag and select shard after shard, the band
    partitions and the cluster outputs in a pool of `workers` processes (one: in this process)."""

    def __init__(
        self,
        cfg: RunConfig,
        out: Layout | str | Path,
        progress: Callable[[InputShard], Progress | None] | None = None,
        log: Callable[[str], None] | None = None,
        workers: int = 1,
        report: bool = True,
    ) -> None:
        self.cfg, self.lay, self.progress, self.log, self.workers, self.report = cfg, as_layout(out), progress, log, workers, report
        self.pool = ProcessMap(workers)

    def tag(self, shards: Sequence[tuple[InputShard, SourceConfig]]) -> list[TagResult]:
        tagged: list[TagResult] = []
        for shard, src in shards:
            res = tag_shard(shard, src, self.cfg, self.lay, self.progress(shard) if self.progress else None)
            if self.log:
                self.log(f"tag {shard.name}: {'skipped (done, same key)' if res.skipped else 'done'}")
            tagged.append(res)
        return tagged

    def cluster_begin(self, tagged: list[TagResult], reuse: bool) -> ClusterWork:
        return cluster_begin(self.cfg, self.lay, tagged, reuse, self.workers)

    def cluster_partitions(self, cw: ClusterWork) -> None:
        assert cw.plan is not None
        cluster_tasks(cw.plan, self.pool, cw.seconds)

    def cluster_end(self, cw: ClusterWork) -> tuple[dict[str, Any], dict[str, float]]:
        return cluster_end(self.cfg, self.lay, cw, self.pool, self.workers), dict(cw.seconds)

    def select(self, tagged: list[TagResult]) -> list[SelectResult]:
        return [select_shard(t.shard, t.staged, self.cfg, self.lay) for t in tagged]

    def finish(self, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any]) -> RunSummary:
        return finish(self.cfg, self.lay, tagged, selected, dedup, report=self.report)

    def close(self) -> None:
        self.pool.close()


def run_local(
    cfg: RunConfig,
    out: Layout | str | Path,
    progress: Callable[[InputShard], Progress | None] | None = None,
    log: Callable[[str], None] | None = None,
    wait: bool = False,
    report: bool = True,
) -> RunSummary:
    """The whole run in this process, holding OUT's lock: the phases of `driver.run_phases`
    (`report`: False skips the corpus-size report and its plots, the slowest part of a small run)."""
    lay = as_layout(out)
    with OutLock(lay, wait=wait, log=log):
        return run_phases(LocalPhases(cfg, lay, progress, log, report=report), plan(cfg), log=log).summary


class RefilterError(ValueError):
    """The staged data cannot serve this config (its tag settings or inputs differ)."""


def staged_shards(lay: Layout) -> list[str]:
    """Shards of the run that made OUT, from its manifest (what refilter re-selects)."""
    if not lay.out.exists(lay.manifest()):
        raise RefilterError(f"{lay.out.display(lay.manifest())}: not found; refilter re-selects an existing output (run `curate run` first)")
    manifest = orjson.loads(lay.out.read_bytes(lay.manifest()))
    return sorted(manifest.get("inputs", {}))


def refilter(cfg: RunConfig, out: Layout | str | Path, log: Callable[[str], None] | None = None, wait: bool = False) -> RunSummary:
    """Select + finish again from the staged shards with new thresholds, without re-tagging and
    without reading the inputs: the shards are those of the run that made OUT (its manifest), each
    checked against this config's tag settings with the fingerprint staged for it, so an input
    moved or deleted since does not shrink the output. Keepers of duplicate clusters are re-chosen
    among the documents that now pass."""
    lay = as_layout(out)
    with OutLock(lay, wait=wait, log=log):
        sources = {s.name: s for s in cfg.sources}
        tagged: list[TagResult] = []
        for name in staged_shards(lay):
            marker = read_marker(lay, name)
            if marker is None:
                raise RefilterError(f"{lay.stage.display(lay.tagged_marker(name))}: staged tags of shard {name} are missing; run `curate run` instead")
            src = sources.get(marker.source)
            if src is None:
                raise RefilterError(
                    f"{out}: shard {name} belongs to source {marker.source!r}, which this config does not have "
                    "(refilter keeps the sources of the run that made OUT); run `curate run` with this config instead"
                )
            res = load_done(lay, name, tag_key(name, src, cfg, marker.inputs))
            if res is None:
                raise RefilterError(
                    f"{out}: no staged tags for shard {name} under this config (its source, normalize, language, tokens or "
                    "dedup-signature settings, or the curate version differ from the run that staged it); run `curate run` "
                    "with this config instead"
                )
            tagged.append(res)
        outcome = run_phases(LocalPhases(cfg, lay, log=log), staged=tagged)
        if log:
            log(f"refilter: {len(tagged)} staged shards, clusters {'reused' if outcome.dedup.get('enabled') else 'off'}")
        return outcome.summary

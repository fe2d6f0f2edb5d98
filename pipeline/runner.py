"""Plain-Python orchestration: plan the shards, tag, select, finish. No Prefect here.

`run_local` runs everything in this process (the `curate shard` path); the Prefect flow in `flows/`
maps the same three functions over shards, so both produce byte-identical outputs.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import xxhash

from pipeline import __version__
from pipeline.tokens import tokenizer_settings
from pipeline.card import write_card
from pipeline.config import RunConfig, SourceConfig
from pipeline.document import FINAL_SCHEMA, REJECT_SCHEMA
from pipeline.dedup.cluster import cluster as cluster_signatures
from pipeline.report import write_report
from pipeline.select import SELECT_STAGES, SelectResult, choose_cluster_keepers, clusters_path, select_shard
from pipeline.shards import RotatingWriter, describe, publish, remove_stale_dirs
from pipeline.sources import InputShard, expand_inputs
from pipeline.stats import STAGES, RunStats
from pipeline.tag import Progress, TagResult, load_done, staging, tag_key, tag_shard

#: Packages whose versions go into the manifest (what decides the bytes of the outputs).
TRACKED_PACKAGES = ("curate", "pyarrow", "tiktoken", "datasets", "orjson", "zstandard", "xxhash", "numpy")


class AccountingError(RuntimeError):
    """A stage's documents in != kept + rejected, or one stage's output != the next one's input."""


def plan(cfg: RunConfig) -> list[tuple[InputShard, SourceConfig]]:
    """Every input shard of the run in a fixed order (sources as configured, files sorted)."""
    return [(shard, src) for src in cfg.sources for shard in expand_inputs(src)]


def reset_select(out: Path) -> None:
    """Select always starts from the staged shards: drop what an earlier select derived (clusters
    are kept: `cluster_step` decides by their key whether they still hold)."""
    for sub in ("selected", "keepers"):
        shutil.rmtree(staging(out) / sub, ignore_errors=True)
    for stage in SELECT_STAGES:
        shutil.rmtree(staging(out) / "rejected" / stage, ignore_errors=True)


def _cluster_key(cfg: RunConfig, tagged: list[TagResult]) -> str:
    """Clusters depend on the signatures (the tag keys) and the dedup settings, not on thresholds."""
    blob = orjson.dumps(
        {"dedup": cfg.dedup.model_dump(mode="json", exclude={"source_priority"}), "tags": sorted(t.key for t in tagged)},
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(blob).hexdigest()


class DuplicateIdError(ValueError):
    """Two staged documents share an id: clusters, keepers and rejects are keyed by id."""


def check_unique_ids(out: Path, tagged: list[TagResult]) -> None:
    """Ids must be unique across the run. A source's own ids can repeat across its files (the same
    URL in two crawl snapshots): fail loudly, naming them, instead of mixing up keepers."""
    hashes: list[np.ndarray] = []
    for t in tagged:
        for rel in t.staged:
            ids = pq.read_table(out / rel, columns=["id"]).column("id").to_pylist()
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
            for i in pq.read_table(out / rel, columns=["id"]).column("id").to_pylist():
                if xxhash.xxh3_64_intdigest(i.encode()) in dup and len(examples) < 5:
                    examples.append(f"{i} ({t.shard})")
    raise DuplicateIdError(
        f"{len(allh) - len(uniq)} documents share an id with another one, e.g. {', '.join(examples)}: "
        "give each input a source of its own (ids are <source>/<own id>) or drop the repeated records"
    )


def cluster_step(cfg: RunConfig, out: Path, tagged: list[TagResult], reuse: bool = False) -> dict[str, Any]:
    """Global: duplicate clusters over every staged shard, then one keeper per cluster among the
    documents that pass the other rules. `reuse`: keep clusters computed for the same key."""
    check_unique_ids(out, tagged)
    if not cfg.dedup.enabled:
        return {"enabled": False}
    ordered = sorted(tagged, key=lambda r: r.shard)
    work = clusters_path(out).parent
    key = _cluster_key(cfg, ordered)
    key_file = work / "cluster_key.txt"
    if not (reuse and key_file.exists() and key_file.read_text() == key and (work / "cluster_stats.json").exists()):
        shutil.rmtree(work, ignore_errors=True)
        cluster_signatures([out / p for t in ordered for p in t.staged], work, cfg.dedup)
        key_file.write_text(key)
    # one source of truth for the summary, whether the clusters are new or reused
    summary: dict[str, Any] = orjson.loads((work / "cluster_stats.json").read_bytes())
    choose_cluster_keepers(cfg, out, [(t.shard, t.staged) for t in ordered])
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
        for prev, nxt in zip(STAGES, STAGES[1:]):
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


def _write_json(path: Path, data: Any, sort_keys: bool = True) -> None:
    """Deterministic JSON, atomically. stats.json keeps its built order (stages in pipeline order)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    option = orjson.OPT_INDENT_2 | (orjson.OPT_SORT_KEYS if sort_keys else 0)
    tmp.write_bytes(orjson.dumps(data, option=option) + b"\n")
    os.replace(tmp, path)


@dataclass
class RunSummary:
    stats: RunStats
    files: list[dict[str, Any]]
    skipped_shards: list[str]
    out: Path


def _publish_rejects(out: Path, stage: str, paths: Iterable[str], cfg: RunConfig) -> list[Path]:
    dest = out / "rejected" / stage
    dest.mkdir(parents=True, exist_ok=True)
    writer = RotatingWriter(dest / "part", REJECT_SCHEMA, cfg.output)
    for rel in paths:
        writer.write(pq.read_table(out / rel, schema=REJECT_SCHEMA))
    # an empty stage still gets its (empty) file: the layout does not depend on the data
    written = writer.close(ensure_file=True)
    for old in dest.glob("*.parquet"):
        if old not in written:
            old.unlink()
    return written


def finish(
    cfg: RunConfig, out: Path, tagged: list[TagResult], selected: list[SelectResult], dedup: dict[str, Any] | None = None
) -> RunSummary:
    """Merges stats, names the final shards, collects rejects, writes stats.json and manifest.json."""
    stats: RunStats = sum((t.stats for t in tagged), RunStats()) + sum((s.stats for s in selected), RunStats())
    check_accounting(stats)

    groups: dict[str, list[str]] = {}
    for res in sorted(selected, key=lambda r: r.shard):
        for group, parts in res.parts.items():
            groups.setdefault(group, []).extend(parts)
    data_dirs: list[Path] = []
    for group in sorted(groups):
        src, lang = group.split("/")
        dest = out / "data" / src / lang
        publish([out / p for p in sorted(groups[group])], dest, "train", FINAL_SCHEMA, cfg.output)
        data_dirs.append(dest)
    remove_stale_dirs(out / "data", data_dirs)

    reject_sources: dict[str, list[str]] = {}
    for res in sorted(tagged, key=lambda r: r.shard):
        for stage, rel in res.rejects.items():
            reject_sources.setdefault(stage, []).append(rel)
    for res in sorted(selected, key=lambda r: r.shard):
        for stage, rel in res.rejects.items():
            reject_sources.setdefault(stage, []).append(rel)
    for stage in STAGES:
        _publish_rejects(out, stage, reject_sources.get(stage, []), cfg)
    remove_stale_dirs(out / "rejected", [out / "rejected" / s for s in STAGES])

    dedup = dedup or {"enabled": False}
    stats_doc = {"config_hash": cfg.hash(), "version": __version__, **stats.to_dict(), "dedup": dedup, "casing": casing_summary(dedup)}
    # the report is rebuilt from stats.json alone (`curate report OUT`), so its settings travel in it
    stats_doc["report_settings"] = {**cfg.report.model_dump(mode="json"), "encoding": cfg.tokens.encoding, "tokenizers": tokenizer_settings(cfg.tokens.tokenizer)}
    _write_json(out / "stats" / "stats.json", stats_doc, sort_keys=False)

    files = [
        describe(p, out).to_dict()
        for p in sorted(list((out / "data").rglob("*.parquet")) + list((out / "rejected").rglob("*.parquet")))
    ]
    manifest = {
        "config_hash": cfg.hash(),
        "config": cfg.model_dump(mode="json"),
        "packages": package_versions(),
        "inputs": {t.shard: t.inputs for t in sorted(tagged, key=lambda r: r.shard)},
        "files": files,
        "totals": {
            "data_rows": sum(f["rows"] for f in files if f["path"].startswith("data/")),
            "rejected_rows": sum(f["rows"] for f in files if f["path"].startswith("rejected/")),
        },
    }
    _write_json(out / "manifest.json", manifest)
    write_report(out)  # OUT/stats/report.md, report.html, *.png from stats.json (not listed in the manifest)
    write_card(out)  # OUT/README.md from stats.json + manifest.json (not listed in the manifest)
    return RunSummary(stats=stats, files=files, skipped_shards=[t.shard for t in tagged if t.skipped], out=out)


def run_local(
    cfg: RunConfig,
    out: Path,
    progress: Callable[[InputShard], Progress | None] | None = None,
    log: Callable[[str], None] | None = None,
) -> RunSummary:
    """The whole run in this process: tag every shard, select every shard, finish."""
    out.mkdir(parents=True, exist_ok=True)
    tagged: list[TagResult] = []
    for shard, src in plan(cfg):
        res = tag_shard(shard, src, cfg, out, progress(shard) if progress else None)
        if log:
            log(f"tag {shard.name}: {'skipped (done, same key)' if res.skipped else 'done'}")
        tagged.append(res)
    reset_select(out)
    dedup = cluster_step(cfg, out, tagged, reuse=all(t.skipped for t in tagged))
    selected = [select_shard(t.shard, t.staged, cfg, out) for t in tagged]
    return finish(cfg, out, tagged, selected, dedup)


class RefilterError(ValueError):
    """The staged data cannot serve this config (its tag settings or inputs differ)."""


def refilter(cfg: RunConfig, out: Path, log: Callable[[str], None] | None = None) -> RunSummary:
    """Select + finish again from the staged shards with new thresholds, without re-tagging:
    keepers of duplicate clusters are re-chosen among the documents that now pass."""
    tagged: list[TagResult] = []
    for shard, src in plan(cfg):
        res = load_done(out, shard, tag_key(shard, src, cfg))
        if res is None:
            raise RefilterError(
                f"{out}: no staged tags for shard {shard.name} under this config (its source, normalize, "
                "language, tokens or dedup-signature settings, the input file, or the curate version differ "
                "from the run that staged it); run `curate run` with this config instead"
            )
        tagged.append(res)
    reset_select(out)
    dedup = cluster_step(cfg, out, tagged, reuse=True)
    if log:
        log(f"refilter: {len(tagged)} staged shards, clusters {'reused' if dedup.get('enabled') else 'off'}")
    selected = [select_shard(t.shard, t.staged, cfg, out) for t in tagged]
    return finish(cfg, out, tagged, selected, dedup)

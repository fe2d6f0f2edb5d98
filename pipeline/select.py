"""The select step: thresholds on stored tags -> final shard parts + rejects + stats.

Select never recomputes a tag: it compares columns with Arrow compute kernels, batch by batch, so
re-tuning thresholds costs a read and a write of the staged shards. Rules run in a fixed order and a
document is rejected by the first that fails (design.md: malformed, language, quality, duplicate);
the quality stage also records every rule a document fails (`q_failed`, any-fail counts in stats).

Duplicates need one global decision first: the keeper of each cluster is chosen among the members
that pass every other rule (`pipeline.dedup.keepers.choose_cluster_keepers`, run by the cluster
phase), written per shard, and joined in here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from filters.language import UNKNOWN_LANG, language_mask
from filters.pii import KINDS as PII_KINDS
from filters.quality import quality_verdicts, resolve_profile
from pipeline.config import RunConfig
from pipeline.dedup.keepers import KEEPER_COLUMNS
from pipeline.document import FINAL_SCHEMA, REJECT_SCHEMA
from pipeline.layout import Layout, Store, as_layout
from pipeline.shards import RotatingWriter, staging_output, write_table_atomic
from pipeline.sketches import log_buckets, vocab_registers
from pipeline.stats import RunStats
from pipeline.words import count_words

#: A rule's verdict on one batch: reject mask, drop_reason and drop_value per row, and the list of
#: every failing check per row (null when the rule has no such list).
Verdict = tuple[pa.Array, pa.Array, pa.Array, pa.Array | None]
Rule = Callable[[pa.Table, RunConfig], Verdict]


def _keep_all(n: int) -> pa.Array:
    return pa.array([False] * n, pa.bool_())


def language_rule(batch: pa.Table, cfg: RunConfig) -> Verdict:
    """Documents outside `select.languages`, or under their language's minimum score."""
    n = batch.num_rows
    if cfg.select.language_mode == "label_only":
        return _keep_all(n), pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), None
    mask, reasons, values = language_mask(batch, cfg.select.languages, cfg.select.min_lang_score)
    return mask, reasons, values, None


def source_profiles(cfg: RunConfig) -> dict[str, str]:
    """Quality profile of every source: the config's override, else by source type and subset."""
    return {s.name: resolve_profile(s.name, s.type, s.subset, cfg.quality.profiles) for s in cfg.sources}


def quality_rule(batch: pa.Table, cfg: RunConfig) -> Verdict:
    """The source's quality profile against the stored q_* signals; `label_only` keeps every row but
    still reports what failed."""
    profiles = source_profiles(cfg)
    names = sorted(profiles)
    idx = pc.index_in(batch.column("source"), value_set=pa.array(names, pa.string()))
    per_row = pc.take(pa.array([profiles[n] for n in names], pa.string()), idx)
    mask, reasons, values, failed = quality_verdicts(batch, pc.fill_null(per_row, "web"), cfg.quality)
    if cfg.quality.mode == "label_only":
        mask = _keep_all(batch.num_rows)
    return mask, reasons, values, failed


def contamination_rule(batch: pa.Table, cfg: RunConfig) -> Verdict:
    """Documents sharing at least `decontamination.min_ngrams` n-grams with an eval set:
    `contamination:<the eval set with most n-grams>`, the longest overlapping span as the value;
    the list of every eval set hit as the failed list (label_only keeps the rows)."""
    n = batch.num_rows
    d = cfg.decontamination
    if not d.eval_sets or "decon_ngrams" not in batch.column_names:
        return _keep_all(n), pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), None
    hit = pc.greater_equal(batch.column("decon_ngrams"), d.min_ngrams)
    if "decon_sets" not in batch.column_names:  # keeper choice reads no list column: the mask is enough
        return _chunk(_keep_all(n) if d.mode == "label_only" else hit), pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), None
    sets = batch.column("decon_sets")
    first = pc.list_element(pc.if_else(pc.greater(pc.list_value_length(sets), 0), sets, pa.scalar(["?"], pa.list_(pa.string()))), 0)
    reasons = pc.if_else(hit, pc.binary_join_element_wise("contamination:", first, ""), pa.scalar(None, pa.string()))
    values = pc.if_else(hit, batch.column("decon_match"), pa.scalar(None, pa.string()))
    failed = pc.if_else(hit, sets, pa.scalar([], pa.list_(pa.string())))
    mask = _keep_all(n) if d.mode == "label_only" else hit
    return _chunk(mask), _chunk(reasons), _chunk(values), _chunk(failed)


def pii_rule(batch: pa.Table, cfg: RunConfig) -> Verdict:
    """Documents of sources with PII policy `drop` holding any PII: `pii:<kind>` (first kind in
    filters.pii.KINDS order found), its count as the value."""
    n = batch.num_rows
    drop = sorted(s.name for s in cfg.sources if cfg.pii.policy_of(s.name) == "drop")
    if not cfg.pii.enabled or not drop or "pii_email" not in batch.column_names:
        return _keep_all(n), pa.nulls(n, pa.string()), pa.nulls(n, pa.string()), None
    in_drop = pc.is_in(batch.column("source"), value_set=pa.array(drop, pa.string()))
    reasons = pa.nulls(n, pa.string())
    values = pa.nulls(n, pa.string())
    for kind in reversed(PII_KINDS):  # the first kind found wins: fill from the last
        col = batch.column(f"pii_{kind}")
        has = pc.greater(col, 0)
        reasons = pc.if_else(has, f"pii:{kind}", reasons)
        values = pc.if_else(has, pc.cast(col, pa.string()), values)
    mask = pc.and_(in_drop, pc.is_valid(reasons))
    return _chunk(mask), _chunk(reasons), _chunk(values), None


def _chunk(a: pa.Array | pa.ChunkedArray) -> pa.Array:
    return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a


#: (stage, rule) in the order documents meet them, before the duplicate rule (which needs keepers).
#: A new rule is one entry here (its stage gets rejected/<stage>/ and a funnel row).
RULES: list[tuple[str, Rule]] = [
    ("language", language_rule),
    ("quality", quality_rule),
    ("contamination", contamination_rule),
    ("pii", pii_rule),
]


def select_stages() -> tuple[str, ...]:
    """Every stage select reports, in order (read when asked: RULES may have grown)."""
    return (*(stage for stage, _ in RULES), "dedup")


def _account_contamination(stats: RunStats, batch: pa.Table, cfg: RunConfig) -> None:
    """The report's contamination table: documents and tokens per source x eval set hit, over the
    documents entering the contamination stage (dropped or, in label_only mode, kept)."""
    if not cfg.decontamination.eval_sets or "decon_ngrams" not in batch.column_names:
        return
    hit = batch.filter(pc.greater_equal(batch.column("decon_ngrams"), cfg.decontamination.min_ngrams))
    if hit.num_rows == 0:
        return
    sets = hit.column("decon_sets")
    idx = pc.list_parent_indices(sets)
    flat = pa.table({
        "source": pc.take(hit.column("source"), idx),
        "set": pc.list_flatten(sets),
        "n_tokens": pc.take(hit.column("n_tokens"), idx),
    })
    g = flat.group_by(["source", "set"]).aggregate([("n_tokens", "sum"), ("n_tokens", "count")])
    for src, name, nt, n in zip(*(g.column(c).to_pylist() for c in ("source", "set", "n_tokens_sum", "n_tokens_count"))):
        stats.contamination[(src, name, "docs")] += n
        stats.contamination[(src, name, "tokens")] += nt

def passing(batch: pa.Table, cfg: RunConfig) -> pa.Table:
    """Rows that pass every rule before the duplicate rule."""
    for _, rule in RULES:
        mask, _, _, _ = rule(batch, cfg)
        batch = batch.filter(pc.invert(mask))
    return batch


@dataclass
class SelectResult:
    shard: str
    parts: dict[str, list[str]]  # "source/lang" -> part paths relative to the staging root
    rejects: dict[str, str]  # stage -> path relative to the staging root
    stats: RunStats = field(default_factory=RunStats)


def _group_writer(lay: Layout, writers: dict[tuple[str, str], RotatingWriter], shard: str, src: str, lang: str, cfg: RunConfig) -> RotatingWriter:
    key = (src, lang)
    if key not in writers:
        writers[key] = RotatingWriter(lay.selected_prefix(src, lang, shard), FINAL_SCHEMA, cfg.output, lay.stage)
    return writers[key]


def _to_rejects(
    rows: pa.Table, stage: str, reasons: pa.Array, values: pa.Array, duplicate_of: pa.Array | None = None, failed: pa.Array | None = None
) -> pa.Table:
    n = rows.num_rows
    nulls = pa.nulls(n, pa.string())
    return pa.table(
        {
            "stage": pa.array([stage] * n, pa.string()),
            "drop_reason": reasons.cast(pa.string()),
            "drop_value": values.cast(pa.string()),
            "field": nulls,
            "id": rows.column("id"),
            "source": rows.column("source"),
            "subset": rows.column("subset"),
            "lang": rows.column("lang"),
            "lang_score": rows.column("lang_score"),
            "file": rows.column("file"),
            "line": rows.column("line"),
            "record": rows.column("record"),
            "raw": nulls,
            "text": rows.column("text"),
            "meta": rows.column("meta"),
            "n_bytes": rows.column("n_bytes"),
            "n_tokens": rows.column("n_tokens"),
            "duplicate_of": duplicate_of if duplicate_of is not None else nulls,
            "q_failed": failed if failed is not None else pa.nulls(n, pa.list_(pa.string())),
        },
        schema=REJECT_SCHEMA,
    )


def _sum(col: pa.ChunkedArray | pa.Array) -> int:
    v = pc.sum(col).as_py()
    return int(v) if v is not None else 0


def _account(stats: RunStats, stage: str, rows: pa.Table, kept: bool) -> None:
    """Per-source (and per-reason) counts of one outcome, from columns (no per-row Python)."""
    if rows.num_rows == 0:
        return
    keys = ["source"] if kept else ["source", "_reason"]
    grouped = rows.group_by(keys).aggregate([("n_bytes", "sum"), ("n_tokens", "sum"), ("id", "count")])
    reasons = grouped.column("_reason").to_pylist() if not kept else [None] * grouped.num_rows
    for src, reason, nb, nt, n in zip(
        grouped.column("source").to_pylist(),
        reasons,
        grouped.column("n_bytes_sum").to_pylist(),
        grouped.column("n_tokens_sum").to_pylist(),
        grouped.column("id_count").to_pylist(),
    ):
        st = stats.stage(stage, src)
        if kept:
            st.keep(nb, nt, n=n)
        else:
            st.reject(reason, nb, nt, n=n)


def _apply(
    stats: RunStats,
    stage: str,
    batch: pa.Table,
    verdict: Verdict,
    rejected: list[pa.Table],
    duplicate_of: pa.Array | None = None,
) -> pa.Table:
    mask, reasons, values, failed = verdict
    if failed is not None:
        _count_any_fail(stats, stage, batch.column("source"), failed)
    good = pc.invert(mask)
    _account(stats, stage, batch.filter(good), kept=True)
    bad = batch.filter(mask)
    if bad.num_rows:
        bad_reasons = reasons.filter(mask)
        _account(stats, stage, bad.append_column("_reason", bad_reasons), kept=False)
        dup = duplicate_of.filter(mask) if duplicate_of is not None else None
        bad_failed = failed.filter(mask) if failed is not None else None
        rejected.append(_to_rejects(bad, stage, bad_reasons, values.filter(mask), dup, bad_failed))
    kept = batch.filter(good)
    if failed is not None:
        kept = kept.append_column(f"_{stage}_failed", failed.filter(good))
    return kept


def _count_any_fail(stats: RunStats, stage: str, sources: pa.ChunkedArray | pa.Array, failed: pa.Array) -> None:
    """Every failing check, not only the first: how often each rule fails at all, per source."""
    flat = pc.list_flatten(failed)
    if len(flat) == 0:
        return
    owners = pc.take(sources, pc.list_parent_indices(failed))
    counts = pa.table({"source": owners, "rule": flat}).group_by(["source", "rule"]).aggregate([("rule", "count")])
    for src, rule, n in zip(counts.column("source").to_pylist(), counts.column("rule").to_pylist(), counts.column("rule_count").to_pylist()):
        stats.any_fail[(stage, src, rule)] += n


def _account_duplicates(stats: RunStats, dups: pa.Table) -> None:
    """Dropped duplicates by their own source and their keeper's: within- and cross-source rates."""
    if dups.num_rows == 0:
        return
    g = dups.group_by(["source", "keeper_source"]).aggregate([("n_bytes", "sum"), ("n_tokens", "sum"), ("id", "count")])
    for src, ksrc, nb, nt, n in zip(*(g.column(c).to_pylist() for c in ("source", "keeper_source", "n_bytes_sum", "n_tokens_sum", "id_count"))):
        ksrc = ksrc if ksrc is not None else "unknown"  # cannot happen: a dropped member's cluster has a keeper
        stats.dup_pairs[(src, ksrc, "docs")] += n
        stats.dup_pairs[(src, ksrc, "bytes")] += nb
        stats.dup_pairs[(src, ksrc, "tokens")] += nt


def _account_kept(stats: RunStats, src: str, lang: str, part: pa.Table) -> None:
    """Length histograms, Traditional/Simplified share and vocabulary sketches of kept documents."""
    for unit, col in (("chars", "n_chars"), ("tokens", "n_tokens")):
        key = (unit, src, lang)
        stats.hist[key] = stats.hist.get(key, Counter()) + log_buckets(part.column(col))
    variants = part.filter(pc.is_valid(part.column("zh_variant")))
    if variants.num_rows:
        g = variants.group_by(["zh_variant"]).aggregate([("n_chars", "sum"), ("id", "count")])
        for variant, nc, n in zip(*(g.column(c).to_pylist() for c in ("zh_variant", "n_chars_sum", "id_count"))):
            stats.variants[(src, lang, variant, "docs")] += n
            stats.variants[(src, lang, variant, "chars")] += nc
    cased, uncased = vocab_registers(part.column("text"))
    for case, reg in (("cased", cased), ("uncased", uncased)):
        key = (src, lang, case)
        stats.vocab[key] = np.maximum(stats.vocab[key], reg) if key in stats.vocab else reg


def _join_keepers(batch: pa.Table, keepers: pa.Table | None) -> pa.Table:
    """Cluster columns for every row (null outside clusters), in the batch's own row order."""
    n = batch.num_rows
    if keepers is None or keepers.num_rows == 0:
        return batch.append_column("cluster", pa.nulls(n, pa.string())).append_column(
            "cluster_size", pa.nulls(n, pa.int64())
        ).append_column("keeper_id", pa.nulls(n, pa.string())).append_column(
            "keeper_source", pa.nulls(n, pa.string())
        ).append_column(
            "is_keeper", pa.nulls(n, pa.bool_())
        ).append_column("exact", pa.nulls(n, pa.bool_()))
    idx = pc.index_in(batch.column("id"), value_set=keepers.column("id"))
    cols = {}
    for name in KEEPER_COLUMNS[1:]:
        cols[name] = pc.take(keepers.column(name), idx)
    for name, col in cols.items():
        batch = batch.append_column(name, col)
    return batch


def dedup_rule(batch: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """Cluster members that are not their cluster's keeper; the reason says exact or near."""
    in_cluster = pc.is_valid(batch.column("cluster"))
    mask = pc.and_(in_cluster, pc.invert(pc.fill_null(batch.column("is_keeper"), False)))
    mask = pc.fill_null(mask, False)
    exact = pc.fill_null(batch.column("exact"), False)
    reasons = pc.if_else(exact, "exact_duplicate", "near_duplicate")
    values = pc.cast(batch.column("cluster_size"), pa.string())
    return mask, reasons, values, batch.column("keeper_id")


def select_shard(shard: str, staged: list[str], cfg: RunConfig, out: Layout | str | Path) -> SelectResult:
    """Applies every rule to one tagged shard and writes kept rows per source/lang group."""
    lay = as_layout(out)
    stats = RunStats()
    writers: dict[tuple[str, str], RotatingWriter] = {}
    rejected: dict[str, list[pa.Table]] = {stage: [] for stage in select_stages()}
    kpath = lay.keepers(shard)
    keepers = lay.stage.read_table(kpath) if cfg.dedup.enabled and lay.stage.exists(kpath) else None
    staged_cols = [c for c in lay.stage.read_schema(lay.staged(staged[0])).names if c != "minhash"] if staged else []
    words = _WordCounts(lay.stage, lay.words_cache(shard))
    try:
        for rel in staged:
            pf = lay.stage.parquet_file(lay.staged(rel))
            for rb in pf.iter_batches(batch_size=8192, columns=staged_cols):
                batch = pa.Table.from_batches([rb])
                langs = pc.fill_null(batch.column("lang"), UNKNOWN_LANG)
                batch = batch.set_column(batch.schema.get_field_index("lang"), "lang", langs)
                for stage, rule in RULES:
                    if stage == "contamination":
                        _account_contamination(stats, batch, cfg)
                    batch = _apply(stats, stage, batch, rule(batch, cfg), rejected[stage])
                batch = _join_keepers(batch, keepers)
                mask, reasons, values, dup_of = dedup_rule(batch)
                _account_duplicates(stats, batch.filter(mask))
                batch = _apply(stats, "dedup", batch, (mask, reasons, values, None), rejected["dedup"], dup_of)
                if batch.num_rows == 0:
                    continue
                batch = _finalize(batch, words)
                keys = batch.group_by(["source", "lang"]).aggregate([]).sort_by([("source", "ascending"), ("lang", "ascending")])
                for src, lang in zip(keys.column("source").to_pylist(), keys.column("lang").to_pylist()):
                    part = batch.filter(pc.and_(pc.equal(batch.column("source"), src), pc.equal(batch.column("lang"), lang)))
                    _group_writer(lay, writers, shard, src, lang, cfg).write(part.select(FINAL_SCHEMA.names))
                    stats.size(src, lang).add(
                        _sum(part.column("n_bytes")),
                        _sum(part.column("n_chars")),
                        _sum(part.column("n_tokens")),
                        n=part.num_rows,
                        n_words=_sum(part.column("n_words")),
                    )
                    _account_kept(stats, src, lang, part)
                    for col in (c for c in part.column_names if c.startswith("n_tokens_")):  # further tokenizers
                        stats.tokenizer_tokens[(src, lang, col)] += _sum(part.column(col))
        parts = {f"{s}/{lang}": [lay.staged_rel(p) for p in w.close()] for (s, lang), w in sorted(writers.items())}
        words.save(cfg)
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    reject_paths: dict[str, str] = {}
    for stage, tables in rejected.items():
        path = lay.staged_rejects(stage, shard)
        table = pa.concat_tables(tables) if tables else REJECT_SCHEMA.empty_table()
        write_table_atomic(table, path, staging_output(cfg.output), lay.stage)
        reject_paths[stage] = lay.staged_rel(path)
    return SelectResult(shard=shard, parts=parts, rejects=reject_paths, stats=stats)


class _WordCounts:
    """Words are counted (jieba for Han runs: the costly part of select) only for kept documents and
    only once: counts from earlier selects of the shard are reused, so a refilter pays only for the
    documents it newly keeps."""

    def __init__(self, store: Store, path: str) -> None:
        self.store = store
        self.path = path
        self.known = store.read_table(path) if store.exists(path) else None
        self.new: list[pa.Table] = []

    def counts(self, batch: pa.Table) -> pa.Array:
        n = batch.num_rows
        words = pa.nulls(n, pa.int64())
        if self.known is not None:
            words = pc.take(self.known.column("n_words"), pc.index_in(batch.column("id"), value_set=self.known.column("id")))
        missing = pc.is_null(words)
        if pc.any(missing).as_py():
            rows = batch.filter(missing)
            counted = pa.array(count_words(rows.column("text").to_pylist()), pa.int64())
            self.new.append(pa.table({"id": rows.column("id"), "n_words": counted}))
            merged = pc.fill_null(words, 0).to_numpy(zero_copy_only=False).copy()
            merged[pc.indices_nonzero(missing).to_numpy()] = counted.to_numpy()
            words = pa.array(merged, pa.int64())
        return words.combine_chunks() if isinstance(words, pa.ChunkedArray) else words

    def save(self, cfg: RunConfig) -> None:
        if not self.new:
            return
        tables = ([self.known] if self.known is not None else []) + self.new
        write_table_atomic(pa.concat_tables(tables).sort_by("id"), self.path, staging_output(cfg.output), self.store)


def _finalize(batch: pa.Table, words: _WordCounts) -> pa.Table:
    """Columns only kept documents get: words, cluster, failed quality rules."""
    batch = batch.append_column("n_words", words.counts(batch))
    batch = batch.append_column("dup_cluster", batch.column("cluster"))
    batch = batch.append_column("dup_cluster_size", pc.fill_null(batch.column("cluster_size"), 1))
    return batch.append_column("q_failed", batch.column("_quality_failed"))

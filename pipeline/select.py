"""The select step: thresholds on stored tags -> final shard parts + rejects + stats.

Select never recomputes a tag: it compares columns with Arrow compute kernels, batch by batch, so
re-tuning thresholds costs a read and a write of the staged shards. Rules run in a fixed order and a
document is rejected by the first that fails (design.md: malformed, language, quality, duplicate).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.config import RunConfig
from pipeline.document import FINAL_SCHEMA, REJECT_SCHEMA
from pipeline.shards import RotatingWriter, write_table_atomic
from pipeline.stats import RunStats
from pipeline.tag import staging

#: Language folder of documents whose language is unknown (ISO 639-3 "undetermined").
UNKNOWN_LANG = "und"

#: A rule returns (reject mask, drop_reason, drop_value column) for one batch of staged rows.
Rule = Callable[[pa.Table, RunConfig], tuple[pa.Array, str, pa.Array]]


def language_rule(batch: pa.Table, cfg: RunConfig) -> tuple[pa.Array, str, pa.Array]:
    """Documents outside `select.languages` (unknown language included) leave with their label."""
    langs = pc.fill_null(batch.column("lang"), UNKNOWN_LANG)
    wanted = cfg.select.languages
    if wanted is None:
        mask = pa.array([False] * batch.num_rows, pa.bool_())
    else:
        mask = pc.invert(pc.is_in(langs, value_set=pa.array(wanted, pa.string())))
    return mask, "language", langs


#: (stage, rule) in the order documents meet them; later issues add quality and dedup here.
RULES: list[tuple[str, Rule]] = [("language", language_rule)]


@dataclass
class SelectResult:
    shard: str
    parts: dict[str, list[str]]  # "source/lang" -> part paths relative to OUT
    rejects: dict[str, str]  # stage -> path relative to OUT
    stats: RunStats = field(default_factory=RunStats)


def _group_writer(out: Path, writers: dict[tuple[str, str], RotatingWriter], shard: str, src: str, lang: str, cfg: RunConfig) -> RotatingWriter:
    key = (src, lang)
    if key not in writers:
        prefix = staging(out) / "selected" / src / lang / shard
        writers[key] = RotatingWriter(prefix, FINAL_SCHEMA, cfg.output)
    return writers[key]


def _to_rejects(rows: pa.Table, stage: str, reason: str, values: pa.Array) -> pa.Table:
    n = rows.num_rows
    nulls = pa.nulls(n, pa.string())
    return pa.table(
        {
            "stage": pa.array([stage] * n, pa.string()),
            "drop_reason": pa.array([reason] * n, pa.string()),
            "drop_value": values.cast(pa.string()),
            "field": nulls,
            "id": rows.column("id"),
            "source": rows.column("source"),
            "subset": rows.column("subset"),
            "lang": rows.column("lang"),
            "file": rows.column("file"),
            "line": rows.column("line"),
            "record": rows.column("record"),
            "raw": nulls,
            "text": rows.column("text"),
            "meta": rows.column("meta"),
            "n_bytes": rows.column("n_bytes"),
            "n_tokens": rows.column("n_tokens"),
        },
        schema=REJECT_SCHEMA,
    )


def _sum(col: pa.ChunkedArray | pa.Array) -> int:
    v = pc.sum(col).as_py()
    return int(v) if v is not None else 0


def _account(stats: RunStats, stage: str, rows: pa.Table, kept: bool, reason: str = "") -> None:
    """Per-source counts of one outcome, from columns (no per-row Python)."""
    if rows.num_rows == 0:
        return
    grouped = rows.group_by("source").aggregate([("n_bytes", "sum"), ("n_tokens", "sum"), ("id", "count")])
    for src, nb, nt, n in zip(
        grouped.column("source").to_pylist(),
        grouped.column("n_bytes_sum").to_pylist(),
        grouped.column("n_tokens_sum").to_pylist(),
        grouped.column("id_count").to_pylist(),
    ):
        st = stats.stage(stage, src)
        if kept:
            st.keep(nb, nt, n=n)
        else:
            st.reject(reason, nb, nt, n=n)


def select_shard(shard: str, staged: list[str], cfg: RunConfig, out: Path) -> SelectResult:
    """Applies every rule to one tagged shard and writes kept rows per source/lang group."""
    stats = RunStats()
    writers: dict[tuple[str, str], RotatingWriter] = {}
    rejected: dict[str, list[pa.Table]] = {stage: [] for stage, _ in RULES}
    final_cols = FINAL_SCHEMA.names
    try:
        for rel in staged:
            pf = pq.ParquetFile(out / rel)
            for rb in pf.iter_batches(batch_size=8192):
                batch = pa.Table.from_batches([rb])
                for stage, rule in RULES:
                    mask, reason, values = rule(batch, cfg)
                    bad = batch.filter(mask)
                    good_mask = pc.invert(mask)
                    _account(stats, stage, batch.filter(good_mask), kept=True)
                    if bad.num_rows:
                        _account(stats, stage, bad, kept=False, reason=reason)
                        rejected[stage].append(_to_rejects(bad, stage, reason, values.filter(mask)))
                    batch = batch.filter(good_mask)
                if batch.num_rows == 0:
                    continue
                langs = pc.fill_null(batch.column("lang"), UNKNOWN_LANG)
                batch = batch.set_column(batch.schema.get_field_index("lang"), "lang", langs)
                keys = batch.group_by(["source", "lang"]).aggregate([]).sort_by([("source", "ascending"), ("lang", "ascending")])
                for src, lang in zip(keys.column("source").to_pylist(), keys.column("lang").to_pylist()):
                    part = batch.filter(pc.and_(pc.equal(batch.column("source"), src), pc.equal(batch.column("lang"), lang)))
                    _group_writer(out, writers, shard, src, lang, cfg).write(part.select(final_cols))
                    stats.size(src, lang).add(
                        _sum(part.column("n_bytes")), _sum(part.column("n_chars")), _sum(part.column("n_tokens")), n=part.num_rows
                    )
        parts = {f"{s}/{lang}": [p.relative_to(out).as_posix() for p in w.close()] for (s, lang), w in sorted(writers.items())}
    except BaseException:
        for w in writers.values():
            w.abort()
        raise
    reject_paths: dict[str, str] = {}
    for stage, tables in rejected.items():
        path = staging(out) / "rejected" / stage / f"{shard}.parquet"
        table = pa.concat_tables(tables) if tables else REJECT_SCHEMA.empty_table()
        write_table_atomic(table, path, cfg.output)
        reject_paths[stage] = path.relative_to(out).as_posix()
    return SelectResult(shard=shard, parts=parts, rejects=reject_paths, stats=stats)

"""Keeper choice: one document per duplicate cluster, among the members that passed the other
filters, by a fixed rule so that reruns and refilters pick the same keeper.

Rule: sources listed in `source_priority` first (in list order), then the longer text (`n_chars`
descending: the fuller copy of a page or thread), then the smaller `id` (byte order of the UTF-8
string, i.e. code point order: "src/f/10" < "src/f/9"). Pure and vectorised (one Arrow sort).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.layout import Layout, as_layout
from pipeline.shards import staging_output, write_table_atomic

if TYPE_CHECKING:
    from pipeline.config import RunConfig

__all__ = ["choose_keepers", "choose_cluster_keepers", "KEEPER_SCHEMA", "KEEPER_COLUMNS"]

#: Columns of `.staging/keepers/<shard>.parquet`, which select joins to each shard's rows.
KEEPER_COLUMNS = ["id", "cluster", "cluster_size", "keeper_id", "keeper_source", "is_keeper", "exact"]

KEEPER_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("cluster", pa.string(), nullable=False),
        pa.field("keeper_id", pa.string(), nullable=False),
        pa.field("is_keeper", pa.bool_(), nullable=False),
    ]
)


def choose_keepers(members: pa.Table, source_priority: Sequence[str]) -> pa.Table:
    """`members` (columns `id`, `cluster`, `source`, `n_chars`; other columns ignored) ->
    (`id`, `cluster`, `keeper_id`, `is_keeper`), sorted by (cluster, id), one keeper per cluster.

    A cluster with a single passing member keeps it; clusters are whatever `members` holds (pass
    only the members that passed the other filters, so a dropped document never keeps a cluster)."""
    if members.num_rows == 0:
        return KEEPER_SCHEMA.empty_table()
    prio = {s: i for i, s in reversed(list(enumerate(source_priority)))}
    listed = pa.array(list(prio), type=pa.string())
    ranks = pa.array(list(prio.values()), type=pa.int64())
    source = members.column("source").combine_chunks().cast(pa.string())
    pos = pc.index_in(source, value_set=listed)  # null where unlisted
    rank = pc.fill_null(pc.take(ranks, pos), len(prio))
    t = pa.table(
        {
            "id": members.column("id").cast(pa.string()),
            "cluster": members.column("cluster").cast(pa.string()),
            "rank": rank,
            "n_chars": members.column("n_chars").cast(pa.int64()),
        }
    )
    order = pc.sort_indices(
        t,
        sort_keys=[("cluster", "ascending"), ("rank", "ascending"), ("n_chars", "descending"), ("id", "ascending")],
    )
    t = t.take(order)
    cl = t.column("cluster").combine_chunks()
    n = t.num_rows
    first = np.ones(n, dtype=bool)
    if n > 1:
        first[1:] = ~np.asarray(pc.equal(cl[1:], cl[:-1]).fill_null(False))
    run = np.cumsum(first) - 1
    ids = t.column("id").combine_chunks()
    keeper = ids.take(pa.array(np.flatnonzero(first)[run]))
    out = pa.table(
        {"id": ids, "cluster": cl, "keeper_id": keeper, "is_keeper": pa.array(first)}, schema=KEEPER_SCHEMA
    )
    return out.sort_by([("cluster", "ascending"), ("id", "ascending")])


#: Staged columns no rule reads: left out when keepers are chosen (memory follows the members).
_NOT_FOR_RULES = frozenset({"text", "minhash", "messages", "meta", "norm_changes"})


def choose_cluster_keepers(cfg: RunConfig, out: Layout | str | Path, shards: list[tuple[str, list[str]]]) -> None:
    """Global: one keeper per duplicate cluster among members that pass the other rules; writes the
    member rows of each shard to `.staging/keepers/<shard>.parquet`.

    Reads only cluster members' columns (never texts), so memory follows the number of duplicates.
    The other rules are select's (`passing`), imported here because select imports this module."""
    from filters.quality import SIGNAL_COLUMNS
    from pipeline.select import passing

    lay = as_layout(out)
    clusters = lay.stage.read_table(lay.clusters(), columns=["id", "cluster", "cluster_size"])
    member_ids = clusters.column("id")
    parts: list[pa.Table] = []
    shard_of: list[pa.Table] = []
    cols: list[str] = []
    empty: pa.Table | None = None
    for shard, staged in shards:
        for rel in staged:
            if not cols:  # every tag column a rule may read (any registered tagger's), never the texts
                schema = lay.stage.read_schema(lay.staged(rel))
                # list columns cannot ride through Arrow's join: rules need only their masks here
                cols = [c for c in schema.names if c not in _NOT_FOR_RULES and not pa.types.is_list(schema.field(c).type)]
                empty = pa.schema([schema.field(c) for c in cols]).empty_table()
            t = lay.stage.read_table(lay.staged(rel), columns=cols)
            t = t.filter(pc.is_in(t.column("id"), value_set=member_ids))
            if t.num_rows == 0:
                continue
            shard_of.append(pa.table({"id": t.column("id"), "shard": pa.array([shard] * t.num_rows, pa.string())}))
            parts.append(t)
    if parts:
        members = pa.concat_tables(parts)
    elif empty is not None:
        members = empty
    else:
        members = pa.table({c: pa.array([], pa.string()) for c in ["id", "source", "n_chars", "key_hash", "lang", "lang_score", *SIGNAL_COLUMNS]})
    members = members.join(clusters, "id")
    ok = passing(members, cfg)
    keepers = choose_keepers(ok.select(["id", "cluster", "source", "n_chars"]), cfg.dedup.source_priority)
    keepers = keepers.select(["id", "keeper_id", "is_keeper"])
    keeper_keys = ok.select(["id", "key_hash", "source"]).rename_columns(["keeper_id", "keeper_key_hash", "keeper_source"])
    full = members.join(keepers, "id").join(keeper_keys, "keeper_id")
    exact = pc.fill_null(pc.equal(full.column("key_hash"), full.column("keeper_key_hash")), False)
    full = full.append_column("exact", exact)
    full = full.set_column(
        full.schema.get_field_index("is_keeper"), "is_keeper", pc.fill_null(full.column("is_keeper"), False)
    )
    owners = pa.concat_tables(shard_of) if shard_of else pa.table({"id": pa.array([], pa.string()), "shard": pa.array([], pa.string())})
    full = full.join(owners, "id")
    for shard, _ in shards:
        rows = full.filter(pc.equal(full.column("shard"), shard)).select(KEEPER_COLUMNS).sort_by("id")
        write_table_atomic(rows, lay.keepers(shard), staging_output(cfg.output), lay.stage)

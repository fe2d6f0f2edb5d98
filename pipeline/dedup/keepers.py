"""Keeper choice: one document per duplicate cluster, among the members that passed the other
filters, by a fixed rule so that reruns and refilters pick the same keeper.

Rule: sources listed in `source_priority` first (in list order), then the longer text (`n_chars`
descending: the fuller copy of a page or thread), then the smaller `id` (byte order of the UTF-8
string, i.e. code point order: "src/f/10" < "src/f/9"). Pure and vectorised (one Arrow sort).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["choose_keepers", "KEEPER_SCHEMA"]

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

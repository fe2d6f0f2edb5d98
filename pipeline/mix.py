"""A training mixture to a token budget: per source, the documents that make weight W of N tokens.

Why: "how do I mix these sources without repeating one too often" is the question users come with
after curation (GPT-3's Table 2.2, dolma's `mix`, NeMo-Curator's `blend_datasets`). The unit is the
`n_tokens` column of OUT (the run's first tokenizer). Rules, per source with pool P tokens and
target T = W x N:

- validation first: whole duplicate clusters (`dup_cluster`; a document without one is its own
  cluster) are held out in a seeded order until F x min(T, P) tokens, and no train document shares a
  cluster (or an id) with them;
- P >= T: a seeded sample of the pool, the prefix of a permutation closest to T;
- P < T: whole epochs over the pool plus a seeded sample for the remainder, never more than
  `max_epochs` epochs in total (Muennighoff et al. 2023: up to ~4 epochs cost little); what is still
  missing is the source's shortfall, reported, not filled from other sources;
- the train rows are shuffled with the seed and written as Hub-layout Parquet shards.

`plan_mix` reads only the id/source/n_tokens/dup_cluster columns; `write_mix` writes exactly the
plan (the figures `--plan` prints are the ones the output holds). Same OUT, options and seed ->
byte-identical files.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.export import data_files, open_parquet, read_manifest
from pipeline.layout import write_atomic

_SUFFIXES = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "G": 1e9, "T": 1e12}


#: Documents after the prefix that the gap filling looks at, at most (bounds its Python loop).
FILL_SCAN = 100_000


class MixError(ValueError):
    """A mixture that cannot be made; one line naming the option or file at fault."""


def parse_count(text: str, what: str) -> float:
    """1.3B, 300M, 2e9, 1_000_000 -> a number (K/M/B/T = 10^3/6/9/12)."""
    m = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)\s*([KMBGT]?)\s*", str(text), re.IGNORECASE)
    if not m:
        raise MixError(f"{what} {text!r}: not a number (examples: 2e9, 300M, 1.3B)")
    return float(m.group(1).replace("_", "")) * _SUFFIXES[m.group(2).upper()]


def parse_weights(items: list[str] | tuple[str, ...]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not sep or not name or not w >= 0 or math.isinf(w):
            raise MixError(f"--weight {item!r}: write SOURCE=WEIGHT with a non-negative number, e.g. cc_en=0.6")
        if name in weights:
            raise MixError(f"--weight {name}: given twice")
        weights[name] = w
    return weights


@dataclass(frozen=True, slots=True)
class MixOptions:
    tokens: int
    weights: dict[str, float] = field(default_factory=dict)  # empty: each source's natural share
    max_epochs: float = 4.0
    validation: float = 0.0
    seed: int = 0
    shard_size_mb: float = 256.0


@dataclass
class SourcePlan:
    source: str
    weight: float
    available: int  # tokens of the source in OUT
    pool: int  # tokens left for train after the validation hold-out
    target: int
    tokens: int  # train tokens the mix holds
    documents: int  # train rows (repetitions counted)
    epochs: float  # tokens / pool
    shortfall: int
    validation_tokens: int
    validation_documents: int

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class MixPlan:
    options: MixOptions
    sources: list[SourcePlan]
    files: list[str]  # OUT data files, in order
    #: train rows: (file index, row in file, repetition), in output order; validation the same
    train: np.ndarray
    validation: np.ndarray
    tokenizer: str

    def totals(self) -> dict[str, int]:
        return {
            "tokens": sum(s.tokens for s in self.sources),
            "documents": sum(s.documents for s in self.sources),
            "validation_tokens": sum(s.validation_tokens for s in self.sources),
            "validation_documents": sum(s.validation_documents for s in self.sources),
            "shortfall": sum(s.shortfall for s in self.sources),
        }


def _rng(seed: int, *parts: str) -> np.random.Generator:
    """A generator per (seed, purpose, source): adding a source does not reshuffle the others."""
    digest = hashlib.sha256(orjson.dumps([seed, *parts])).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def _closest_prefix(tokens: np.ndarray, target: float) -> int:
    """How many of `tokens` (in order) to take so their sum is closest to target."""
    if target <= 0 or len(tokens) == 0:
        return 0
    cum = np.cumsum(tokens)
    k = int(np.searchsorted(cum, target))  # cum[k] >= target
    if k >= len(cum):
        return len(cum)
    below = cum[k - 1] if k > 0 else 0
    return k if target - below <= cum[k] - target else k + 1


def _fill(tokens: np.ndarray, target: float) -> np.ndarray:
    """Positions (in the given seeded order) whose tokens sum closest to target: the longest prefix
    under it plus later documents that still fit the gap, in order (so a source of a few long
    documents lands near its share too), or the closest plain prefix when that is closer."""
    if target <= 0 or len(tokens) == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(tokens)
    under = int(np.searchsorted(cum, target, side="right"))  # cum[:under] <= target
    picked = list(range(under))
    gap = target - (int(cum[under - 1]) if under else 0)
    for i in range(under, min(len(tokens), under + FILL_SCAN)):  # documents after the prefix, until the gap closes
        if gap < 1:
            break
        n = int(tokens[i])
        if n <= gap:
            picked.append(i)
            gap -= n
    k = _closest_prefix(tokens, target)
    closest = int(cum[k - 1]) if k else 0
    if abs(closest - target) < gap:
        return np.arange(k, dtype=np.int64)
    return np.array(picked, dtype=np.int64)


def _load(out: str | os.PathLike[str]) -> tuple[list[str], pa.Table]:
    files = [f["path"] for f in data_files(out)]
    if not files:
        raise MixError(f"{out}: the manifest names no data files (nothing was kept)")
    tables = []
    for i, rel in enumerate(files):
        t = open_parquet(out, rel).read(columns=["id", "source", "n_tokens", "dup_cluster"])
        n = t.num_rows
        tables.append(t.append_column("_file", pa.array(np.full(n, i, dtype=np.int32))).append_column("_row", pa.array(np.arange(n, dtype=np.int64))))
    return files, pa.concat_tables(tables)


def plan_mix(out: str | os.PathLike[str], opts: MixOptions) -> MixPlan:
    if opts.tokens <= 0:
        raise MixError("--tokens: the budget must be a positive number of tokens")
    if not 0 <= opts.validation < 1:
        raise MixError(f"--validation {opts.validation}: a share in [0, 1)")
    if not opts.max_epochs > 0:
        raise MixError(f"--max-epochs {opts.max_epochs}: must be positive")
    files, meta = _load(out)
    src_col = meta.column("source").to_numpy(zero_copy_only=False).astype(str)
    ntok = meta.column("n_tokens").to_numpy(zero_copy_only=False).astype(np.int64)
    ids = meta.column("id").to_numpy(zero_copy_only=False).astype(str)
    clusters = pc.fill_null(meta.column("dup_cluster"), "").to_numpy(zero_copy_only=False).astype(str)
    # a document without a cluster is its own group; ids are unique per source only
    groups = np.where(clusters != "", np.char.add("c:", clusters), np.char.add(np.char.add("d:", np.char.add(src_col, "/")), ids))
    present = sorted(set(src_col.tolist()))
    sizes = {s: int(ntok[src_col == s].sum()) for s in present}
    weights = dict(opts.weights) or {s: float(sizes[s]) for s in present}
    unknown = sorted(set(weights) - set(present))
    if unknown:
        raise MixError(f"--weight {', '.join(unknown)}: no such source in {out}; sources: {', '.join(present)}")
    total_w = sum(weights.values())
    if total_w <= 0:
        raise MixError("--weight: at least one weight must be positive")
    weights = {s: w / total_w for s, w in sorted(weights.items())}

    # validation: whole groups, per source in a seeded order; then drop those groups from train
    val_rows: list[np.ndarray] = []
    val_groups: set[str] = set()
    targets = {s: round(w * opts.tokens) for s, w in weights.items()}
    if opts.validation > 0:
        for s in sorted(weights):
            if weights[s] == 0:
                continue
            rows = np.flatnonzero(src_col == s)
            g = groups[rows]
            uniq, inverse = np.unique(g, return_inverse=True)
            gtok = np.bincount(inverse, weights=ntok[rows]).astype(np.int64)
            order = _rng(opts.seed, "validation", s).permutation(len(uniq))
            want = opts.validation * min(targets[s], sizes[s])
            take = set(uniq[order[: _closest_prefix(gtok[order], want)]].tolist())
            val_groups |= take
    in_val = np.isin(groups, np.array(sorted(val_groups), dtype=groups.dtype)) if val_groups else np.zeros(len(groups), bool)
    for s in sorted(weights):
        rows = np.flatnonzero(in_val & (src_col == s))
        val_rows.append(rows)

    plans: list[SourcePlan] = []
    train_parts: list[np.ndarray] = []  # (global row, repetition)
    for s, w in weights.items():
        target = targets[s]
        pool_rows = np.flatnonzero((src_col == s) & ~in_val)
        pool = int(ntok[pool_rows].sum())
        vrows = np.flatnonzero(in_val & (src_col == s))
        chosen: list[np.ndarray] = []
        capped = target > opts.max_epochs * pool  # the data do not suffice: a shortfall, not sampling error
        if target > 0 and pool > 0:
            allowed = min(target, opts.max_epochs * pool)
            full = min(int(allowed // pool), int(opts.max_epochs))
            for e in range(full):
                chosen.append(np.stack([pool_rows, np.full(len(pool_rows), e)], axis=1))
            rest = allowed - full * pool
            if rest > 0 and full < math.ceil(opts.max_epochs):
                order = _rng(opts.seed, "sample", s, str(full)).permutation(len(pool_rows))
                picked = np.sort(pool_rows[order[_fill(ntok[pool_rows[order]], rest)]])
                chosen.append(np.stack([picked, np.full(len(picked), full)], axis=1))
        rows = np.concatenate(chosen) if chosen else np.zeros((0, 2), dtype=np.int64)
        tokens = int(ntok[rows[:, 0]].sum()) if len(rows) else 0
        plans.append(
            SourcePlan(
                source=s,
                weight=round(w, 6),
                available=sizes[s],
                pool=pool,
                target=target,
                tokens=tokens,
                documents=len(rows),
                epochs=round(tokens / pool, 4) if pool else 0.0,
                shortfall=max(0, target - tokens) if capped else 0,
                validation_tokens=int(ntok[vrows].sum()),
                validation_documents=len(vrows),
            )
        )
        train_parts.append(rows)
    train = np.concatenate(train_parts) if train_parts else np.zeros((0, 2), dtype=np.int64)
    train = train[_rng(opts.seed, "shuffle").permutation(len(train))]
    val = np.concatenate(val_rows) if val_rows else np.zeros(0, dtype=np.int64)
    val = val[_rng(opts.seed, "shuffle-validation").permutation(len(val))]
    file_idx = meta.column("_file").to_numpy()
    row_idx = meta.column("_row").to_numpy()

    def located(global_rows: np.ndarray, reps: np.ndarray) -> np.ndarray:
        return np.stack([file_idx[global_rows], row_idx[global_rows], reps], axis=1).astype(np.int64)

    tokenizer = _tokenizer_of(out)
    return MixPlan(
        options=opts,
        sources=plans,
        files=files,
        train=located(train[:, 0], train[:, 1]) if len(train) else np.zeros((0, 3), np.int64),
        validation=located(val, np.zeros(len(val), np.int64)) if len(val) else np.zeros((0, 3), np.int64),
        tokenizer=tokenizer,
    )


def _tokenizer_of(out: str | os.PathLike[str]) -> str:
    tokens = (read_manifest(out).get("config") or {}).get("tokens") or {}
    tok = tokens.get("tokenizer") or tokens.get("encoding") or "unknown"
    return tok[0] if isinstance(tok, list) else str(tok)


def plan_table(plan: MixPlan) -> str:
    """GPT-3 Table 2.2 style: source, tokens, weight in the mix, epochs over the budget."""
    o = plan.options
    lines = [
        f"mixture of {o.tokens:,} tokens ({plan.tokenizer} tokens), max {o.max_epochs:g} epochs, validation {o.validation:g}, seed {o.seed}",
        f"{'source':<24} {'tokens in OUT':>15} {'weight':>8} {'target':>15} {'mix tokens':>15} {'share':>8} {'epochs':>7} {'docs':>9} {'shortfall':>13} {'valid. tokens':>14}",
    ]
    total = sum(s.tokens for s in plan.sources) or 1
    for s in plan.sources:
        lines.append(
            f"{s.source:<24} {s.available:>15,} {s.weight:>8.4f} {s.target:>15,} {s.tokens:>15,} {s.tokens / total:>8.4f} "
            f"{s.epochs:>7.3f} {s.documents:>9,} {s.shortfall:>13,} {s.validation_tokens:>14,}"
        )
    t = plan.totals()
    lines.append(f"{'total':<24} {'':>15} {'':>8} {o.tokens:>15,} {t['tokens']:>15,} {'':>8} {'':>7} {t['documents']:>9,} {t['shortfall']:>13,} {t['validation_tokens']:>14,}")
    short = [s for s in plan.sources if s.shortfall]
    for s in short:
        lines.append(f"shortfall: {s.source} reaches {s.tokens:,} of {s.target:,} tokens ({s.epochs:.3f} epochs, limit {o.max_epochs:g}); add data or lower its weight")
    return "\n".join(lines)


def _shard_bounds(n_bytes: np.ndarray, shard_bytes: float) -> list[tuple[int, int]]:
    if len(n_bytes) == 0:
        return [(0, 0)]
    n = max(1, math.ceil(float(n_bytes.sum()) / shard_bytes))
    cum = np.cumsum(n_bytes)
    cuts = [0] + [int(np.searchsorted(cum, cum[-1] * i / n)) + 1 for i in range(1, n)] + [len(n_bytes)]
    cuts = sorted(set(min(c, len(n_bytes)) for c in cuts))
    return list(zip(cuts[:-1], cuts[1:]))


def write_mix(out: str | os.PathLike[str], dest: str | os.PathLike[str], plan: MixPlan, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Writes DIR/data/{train,validation}-0000k-of-0000N.parquet (shuffled; column `mix_epoch` = the
    repetition of its source the row belongs to), DIR/mix.json, DIR/manifest.json and DIR/README.md."""
    dest = Path(dest)
    if "://" not in str(out) and dest.resolve() == Path(out).resolve():
        raise MixError(f"--out {dest}: must not be OUT itself")
    (dest / "data").mkdir(parents=True, exist_ok=True)
    needed = np.concatenate([plan.train[:, :2], plan.validation[:, :2]]) if len(plan.validation) else plan.train[:, :2]
    tables = []
    offsets = np.zeros(len(plan.files) + 1, dtype=np.int64)
    rows_of: list[np.ndarray] = []
    for i, rel in enumerate(plan.files):
        rows = np.unique(needed[needed[:, 0] == i, 1])
        rows_of.append(rows)
        offsets[i + 1] = offsets[i] + len(rows)
        if len(rows):
            tables.append(open_parquet(out, rel).read().take(pa.array(rows)))
    pool = pa.concat_tables(tables, promote_options="default") if tables else None

    def take(located: np.ndarray) -> pa.Table:
        pos = np.zeros(len(located), dtype=np.int64)
        for f, rows in enumerate(rows_of):
            mask = located[:, 0] == f
            pos[mask] = offsets[f] + np.searchsorted(rows, located[mask, 1])
        t = pool.take(pa.array(pos))  # type: ignore[union-attr]
        return t.append_column("mix_epoch", pa.array(located[:, 2].astype(np.int32)))

    written: list[dict[str, Any]] = []
    for split, located in (("train", plan.train), ("validation", plan.validation)):
        if len(located) == 0 or pool is None:
            continue
        table = take(located)
        bounds = _shard_bounds(table.column("n_bytes").to_numpy(), plan.options.shard_size_mb * 1e6)
        for k, (a, b) in enumerate(bounds):
            rel = f"data/{split}-{k:05d}-of-{len(bounds):05d}.parquet"
            path = dest / rel
            sink = pa.BufferOutputStream()  # the shard is in memory already: its bytes, then one atomic write
            pq.write_table(table.slice(a, b - a), sink, compression="zstd", compression_level=3, row_group_size=65536)
            data = sink.getvalue().to_pybytes()
            write_atomic(path, data)
            written.append({"path": rel, "rows": b - a, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
            if log:
                log(f"wrote {path} ({b - a} rows)")
    names = {f["path"] for f in written}
    for stale in sorted((dest / "data").glob("*.parquet")):
        if f"data/{stale.name}" not in names:
            stale.unlink()
    src_manifest = read_manifest(out)
    doc = {
        "version": __version__,
        "source": str(out),
        "source_config_hash": src_manifest.get("config_hash"),
        "tokenizer": plan.tokenizer,
        "options": {**{k: getattr(plan.options, k) for k in plan.options.__dataclass_fields__}},
        "sources": [s.to_dict() for s in plan.sources],
        "totals": plan.totals(),
    }
    _write_json(dest / "mix.json", doc)
    # the same shape as OUT's manifest, so `curate export DIR` tokenizes the mixture
    _write_json(dest / "manifest.json", {"config": {"tokens": {"tokenizer": [plan.tokenizer]}}, "files": written, "mix": "mix.json"})
    (dest / "README.md").write_text(card(plan, str(out)), encoding="utf-8")
    return doc


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    write_atomic(path, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))


def card(plan: MixPlan, out: str) -> str:
    """A Hub dataset card: train/validation configs and the mixture table."""
    o = plan.options
    lines = ["---", "configs:", "- config_name: default", "  data_files:", "  - split: train", "    path: data/train-*.parquet"]
    if len(plan.validation):
        lines += ["  - split: validation", "    path: data/validation-*.parquet"]
    lines += [
        "---",
        "",
        "# Training mixture",
        "",
        f"Made by `curate mix` from `{out}`: a budget of {o.tokens:,} tokens (`{plan.tokenizer}` tokens, the `n_tokens` column), "
        f"at most {o.max_epochs:g} epochs per source, validation share {o.validation:g}, seed {o.seed}. Rows are shuffled; "
        "`mix_epoch` is the repetition of its source a row belongs to (0 = first pass). Validation shares no document and no "
        "duplicate cluster with train.",
        "",
        "| source | tokens in OUT | weight | target tokens | mix tokens | epochs | documents | shortfall | validation tokens |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in plan.sources:
        lines.append(
            f"| `{s.source}` | {s.available:,} | {s.weight:.4f} | {s.target:,} | {s.tokens:,} | {s.epochs:.3f} | {s.documents:,} | {s.shortfall:,} | {s.validation_tokens:,} |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["MixError", "MixOptions", "MixPlan", "SourcePlan", "parse_count", "parse_weights", "plan_mix", "plan_table", "write_mix"]

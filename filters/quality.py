"""Quality filtering: Gopher (quality + repetition), C4 and FineWeb heuristics, with Chinese-aware
variants, split the way the pipeline works (design.md, "tag first, select later"):

- `quality_signals(texts, langs)` runs in `tag`: one pass per document, flat q_* columns
  (QUALITY_FIELDS). How each signal is measured: filters/quality_signals.py.
- `quality_verdicts(table, profiles, cfg)` runs in `select`: thresholds per language, rules per source
  profile, on the stored columns only (no text), vectorised over a whole Arrow batch. It returns the
  reject mask, `quality:<rule>` of the first failing rule in RULES order with its value, and the list
  of every failing rule (`q_failed`).
- `quality_verdict(signals, lang, profile, cfg)` is the same decision for one document in plain
  Python (tests, notebooks, and the reference the vectorised one is checked against).

The rules, their published thresholds with citations, the Chinese thresholds and the profiles are
data in pipeline/quality_rules.py. A `label_only` mode is the caller's: it keeps the rows but stores
`failed`.

Thresholds per language: the built-in tables are "en" and "zh"; any other language (and a missing
one) uses the "en" table. `QualityConfig.thresholds[lang][rule]` overrides one value; an override
under "en" applies to every language that falls back to "en" as well; a new language listed there
starts from the (overridden) "en" table. A threshold of None switches the rule off for the language.
A signal that is NaN (the mean length of space-delimited words in a text without any) passes.
Line-structure rules (`RuleSpec.lines`) pass every document with fewer than two lines (q_lines).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.quality_rules import (
    DEFAULT_THRESHOLDS,
    EN_THRESHOLDS,
    FAMILIES,
    LINES_COLUMN,
    PROFILES,
    RULE_SPECS,
    RULES,
    ZH_THRESHOLDS,
    RuleSpec,
    default_profile,
    resolve_profile,
)
from filters.quality_signals import QUALITY_FIELDS, SIGNAL_COLUMNS, quality_signals, signals
from pipeline.config import QualityConfig

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EN_THRESHOLDS",
    "FAMILIES",
    "PROFILES",
    "QUALITY_FIELDS",
    "REASON_PREFIX",
    "RULES",
    "RULE_SPECS",
    "SIGNAL_COLUMNS",
    "ZH_THRESHOLDS",
    "default_profile",
    "quality_signals",
    "quality_verdict",
    "quality_verdicts",
    "resolve_profile",
    "signals",
    "thresholds_for",
]

REASON_PREFIX = "quality:"
_FALLBACK = "en"
_INT_COLUMNS = frozenset(f.name for f in QUALITY_FIELDS if f.type == pa.int32())


def thresholds_for(lang: str | None, cfg: QualityConfig | None = None) -> dict[str, float | None]:
    """The threshold of every rule for documents of language `lang` (see the module docstring)."""
    overrides = cfg.thresholds if cfg is not None else {}
    if lang in DEFAULT_THRESHOLDS and lang != _FALLBACK:
        table = dict(DEFAULT_THRESHOLDS[lang])
    else:
        table = dict(DEFAULT_THRESHOLDS[_FALLBACK])
        table.update(overrides.get(_FALLBACK, {}))
    if lang is not None and lang != _FALLBACK:
        table.update(overrides.get(lang, {}))
    return table


def _fails(spec: RuleSpec, value: float | None, threshold: float | None) -> bool:
    if threshold is None or value is None or value != value:  # off, missing or NaN: passes
        return False
    if spec.column not in _INT_COLUMNS:  # compare as stored (float32), so a boundary value passes
        value, threshold = float(np.float32(value)), float(np.float32(threshold))
    return value < threshold if spec.op == "min" else value > threshold


def quality_verdict(
    values: Mapping[str, float | int | None],
    lang: str | None,
    profile: str,
    cfg: QualityConfig | None = None,
) -> list[str]:
    """Names of the rules a document fails, in RULES order (empty: it passes). `values` maps q_*
    columns to the document's signals; `profile` names the rule set (PROFILES)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown quality profile {profile!r}; known: {', '.join(PROFILES)}")
    if cfg is not None and not cfg.enabled:
        return []
    active = set(PROFILES[profile])
    lines = values.get(LINES_COLUMN)
    if lines is not None and lines == lines and lines < 2:  # one line: no line structure to judge
        active -= {s.name for s in RULE_SPECS if s.lines}
    table = thresholds_for(lang, cfg)
    return [s.name for s in RULE_SPECS if s.name in active and _fails(s, values.get(s.column), table[s.name])]


def _array(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    return col


def _profile_index(profiles: pa.Array | pa.ChunkedArray | Sequence[str] | str, n: int) -> np.ndarray:
    """Row -> index into PROFILES (null -> "web", the default for sources nobody classified)."""
    names = list(PROFILES)
    if isinstance(profiles, str):
        if profiles not in PROFILES:
            raise ValueError(f"unknown quality profile {profiles!r}; known: {', '.join(names)}")
        return np.full(n, names.index(profiles), dtype=np.int64)
    if not isinstance(profiles, (pa.Array, pa.ChunkedArray)):
        profiles = pa.array(list(profiles), pa.string())
    arr = _array(profiles)
    if len(arr) != n:
        raise ValueError(f"quality_verdicts: {n} rows but {len(arr)} profiles")
    arr = pc.fill_null(pc.cast(arr, pa.string()), "web")
    idx = pc.index_in(arr, value_set=pa.array(names, pa.string()))
    if idx.null_count:
        unknown = sorted(set(pc.filter(arr, pc.is_null(idx)).to_pylist()))
        raise ValueError(f"unknown quality profile(s) {unknown}; known: {', '.join(names)}")
    return idx.to_numpy(zero_copy_only=False).astype(np.int64)


def _signal(table: pa.Table | pa.RecordBatch, name: str) -> np.ndarray:
    """A q_* column as numpy: fractions as float32 (compared as stored, so a value equal to its
    threshold passes), counts as float64 (exact); nulls become NaN, which no rule fails."""
    col = _array(table.column(name))
    if name in _INT_COLUMNS:
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)  # nulls -> NaN
    return pc.cast(col, pa.float32()).to_numpy(zero_copy_only=False)


def quality_verdicts(
    table: pa.Table | pa.RecordBatch,
    profiles: pa.Array | pa.ChunkedArray | Sequence[str] | str,
    cfg: QualityConfig | None = None,
) -> tuple[pa.BooleanArray, pa.StringArray, pa.StringArray, pa.ListArray]:
    """Vectorised `quality_verdict` over a batch holding the q_* columns and `lang`.

    Returns (reject mask, drop_reason, drop_value, failed): the mask is True where any active rule
    fails (the same convention as filters.language.language_mask); drop_reason is
    "quality:<first failing rule in RULES order>" or null; drop_value that rule's signal as a string
    (counts as integers, fractions rounded to 4 decimals) or null; failed the list of every failing
    rule name (empty list when none). `profiles` is the profile name per row (or one name for all)."""
    cfg = cfg or QualityConfig()
    n = table.num_rows
    prof_idx = _profile_index(profiles, n)
    n_rules = len(RULE_SPECS)
    fails = np.zeros((n_rules, n), dtype=bool)
    if cfg.enabled and n:
        langs = pc.fill_null(pc.cast(_array(table.column("lang")), pa.string()), "und")
        uniq = pc.unique(langs)
        lang_idx = pc.index_in(langs, value_set=uniq).to_numpy(zero_copy_only=False).astype(np.int64)
        tables = [thresholds_for(lang, cfg) for lang in uniq.to_pylist()]
        names = list(PROFILES)
        in_profile = np.array([[r in set(PROFILES[p]) for r in RULES] for p in names], dtype=bool)
        present = np.zeros(len(names), dtype=bool)
        present[np.unique(prof_idx)] = True
        # one-line documents pass the line-structure rules; a null (or absent) line count is judged
        has_lines = LINES_COLUMN in table.schema.names
        multi_line = ~(_signal(table, LINES_COLUMN) < 2) if has_lines else np.ones(n, dtype=bool)
        for r, spec in enumerate(RULE_SPECS):
            if not in_profile[present, r].any():
                continue
            thr_lang = np.array([np.nan if t[spec.name] is None else t[spec.name] for t in tables], dtype=np.float64)
            active = in_profile[prof_idx, r] & ~np.isnan(thr_lang[lang_idx])
            if spec.lines:
                active &= multi_line
            if not active.any():
                continue
            values = _signal(table, spec.column)
            thr = thr_lang[lang_idx].astype(values.dtype)
            with np.errstate(invalid="ignore"):
                bad = values < thr if spec.op == "min" else values > thr
            fails[r] = active & bad
    mask = fails.any(axis=0)
    first = np.argmax(fails, axis=0)
    first_masked = pa.array(first, pa.int64(), mask=~mask)
    reasons = pa.array([REASON_PREFIX + r for r in RULES], pa.string()).take(first_masked)
    values_out = np.full(n, None, dtype=object)
    for r in np.unique(first[mask]).tolist():
        rows = np.flatnonzero(mask & (first == r))
        col = pc.take(_array(table.column(RULE_SPECS[r].column)), pa.array(rows))
        if RULE_SPECS[r].column in _INT_COLUMNS:
            text = pc.cast(col, pa.string())
        else:
            text = pc.cast(pc.round(pc.cast(col, pa.float64()), 4), pa.string())
        values_out[rows] = text.to_pylist()
    values_arr = pa.array(values_out, pa.string())
    per_row = fails.T
    _, rules_i = np.nonzero(per_row)  # row-major: rows in order, rules in RULES order within a row
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per_row.sum(axis=1), out=offsets[1:])
    failed = pa.ListArray.from_arrays(
        pa.array(offsets, pa.int32()), pa.array(RULES, pa.string()).take(pa.array(rules_i, pa.int64()))
    )
    return pa.array(mask, pa.bool_()), reasons, values_arr, failed

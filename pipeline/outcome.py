"""Did a run produce anything? The loud messages for inputs that yield nothing, and the exit rule.

Why a module of its own: a run that rejects every record (a CSV read as JSONL: 7,767 of 7,767
`invalid_json`) still writes a perfectly valid, empty OUT, so nothing downstream fails; only these
checks turn "nothing was produced" into a message naming the source, its files and the top drop
reasons, and into a non-zero exit status unless the user asked for it (`--allow-empty`,
`checks.allow_empty`). They read only the run's merged stats and OUT/rejected, so `curate shard`,
`curate dedup`, `curate refilter` and the Prefect flow of `curate run` share them.

Rules (see README "Bad input: what you see"):
- a source whose inputs held records but all of them were rejected at read (malformed, wrong
  format or field map): an error naming the source, the top reasons and the files;
- a run that kept no document at all (also: every input had zero records): an error saying so;
- both become warnings with `allow_empty`; OUT is written either way (empty shards, report, card);
- a source whose documents were all dropped later, by language, quality or dedup rules the user
  chose (a refilter keeping only `zh`), while other sources kept documents: a warning only;
- a shard whose read-stage rejects exceed `checks.warn_malformed_share` of its records: a warning
  with the top reasons (`malformed_warning`, called by the tag step per shard).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.stats import STAGES, RunStats, StageStats

if TYPE_CHECKING:
    from pipeline.layout import Layout

log = logging.getLogger("curate")

#: How many drop reasons and files a message lists before "and N more".
TOP = 3


class EmptyOutputError(RuntimeError):
    """The run produced no document (or a source yielded none) and empty output was not allowed."""


def _reasons(counter: Counter[str], top: int = TOP) -> str:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{reason}: {n:,}" for reason, n in items[:top])
    more = len(items) - top
    return shown + (f" and {more} more reason{'s' if more > 1 else ''}" if more > 0 else "")


def _names(names: Iterable[str], top: int = TOP) -> str:
    names = sorted(set(names))
    more = len(names) - top
    return ", ".join(names[:top]) + (f" and {more} more" if more > 0 else "")


def detail(reason: str, value: str | None) -> str:
    """The reason a user can act on: `malformed` rejects carry their kind (invalid_json,
    missing_field, ...) before the first colon of drop_value."""
    if reason == "malformed" and value:
        kind = value.split(":", 1)[0].strip()
        if kind and " " not in kind:
            return kind
    return reason


def malformed_warning(shard: str, read: StageStats, max_share: float | None, details: Counter[str] | None = None) -> str | None:
    """The warning for one shard whose read-stage rejects exceed `max_share` of its records (None:
    below it, no records, or the check switched off with `max_share` None). `details`: the rejects
    counted by `detail` (default: by drop reason)."""
    if max_share is None or read.docs_in == 0:
        return None
    bad = read.docs_rejected
    if bad / read.docs_in <= max_share:
        return None
    return (
        f"{shard}: {bad:,} of {read.docs_in:,} records ({bad / read.docs_in:.1%}) rejected at read, more than "
        f"checks.warn_malformed_share {max_share:.0%} ({_reasons(details or read.rejected)}); see rejected/read/"
    )


def _rejects_of(out: Layout | str | Path, source: str) -> tuple[list[str], Counter[str]]:
    """Input files of `source` named in OUT/rejected (every record of an empty source is there), and
    its read-stage rejects counted by `detail`."""
    from pipeline.layout import as_layout

    lay = as_layout(out)
    files: set[str] = set()
    read: Counter[str] = Counter()
    for path in lay.out.files(lay.rejected_dir(), ".parquet"):
        t = lay.out.read_table(path, columns=["source", "file", "drop_reason", "drop_value"])
        is_read = path.rsplit("/", 2)[-2] == "read"
        cols = [t.column(c).to_pylist() for c in ("source", "file", "drop_reason", "drop_value")]
        for src, f, reason, value in zip(*cols):
            if src != source:
                continue
            if f:
                files.add(f)
            if is_read:
                read[detail(reason, value)] += 1
    return sorted(files), read


def empty_problems(stats: RunStats, out: Layout | str | Path) -> tuple[list[str], list[str]]:
    """(errors, warnings): one message per source that had records but kept no document (an error
    when read rejected them all, else a warning), plus an error when the whole run kept nothing."""
    sources = sorted({src for _, src in stats.stages})
    problems: list[str] = []
    warnings: list[str] = []
    kept_total = 0
    for src in sources:
        read = stats.stages.get(("read", src))
        records = read.docs_in if read else 0
        n_kept = sum(s.docs for (s_src, _), s in stats.sizes.items() if s_src == src)
        kept_total += n_kept
        if records == 0 or n_kept:
            continue
        files, read_detail = _rejects_of(out, src)
        by_stage = [(stage, stats.stages[(stage, src)]) for stage in STAGES if (stage, src) in stats.stages]
        stages = [stage for stage, s in by_stage if s.docs_rejected]
        reasons: Counter[str] = Counter()
        for stage, s in by_stage:
            counts = read_detail if stage == "read" and sum(read_detail.values()) == s.docs_rejected else s.rejected
            reasons.update({(r if len(stages) == 1 else f"{stage}:{r}"): n for r, n in counts.items()})
        where = f"at {stages[0]}" if len(stages) == 1 else f"by {', '.join(stages)}"
        message = (
            f"source {src!r}: all {records:,} records were rejected {where} ({_reasons(reasons)}); "
            f"files: {_names(files) or 'none listed'}; no document was produced"
        )
        (problems if read is not None and read.docs_kept == 0 else warnings).append(message)
    if kept_total == 0:
        records = sum(s.docs_in for (stage, _), s in stats.stages.items() if stage == "read")
        why = "the inputs held no record" if records == 0 else f"0 of {records:,} records were kept"
        problems.append(f"nothing was produced: {why}; {out} holds an empty but valid dataset (rejects, stats, manifest, card)")
        problems, warnings = warnings + problems, []  # nothing at all: every emptied source is part of the error
    return problems, warnings


def check_outcome(stats: RunStats, out: Layout | str | Path, allow_empty: bool) -> list[str]:
    """Raises EmptyOutputError listing every error, unless `allow_empty`; returns the messages to
    print as warnings (the errors too, when allowed)."""
    problems, warnings = empty_problems(stats, out)
    if problems and not allow_empty:
        raise EmptyOutputError("\n".join([*problems, "pass --allow-empty (checks.allow_empty: true) to accept an empty result"]))
    return problems + warnings

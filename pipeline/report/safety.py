"""Report section: benchmark contamination (source x eval set) and personal data found (source x
kind), from stats.json `contamination` and `pii` alone. Counts only, printed as stored, so every
number traces to stats.json."""

from __future__ import annotations

from typing import Any

from pipeline.report.render import Para, Section, Table, code, count


def safety(stats: dict[str, Any]) -> Section:
    """Which documents overlap a benchmark's eval set, and what personal data the corpus held."""
    sec = Section("safety", "Benchmark contamination and personal data")
    contamination = stats.get("contamination") or {}
    rows = [[code(src), code(name), count(u.get("docs")), count(u.get("tokens"))]
            for src, by in sorted(contamination.items()) for name, u in sorted(by.items())]
    if rows:
        sec.blocks.append(Para(
            "Documents sharing at least `decontamination.min_ngrams` n-grams (words, or characters in Han runs) with an eval set, "
            "counted where they enter the contamination stage: dropped in `filter` mode (`rejected/contamination/`), kept "
            "in `label_only` mode. A document hitting several eval sets counts under each."
        ))
        sec.blocks.append(Table(["source", "eval set", "documents", "BPE tokens"], rows, "Source: stats.json `contamination.<source>.<eval set>`."))
    else:
        sec.blocks.append(Para("No document overlaps a configured eval set (or no eval set was configured)."))
    pii = stats.get("pii") or {}
    prow = [[code(src), code(kind), count(u.get("values")), count(u.get("docs"))]
            for src, kinds in sorted(pii.items()) for kind, u in sorted(kinds.items()) if kind != "any"]
    redacted = [[code(src), count(kinds["any"].get("redacted_docs"))] for src, kinds in sorted(pii.items()) if "any" in kinds]
    if prow:
        sec.blocks.append(Table(["source", "PII kind", "values", "documents"], prow, "Source: stats.json `pii.<source>.<kind>` (validated matches, found in tag)."))
    else:
        sec.blocks.append(Para("No personal data found by the PII detectors (or PII detection was off)."))
    if redacted:
        sec.blocks.append(Table(["source", "documents redacted"], redacted, "Source: stats.json `pii.<source>.any.redacted_docs`."))
    return sec

"""Report section: the run's tokenizers compared per language (tokens and bytes per token).

Why: Chinese token counts differ most between tokenizers, so a user choosing between e.g. their own
tokenizer and o200k_base needs the figures side by side. Built from stats.json alone: bytes and the
first tokenizer's tokens from `sizes.by_lang`, the others' tokens from `tokenizers.by_lang`."""

from __future__ import annotations

from typing import Any

from pipeline.report.render import Para, Section, Table, code, count, ratio


def tokenizers(stats: dict[str, Any], settings: dict[str, Any]) -> Section | None:
    """None when the run counted one tokenizer only (nothing to compare)."""
    listed = settings.get("tokenizers") or []
    if len(listed) < 2:
        return None
    sec = Section("tokenizers", "Tokenizers compared")
    by_lang = (stats.get("tokenizers") or {}).get("by_lang", {})
    first = listed[0]
    rows = []
    for lang, s in sorted(stats["sizes"]["by_lang"].items()):
        cells = [code(lang), count(s["bytes"]), count(s["tokens"]), ratio(s["bytes_per_token"])]
        for t in listed[1:]:
            n = by_lang.get(lang, {}).get(t["column"])
            cells += [count(n), ratio(round(s["bytes"] / n, 4)) if n else "n/a"]
        rows.append(cells)
    header = ["lang", "UTF-8 bytes", f"tokens {first['label']}", f"bytes/token {first['label']}"]
    for t in listed[1:]:
        header += [f"tokens {t['label']}", f"bytes/token {t['label']}"]
    names = ", ".join(f"{code(t['label'])} ({t['kind']}, sha256 {code(t['sha256'][:12])})" for t in listed)
    sec.blocks.append(
        Para(
            f"The run counted {len(listed)} tokenizers: {names}. The first gives every other token figure of this report; "
            "more bytes per token means fewer tokens for the same text."
        )
    )
    sec.blocks.append(Table(header, rows, "Source: stats.json `sizes.by_lang` (bytes, first tokenizer) and `tokenizers.by_lang` (the others)."))
    return sec

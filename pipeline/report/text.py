"""The report's sections on the text itself: (e) casing (what case-folding does to exact dedup and to
the vocabulary), document lengths per language, and the Traditional/Simplified share of Chinese.

Same rule as report/corpus.py: numbers come from the stats.json document or a formula stated here.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline.report import plots
from pipeline.report.render import NA, Para, Section, Table, code, count, missing, one, pct


def _docs(n: int) -> str:
    return "document" if n == 1 else "documents"


def casing(stats: dict[str, Any]) -> Section:
    """(e) How much does casing matter: extra duplicates and vocabulary shrink when case is ignored."""
    sec = Section("casing", "(e) Casing: extra duplicates and a smaller vocabulary when case is ignored")
    c = stats.get("casing")
    dedup = stats.get("dedup") or {}
    if c:
        among = f" among the {count(dedup['n_docs'])} tagged documents (before the language and quality rules)" if "n_docs" in dedup else ""
        sec.blocks.append(
            Para(
                f"Ignoring case finds {count(c['extra_duplicates'])} more exact-duplicate {_docs(c['extra_duplicates'])}{among}: {count(c['exact_dup_docs'])} "
                f"are exact duplicates of another document under the case-folded key, {count(c['exact_dup_docs_cased'])} under a "
                "case-sensitive key."
            )
        )
        sec.blocks.append(
            Table(["exact-duplicate key", "duplicate documents"], [
                ["case-folded (NFKC + casefold, what dedup uses)", count(c["exact_dup_docs"])],
                ["case-sensitive", count(c["exact_dup_docs_cased"])],
                ["extra duplicates when case is ignored", count(c["extra_duplicates"])],
            ], "Source: stats.json `casing`.")
        )  # fmt: skip
    else:
        sec.blocks.append(Para("Duplicates by casing were not measured: dedup was off in this run (stats.json `casing` is null)."))
    v = stats.get("vocab")
    if v is None:
        sec.blocks.append(missing("vocab"))
        return sec
    t = v["total"]
    err = 1.04 / math.sqrt(2 ** v["p"])
    sec.blocks.append(
        Para(
            f"Lower-casing shrinks the vocabulary of words in scripts with case from {count(t['cased'])} to {count(t['uncased'])} "
            f"distinct words ({pct(t['reduction'])} fewer). Han, Kana and Hangul have no case and are left out of these counts. The "
            f"counts are HyperLogLog estimates (precision p = {v['p']}, standard error about {pct(err)}: 1.04 / sqrt(2^p)) merged "
            "across shards."
        )
    )
    rows = [[code(lang), count(b["cased"]), count(b["uncased"]), pct(b["reduction"])] for lang, b in sorted(v["by_lang"].items())]
    rows.append(["**all**", count(t["cased"]), count(t["uncased"]), pct(t["reduction"])])
    sec.blocks.append(
        Table(["language", "distinct words, case kept", "distinct words, case ignored", "reduction"], rows,
              "Source: stats.json `vocab.by_lang`, `vocab.total`; reduction = 1 - uncased / cased (as stored there).")
    )  # fmt: skip
    if v["by_lang"]:
        sec.blocks.append(plots.as_plot("vocab", plots.fig_vocab(stats), "distinct words with and without case per language. Source: stats.json `vocab.by_lang`, `vocab.total`."))
    return sec


def _quantile_row(label: str, lang: str, hc: dict[str, Any] | None, ht: dict[str, Any] | None) -> list[str]:
    keys = ("p10", "p50", "p90", "p99")
    qc = [one(hc["quantiles"][k]) for k in keys] if hc else [NA] * 4
    qt = [one(ht["quantiles"][k]) for k in keys] if ht else [NA] * 4
    return [label, lang, count((hc or ht or {}).get("docs")), *qc, *qt]


def lengths(stats: dict[str, Any]) -> Section:
    """Length distributions of the kept documents, from the mergeable log-bucket histograms."""
    sec = Section("lengths", "Document lengths in characters and tokens")
    h = stats.get("histograms")
    if h is None:
        sec.blocks.append(missing("histograms"))
        return sec
    hc, ht = h["chars"], h["tokens"]
    per = hc["total"]["bins_per_octave"]
    sec.blocks.append(
        Para(
            f"Lengths of the kept documents, counted in log buckets ({per} per doubling, each {pct(2 ** (1 / per) - 1)} wider than "
            "the one before); a quantile is reported as the geometric middle of the bucket that holds it."
        )
    )
    rows = []
    for src in sorted(set(hc["by_source"]) | set(ht["by_source"])):
        for lang in sorted(set(hc["by_source"].get(src, {})) | set(ht["by_source"].get(src, {}))):
            rows.append(_quantile_row(code(src), code(lang), hc["by_source"].get(src, {}).get(lang), ht["by_source"].get(src, {}).get(lang)))
    for lang in sorted(set(hc["by_lang"]) | set(ht["by_lang"])):
        rows.append(_quantile_row("**all sources**", code(lang), hc["by_lang"].get(lang), ht["by_lang"].get(lang)))
    rows.append(_quantile_row("**total**", "all", hc["total"], ht["total"]))
    head = ["source", "lang", "documents", *(f"chars {k}" for k in ("p10", "p50", "p90", "p99")), *(f"tokens {k}" for k in ("p10", "p50", "p90", "p99"))]
    sec.blocks.append(Table(head, rows, "Source: stats.json `histograms.chars`, `histograms.tokens` (quantiles as stored there)."))
    if hc["total"]["docs"]:
        sec.blocks.append(plots.as_plot("lengths", plots.fig_lengths(stats), "documents per length bucket, per language, in characters and in BPE tokens. Source: stats.json `histograms`."))
    return sec


def variants(stats: dict[str, Any]) -> Section:
    """Traditional / Simplified share of the kept Chinese documents."""
    sec = Section("variants", "Traditional and Simplified Chinese")
    v = stats.get("variants")
    if v is None:
        sec.blocks.append(missing("variants"))
        return sec
    if not v["by_lang"]:
        sec.blocks.append(Para("No kept document carries a Chinese variant (no Chinese text was kept)."))
        return sec
    parts = []
    rows = []
    for lang, variants_ in sorted(v["by_lang"].items()):
        for variant, b in sorted(variants_.items()):
            parts.append(f"{code(variant)} {count(b['docs'])} documents ({pct(b['share_docs'])}) with {count(b['chars'])} characters ({pct(b['share_chars'])})")
            rows.append([code(lang), code(variant), count(b["docs"]), pct(b["share_docs"]), count(b["chars"]), pct(b["share_chars"])])
    sec.blocks.append(Para(f"Kept documents by script variant (OpenCC t2s decides `zh-Hant`): {'; '.join(parts)}."))
    sec.blocks.append(Table(["lang", "variant", "documents", "share of documents", "characters", "share of characters"], rows, "Source: stats.json `variants.by_lang`."))
    detail = [
        [code(src), code(lang), code(variant), count(b["docs"]), count(b["chars"])]
        for src, langs in sorted(v["by_source"].items()) for lang, vs in sorted(langs.items()) for variant, b in sorted(vs.items())
    ]  # fmt: skip
    sec.blocks.append(Table(["source", "lang", "variant", "documents", "characters"], detail, "Source: stats.json `variants.by_source`."))
    sec.blocks.append(plots.as_plot("variants", plots.fig_variants(stats), "share of each source's Chinese characters by variant. Source: stats.json `variants.by_source`."))
    return sec

"""The report's sections on using the corpus: (d) tokens per parameter and epochs, (e) casing, then
document lengths, Traditional/Simplified share and the reference table.

Same rule as report_corpus: numbers come from the stats.json document or a formula stated here;
published figures and their citations from pipeline/references.py.
"""

from __future__ import annotations

import math
from typing import Any

from pipeline import references as ref
from pipeline import report_plots as plots
from pipeline.report_render import NA, Para, Section, Table, big, code, count, exact, missing, one, pct, sig


def epochs_needed(params: float, tokens_per_param: float, corpus_tokens: int) -> float | None:
    """Passes over the corpus a model needs: params x tokens_per_param / corpus tokens."""
    return params * tokens_per_param / corpus_tokens if corpus_tokens else None


def _epochs(x: float | None) -> str:
    return NA if x is None else (big(x) if x >= 1e6 else sig(x))


def _docs(n: int) -> str:
    return "document" if n == 1 else "documents"


def _tokenizer_label(settings: dict[str, Any]) -> str:
    """The tokenizer the token figures are in (report_settings; `encoding` in an older stats.json)."""
    listed = settings.get("tokenizers") or []
    return listed[0]["label"] if listed else (settings.get("encoding") or "unknown tokenizer")


def budget(stats: dict[str, Any], settings: dict[str, Any]) -> Section:
    """(d) Tokens wanted per model size at ~20 and ~5 tokens/parameter, and the epochs they take."""
    sec = Section("budget", "(d) Tokens per parameter: how many epochs over this corpus each model size needs")
    corpus = stats["sizes"]["total"]["tokens"]
    sizes, ratios, limit = sorted(settings["model_sizes"]), list(settings["tokens_per_param"]), float(settings["max_epochs"])
    sec.blocks.append(
        Para(
            f"This corpus holds {count(corpus)} BPE tokens of {code(_tokenizer_label(settings))} ({code('sizes.total.tokens')}). A model of N parameters trained on r tokens "
            f"per parameter wants N x r tokens, i.e. N x r / {count(corpus)} epochs over this corpus. Runs above {exact(limit)} epochs "
            f"are flagged: up to about {exact(ref.MAX_USEFUL_EPOCHS)} epochs of repeated data change the loss very little "
            f"({ref.MUENNIGHOFF_2023}), and more repetition leads to overfitting and degradation ({ref.XUE_2023})."
        )
    )
    rows = []
    for n in sizes:
        for r in ratios:
            name, cite = ref.tokens_per_param_label(r)
            e = epochs_needed(n, r, corpus)
            if e is None:
                flag = "no tokens in this corpus"
            elif e > limit:
                flag = f"**over {exact(limit)} epochs: repetition risk**"
            elif e > 1:
                flag = f"repeats the corpus, within {exact(limit)} epochs"
            else:
                flag = "one epoch or less"
            rows.append([exact(n), exact(r), f"{name} ({cite})", big(n * r), _epochs(e), flag])
    sec.blocks.append(
        Table(["model size (parameters)", "tokens/parameter", "rule", "tokens wanted", "epochs over this corpus", "repetition"], rows,
              "Tokens wanted = parameters x tokens/parameter; epochs = tokens wanted / stats.json `sizes.total.tokens`. Model sizes and ratios: stats.json `report_settings`.")
    )  # fmt: skip
    cap = [[ref.tokens_per_param_label(r)[0], exact(r), big(corpus / r), big(corpus * limit / r)] for r in ratios]
    sec.blocks.append(
        Table(["rule", "tokens/parameter", "largest model in one epoch (parameters)", "largest model within the epoch limit (parameters)"], cap,
              "Largest model = corpus tokens / tokens per parameter (one epoch), x the epoch limit of `report_settings.max_epochs` (repeated).")
    )  # fmt: skip
    if corpus:
        sec.blocks.append(plots.as_plot("epochs", plots.fig_epochs(corpus, sizes, ratios, limit), f"epochs over this corpus per model size and tokens/parameter ratio. Sources: stats.json `sizes.total.tokens`; {ref.HOFFMANN_2022}; {ref.KOMATSUZAKI_2019}; {ref.MUENNIGHOFF_2023}."))
    return sec


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


def references(settings: dict[str, Any]) -> Section:
    """The published figures the report compares with, and the settings it planned with."""
    sec = Section("references", "Reference figures and report settings")
    rows = [[r.subject, r.figure, r.citation] for r in ref.REFERENCES]
    sec.blocks.append(Table(["corpus / rule", "published figure", "source"], rows, "Published figures (pipeline/references.py); GB and TB taken as decimal units."))
    sec.blocks.append(
        Para(
            "Report settings (stats.json `report_settings`, from the run config's `report` section): model sizes "
            f"{', '.join(exact(n) for n in sorted(settings['model_sizes']))} parameters; tokens per parameter "
            f"{', '.join(exact(r) for r in settings['tokens_per_param'])}; repetition flagged above {exact(float(settings['max_epochs']))} epochs."
        )
    )
    return sec




"""The report's sections on using the corpus: (d) tokens per parameter and epochs, and the reference
table of published figures with the report's settings.

Same rule as report/corpus.py: numbers come from the stats.json document or a formula stated here;
published figures and their citations from pipeline/report/references.py.
"""

from __future__ import annotations

from typing import Any

from pipeline.report import references as ref
from pipeline.report import plots
from pipeline.report.render import NA, Para, Section, Table, big, code, count, exact, sig


def epochs_needed(params: float, tokens_per_param: float, corpus_tokens: int) -> float | None:
    """Passes over the corpus a model needs: params x tokens_per_param / corpus tokens."""
    return params * tokens_per_param / corpus_tokens if corpus_tokens else None


def _epochs(x: float | None) -> str:
    return NA if x is None else (big(x) if x >= 1e6 else sig(x))


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


def references(settings: dict[str, Any]) -> Section:
    """The published figures the report compares with, and the settings it planned with."""
    sec = Section("references", "Reference figures and report settings")
    rows = [[r.subject, r.figure, r.citation] for r in ref.REFERENCES]
    sec.blocks.append(Table(["corpus / rule", "published figure", "source"], rows, "Published figures (pipeline/report/references.py); GB and TB taken as decimal units."))
    sec.blocks.append(
        Para(
            "Report settings (stats.json `report_settings`, from the run config's `report` section): model sizes "
            f"{', '.join(exact(n) for n in sorted(settings['model_sizes']))} parameters; tokens per parameter "
            f"{', '.join(exact(r) for r in settings['tokens_per_param'])}; repetition flagged above {exact(float(settings['max_epochs']))} epochs."
        )
    )
    return sec




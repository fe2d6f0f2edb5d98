"""The report's plots, built from stats.json values only. Each function returns a matplotlib Figure
(so tests can read its labels and legends) with axis labels, units, a legend and its source printed
on it; `png_bytes` renders one deterministically (Agg backend, fixed size and dpi, default style,
no Software metadata), so the same stats.json gives the same PNG bytes.

matplotlib is imported here, never at package import: only the report needs it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from pipeline.report import references as ref
from pipeline.report.render import Plot, big, exact

FIGSIZE = (9.0, 5.0)
DPI = 100
_RC = {"font.size": 9.0, "axes.titlesize": 10.0, "legend.fontsize": 8.0, "svg.hashsalt": "curate", "path.simplify": True}


@contextmanager
def _style() -> Iterator[None]:
    """matplotlib's default style whatever the user's matplotlibrc says, restored afterwards."""
    with matplotlib.rc_context():
        matplotlib.style.use("default")
        matplotlib.rcParams.update(_RC)
        yield


def _figure(ncols: int = 1, source: str = "") -> tuple[Figure, list[Any]]:
    fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    fig.get_layout_engine().set(rect=(0, 0.05, 1, 0.95))  # type: ignore[union-attr]
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    fig.text(0.01, 0.01, f"Source: {source}", fontsize=7, color="#444444", ha="left", va="bottom")
    return fig, axes


def png_bytes(fig: Figure) -> bytes:
    """The figure as PNG, byte-for-byte reproducible."""
    with _style():
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def as_plot(name: str, fig: Figure, caption: str) -> Plot:
    """A report block holding the figure rendered to PNG (written as OUT/stats/<name>.png)."""
    return Plot(name, png_bytes(fig), caption)


def _grouped_bars(ax: Any, labels: Sequence[str], series: list[tuple[str, list[float | None]]]) -> None:
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(labels))]
        ax.bar(xs, [math.nan if v is None else v for v in values], width, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right")


def _groups(stats: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(src, lang, s) for src, langs in sorted(stats["sizes"]["by_source"].items()) for lang, s in sorted(langs.items())]


SIZE_UNITS = (
    ("bytes", "UTF-8 bytes"),
    ("chars", "characters (code points)"),
    ("words", "words (regex; jieba for Han)"),
    ("tokens", "BPE tokens"),
)
RATIO_UNITS = (
    ("bytes_per_char", "UTF-8 bytes per character"),
    ("chars_per_token", "characters per BPE token"),
    ("bytes_per_token", "UTF-8 bytes per BPE token"),
    ("tokens_per_word", "BPE tokens per word"),
)


def _source_bars(stats: dict[str, Any], units: Sequence[tuple[str, str]], source: str, ylabel: str, title: str, legend: str, log: bool) -> Figure:
    """One group of bars per source x language, one bar per unit of `units` (sizes.by_source)."""
    with _style():
        fig, (ax,) = _figure(source=source)
        groups = _groups(stats)
        _grouped_bars(ax, [f"{s}/{lang}" for s, lang, _ in groups], [(label, [g[key] for _, _, g in groups]) for key, label in units])
        if log:
            ax.set_yscale("log")
        ax.set_xlabel("source / language")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(title=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def fig_sizes(stats: dict[str, Any]) -> Figure:
    """(a) Bytes, characters, words and tokens per source x language."""
    return _source_bars(
        stats,
        SIZE_UNITS,
        source="stats.json sizes.by_source (kept documents of this run)",
        ylabel="amount (bytes, characters, words or tokens; log scale)",
        title="Corpus size per source and language, in four units",
        legend="unit",
        log=True,
    )


def fig_ratios(stats: dict[str, Any]) -> Figure:
    """(a)/(b) The conversion ratios per source x language."""
    return _source_bars(
        stats,
        RATIO_UNITS,
        source="stats.json sizes.by_source (ratios of the kept documents' totals)",
        ylabel="ratio (units per unit, see legend)",
        title="Bytes, characters, tokens and words do not convert at one rate",
        legend="ratio",
        log=False,
    )


def fig_published_tokens(rows: list[dict[str, Any]]) -> Figure:
    """(b) Published byte sizes as estimated tokens at this run's measured bytes/token, next to
    the published token count. `rows`: corpus, published_tokens, estimates {lang: tokens}."""
    with _style():
        fig, (ax,) = _figure(source=f"published sizes: {ref.short(ref.BROWN_2020)}, {ref.short(ref.SUN_2021)}; bytes/token: stats.json sizes.by_lang")
        labels = [r["corpus"] for r in rows]
        langs = sorted({lang for r in rows for lang in r["estimates"]})
        series: list[tuple[str, list[float | None]]] = [
            ("published token count", [None if r["published_tokens"] is None else r["published_tokens"] / 1e9 for r in rows])
        ]
        for lang in langs:
            series.append(
                (f"estimated at this run's {lang} bytes/token", [None if r["estimates"].get(lang) is None else r["estimates"][lang] / 1e9 for r in rows])
            )
        _grouped_bars(ax, labels, series)
        ax.tick_params(axis="x", rotation=0)
        for tick in ax.get_xticklabels():
            tick.set_ha("center")
        for container in ax.containers:
            ax.bar_label(container, labels=[big(v.get_height() * 1e9) if v.get_height() == v.get_height() else "" for v in container], fontsize=7)
        ax.set_xlabel("published corpus (byte size as published)")
        ax.set_ylabel("BPE tokens (billions)")
        ax.set_title("One byte size, several token counts: the ratio depends on language and tokenizer")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def fig_funnel(stats: dict[str, Any], stages: list[str]) -> Figure:
    """(c) Share of each stage's input rejected there, in documents, bytes and tokens (absolute
    numbers are in the report's tables: at corpus scale the rejected part of a bar is invisible)."""
    with _style():
        fig, (ax,) = _figure(source="stats.json stages.<stage>.total (docs_in/kept, bytes_in/kept, tokens_in/kept)")
        totals = [stats["stages"][s]["total"] for s in stages]
        series: list[tuple[str, list[float | None]]] = []
        for unit, label in (("docs", "documents"), ("bytes", "UTF-8 bytes"), ("tokens", "BPE tokens")):
            series.append((label, [100 * (t[f"{unit}_in"] - t[f"{unit}_kept"]) / t[f"{unit}_in"] if t[f"{unit}_in"] else None for t in totals]))
        _grouped_bars(ax, stages, series)
        ax.tick_params(axis="x", rotation=0)
        for tick in ax.get_xticklabels():
            tick.set_ha("center")
        ax.set_xlabel("stage (pipeline order; tokens are counted from normalize on)")
        ax.set_ylabel("rejected at this stage (% of the stage's input)")
        ax.set_title("The funnel: what each stage drops")
        ax.legend(title="unit", loc="upper left")
    return fig


def fig_duplicates(stats: dict[str, Any]) -> Figure:
    """(c) Share of each source's documents dropped as duplicates, within and across sources."""
    with _style():
        fig, (ax,) = _figure(source="stats.json duplicates.by_source (within_rate, across_rate)")
        by_source = stats["duplicates"]["by_source"]
        names = sorted(by_source)
        within = [100 * (by_source[s]["within_rate"] or 0.0) for s in names]
        across = [100 * (by_source[s]["across_rate"] or 0.0) for s in names]
        ax.bar(names, within, label="duplicate of a keeper in the same source", color="#4c72b0")
        ax.bar(names, across, bottom=within, label="duplicate of a keeper in another source", color="#c44e52")
        ax.set_xlabel("source")
        ax.set_ylabel("duplicates dropped (% of documents entering dedup)")
        ax.set_title("Duplicates within and across sources")
        ax.tick_params(axis="x", rotation=30)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def fig_epochs(corpus_tokens: int, model_sizes: list[float], ratios: list[float], max_epochs: float) -> Figure:
    """(d) Epochs over this corpus each model size needs at each tokens-per-parameter ratio."""
    with _style():
        fig, (ax,) = _figure(
            source=f"corpus tokens: stats.json sizes.total.tokens; ratios: {ref.short(ref.HOFFMANN_2022)}, {ref.short(ref.KOMATSUZAKI_2019)}; "
            f"limit: {ref.short(ref.MUENNIGHOFF_2023)}"
        )
        sizes = sorted(model_sizes)
        for r in ratios:
            name, _ = ref.tokens_per_param_label(r)
            ax.plot(sizes, [n * r / corpus_tokens for n in sizes], marker="o", label=f"{exact(r)} tokens/parameter: {name}")
        ax.axhline(max_epochs, color="#c44e52", linestyle="--", label=f"{exact(max_epochs)} epochs: repetition limit ({ref.short(ref.MUENNIGHOFF_2023)})")
        ax.axhline(1.0, color="#555555", linestyle=":", label="1 epoch: every token seen once")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(sizes)
        ax.set_xticklabels([exact(n) for n in sizes])
        ax.minorticks_off()
        ax.set_xlabel("model size (parameters, log scale)")
        ax.set_ylabel("epochs over this corpus (log scale)")
        ax.set_title("Training tokens wanted, in passes over this corpus")
        ax.legend(loc="upper left")
    return fig


def fig_vocab(stats: dict[str, Any]) -> Figure:
    """(e) Distinct words with and without case, per language."""
    with _style():
        fig, (ax,) = _figure(source="stats.json vocab.by_lang and vocab.total (HyperLogLog estimates)")
        vocab = stats["vocab"]
        labels = [*sorted(vocab["by_lang"]), "all"]
        blocks = [*(vocab["by_lang"][lang] for lang in sorted(vocab["by_lang"])), vocab["total"]]
        _grouped_bars(ax, labels, [("case kept", [b["cased"] for b in blocks]), ("case ignored (lower-cased)", [b["uncased"] for b in blocks])])
        ax.tick_params(axis="x", rotation=0)
        ax.set_xlabel("language (words in scripts with case)")
        ax.set_ylabel("distinct words (HyperLogLog estimate)")
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.set_title("Vocabulary with and without case")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _stairs(hist: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Bucket counts and edges over lengths >= 1 with empty buckets filled in (log buckets)."""
    per = hist["bins_per_octave"]
    counts = {round(per * math.log2(lo)): c for lo, _hi, c in hist["buckets"] if lo >= 1}
    if not counts:
        return [], []
    lo_b, hi_b = min(counts), max(counts)
    edges = [2 ** (b / per) for b in range(lo_b, hi_b + 2)]
    return [float(counts.get(b, 0)) for b in range(lo_b, hi_b + 1)], edges


def fig_lengths(stats: dict[str, Any]) -> Figure:
    """Length distributions of kept documents in characters and tokens, per language."""
    with _style():
        fig, axes = _figure(2, source="stats.json histograms.<unit>.by_lang and .total (log buckets, 4 per doubling)")
        for ax, (unit, label) in zip(axes, (("chars", "characters"), ("tokens", "BPE tokens"))):
            block = stats["histograms"][unit]
            for name, hist in [*sorted(block["by_lang"].items()), ("all", block["total"])]:
                values, edges = _stairs(hist)
                if values:
                    ax.stairs(values, edges, label=name, linewidth=1.5 if name != "all" else 1.0)
            ax.set_xscale("log")
            ax.set_xlabel(f"document length ({label}, log scale)")
            ax.set_ylabel("documents per bucket")
            ax.set_title(f"Lengths in {label}")
            ax.legend(title="language", loc="upper right")
    return fig


def fig_variants(stats: dict[str, Any]) -> Figure:
    """Traditional / Simplified share of each source's Chinese characters."""
    with _style():
        fig, (ax,) = _figure(source="stats.json variants.by_source (kept documents with a zh_variant)")
        by_source = stats["variants"]["by_source"]
        rows = [(f"{s}/{lang}", v) for s, langs in sorted(by_source.items()) for lang, v in sorted(langs.items())]
        names = sorted({variant for _, v in rows for variant in v})
        left = [0.0] * len(rows)
        for variant in names:
            shares = []
            for _, v in rows:
                total = sum(x["chars"] for x in v.values())
                shares.append(100 * v.get(variant, {}).get("chars", 0) / total if total else 0.0)
            ax.barh([r for r, _ in rows], shares, left=left, label=variant)
            left = [a + b for a, b in zip(left, shares)]
        ax.set_xlim(0, 100)
        ax.set_xlabel("share of the source's Chinese characters (%)")
        ax.set_ylabel("source / language")
        ax.set_title("Simplified (zh-Hans) and Traditional (zh-Hant) Chinese")
        ax.legend(title="variant", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig

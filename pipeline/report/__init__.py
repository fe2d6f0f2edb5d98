"""The comparative corpus-size report: OUT/stats/report.md, a self-contained report.html and PNG plots,
built from OUT/stats/stats.json alone.

Reading nothing but stats.json is what makes `curate report OUT` work after OUT/data is deleted or
moved, and what lets a test trace every number back to it. The output is byte-for-byte reproducible:
no timestamps, sorted iteration, matplotlib's Agg canvas with a fixed size, dpi and style.

Sections (one per question of docs/references.md, then context): sizes (a), bytes (b), funnel (c),
budget (d), casing (e), lengths, variants, contamination and personal data (report/safety.py), references.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from pipeline.layout import Layout, Store, as_layout
from pipeline.report.render import Block, Para, Plot, Section, code, to_html, to_markdown

TITLE = "Corpus size report"
#: Every plot file the report can write (files of an earlier report not written this time are removed).
PLOT_NAMES = ("sizes", "ratios", "bytes_to_tokens", "funnel", "duplicates", "epochs", "vocab", "lengths", "variants")


def load_stats(out: Layout | str | Path) -> dict[str, Any]:
    lay = as_layout(out)
    path = lay.out.display(lay.stats_json())
    if not lay.out.exists(lay.stats_json()):
        raise FileNotFoundError(f"{path}: no stats.json (run `curate run` or `curate shard` into {out} first)")
    try:
        data = orjson.loads(lay.out.read_bytes(lay.stats_json()))
    except orjson.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); rerun `curate run` or `curate refilter` to rewrite it") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a curate stats.json (a JSON object is expected)")
    return data


def report_settings(stats: dict[str, Any]) -> dict[str, Any]:
    """The run's `report` settings as finish stored them; the config defaults for an older stats.json."""
    from pipeline.config import ReportConfig

    return {**ReportConfig().model_dump(mode="json"), **(stats.get("report_settings") or {})}


def build(stats: dict[str, Any]) -> tuple[list[Block], list[Section]]:
    """The report's intro and sections, with plots rendered to PNG bytes."""
    from pipeline.report import budget as b
    from pipeline.report import corpus as c
    from pipeline.report import text as t
    from pipeline.report.safety import safety

    settings = report_settings(stats)
    from pipeline.user_tokenizers import describe_tokenizer

    described = describe_tokenizer(settings)  # name, kind and file hash, once
    enc = ((settings.get("tokenizers") or [{}])[0].get("label")) or settings.get("encoding") or "unknown tokenizer"
    intro: list[Block] = [
        Para(
            f"Built from {code('stats/stats.json')} alone (config hash {code(stats.get('config_hash', 'unknown'))}, curate "
            f"{code(stats.get('version', 'unknown'))}). Bytes are UTF-8, characters are Unicode code points, words are regex words "
            f"in space-delimited scripts and jieba words in Han runs, tokens are those of the tokenizer {described}, the unit of every token figure below. Sizes are of the kept "
            "documents unless a table says otherwise. Published figures are cited where they are used and listed in the last section."
        ),
        Para(
            "Sections: (a) sizes per source and language; (b) why byte sizes mislead across languages; (c) the funnel and the "
            "duplicates; (d) tokens per parameter and epochs; (e) casing; then document lengths, Traditional/Simplified Chinese, "
            "benchmark contamination and personal data, and the reference figures."
        ),
    ]
    sections = [
        c.sizes(stats, enc),
        c.bytes_mislead(stats, enc),
        c.funnel(stats),
        b.budget(stats, settings),
        t.casing(stats),
        t.lengths(stats),
        t.variants(stats),
        safety(stats),
        b.references(settings),
    ]
    from pipeline.report.tokenizers import tokenizers

    compared = tokenizers(stats, settings)
    if compared is not None:  # after the sizes: a run that lists several tokenizers
        sections.insert(2, compared)
    return intro, sections


def _write(store: Store, path: str, data: bytes) -> None:
    """Atomic write that leaves an identical file untouched (same bytes, same mtime)."""
    if store.exists(path) and store.read_bytes(path) == data:
        return
    store.write_bytes(path, data)


def write_report(out: Layout | str | Path) -> list[Path] | list[str]:
    """Reads OUT/stats/stats.json, writes report.md, report.html and the PNG plots next to it;
    returns the written paths (plots first, sorted by name, then report.md and report.html)."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # pyplot would switch a user's live backend; our canvas is Agg anyway
        matplotlib.use("Agg")
    lay = as_layout(out)
    store = lay.out
    stats = load_stats(lay)
    intro, sections = build(stats)
    dest = lay.stats_dir()
    plots = sorted((b for s in sections for b in s.blocks if isinstance(b, Plot)), key=lambda p: p.name)
    written: list[str] = []
    for plot in plots:
        path = f"{dest}/{plot.name}.png"
        _write(store, path, plot.png)
        written.append(path)
    for name in PLOT_NAMES:
        stale = f"{dest}/{name}.png"
        if stale not in written and store.exists(stale):
            store.rm(stale)
    md, page = f"{dest}/report.md", f"{dest}/report.html"
    _write(store, md, to_markdown(TITLE, intro, sections).encode("utf-8"))
    _write(store, page, to_html(TITLE, intro, sections).encode("utf-8"))
    paths = [*written, md, page]
    return [Path(p) for p in paths] if store.local else [store.display(p) for p in paths]


def remove_report(out: Layout | str | Path) -> list[str]:
    """Deletes OUT/stats/report.md, report.html and the plots (a run with `--no-report`: a report of an
    earlier run would describe other stats); returns the removed paths. `curate report OUT` rebuilds them."""
    lay = as_layout(out)
    dest = lay.stats_dir()
    removed = []
    for path in [f"{dest}/{name}.png" for name in PLOT_NAMES] + [f"{dest}/report.md", f"{dest}/report.html"]:
        if lay.out.exists(path):
            lay.out.rm(path)
            removed.append(path)
    return removed

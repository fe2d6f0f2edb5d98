"""The report's building blocks (paragraphs, tables, plots in sections), number formats, and their
Markdown and self-contained HTML renderings.

One set of blocks renders to both formats, so report.md and report.html always say the same thing.
Number formats are few and fixed, so a test can parse every number back and trace it to stats.json:
counts with thousands separators, stats ratios with 4 decimals (as stats.json rounds them),
percentages with 2 decimals, large derived figures with 3 significant digits and a K/M/B/T suffix.
Identifiers (sources, stages, field paths) are always in backticks and hold no measured numbers.
"""

from __future__ import annotations

import base64
import html
import math
import re
from dataclasses import dataclass, field

NA = "n/a"
_SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K"))


def count(n: int | None) -> str:
    """An exact count from stats.json: 1,040,216."""
    return NA if n is None else f"{n:,}"


def ratio(x: float | None) -> str:
    """A ratio as stats.json stores it (rounded to 4 decimals): 4.7692."""
    return NA if x is None else f"{x:.4f}"


def pct(x: float | None) -> str:
    """A share (0..1) as a percentage with 2 decimals: 0.0036 -> 0.36%."""
    return NA if x is None else f"{100 * x:.2f}%"


def sig(x: float | None, digits: int = 3) -> str:
    """A derived figure with `digits` significant digits, without an exponent where avoidable."""
    if x is None:
        return NA
    if x == 0:
        return "0"
    if abs(x) < 1e-3:
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:,.{decimals}f}"


def one(x: float | None) -> str:
    """A value stats.json stores with 1 decimal (length quantiles): 98.7."""
    return NA if x is None else f"{x:,.1f}"


def big(x: float | None, digits: int = 3) -> str:
    """A large derived figure with a suffix: 1.19e11 -> 119B, 3.5e12 -> 3.50T (K=1e3, M=1e6, B=1e9, T=1e12)."""
    if x is None:
        return NA
    for scale, suffix in _SUFFIXES:
        if abs(x) >= scale:
            return f"{sig(x / scale, digits)}{suffix}"
    return sig(x, digits)


def exact(x: float | None) -> str:
    """A configured value, exactly and short: 1.3e9 -> 1.3B, 20.0 -> 20 (K=1e3, M=1e6, B=1e9, T=1e12)."""
    if x is None:
        return NA
    for scale, suffix in _SUFFIXES:
        if abs(x) >= scale:
            return f"{x / scale:g}{suffix}"
    return f"{x:g}"


def code(name: str) -> str:
    """An identifier (source, stage, field path, reason) in backticks."""
    return f"`{name}`"


@dataclass(frozen=True)
class Para:
    """A paragraph; inline `code` and **bold** are the only markup."""

    text: str


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class Plot:
    """A figure already rendered to PNG bytes; `name` is its file stem under OUT/stats/."""

    name: str
    png: bytes
    caption: str


Block = Para | Table | Plot


def missing(field: str) -> Para:
    """Stands in for a part whose stats.json field an older curate did not write."""
    return Para(f"This stats.json has no {code(field)} (written by an older curate); run the pipeline again to fill this part.")


@dataclass
class Section:
    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)


# --- Markdown -------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def to_markdown(title: str, intro: list[Block], sections: list[Section]) -> str:
    lines = [f"# {title}", ""]
    for block in intro:
        lines += _md_block(block)
    for sec in sections:
        lines += [f'<a id="{sec.key}"></a>', "", f"## {sec.title}", ""]
        for block in sec.blocks:
            lines += _md_block(block)
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_block(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [block.text, ""]
    if isinstance(block, Table):
        out = ["| " + " | ".join(_md_cell(h) for h in block.header) + " |", "|" + "---|" * len(block.header)]
        out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
        if block.caption:
            out += ["", f"*{block.caption}*"]
        return out + [""]
    return [f"![{block.caption}]({block.name}.png)", "", f"*Figure `{block.name}.png`: {block.caption}*", ""]


# --- HTML -----------------------------------------------------------------------------------------

_CSS = """
body { font-family: DejaVu Sans, Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: left; vertical-align: top; }
td.n { text-align: right; white-space: nowrap; }
caption, figcaption { caption-side: bottom; font-size: 0.85em; color: #555; text-align: left; padding-top: 0.3em; }
img { max-width: 100%; border: 1px solid #eee; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""

# Records in the DOM whether every image decoded, and where images and sections are on the page
# (read by the headless-browser test from --dump-dom; it changes nothing visible).
_SCRIPT = """
window.addEventListener("load", function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    el.setAttribute("data-box", [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height].map(Math.round).join(","));
  }
  var imgs = document.images, ok = 0;
  for (var i = 0; i < imgs.length; i++) { if (imgs[i].complete && imgs[i].naturalWidth > 0) { ok++; } box(imgs[i]); }
  document.querySelectorAll("section").forEach(box);
  document.body.setAttribute("data-page-height", String(document.documentElement.scrollHeight));
  document.body.setAttribute("data-images-loaded", ok + "/" + imgs.length);
});
"""


def _inline(text: str) -> str:
    """Escape, then turn `code` and **bold** into tags."""
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def to_html(title: str, intro: list[Block], sections: list[Section]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        '<body data-images-loaded="pending">',
        f"<h1>{html.escape(title)}</h1>",
    ]
    parts += [_html_block(b) for b in intro]
    for sec in sections:
        parts.append(f'<section id="{sec.key}">')
        parts.append(f"<h2>{_inline(sec.title)}</h2>")
        parts += [_html_block(b) for b in sec.blocks]
        parts.append("</section>")
    parts += [f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _td(cell: str) -> str:
    """Numbers right-aligned, text left-aligned."""
    numeric = cell == NA or bool(re.match(r"^[\d.,]+(%|[KMBT]|e[+-]\d+)?$", cell))
    return f'<td class="n">{_inline(cell)}</td>' if numeric else f"<td>{_inline(cell)}</td>"


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{_inline(h)}</th>" for h in block.header)
        body = "".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in block.rows)
        caption = f"<caption>{_inline(block.caption)}</caption>" if block.caption else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    data = base64.b64encode(block.png).decode("ascii")
    alt = html.escape(block.caption, quote=True)
    return (
        f'<figure id="fig-{block.name}"><img src="data:image/png;base64,{data}" alt="{alt}">'
        f"<figcaption>Figure <code>{block.name}.png</code>: {_inline(block.caption)}</figcaption></figure>"
    )

"""`html: strip` (issue 19, item 13): opt-in HTML-to-text before normalizing, counted in stats'
normalize changes; real C4 paragraphs wrapped in the HTML a crawl export would have."""

from __future__ import annotations

import html
from pathlib import Path

import orjson
from formathelpers import kept_rows, normalize_changes, read_stage, shard
from srchelpers import SAMPLES

from pipeline.html_text import html_to_text, looks_like_html
from pipeline.normalize import normalize_text


def _c4(n: int) -> list[str]:
    return [orjson.loads(line)["text"] for line in (SAMPLES / "en" / "c4_demo.jsonl").read_bytes().splitlines()[:n]]


def _as_html(text: str) -> str:
    return "<div class=\"post\">" + "".join(f"<p>{html.escape(par)}</p>\n" for par in text.split("\n") if par.strip()) + "</div>"


def test_html_to_text_keeps_code_and_structure() -> None:
    got = html_to_text(
        "<h2>Install</h2><p>Run <code>pip install curate</code> &mdash; then:</p>"
        "<pre><code>for f in files:\n    print(f)\n</code></pre>"
        "<ul><li>one &amp; two</li><li>three</li></ul><p><a href=\"https://x.example\">docs</a> <img src=\"a.png\"></p>"
    )
    assert got == "## Install\n\nRun `pip install curate` — then:\n\n```\nfor f in files:\n    print(f)\n```\n\n- one & two\n- three\n\ndocs"
    assert html_to_text("no markup, a < b and c > d") == "no markup, a < b and c > d"
    assert looks_like_html("x &amp; y") and looks_like_html("<br/>") and not looks_like_html("a < b")


def test_html_strip_option_through_shard(tmp_path: Path) -> None:
    texts = _c4(6)
    plain = "A document without any markup at all, kept exactly as it is written here."
    lines = [{"text": _as_html(t)} for t in texts] + [{"text": plain}]
    src = tmp_path / "crawl.jsonl"
    src.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))

    out = tmp_path / "strip"
    res = shard([src], out, "--source-type", "generic", "--lang", "en", "--name", "crawl", "--html", "strip")
    assert res.exit_code == 0, res.output
    t = read_stage(out)
    assert (t["docs_in"], t["docs_kept"], t["docs_rejected"]) == (7, 7, 0)
    assert normalize_changes(out)["crawl"]["html_stripped"] == 6
    rows = {r["id"]: r for r in kept_rows(out)}
    for i, text in enumerate(texts):
        paragraphs = "\n\n".join(p for p in text.split("\n") if p.strip())
        assert rows[f"crawl/crawl/{i}"]["text"] == normalize_text(paragraphs)[0]
    assert rows["crawl/crawl/6"]["text"] == plain

    out = tmp_path / "keep"
    res = shard([src], out, "--source-type", "generic", "--lang", "en", "--name", "crawl")
    assert res.exit_code == 0, res.output
    assert "html_stripped" not in normalize_changes(out).get("crawl", {})
    kept = {r["id"]: r["text"] for r in kept_rows(out)}
    assert kept["crawl/crawl/0"].startswith('<div class="post"><p>') and kept["crawl/crawl/6"] == plain

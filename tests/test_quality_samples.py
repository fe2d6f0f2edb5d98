"""Quality filtering end to end on the shipped samples: documents as the pipeline builds them (source
adapter + stored-text normalization), language from the source's hint (en / zh), the default profile
of each source, and planted junk that must be dropped with the expected reason.

Every count below is measured (bench/quality.py --keep prints the same table); where a rule drops
real documents, the comment says which and why.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from filters.quality import default_profile, quality_signals, quality_verdict, quality_verdicts, signals
from pipeline.config import SourceConfig
from pipeline.document import Document
from pipeline.normalize import normalize_text
from pipeline.sources import expand_inputs, iter_shard

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"

SOURCES: dict[str, tuple[dict[str, Any], str]] = {
    "c4": ({"type": "redpajama", "paths": ["en/c4_demo.jsonl"], "subset": "c4"}, "en"),
    "cc": ({"type": "dolma", "paths": ["en/cc_en_head-0091.jsonl", "en/cc_en_head-0174.jsonl"]}, "en"),
    "oasst_thread": ({"type": "oasst", "paths": ["oasst/en_100_message.jsonl"]}, "en"),
    "oasst_message": ({"type": "oasst", "paths": ["oasst/en_100_message.jsonl"], "unit": "message"}, "en"),
    "cmrc": ({"type": "squad", "paths": ["zh/cmrc2018_dev.json"]}, "zh"),
    "alpaca": ({"type": "alpaca", "paths": ["zh/alpaca_zh_demo.json"]}, "zh"),
    "tang": ({"type": "chinese_poetry", "paths": ["zh/poet.tang.0.json"]}, "zh"),
    "song": ({"type": "chinese_poetry", "paths": ["zh/ci.song.0.json"]}, "zh"),
}


def _load(name: str) -> tuple[list[str], str, str]:
    cfg, lang = SOURCES[name]
    src = SourceConfig(name=name, **{**cfg, "paths": [str(SAMPLES / p) for p in cfg["paths"]]})
    texts = []
    for shard in expand_inputs(src):
        for item in iter_shard(shard, src, "reject"):
            if isinstance(item, Document):
                texts.append(normalize_text(item.text)[0])
    return texts, lang, default_profile(src.type, src.subset)


Tables = dict[str, tuple[pa.Table, list[str], str]]


@pytest.fixture(scope="module")
def tables() -> Tables:
    out = {}
    for name in SOURCES:
        texts, lang, profile = _load(name)
        table = pa.table({**quality_signals(texts, [lang] * len(texts)), "lang": [lang] * len(texts)})
        out[name] = (table, texts, profile)
    return out


def _keep(tables: Tables, name: str, profile: str | None = None) -> tuple[int, int, Counter[str]]:
    table, _, default = tables[name]
    mask, reasons, _, _ = quality_verdicts(table, profile or default)
    kept = table.num_rows - sum(mask.to_pylist())
    return kept, table.num_rows, Counter(r.removeprefix("quality:") for r in reasons.to_pylist() if r)


def test_default_profiles_of_the_samples(tables: Tables) -> None:
    assert {n: t[2] for n, t in tables.items()} == {
        "c4": "web", "cc": "web", "oasst_thread": "conversation", "oasst_message": "conversation",
        "cmrc": "curated", "alpaca": "instruction", "tang": "poetry", "song": "poetry",
    }


def test_c4_demo_under_web(tables: Tables) -> None:
    """256 of 300 kept (85.3%): below the 95% hoped for, because Gopher's published floor of 50 words
    drops the 29 C4 pages that are shorter (C4 itself has no word floor); of the 271 pages with at
    least 50 words, 256 (94.5%) are kept. The other 15 are what Gopher's repetition/quality rules
    are for: phone-number spam ("Access All Records Of 213-484-0480 Now!" x N), keyword-stuffed
    SEO pages, a "placeholder page for Jo Ann Cedotal", ticket-reseller boilerplate, an all-caps
    real-estate listing without stop words."""
    kept, n, reasons = _keep(tables, "c4")
    assert (kept, n) == (256, 300)
    assert reasons == {"gopher_min_words": 29, "gopher_dup_5gram": 6, "gopher_top_4gram": 3, "gopher_stop_words": 2,
                       "gopher_symbol_ratio": 1, "gopher_top_3gram": 1, "gopher_dup_6gram": 1, "c4_min_sentences": 1}
    table = tables["c4"][0]
    long_enough = pa.compute.greater_equal(table.column("q_words"), 50)
    mask = quality_verdicts(table.filter(long_enough), "web")[0]
    assert (len(mask) - sum(mask.to_pylist()), len(mask)) == (256, 271)


def test_dolma_cc_under_web(tables: Tables) -> None:
    # a page of truncated headlines ending in "..." (under 50 words), and a one-line teaser cut off
    # with "...": one line is no line structure, so the ellipsis-lines share does not judge it
    # (issue #19 item 5; it was `gopher_ellipsis_lines` before), but it has one sentence ("..." ends none)
    assert _keep(tables, "cc") == (18, 20, Counter({"c4_min_sentences": 1, "gopher_min_words": 1}))


def test_oasst_under_conversation_and_web(tables: Tables) -> None:
    """Conversation (the oasst default) keeps every thread and 1,163 of 1,167 messages (3 messages
    that are mostly '#' markdown headings or hashtags, 1 a long URL). The web rules do not fit chat:
    56% of the messages are under 50 words, and threads repeat code blocks across turns; under `web`
    only 374 messages (32.0%) and 429 threads (68.5%) would be kept."""
    assert _keep(tables, "oasst_thread") == (626, 626, Counter())
    kept, n, reasons = _keep(tables, "oasst_message")
    assert (kept, n) == (1163, 1167) and reasons == {"gopher_symbol_ratio": 3, "gopher_max_mean_word_len": 1}
    # (373 before issue #19 item 5: a one-line message is no longer judged by the line shares)
    assert _keep(tables, "oasst_message", "web")[:2] == (374, 1167)
    assert _keep(tables, "oasst_thread", "web")[:2] == (429, 626)


def test_cmrc_under_chinese_web_rules(tables: Tables) -> None:
    """Accepts the zh thresholds (tuned on poetry + alpaca-zh) on different data: 835 of 848 cmrc2018
    paragraphs (98.5%) pass every web rule. The drops are paragraphs that repeat a long name or
    phrase many times (dup 5-grams) and a short stub. (825 before issues #19.5 and #23: 846 of the
    paragraphs are one line, which the line shares no longer judge - 5 lists of works ending in
    "……", 2 ending in a heading - and C4's sentence count became the Chinese clause count: 3.)"""
    kept, n, reasons = _keep(tables, "cmrc", "web")
    assert (kept, n) == (835, 848)
    assert reasons == {"gopher_dup_5gram": 9, "gopher_dup_8gram": 2, "gopher_dup_9gram": 1, "gopher_min_words": 1}
    assert _keep(tables, "cmrc")[:2] == (835, 848)  # its default profile, curated


def test_chinese_light_profiles(tables: Tables) -> None:
    # poetry: 1 Tang poem and 2 Song ci with several □ (characters lost in transmission)
    assert _keep(tables, "tang") == (999, 1000, Counter({"zh_garbage_frac": 1}))
    assert _keep(tables, "song") == (998, 1000, Counter({"zh_garbage_frac": 2}))
    # alpaca: a markdown answer full of '#' headings, and an emoji-heavy answer
    assert _keep(tables, "alpaca") == (998, 1000, Counter({"gopher_symbol_ratio": 1, "zh_garbage_frac": 1}))
    # the web rules would drop what poetry is made of: short lines and no function words
    assert _keep(tables, "tang", "web")[0] == 10


# --------------------------------------------------------------------------------------------------
# Planted junk
# --------------------------------------------------------------------------------------------------

STOP = {"the", "be", "to", "of", "and", "that", "have", "with"}
LOREM = (
    "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
    "dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip"
).split()


@pytest.fixture(scope="module")
def clean_pages(tables: Tables) -> list[str]:
    texts = tables["c4"][1]
    return [t for t in texts if not quality_verdict(signals(t), "en", "web")]


def _first(text: str, lang: str = "en") -> list[str]:
    return quality_verdict(signals(text, lang), lang, "web")


def test_planted_english_junk(clean_pages: list[str]) -> None:
    page = clean_pages[0]  # a real C4 page (air cleaners) that passes every web rule
    rng = random.Random(0)
    assert _first(page) == []
    # the page's lines, each repeated six times (scraper loops, repeated templates)
    repeated = "\n".join(line for line in page.split("\n") for _ in range(6))
    assert _first(repeated)[0] == "gopher_dup_line_frac"
    assert {"gopher_dup_line_char_frac", "gopher_dup_10gram", "fineweb_char_dup"} <= set(_first(repeated))
    # word salad: real C4 words, shuffled, without stop words
    words = [w for t in clean_pages[:20] for w in t.split() if w.lower().strip(".,!?;:\"'()") not in STOP]
    rng.shuffle(words)
    assert _first(" ".join(words[:400]))[0] == "gopher_stop_words"
    # symbol soup: three symbols for every real word
    symbols = "| » © • → ★ ■ ◆ ~ ^ % @ & + = < > / \\ — –".split()
    soup = " ".join(rng.choice(symbols) if i % 4 else rng.choice(words) for i in range(400))
    assert _first(soup)[0] == "gopher_alpha_words"
    # a lorem ipsum page (no English stop words either) and a real page with a lorem ipsum block
    lorem = " ".join(" ".join(rng.choice(LOREM) for _ in range(12)).capitalize() + "." for _ in range(20))
    assert _first("Lorem ipsum dolor sit amet. " + lorem) == ["gopher_stop_words", "c4_lorem_ipsum"]
    block = "\nLorem ipsum dolor sit amet, consectetur adipiscing elit. " + lorem[:300]
    assert _first(page + block) == ["c4_lorem_ipsum"]
    # a cookie banner under a real page
    banner = (
        "\nThis website uses cookies to ensure you get the best experience on our website."
        "\nBy continuing to browse, you agree to our use of cookies. Read our Cookie Policy and Privacy Policy."
        "\nAccept all cookies\nCookie settings"
    )
    assert _first(page + banner) == ["c4_policy"]
    assert signals(page + banner)["q_c4_policy"] == 2


def test_planted_chinese_junk(tables: Tables) -> None:
    paragraph = tables["cmrc"][1][0][:120]
    menu = ["首页", "新闻中心", "公司简介", "产品展示", "客户案例", "联系我们"]
    page = "\n".join(
        menu
        + ["当前位置：首页 > 新闻中心 > 行业动态", paragraph, "上一篇：公司参加行业展会"]
        + ["下一篇：新产品发布会圆满成功", "返回顶部"]
        + menu
        + ["版权所有 © 2005-2020 某某科技有限公司 京ICP备12345678号"]
    )
    # the menu, repeated at the bottom, is 6 of 18 lines duplicated; the Chinese rules see it too
    assert _first(page, "zh") == ["gopher_dup_line_frac", "fineweb_short_lines", "fineweb_char_dup",
                                  "zh_repeated_short_lines"]
    # the same menu once (no repetition): mostly short lines (its paragraph has 6 clauses, so the
    # Chinese clause count that replaced C4's sentence count for zh passes it)
    once = "\n".join(menu + [paragraph, "返回顶部", "版权所有 © 2005-2020 某某科技有限公司"])
    assert _first(once, "zh") == ["fineweb_short_lines"]
    # character salad: random CJK characters in sentence-like lines
    rng = random.Random(1)
    salad = "\n".join("".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(40)) + "。" for _ in range(10))
    assert _first(salad, "zh") == ["gopher_stop_words", "zh_stop_word_frac"]
    # a real paragraph with Latin SEO keywords glued on, and one with mojibake-like symbols
    seo = tables["cmrc"][1][5] + " " + " ".join(f"cheap{i} replica{i} watches{i} online{i}" for i in range(60))
    assert "zh_han_frac" in _first(seo, "zh")
    garbage = tables["cmrc"][1][6] + "□□■■◆◆★★" * 20
    assert _first(garbage, "zh") == ["zh_garbage_frac"]


def test_code_profile_keeps_source_code() -> None:
    """The project's own Python modules stand in for RedPajama github files: the code profile keeps
    all of them, while the web rules would drop nearly all (braces, short lines, no stop words)."""
    # pipeline/quality_rules.py is left out: it quotes C4's "lorem ipsum" rule, which drops it
    files = sorted(p for p in (REPO / "pipeline").glob("*.py") if p.name != "quality_rules.py") + [REPO / "filters" / "language.py"]
    texts = [normalize_text(p.read_text(encoding="utf-8"), whitespace="code")[0] for p in files]
    table = pa.table({**quality_signals(texts), "lang": ["en"] * len(texts)})
    assert not any(quality_verdicts(table, "code")[0].to_pylist())
    web = quality_verdicts(table, "web")[0].to_pylist()
    assert sum(web) >= len(texts) - 2

"""Word counts (pipeline.words.count_words): the definition on hand-checked real documents, an
independent count on every shipped sample document, batching, and jieba vs jieba-next."""

from __future__ import annotations

import functools
import importlib.util
import logging
import unicodedata
from pathlib import Path
from typing import Any

import jieba
import orjson
import pytest

from pipeline.words import count_words, words_segmenter_name

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
HAVE_JIEBA_NEXT = importlib.util.find_spec("jieba_next") is not None

jieba.setLogLevel(logging.WARNING)

# en/c4_demo.jsonl, line 1 (first paragraph). Hand count, whitespace pieces with a letter:
# Don’t think you need all the bells and whistles? (9) No problem. (2) McKinley Heating Service
# Experts Heating (5) & (0) Air ... the bank. (22) It is a low-cost solution ... comfortably. (15)
EN_C4 = (
    "Don’t think you need all the bells and whistles? No problem. McKinley Heating Service Experts Heating & Air "
    "Conditioning offers basic air cleaners that work to improve the quality of the air in your home without "
    "breaking the bank. It is a low-cost solution that will ensure you and your family are living comfortably."
)
# zh/poet.tang.0.json, record 0. jieba (HMM off): 帝京/篇/十首/一 | 秦川/雄/帝/宅 | 函/谷/壯/皇/居 |
# 綺/殿/千/尋/起 | 離/宮/百/雉/餘 | 連/甍/遙/接/漢 | 飛/觀/迥/凌/虛 | 雲/日/隱/層/闕 | 風/煙/出/綺/疎:
# 4 + 4 + 7 x 5 = 43 words; punctuation and line breaks are not words.
ZH_TANG = "帝京篇十首 一\n秦川雄帝宅，函谷壯皇居。\n綺殿千尋起，離宮百雉餘。\n連甍遙接漢，飛觀迥凌虛。\n雲日隱層闕，風煙出綺疎。"
# zh/alpaca_zh_demo.json: instruction + output of the "x2 - 3x = 0" record. Han words (jieba):
# 找出/方程/的/根 该/方程/可以/写成 根据/乘法/原理 或 因此 和 是/方程 的/两个/根 = 19; pieces with a
# letter once Han runs are spaces: x2 3x | x(x-3)=0。 | ，x x | ，x1 x2 x2 3x = 9. Total 28.
ZH_ALPACA_MATH = (
    "找出方程 x2 - 3x = 0 的根。\n\n该方程可以写成 x(x-3)=0。\n\n根据乘法原理，x = 0或x - 3 = 0。\n\n"
    "因此，x1 = 0和x2 = 3是方程 x2 - 3x = 0 的两个根。"
)
# zh/cmrc2018_dev.json, a paragraph (excerpt). Han words: 英雄/广场 是 奥地利 首都 维也纳 的 一个 广场
# (8 + 1 = 9 with 英雄, 广场 counted: 英雄/广场/是/奥地利/首都/维也纳/的/一个/广场 = 9) + Heldenplatz (1)
# + 在/此/曾/发生/许多/重要/事件 (7) + 最/著名/的/是/年/希特勒/在/此/宣告/德奥/合并 (11) = 28;
# "—" and "1938" are not words. "Äußeres" is one word (jieba alone would cut it into Ä/u/ß/eres).
ZH_CMRC_EXCERPT = (
    "英雄广场（Heldenplatz）是奥地利首都维也纳的一个广场。在此曾发生许多重要事件 — "
    "最著名的是1938年希特勒在此宣告德奥合并。"
)


@functools.cache
def _is_han(c: str) -> bool:
    """Independent of pipeline.scripts: by character name."""
    return unicodedata.name(c, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")) or c in "々〇〻"


def independent_count(text: str, tokens: list[str] | None = None) -> int:
    """The definition computed another way: jieba.lcut of the whole text (HMM off; `tokens` if
    already cut), its tokens with a Han character; plus, with Han characters replaced by spaces, the
    whitespace pieces that contain a letter (str.isalpha, character by character)."""
    han_chars = [_is_han(c) for c in text]
    if not any(han_chars):
        return sum(1 for piece in text.split() if any(c.isalpha() for c in piece))
    if tokens is None:
        tokens = jieba.lcut(text, HMM=False)
    han = sum(1 for tok in tokens if any(_is_han(c) for c in tok))
    rest = "".join(" " if h else c for c, h in zip(text, han_chars))
    return han + sum(1 for piece in rest.split() if any(c.isalpha() for c in piece))


def _load() -> dict[str, list[str]]:
    def jsonl(name: str) -> list[dict[str, Any]]:
        return [orjson.loads(x) for x in (SAMPLES / name).read_bytes().splitlines() if x.strip()]

    oasst: list[str] = []

    def walk(m: dict[str, Any]) -> None:
        oasst.append(m["text"])
        for r in m.get("replies") or []:
            walk(r)

    for root in jsonl("oasst/en_100_message.jsonl"):
        walk(root)
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    return {
        "web": [r["text"] for n in ("c4_demo.jsonl", "cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl") for r in jsonl(f"en/{n}")],
        "oasst": oasst,
        "cmrc": [p["context"] for d in cm["data"] for p in d["paragraphs"]],
        "alpaca": [
            "\n\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x)
            for r in orjson.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_bytes())
        ],
        "tang": [
            r["title"] + "\n" + "\n".join(r["paragraphs"]) for r in orjson.loads((SAMPLES / "zh/poet.tang.0.json").read_bytes())
        ],
        "song": [
            r["rhythmic"] + "\n" + "\n".join(r["paragraphs"]) for r in orjson.loads((SAMPLES / "zh/ci.song.0.json").read_bytes())
        ],
    }


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[str]]:
    return _load()


@pytest.fixture(scope="module")
def cmrc_jieba(corpora: dict[str, list[str]]) -> list[list[str]]:
    """jieba.lcut (HMM off) of the 848 cmrc2018 paragraphs, cut once for the module."""
    return [jieba.lcut(p, HMM=False) for p in corpora["cmrc"]]


def test_hand_checked_documents() -> None:
    docs = [EN_C4, ZH_TANG, ZH_ALPACA_MATH, ZH_CMRC_EXCERPT, ZH_CMRC_EXCERPT + " Äußeres Burgtor"]
    assert count_words(docs) == [53, 43, 28, 28, 30]
    assert [independent_count(d) for d in docs] == [53, 43, 28, 28, 30]


def test_definition_edge_cases() -> None:
    cases = {
        "": 0,
        "   \n\t ": 0,
        "2023 -- 3.14 ① ½ ² Ⅳ & … 😀 🎉": 0,  # numbers, punctuation, symbols, emoji: no letter
        "don't e-mail U.S. x² 3kg (English) 😀ok": 7,
        "用Python写": 3,  # 用 / Python / 写
        "〇": 1,  # Han zero (a number, but a Han character)
        "中文㐀〇々鿰𠀀字": 7,  # 中文 + one word per Han character outside jieba's U+4E00-U+9FD5 blocks + 字
        "ひらがなカタカナ": 1,  # kana run: no segmenter, one word per whitespace piece
        "中文\n\n中文": 2,
        "Ｆｕｌｌｗｉｄｔｈ": 1,
        "Привет, мир!": 2,
    }
    assert count_words(list(cases)) == list(cases.values())
    assert [independent_count(t) for t in cases] == list(cases.values())
    assert count_words(list(cases), segmenter="jieba") == list(cases.values())


@pytest.mark.parametrize("name", ["web", "oasst", "cmrc", "alpaca", "tang", "song"])
def test_every_sample_document_matches_the_independent_count(
    corpora: dict[str, list[str]], cmrc_jieba: list[list[str]], name: str
) -> None:
    texts = corpora[name]
    mine = count_words(texts)
    cut: list[list[str] | None] = list(cmrc_jieba) if name == "cmrc" else [None] * len(texts)
    differ = [i for i, (m, t, c) in enumerate(zip(mine, texts, cut)) if m != independent_count(t, c)]
    if name != "cmrc":
        assert differ == []
        return
    # jieba's dictionary has a few entries that glue Latin letters or digits to Han ("D版", "1号店").
    # Whole-text jieba keeps them as one token; count_words segments Han runs only (design.md), so
    # "3D版" is 3D + 版. These are the only two such documents in the 848 paragraphs.
    assert len(differ) == 2
    assert any("D版" in texts[i] for i in differ) and any("1号店" in texts[i] for i in differ)


def test_batching_does_not_change_counts(corpora: dict[str, list[str]]) -> None:
    mixed = corpora["cmrc"][:60] + corpora["web"][:40] + corpora["tang"][:60] + ["", "中", "a 中 b"] + corpora["alpaca"][:60]
    assert count_words(mixed) == [count_words([t])[0] for t in mixed]
    assert count_words([]) == []


@pytest.mark.skipif(not HAVE_JIEBA_NEXT, reason="jieba_next is not installed (optional extra 'fast')")
def test_jieba_next_segments_like_jieba(corpora: dict[str, list[str]], cmrc_jieba: list[list[str]]) -> None:
    """All 848 cmrc2018 paragraphs: identical tokens with HMM off (the mode count_words uses)."""
    import jieba_next

    paragraphs = corpora["cmrc"]
    assert len(paragraphs) == 848
    assert [jieba_next.lcut(p, HMM=False) for p in paragraphs] == cmrc_jieba
    # and through count_words' batched input (Han runs joined by spaces and newlines)
    some = paragraphs[:200] + corpora["alpaca"][:100]
    assert count_words(some, segmenter="jieba_next") == count_words(some, segmenter="jieba")
    assert words_segmenter_name() == "jieba-next==1.0.0rc1 hmm=off"


def test_segmenter_name_records_the_mode() -> None:
    assert words_segmenter_name("jieba") == "jieba==0.42.1 hmm=off"
    assert words_segmenter_name().endswith("hmm=off")
    with pytest.raises(ValueError):
        count_words(["中文"], segmenter="pkuseg")


@pytest.mark.parametrize("piece", [1, 4, 50])
def test_long_texts_counted_in_whitespace_pieces_the_same(corpora: dict[str, list[str]], piece: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts above the long-text size are counted piece by piece, cut after whitespace (issue 19
    item 10): Han runs, jieba blocks and words never span a cut, so the counts are the same."""
    import pipeline.words as tk

    texts = [
        *corpora["cmrc"][:15], *corpora["web"][:10], *corpora["tang"][:10],
        "\n".join(corpora["cmrc"][:10] + corpora["web"][:10]), "", "中", "a 中 b", "3D版 1号店\u3000第2章", "nospaceatall",
    ]  # fmt: skip
    want = count_words(texts)
    monkeypatch.setattr(tk, "_LONG_TEXT_CHARS", piece)
    assert count_words(texts) == want
    assert "".join(tk._space_pieces("a b\u3000c\nd  ")) == "a b\u3000c\nd  "

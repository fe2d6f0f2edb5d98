"""Word counts (design.md): tokens that contain at least one letter or Han character. Han runs are
segmented by jieba (dictionary only, HMM off; jieba-next when installed, which segments identically
and faster), everything else by a regex over whitespace-delimited runs. See the comment block below.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipeline.pieces import pieces

__all__ = ["count_words", "words_segmenter_name"]

#: Texts longer than this are counted in pieces cut after whitespace (`_space_pieces`).
_LONG_TEXT_CHARS = 1 << 20

# Definition (design.md): a word is a token with at least one letter (Unicode L*) or Han character;
# punctuation, spaces, numbers and symbols alone are not words.
#   * Han runs (maximal runs of Han characters, pipeline.scripts) are segmented by jieba; each jieba
#     token of a Han run is one word.
#   * Everything else is split at whitespace; a piece with at least one letter is one word
#     ("don't", "e-mail", "U.S.", "3kg", "(English)" are one word each; "2023", "--", "①" none).
#     Han runs count as whitespace here, so "用Python写" is 用 + Python + 写. Kana and Thai runs,
#     which have no spaces, count as one word per run (no segmenter for them here).
#   * jieba's dictionary has a few entries that glue Latin letters or digits to Han ("T恤", "3D版"
#     as "D版", "1号店"); segmenting Han runs only splits those (T + 恤): 2 of the 848 cmrc2018
#     paragraphs are affected, by one word each.
#
# jieba mode: HMM off (dictionary words only), on purpose. Measured on the shipped samples: with
# HMM off jieba-next segments exactly like jieba (cmrc2018 848/848, Tang 1000/1000, Song 1000/1000,
# alpaca-zh 1000/1000 documents identical); with HMM on they differ (31 cmrc2018, 248 Tang, 38 Song,
# 5 alpaca documents: the HMM guesses "new words" out of runs of rare characters differently), and
# those guesses on classical Chinese are arbitrary merges. A size statistic should not depend on which
# of the two libraries is installed, so: HMM off, jieba-next when importable.
#
# Speed: ASCII-only texts never reach jieba. With HMM off, jieba cuts a block of U+4E00-U+9FD5
# characters along the best route of its dictionary DAG, one word per hop of the route (no merging:
# that only applies to single ASCII letters/digits, which Han runs do not contain); every other Han
# character (extension A, compatibility ideographs, 〇 々, U+9FD6-U+9FFF, astral) is outside its block
# class and is a word of its own. So the words of a block are counted by walking the route (one list
# lookup per word) instead of materialising tokens through jieba's per-token Python generator:
# jieba-next computes the route in Rust (`dt._route_from_rust`), jieba in Python (`get_DAG` + `calc`,
# its public API). The route walk is checked against `lcut` at start-up (falls back to `lcut` should
# a jieba-next release change its internals) and by the tests on every sample document.
# Figures (bench/counting.py): ~2x jieba-next's own lcut per document, ~7x jieba.lcut.

#: Non-letters that `[^\W\d_]` matches (it is isalpha | isnumeric-but-not-decimal): ① ½ ² Ⅳ ...,
#: excluded after the match by a lookbehind. BMP only: an astral class would cost one comparison per
#: range at every word (~45 ranges); a lone astral number sign (🄂, 𐄇) counting as a word is the price.
_NUMERIC_NOT_LETTER = "".join(
    chr(cp)
    for cp in range(0x80, 0x10000)
    if not 0xD800 <= cp <= 0xDFFF and chr(cp).isalnum() and not chr(cp).isalpha() and not chr(cp).isdecimal()
)
#: One match per whitespace-delimited piece that contains a letter: it starts at the piece's first
#: letter and runs to the piece's end, so pieces without letters never match.
_WORD_RE = re.compile(f"[^\\W\\d_](?<![{re.escape(_NUMERIC_NOT_LETTER)}])\\S*")
#: jieba's (and jieba-next's) Han block class: the characters its dictionary DAG runs over.
_JIEBA_BLOCK_RE = re.compile("[\u4e00-\u9fd5]+")

#: jieba's HMM mode for word counts (see above). Part of words_segmenter_name().
JIEBA_HMM = False

_SEGMENTERS = ("jieba_next", "jieba")

#: Real text for the start-up check of the route walk against lcut (cmrc2018 and Tang samples).
_SELF_CHECK = (
    "英雄广场是奥地利首都维也纳的一个广场在此曾发生许多重要事件最著名的是年希特勒在此宣告德奥合并",
    "佛教出家众受具足戒时需要有三师七证在场其中的三师指的是指出家阿阇梨羯磨阿阇梨教授阿阇梨",
    "秦川雄帝宅函谷壯皇居綺殿千尋起離宮百雉餘連甍遙接漢飛觀迥凌虛",
)


@dataclass(frozen=True, slots=True)
class _Segmenter:
    name: str
    lcut: Callable[[str], list[str]]
    #: words in one block of _JIEBA_BLOCK_RE characters
    block_words: Callable[[str], int]


def _walk(ends: list[int] | dict[int, tuple[float, int]], n: int, pair: bool) -> int:
    words = 0
    x = 0
    if pair:
        while x < n:
            x = ends[x][1] + 1  # type: ignore[index]
            words += 1
    else:
        while x < n:
            x = ends[x] + 1  # type: ignore[operator]
            words += 1
    return words


def _route_counter(mod: Any, module: str) -> Callable[[str], int] | None:
    """Counts the words of one block from the route, or None where the library has no route API."""
    dt = mod.dt
    if module == "jieba_next":
        route = getattr(dt, "_route_from_rust", None)
        if route is None:
            return None
        # the Rust call that _route_from_rust wraps, without its per-call initialisation check and
        # list copy (~20% of the count on Chinese); the self-check in _segmenter covers both routes
        if getattr(dt, "_rust_prefix", None) is None and hasattr(dt, "_ensure_rust_prefix"):
            dt._ensure_rust_prefix()
        route = getattr(getattr(dt, "_rust_prefix", None), "get_dag_and_calc", None) or route

        def count_next(block: str) -> int:
            return _walk(route(block), len(block), False)

        return count_next

    get_dag, calc = dt.get_DAG, dt.calc

    def count_jieba(block: str) -> int:
        ends: dict[int, tuple[float, int]] = {}
        calc(block, get_dag(block), ends)
        return _walk(ends, len(block), True)

    return count_jieba


@functools.cache
def _segmenter(which: str | None = None) -> _Segmenter:
    """jieba-next if importable (or `which`), else jieba; dictionary loaded once per process, its
    log lines silenced (jieba prints "Building prefix dict..." to stderr at INFO)."""
    for module in (which,) if which else _SEGMENTERS:
        if module not in _SEGMENTERS:
            raise ValueError(f"unknown segmenter {module!r}; expected one of {', '.join(_SEGMENTERS)}")
        if importlib.util.find_spec(module) is None:
            if which:
                raise ImportError(f"segmenter {module!r} is not installed")
            continue
        mod = importlib.import_module(module)
        # after the import: jieba sets its logger to DEBUG at import time
        logging.getLogger(module).setLevel(logging.WARNING)
        mod.initialize()
        dist = "jieba-next" if module == "jieba_next" else "jieba"
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover
            version = getattr(mod, "__version__", "unknown")
        lcut: Callable[[str], list[str]] = functools.partial(mod.lcut, HMM=JIEBA_HMM)

        def by_lcut(block: str, lcut: Callable[[str], list[str]] = lcut) -> int:
            return len(lcut(block))

        counter = _route_counter(mod, module)
        if counter is None or any(counter(s) != by_lcut(s) for s in _SELF_CHECK):
            counter = by_lcut  # pragma: no cover - a release that changed its internals
        return _Segmenter(f"{dist}=={version} hmm={'on' if JIEBA_HMM else 'off'}", lcut, counter)
    raise ImportError("no Chinese segmenter: install jieba==0.42.1 (or jieba-next==1.0.0rc1)")


def words_segmenter_name(segmenter: str | None = None) -> str:
    """Which segmenter and mode count_words uses, e.g. "jieba-next==1.0.0rc1 hmm=off": recorded with
    word statistics so counts from different installs can be told apart."""
    return _segmenter(segmenter).name


def count_words(texts: list[str], *, segmenter: str | None = None) -> list[int]:
    """Words per text (see the comment block above for the definition and the counting).
    `segmenter` forces "jieba" or "jieba_next" (comparisons, benchmarks); None prefers jieba-next."""
    han_split = _han_split_re().split
    words = _WORD_RE.findall
    blocks_of = _JIEBA_BLOCK_RE.findall
    block_words: Callable[[str], int] | None = None

    def count(text: str) -> int:
        nonlocal block_words
        if text.isascii():
            return len(words(text))
        parts = han_split(text)  # [other, run, other, run, ..., other]
        if len(parts) == 1:
            return len(words(text))
        if block_words is None:
            block_words = _segmenter(segmenter).block_words
        runs = parts[1::2]
        han = " ".join(runs)  # the space keeps jieba blocks from spanning two runs
        blocks = blocks_of(han)
        singles = len(han) - (len(runs) - 1) - sum(map(len, blocks))  # Han outside jieba's block class
        return len(words(" ".join(parts[0::2]))) + singles + sum(map(block_words, blocks))

    return [count(t) if len(t) <= _LONG_TEXT_CHARS else sum(map(count, _space_pieces(t))) for t in texts]


_SPACE_RE = re.compile(r"\s")


def _space_pieces(text: str) -> Iterator[str]:
    """Pieces of a long text, each ending just after a whitespace character (or at the end), about
    _LONG_TEXT_CHARS long: no word, Han run or jieba block spans two, so their counts add up to the
    text's (the lists of words and runs of a long document never exist whole)."""
    for a, b in pieces(text, _LONG_TEXT_CHARS, _SPACE_RE):
        yield text[a:b]


@functools.cache
def _han_split_re() -> re.Pattern[str]:
    from pipeline.scripts import HAN, class_body

    return re.compile(f"([{class_body(HAN)}]+)")

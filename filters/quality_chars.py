"""Quality signals' character tables: word lists (stop words, C4 policy phrases), punctuation sets
and the per-code-point class flags that every numpy pass of the quality signals gathers from.
The units are defined in filters/quality_signals.py's docstring."""

from __future__ import annotations

import functools
import re
import unicodedata

import numpy as np

from pipeline.scripts import HAN, KANA, script_table

# --------------------------------------------------------------------------------------------------
# Word lists and punctuation sets
# --------------------------------------------------------------------------------------------------

#: Gopher App. A.1.1: "the, be, to, of, and, that, have, with".
STOP_WORDS_EN: tuple[str, ...] = ("the", "be", "to", "of", "and", "that", "have", "with")
#: Chinese function characters (particles, prepositions, conjunctions, demonstratives, copula),
#: Simplified and Traditional forms; classical ones (之 其 而 以 于/於) too. Single characters,
#: because signals count Han characters as units (no jieba in signals).
STOP_WORDS_ZH: tuple[str, ...] = tuple(
    "的了是在和与也就都而及着或被把从对这那之其为以于但并很又所将让向给吗呢吧啊个们"
    "與從對這為於將讓給嗎個們著"
)

#: FineWeb: datatrove's TERMINAL_PUNCTUATION for the scripts we meet (Latin, CJK, Arabic, Indic,
#: Ethiopic, Armenian, Myanmar, Khmer, ...) plus … ; ； (the issue's Chinese list).
_FW_TERMINAL: tuple[str, ...] = tuple(
    ".!?。！？．｡﹒﹖﹗‼‽⁇⁈⁉⸮։؝؞؟۔܀܁܂।॥၊။።፧፨។៕᠃᠉…;；"
)
#: Closing quotes and brackets that may follow a sentence's final mark.
_CLOSERS = "\"'”’»」』）)]】》〉＂＇"
_ELLIPSIS_END: tuple[str, ...] = ("...", "…", "。。。")
#: Bullet marks at a line start (Gopher: "lines starting with a bullet point").
_BULLETS: tuple[str, ...] = tuple("•-*‣◦⁃∙●○■▪◆►▶➢➤✓✔・")

#: tensorflow_datasets c4_utils._POLICY_SUBSTRINGS plus the Chinese equivalents (lower-cased text).
C4_POLICY_SUBSTRINGS: tuple[str, ...] = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
    "隐私政策",
    "隱私政策",
    "使用条款",
    "使用條款",
    "服务条款",
    "服務條款",
    "使用cookie",
    "cookie政策",
)

#: Every policy phrase contains one of these (one scan each instead of one per phrase).
_POLICY_GATES: tuple[str, ...] = ("cookie", "terms of use", "privacy policy", "政策", "条款", "條款")
_PARA_SPLIT_RE = re.compile(r"\n{2,}")
_SHORT_LINE_COLUMNS = 30  # FineWeb short_line_length

# --------------------------------------------------------------------------------------------------
# Code point table
# --------------------------------------------------------------------------------------------------

_SPACE = 1 << 0  # str.isspace()
_LETTER = 1 << 1  # L* (not Han/kana)
_DIGIT = 1 << 2  # N*
_MARK = 1 << 3  # M*
_CJK = 1 << 4  # Han or kana: a token of its own, and a letter
_HAN = 1 << 5
_GARBAGE = 1 << 6  # So Co Cn Cs Cc Cf (never spaces, CJK or _LEGIT_SYMBOLS), U+FFFD, planes 4+
_WIDE = 1 << 7  # East Asian Width W or F
_STERM = 1 << 8  # sentence-final mark
_CJK_STOP = 1 << 9  # full-width sentence-final mark: ends a sentence without a following space
_CLOSER = 1 << 10
_END_QUOTE = 1 << 11  # a closing quote that ends a line the way C4's '"' does
_DOT = 1 << 12  # . 。 ．: repeated, they are an ellipsis ("...", "。。。"), which ends no sentence
_CLAUSE = 1 << 13  # ， , ； ;: Chinese clause separators (zh sentence count only)
_TILDE = 1 << 14  # ～ ~ (and the wave dash 〜): an informal Chinese clause or sentence end
_HELLIP = 1 << 15  # … (U+2026)

_WORDCH = _LETTER | _DIGIT | _MARK | _CJK
_ALPHA = _LETTER | _CJK

#: Symbols that are ordinary in text and not garbage: degree signs, units, trademarks.
_LEGIT_SYMBOLS = "°℃℉©®™№"
_SENTENCE_END = ".!?。！？．｡‼⁇⁈⁉؟।॥።։۔"
_CJK_SENTENCE_END = "。！？｡"
_DOTS = ".。．"
#: Closing quotes that end a line the way C4's '"' does.
_END_QUOTES = "\"”」』＂"
_CLAUSE_MARKS = "，,；;"
_TILDES = "～~〜"

_TABLE_LIMIT = 0x40000  # above: unassigned planes 4-13, tags, private use (garbage by default)


@functools.cache
def _flags() -> np.ndarray:
    """uint16[0x110000] class flags per code point, built once per process (~0.1 s) with C-level
    maps over unicodedata (no per-code-point Python bytecode)."""
    chars = "".join(map(chr, range(_TABLE_LIMIT)))
    cats = list(map(unicodedata.category, chars))
    cat_flag = {
        **{c: _LETTER for c in ("Lu", "Ll", "Lt", "Lm", "Lo")},
        **{c: _MARK for c in ("Mn", "Mc", "Me")},
        **{c: _DIGIT for c in ("Nd", "Nl", "No")},
        **{c: _GARBAGE for c in ("So", "Co", "Cn", "Cs", "Cc", "Cf")},
    }
    flags = np.fromiter(map(cat_flag.get, cats, [0] * len(cats)), dtype=np.uint16, count=_TABLE_LIMIT)
    space = np.fromiter(map(str.isspace, chars), dtype=bool, count=_TABLE_LIMIT)
    flags[space] = _SPACE  # spaces (\t \n, Zs, \x1c-\x1f, \x85 ...) are never garbage
    eaw = list(map(unicodedata.east_asian_width, chars))
    wide = np.fromiter((w in ("W", "F") for w in eaw), dtype=bool, count=_TABLE_LIMIT)
    flags[wide] |= _WIDE
    scripts = script_table()[:_TABLE_LIMIT]
    cjk = (scripts == HAN) | (scripts == KANA)
    flags[cjk] = (flags[cjk] & ~np.uint16(_LETTER | _GARBAGE)) | _CJK
    flags[scripts == HAN] |= _HAN
    for ch in _LEGIT_SYMBOLS:
        flags[ord(ch)] &= ~np.uint16(_GARBAGE)
    flags[0xFFFD] |= _GARBAGE
    for ch in _SENTENCE_END:
        flags[ord(ch)] |= _STERM
    for ch in _CJK_SENTENCE_END:
        flags[ord(ch)] |= _CJK_STOP
    for ch in _CLOSERS:
        flags[ord(ch)] |= _CLOSER
    for ch in _END_QUOTES:
        flags[ord(ch)] |= _END_QUOTE
    for ch in _DOTS:
        flags[ord(ch)] |= _DOT
    for ch in _CLAUSE_MARKS:
        flags[ord(ch)] |= _CLAUSE
    for ch in _TILDES:
        flags[ord(ch)] |= _TILDE
    flags[ord("…")] |= _HELLIP
    full = np.full(0x110000, _GARBAGE, dtype=np.uint16)
    full[:_TABLE_LIMIT] = flags
    full[0xE0100:0xE01F0] = _MARK  # variation selectors supplement
    full.flags.writeable = False
    return full

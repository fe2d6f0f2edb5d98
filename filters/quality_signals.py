"""Quality signals: Gopher quality + repetition, C4, FineWeb and Chinese-aware signals, computed once
per document and stored as flat `q_*` columns (see QUALITY_FIELDS); thresholds are applied later,
in select (`filters.quality.quality_verdicts`), so re-tuning never recomputes a signal.

Units, one definition for every script (so a mixed document's signals follow its script runs):
- **Tokens** are maximal runs of non-space characters, except that every Han or kana character is a
  token of its own (Chinese and Japanese are not space-delimited). "使用Python进行" is 使 用 Python
  进 行; "word," is one token, as in Gopher's whitespace split.
- **Words** are tokens with at least one letter, digit or mark (Han/kana characters are letters), so
  punctuation-only tokens are not words. A word's **length** is its letters/digits/marks (punctuation
  inside or around it does not count), and words are compared lower-cased with that punctuation
  removed ("Word." == "word"), as RedPajama-V2 normalizes words for its Gopher signals.
- Gopher's alphabetic-word share counts whitespace-delimited punctuation tokens (" - ", " | ") in its
  denominator, like Gopher's whitespace tokens, but not punctuation glued to a CJK character ("中，"),
  which is Chinese writing's equivalent of "word,".
- The mean word length is over space-delimited words only (a CJK character is always 1 long); it is
  NaN for a text without any, and the zh thresholds switch the rule off.
- **Lines** are the non-empty "\\n"-separated lines, stripped (the stored text normalizes every line
  break to "\\n"); **paragraphs** are separated by 2+ newlines. A line's **width** is counted in
  display columns: East Asian Wide/Fullwidth characters (Han, kana, CJK punctuation) count 2, so
  FineWeb's "line of at most 30 characters" is at most 15 Han characters in Chinese.
- **Terminal punctuation** includes 。！？ and their full-width/ASCII forms, and a line may end in
  closing quotes/brackets after it ("……。」", 'said "yes."'). Ellipses (... … 。。。) never end a
  sentence for C4; FineWeb's set (datatrove TERMINAL_PUNCTUATION: . ! ? and the sentence enders of
  other scripts, but not quotes) is extended with … ; ； here.
- **Chinese-aware clause ends** (q_zh_clauses, q_zh_terminated; `_zh_clauses`): what informal
  Chinese ends a clause with ("，", "～", "……", "!!" typed without a space, a space between Han
  characters), for the zh variants of C4's sentence count and terminal-punctuation share; and
  q_zh_ellipsis_lines counts lines ending in a truncation mark ("..." or "…") but not the
  ellipses people type in Chinese ("……", "。。。", "......").
- **Stop words** are Gopher's eight English words plus Chinese function characters (Simplified and
  Traditional forms), counted in every document: English ones can only occur in Latin runs and
  Chinese ones in Han runs, so a mixed text counts both and `langs` is not needed for it. Signals
  do not depend on the language tag at all (thresholds do), so a re-tag never invalidates them.

Speed: a batch is joined once, lower-cased once (str.lower on the whole batch) and encoded once to a
code-point array; character classes come from one table gather (uint16 flags per code point); token
boundaries, per-token counts and token hashes are numpy passes (cumulative sums, polynomial hashing
over the compacted letters/digits of every word); n-gram repetition is an argsort of n-gram hashes
per n, over candidates only for n >= 3 (an n-gram can only repeat where both of its (n-1)-grams
repeat). Per document, Python only makes C-level string calls (split, count, set, map with
methodcaller) over lines and paragraphs. No Python code runs per word or per n-gram.

Memory: a document longer than _WINDOW_CHARS is passed in line-aligned windows (`_long_document`):
character arrays, its lower-cased copy and line/substring counts exist one window at a time, and
only word hashes and lengths span the document, for the n-gram pass (in place, its sort split into
parts by hash bits); the values are those of the whole-document pass (issue 19 item 10).

Hashing: 64-bit polynomial hashes mod 2^64 with a splitmix64 finalizer. Word hashes do not depend on
the process (no PYTHONHASHSEED), so signals are deterministic; a collision between two different
n-grams of one document (~n^2/2^64) could raise a repetition signal, which is negligible.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from operator import methodcaller
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.hashmix import splitmix64_np, splitmix64_np_inplace
from pipeline.scripts import HAN, KANA, script_table

__all__ = [
    "C4_POLICY_SUBSTRINGS",
    "QUALITY_FIELDS",
    "SIGNAL_COLUMNS",
    "STOP_WORDS_EN",
    "STOP_WORDS_ZH",
    "quality_signals",
    "signals",
]

# --------------------------------------------------------------------------------------------------
# Output columns
# --------------------------------------------------------------------------------------------------

_F32 = pa.float32()
_I32 = pa.int32()

#: The q_* columns (signals only; `q_failed` is computed in select from thresholds).
QUALITY_FIELDS: list[pa.Field] = [
    pa.field("q_words", _I32),  # words; CJK characters count one each
    pa.field("q_lines", _I32),  # non-empty lines
    pa.field("q_mean_word_len", _F32),  # mean length of space-delimited words (NaN: none)
    pa.field("q_symbol_ratio", _F32),  # max(#, ellipses) per word
    pa.field("q_bullet_lines", _F32),
    pa.field("q_ellipsis_lines", _F32),
    pa.field("q_alpha_words", _F32),
    pa.field("q_stop_words", _I32),  # distinct stop words present
    pa.field("q_dup_line_frac", _F32),
    pa.field("q_dup_para_frac", _F32),
    pa.field("q_dup_line_char_frac", _F32),
    pa.field("q_dup_para_char_frac", _F32),
    pa.field("q_top_2gram", _F32),
    pa.field("q_top_3gram", _F32),
    pa.field("q_top_4gram", _F32),
    *(pa.field(f"q_dup_{n}gram", _F32) for n in range(5, 11)),
    pa.field("q_c4_terminated", _F32),  # share of line characters up to the line's last sentence end
    pa.field("q_c4_sentences", _I32),
    pa.field("q_c4_lorem", _I32),
    pa.field("q_c4_javascript", _I32),
    pa.field("q_c4_curly", _I32),
    pa.field("q_c4_policy", _I32),
    pa.field("q_fw_punct_lines", _F32),
    pa.field("q_fw_short_lines", _F32),
    pa.field("q_fw_char_dup", _F32),
    pa.field("q_fw_newline_ratio", _F32),
    pa.field("q_han_frac", _F32),
    pa.field("q_stop_word_frac", _F32),
    pa.field("q_garbage_frac", _F32),
    pa.field("q_dup_short_lines", _F32),
    pa.field("q_zh_clauses", _I32),  # Chinese-aware C4 sentence count: sentence and clause ends
    pa.field("q_zh_terminated", _F32),  # Chinese-aware c4_terminal_punct share
    pa.field("q_zh_ellipsis_lines", _F32),  # share of lines ending in a truncation mark ("..." or "…")
]
SIGNAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in QUALITY_FIELDS)
_INT_COLUMNS = frozenset(f.name for f in QUALITY_FIELDS if f.type == _I32)

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


# --------------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------------

_U64 = np.uint64
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible mod 2^64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_GOLD = _U64(0x9E3779B97F4A7C15)
_NGRAM_MUL = _U64(0xD6E8FEB86659FD93)

#: Largest batch (in characters) hashed at once; longer inputs are split into chunks of documents.
_CHUNK_CHARS = 1 << 21
_powers_cache: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(B^i, B^-i) mod 2^64 for i < n, cached up to the chunk size."""
    cached = _powers_cache.get("pw")
    if cached is None or cached.size < n:
        size = max(n, min(_CHUNK_CHARS, 1 << 16))
        pw = np.full(size, _BASE, dtype=_U64)
        pw[0] = 1
        np.cumprod(pw, out=pw)
        pinv = np.full(size, _BASE_INV, dtype=_U64)
        pinv[0] = 1
        np.cumprod(pinv, out=pinv)
        if size > _CHUNK_CHARS:
            return pw, pinv  # a single huge document: not cached
        _powers_cache["pw"], _powers_cache["pinv"] = pw, pinv
        return pw, pinv
    return cached, _powers_cache["pinv"]


def _pow_base(exps: np.ndarray) -> np.ndarray:
    """_BASE ** exps mod 2^64 per element (square and multiply, 64 vector steps): for the few
    positions a huge document needs, without a power table as long as the document."""
    e = exps.astype(_U64)
    out = np.ones(e.size, dtype=_U64)
    sq = np.full(e.size, _BASE, dtype=_U64)
    while e.any():
        odd = (e & _U64(1)).astype(bool)
        out[odd] *= sq[odd]
        sq *= sq
        e >>= _U64(1)
    return out


# --------------------------------------------------------------------------------------------------
# Per-batch numpy pass: tokens, words, n-grams, sentences, character classes
# --------------------------------------------------------------------------------------------------


def _codepoints(text: str) -> np.ndarray:
    if text.isascii():
        return np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _lower_same_length(text: str) -> str:
    """str.lower() that keeps every character in place (U+0130 'İ' lowers to two characters)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return _lower_chars(text)  # rare path


def _per_doc(mask: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Count of True in mask[starts[d]:ends[d]] per document (one cumulative sum)."""
    c = np.zeros(mask.size + 1, dtype=np.int32)  # chunks stay far below 2^31 characters
    np.cumsum(mask, out=c[1:])
    return (c[ends] - c[starts]).astype(np.int64)


@functools.cache
def _stop_table() -> tuple[np.ndarray, np.ndarray]:
    """Sorted hashes of the stop words, and whether each is Chinese."""
    words = list(STOP_WORDS_EN) + list(STOP_WORDS_ZH)
    hashes = _word_hashes_of(words)
    order = np.argsort(hashes)
    if np.unique(hashes).size != hashes.size:  # pragma: no cover - guards list edits
        raise ValueError("duplicate stop words")
    return hashes[order], order


def _word_hashes_of(words: list[str]) -> np.ndarray:
    """Hashes of single words, computed by the same code path as documents' words."""
    low = "\n".join(_lower_same_length(w) for w in words)
    cps = _codepoints(low)
    f = _flags()[cps]
    res = _tokens(cps, f, np.zeros(cps.size + 1, dtype=np.int32))
    return res["wh"]


def _tokens(cps: np.ndarray, f: np.ndarray, owner: np.ndarray) -> dict[str, np.ndarray]:
    """Token boundaries, per-token counts and the hashes of words (tokens with a letter/digit/mark)."""
    n = cps.size
    space = (f & _SPACE) != 0
    cjk = (f & _CJK) != 0
    tok = ~space
    prev_tok = np.zeros(n, dtype=bool)
    prev_tok[1:] = tok[:-1]
    next_tok = np.zeros(n, dtype=bool)
    next_tok[:-1] = tok[1:]
    prev_cjk = np.zeros(n, dtype=bool)
    prev_cjk[1:] = cjk[:-1]
    next_cjk = np.zeros(n, dtype=bool)
    next_cjk[:-1] = cjk[1:]
    s = np.flatnonzero(tok & (~prev_tok | cjk | prev_cjk))
    e = np.flatnonzero(tok & (~next_tok | next_cjk | cjk))
    del tok, prev_tok, next_tok, prev_cjk, next_cjk

    wordch = (f & _WORDCH) != 0
    cw = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(wordch, out=cw[1:])
    wlen = cw[e + 1] - cw[s]
    alpha = (f & _ALPHA) != 0
    ca = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(alpha, out=ca[1:])
    has_alpha = (ca[e + 1] - ca[s]) > 0
    is_word = wlen > 0
    # a punctuation-only token counts as a Gopher token when whitespace delimits it on both sides
    before_space = np.ones(s.size, dtype=bool)
    inner = s > 0
    before_space[inner] = space[s[inner] - 1]
    after_space = np.ones(e.size, dtype=bool)
    inner = e < n - 1
    after_space[inner] = space[e[inner] + 1]
    gtok = is_word | (before_space & after_space)

    tdoc = owner[s]

    # word hashes: polynomial hash of the lower-cased letters/digits/marks of each word
    k = int(cw[-1])
    ws = s[is_word]
    we = e[is_word]
    cs = cw[ws]
    ce = cw[we + 1]
    wl = ce - cs
    if k:
        pw, pinv = _powers(k)
        # prefix sums written in place into p0 (no full-length temporaries: a one-document chunk of
        # tens of MB would otherwise hold two more 8-byte copies of every character)
        p0 = np.zeros(k + 1, dtype=_U64)
        np.multiply(cps[wordch], pinv[:k], out=p0[1:])
        del pinv
        np.cumsum(p0[1:], out=p0[1:])
        span = (p0[ce] - p0[cs]) * pw[cs]
    else:
        span = np.zeros(0, dtype=_U64)
    wh = splitmix64_np(span ^ (wl.astype(_U64) * _GOLD))
    return {
        "cw": cw,
        "p0": p0 if k else np.zeros(1, dtype=_U64),
        # B^i table: the cached one for normal chunks; a huge document's own table is not kept
        # (_short_lines raises B to its few line starts instead)
        "pw": pw if k and pw is _powers_cache.get("pw") else None,
        "s": s,
        "tdoc": tdoc,
        "is_word": is_word,
        "gtok": gtok,
        "has_alpha": has_alpha,
        "cjk_tok": cjk[s],
        "wlen": wlen,
        "wh": wh,
        "wl": wl,
        "wdoc": tdoc[is_word],
    }


def _ngram_signals(wh: np.ndarray, wl: np.ndarray, wdoc: np.ndarray, n_docs: int) -> dict[str, np.ndarray]:
    """Gopher top-n (n = 2..4) and duplicate-n (n = 5..10) character fractions of every document.

    top_n: characters of the most frequent n-gram (ties: the longest) times its count, over the
    document's word characters; only n-grams that occur at least twice count (a single occurrence
    is not repetition). dup_n: characters of words covered by a duplicate n-gram, i.e. a later
    occurrence of an n-gram seen before in the document (overlaps counted once), over the word
    characters. That is datatrove's reading of Gopher's "fraction of characters contained within all
    duplicate n-grams" (its find_all_duplicate skips first occurrences), the one FineWeb ran with
    Gopher's thresholds; RedPajama-V2 also counts the first occurrence, which doubles the signal of
    a text that says everything twice."""
    w = wh.size
    out = {f"q_top_{m}gram": np.zeros(n_docs) for m in (2, 3, 4)}
    out.update({f"q_dup_{m}gram": np.zeros(n_docs) for m in range(5, 11)})
    total = np.bincount(wdoc, weights=wl, minlength=n_docs)
    if w < 2:
        return out
    # word-length arrays are what a long document holds here: hashes are mixed in place, and the
    # temporaries of each n are freed as soon as they are used (same values as plain expressions)
    g1 = wdoc.astype(_U64)
    g1 *= _GOLD
    g1 += _U64(1)
    splitmix64_np_inplace(g1)
    g1 += wh  # doc-salted: n-grams never match across docs
    del wh  # the caller hands it over: freed here when no one else holds it
    splitmix64_np_inplace(g1)
    g = g1
    dup_prev: np.ndarray | None = None
    with np.errstate(invalid="ignore", divide="ignore"):
        for m in range(2, 11):
            npos = w - m + 1
            if npos <= 0:
                break
            if m == 2:
                g = g1[:npos] * _NGRAM_MUL
            else:
                g = g[:npos]
                g *= _NGRAM_MUL
            g += g1[m - 1 :]
            splitmix64_np_inplace(g)
            valid = wdoc[:npos] == wdoc[m - 1 :]
            if dup_prev is not None:
                valid &= dup_prev[:npos] & dup_prev[1 : npos + 1]
            dup = np.zeros(npos, dtype=bool)
            best = np.zeros(n_docs, dtype=np.int64) if m <= 4 else None
            delta = np.zeros(w + 1, dtype=np.int8) if m >= 5 else None
            found = False  # a repeated n-gram (m <= 4) or a later occurrence (m >= 5) was seen
            for cand in _candidate_parts(valid, g):
                found |= _group_part(g, cand, m, dup, best, delta, wl, wdoc)
            del valid
            if found and best is not None:
                out[f"q_top_{m}gram"] = (best >> 32) * (best & 0xFFFFFFFF) / np.maximum(total, 1)
            if found and delta is not None:
                out[f"q_dup_{m}gram"] = _covered_chars(delta, wl, wdoc, n_docs) / np.maximum(total, 1)
            del delta
            if not dup.any():
                break  # no n-gram repeats, so no longer one does either
            dup_prev = dup
    return out


#: Sorted n-gram keys compared this many at a time (a gather per block, not a sorted copy).
_GROUP_BLOCK = 1 << 20
#: n-gram candidates grouped at once: more are split by the top bits of their hash (equal hashes
#: always fall in the same part), so the sort's temporaries (3 x 8 bytes each) stay bounded.
_PART_CANDIDATES = 1 << 20


def _covered_chars(delta: np.ndarray, wl: np.ndarray, wdoc: np.ndarray, n_docs: int) -> np.ndarray:
    """Word characters per document where the running sum of `delta` (n-grams covering a word) is
    positive, a block at a time (sums of integers in float64: exact, in any order)."""
    chars = np.zeros(n_docs)
    carry = np.int8(0)
    for i in range(0, wl.size, _GROUP_BLOCK):
        run = np.cumsum(delta[i : min(i + _GROUP_BLOCK, wl.size)], dtype=np.int8)
        run += carry  # true values stay within 0..m: no int8 overflow
        carry = run[-1]
        covered = run > 0
        chars += np.bincount(wdoc[i : i + run.size][covered], weights=wl[i : i + run.size][covered], minlength=n_docs)
    return chars


def _candidate_parts(valid: np.ndarray, g: np.ndarray) -> Iterator[np.ndarray]:
    """The positions where `valid`, in parts that share no hash value (one part when few)."""
    n = int(np.count_nonzero(valid))
    if n < 2:
        return
    bits = min(max((n - 1) // _PART_CANDIDATES, 0).bit_length(), 6)
    if bits == 0:
        yield np.flatnonzero(valid)
        return
    top = np.empty(g.size, dtype=np.uint8)
    shift = _U64(64 - bits)
    for i in range(0, g.size, _GROUP_BLOCK):
        top[i : i + _GROUP_BLOCK] = g[i : i + _GROUP_BLOCK] >> shift
    for part in range(1 << bits):
        yield np.flatnonzero(valid & (top == part))


def _group_part(
    g: np.ndarray, cand: np.ndarray, m: int, dup: np.ndarray, best: np.ndarray | None,
    delta: np.ndarray | None, wl: np.ndarray, wdoc: np.ndarray,
) -> bool:  # fmt: skip
    """Groups the n-grams at `cand` by hash; marks repeated positions in `dup`, and adds to `best`
    (m <= 4: per document, max of count << 32 | characters over repeated n-grams) or to `delta`
    (m >= 5: +1/-1 at the start/end of every later occurrence). True when it found any."""
    if cand.size < 2:
        return False
    pos_sorted, gstart, counts = _groups(g, cand)
    del cand
    repeated = np.repeat(counts >= 2, counts)
    dup[pos_sorted[repeated]] = True
    if best is not None:
        rep_groups = counts >= 2
        if not rep_groups.any():
            return False
        first = pos_sorted[gstart[rep_groups]]
        glen = functools.reduce(np.add, (wl[first + i].astype(np.int64) for i in range(m)))
        key = (counts[rep_groups].astype(np.int64) << 32) | glen
        np.maximum.at(best, wdoc[first], key)
        return True
    # later occurrences only: the first one is not a duplicate of anything
    earliest = np.repeat(np.minimum.reduceat(pos_sorted, gstart), counts)
    repeated &= pos_sorted != earliest
    del earliest
    later = pos_sorted[repeated]
    # distinct positions, so at most m n-grams overlap anywhere: int8 counts suffice
    delta[later] += 1  # type: ignore[index]
    delta[later + m] -= 1  # type: ignore[index]
    return bool(later.size)


def _groups(g: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate positions ordered by n-gram hash, the start of each group of equal hashes in that
    order, and the group sizes."""
    keys = g[cand]
    order = np.argsort(keys)
    new_group = np.empty(keys.size, dtype=bool)
    new_group[0] = True
    for i in range(0, keys.size - 1, _GROUP_BLOCK):  # sorted keys a block at a time (no full copy)
        sk = keys[order[i : i + _GROUP_BLOCK + 1]]
        np.not_equal(sk[1:], sk[:-1], out=new_group[i + 1 : i + sk.size])
    del keys
    gstart = np.flatnonzero(new_group)
    del new_group
    counts = np.diff(np.append(gstart, cand.size))
    return cand[order], gstart, counts


#: A document longer than this many characters has its character arrays (code points, classes,
#: shifted masks, prefix sums: ~40 bytes per character) built one line-aligned window at a time, so
#: that only word- and line-level arrays span the document (issue 19 item 10). A chunk of several
#: documents is always one window (it is at most _CHUNK_CHARS long).
_WINDOW_CHARS = 1 << 18


def _windows(low: str, size: int) -> list[tuple[int, int]]:
    """[a, b) cuts of one document, each ending just after a "\\n" (or at the text's end), at most
    `size` characters long unless one line is longer. Line-aligned because tokens, sentence and
    clause ends and lines never span a "\\n", and every look-ahead/behind of the character masks
    meets a "\\n" there, which a window's space padding reproduces: so per-window sums are exact."""
    n = len(low)
    cuts: list[tuple[int, int]] = []
    a = 0
    while n - a > size:
        p = low.rfind("\n", a, a + size)
        if p < 0:
            p = low.find("\n", a + size)
            if p < 0:
                break
        cuts.append((a, p + 1))
        a = p + 1
    if a < n or not cuts:
        cuts.append((a, n))
    return cuts


def _batch_arrays(texts: Sequence[str], low: str) -> dict[str, np.ndarray]:
    """The numpy part of the signals for one chunk of documents joined by "\\n" (lower-cased)."""
    n_docs = len(texts)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n_docs)
    starts = np.zeros(n_docs, dtype=np.int64)
    if n_docs > 1:
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
    ends = starts + lengths
    return _finish(_window_sums(low, starts, ends), n_docs)


def _window_sums(low: str, starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Additive per-document counts of one window, plus the word and short-line arrays that the
    document-wide statistics need (their order is text order, so concatenation is exact)."""
    n_docs = starts.size
    cps = _codepoints(low)
    f = _flags()[cps]
    owner = np.zeros(cps.size + 1, dtype=np.int32)  # document of every character (separators: the next)
    owner[starts[1:]] = 1
    np.cumsum(owner, out=owner)

    t = _tokens(cps, f, owner)
    out = _word_counts(t, n_docs)
    out["wh"], out["wl"], out["wdoc"] = t["wh"], t["wl"], t["wdoc"]
    sentences, terminated, line_chars, spans = _sentences(cps, f, starts, ends, owner)
    out["sentences"], out["terminated"], out["line_chars"] = sentences, terminated, line_chars
    out["zh_clauses"], out["zh_terminated"] = _zh_clauses(cps, f, starts, spans)
    out.update(_short_lines(f, *spans, t, n_docs))
    out.update(_char_classes(f, starts, ends))
    return out


#: Window outputs that are concatenated (in text order) rather than summed.
_CONCAT = ("wh", "wl", "wdoc", "stop_pairs", "short_hash", "short_doc")


def _merge(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """One document's window outputs combined: sums of the counts, concatenation of the arrays.
    Integer-valued float sums (bincount weights) are exact below 2^53, so the order does not matter."""
    out: dict[str, np.ndarray] = {}
    for k in list(parts[0]):
        if k in _CONCAT:  # popped: each word array exists twice only while it is concatenated
            out[k] = np.concatenate([p.pop(k) for p in parts])
        else:
            out[k] = functools.reduce(np.add, (p.pop(k) for p in parts))
    return out


def _finish(s: dict[str, np.ndarray], n_docs: int) -> dict[str, np.ndarray]:
    """The signals from a chunk's (or a long document's merged) window outputs."""
    words, gtoks, spaced_n = s["words"], s["gtoks"], s["spaced_n"]
    stop_sorted, _ = _stop_table()
    stop_distinct = np.bincount(np.unique(s["stop_pairs"]) // stop_sorted.size, minlength=n_docs)
    line_chars, n_lines = s["line_chars"], s["n_lines"]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "words": words,
            "mean_word_len": np.where(spaced_n > 0, s["spaced_len"] / np.maximum(spaced_n, 1), np.nan),
            "alpha_words": np.where(gtoks > 0, s["alpha_words"] / np.maximum(gtoks, 1), 0.0),
            "stop_words": stop_distinct,
            "stop_word_frac": np.where(words > 0, s["stop_occ"] / np.maximum(words, 1), 0.0),
            "sentences": s["sentences"],
            "terminated": np.where(line_chars > 0, s["terminated"] / np.maximum(line_chars, 1), 0.0),
            "zh_clauses": s["zh_clauses"],
            "zh_terminated": np.where(line_chars > 0, s["zh_terminated"] / np.maximum(line_chars, 1), 0.0),
            "short_lines": np.where(n_lines > 0, s["short_n"] / np.maximum(n_lines, 1), 0.0),
            "dup_short_lines": np.where(n_lines > 0, _dup_short(s["short_hash"], s["short_doc"], n_docs) / np.maximum(n_lines, 1), 0.0),
            "han_frac": np.where(s["letters"] > 0, s["han"] / np.maximum(s["letters"], 1), 0.0),
            "garbage_frac": np.where(s["nonspace"] > 0, s["garbage"] / np.maximum(s["nonspace"], 1), 0.0),
        }
    out.update(_ngram_signals(s.pop("wh"), s.pop("wl"), s.pop("wdoc"), n_docs))  # handed over
    return out


def _word_counts(t: dict[str, np.ndarray], n_docs: int) -> dict[str, np.ndarray]:
    """Gopher quality counts: words, Gopher tokens, alphabetic tokens, space-delimited words and
    their letters, stop-word occurrences and the (document, stop word) pairs present."""
    tdoc = t["tdoc"]
    is_word = t["is_word"]
    spaced = is_word & ~t["cjk_tok"]
    wh, wdoc = t["wh"], t["wdoc"]
    stop_sorted, _ = _stop_table()
    pos = np.searchsorted(stop_sorted, wh)
    pos[pos == stop_sorted.size] = 0
    hit = stop_sorted[pos] == wh
    return {
        "words": np.bincount(tdoc[is_word], minlength=n_docs),
        "gtoks": np.bincount(tdoc[t["gtok"]], minlength=n_docs),
        "alpha_words": np.bincount(tdoc[t["has_alpha"]], minlength=n_docs),
        "spaced_n": np.bincount(tdoc[spaced], minlength=n_docs),
        "spaced_len": np.bincount(tdoc[spaced], weights=t["wlen"][spaced], minlength=n_docs),
        "stop_occ": np.bincount(wdoc[hit], minlength=n_docs),
        "stop_pairs": np.unique(wdoc[hit].astype(np.int64) * stop_sorted.size + pos[hit]),
    }


def _sentences(
    cps: np.ndarray, f: np.ndarray, starts: np.ndarray, ends: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """C4: sentences per document, the terminated characters of line text and the line characters
    (their ratio is the terminated share; kept apart so windows add up), and the line spans.

    A sentence ends at a sentence-final mark not followed by another, then (after up to two closing
    quotes/brackets) a space or the end; full-width 。！？ need no space after them; an ellipsis
    ("...", "。。。": a dot after the same dot) ends none, as in C4.

    C4's terminal-punctuation rule as a share: C4 keeps only lines ending in . ! ? or an end quote;
    per line, the characters up to its last sentence end (or all of it when it ends in a closing
    quote) are what survives; the rest is an unterminated tail (menu item, heading, caption, a
    paragraph glued to its next heading). Character-weighted, so a one-line document (common in
    Chinese corpora: WuDao, cmrc2018) is judged on its text, not on its last character."""
    n_docs = starts.size
    pad = np.full(cps.size + 3, _SPACE, dtype=np.uint16)
    pad[: cps.size] = f
    nxt1, nxt2, nxt3 = pad[1:-2], pad[2:-1], pad[3:]
    sterm = (f & _STERM) != 0
    sp1, sp2, sp3 = (nxt1 & _SPACE) != 0, (nxt2 & _SPACE) != 0, (nxt3 & _SPACE) != 0
    cl1, cl2 = (nxt1 & _CLOSER) != 0, (nxt2 & _CLOSER) != 0
    followed = sp1 | (cl1 & (sp2 | (cl2 & sp3)))
    sent_end = sterm & ((nxt1 & _STERM) == 0) & (followed | ((f & _CJK_STOP) != 0))
    ellipsis = np.zeros(cps.size, dtype=bool)
    np.equal(cps[1:], cps[:-1], out=ellipsis[1:])
    sent_end &= ~(ellipsis & ((f & _DOT) != 0))
    del pad, nxt1, nxt2, nxt3, sterm, sp1, sp2, sp3, cl1, cl2, followed, ellipsis  # one long document: free before the next masks
    sentences = _per_doc(sent_end, starts, ends)

    nl = cps == 10
    line_end_quote = ((f & _END_QUOTE) != 0) & np.append(nl[1:], True)
    mark = sent_end | line_end_quote
    del sent_end, line_end_quote
    # position + 1 of the last mark at or before each character (in place: one int32 array)
    reach = np.arange(1, cps.size + 1, dtype=np.int32)
    reach[~mark] = 0
    del mark
    np.maximum.accumulate(reach, out=reach)
    line_ends = np.append(np.flatnonzero(nl), cps.size)
    line_starts = np.concatenate(([0], line_ends[:-1] + 1))
    nonempty = line_ends > line_starts
    ls, le = line_starts[nonempty], line_ends[nonempty]
    done = np.maximum(reach[le - 1] - ls, 0)
    ldoc = owner[ls]
    terminated = np.bincount(ldoc, weights=done, minlength=n_docs)
    line_chars = (ends - starts) - _per_doc(nl, starts, ends)
    return sentences, terminated, line_chars, (ls, le, ldoc)


def _zh_clauses(
    cps: np.ndarray, f: np.ndarray, starts: np.ndarray, spans: tuple[np.ndarray, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Chinese-aware C4 sentence count and terminated share (issue #23), for the zh thresholds.

    Informal Chinese (reviews, forum posts, comments) strings clauses with "，" and often ends a
    paragraph with "，", "～", "!!", "……" or nothing, so C4's sentence count sees one sentence in a
    200-character review. Here a *clause end* is, at the last mark of a run:
    - a sentence-final mark (。！？ . ! ? ．, so ASCII "!!" and "." typed in Chinese text too)
      followed, after up to two closing quotes/brackets, by a space, a line end, a Han/kana
      character or the end of the text (full-width 。！？ end one anywhere, as in C4's count);
    - an ellipsis ("……", "…", "。。。", "......") or a tilde ("～", "~") followed likewise;
    - a clause separator ("，" "；", and "," ";" followed likewise);
    - a space between two Han/kana characters (informal writing separates clauses with spaces).
    "3.5", "1,000", "www.jd.com" and English prose between Han runs contribute nothing new.

    The terminated share is C4's (characters of each line up to its last end, over the line
    characters), with these clause ends as ends, plus a closing quote at the line end: a line that
    ends mid-clause ("...官方网站", a menu item) still loses its tail. Returned: the clause count
    and the terminated characters (the share is taken in `_finish`)."""
    ls, le, _ = spans
    n = cps.size
    n_docs = starts.size
    # only candidate positions (punctuation marks, a few % of the text) are looked at
    idx = np.flatnonzero((f & (_STERM | _HELLIP | _TILDE | _CLAUSE | _END_QUOTE)) != 0)
    padf = np.full(n + 4, _SPACE, dtype=np.uint16)  # past the end: like a space (the text ends)
    padf[1 : n + 1] = f  # padf[i + 1] is f[i]; padf[0] (before the start) is a space too
    padc = np.full(n + 4, -1, dtype=np.int64)  # code points, -1 outside (never equal to a character)
    padc[1 : n + 1] = cps
    j = idx + 1
    f0, f1, f2, f3 = padf[j], padf[j + 1], padf[j + 2], padf[j + 3]
    c_prev, c0, c1, c2 = padc[j - 1], padc[j], padc[j + 1], padc[j + 2]
    ok1, ok2, ok3 = ((x & (_SPACE | _CJK)) != 0 for x in (f1, f2, f3))
    followed = ok1 | (((f1 & _CLOSER) != 0) & (ok2 | (((f2 & _CLOSER) != 0) & ok3)))
    ell = ((f0 & _HELLIP) != 0) | (((f0 & _DOT) != 0) & ((c0 == c_prev) | (c0 == c1)))  # "…", runs of a dot
    ell_next = ((f1 & _HELLIP) != 0) | (((f1 & _DOT) != 0) & ((c1 == c0) | (c1 == c2)))
    run_end = (
        (((f0 & _STERM) != 0) & ~ell & ((f1 & _STERM) == 0))
        | (ell & ~ell_next)
        | (((f0 & _TILDE) != 0) & ((f1 & _TILDE) == 0))
        | (((f0 & _CLAUSE) != 0) & ((f1 & _CLAUSE) == 0))
    )
    full_width = ((f0 & _WIDE) != 0) & ~ell  # ，；～！？。: no space is needed after them
    mark_end = run_end & (followed | full_width)
    spaces = np.flatnonzero(cps == 32)
    gaps = spaces[((padf[spaces] & _CJK) != 0) & ((padf[spaces + 2] & _CJK) != 0)]  # CJK on both sides
    counted = np.concatenate((idx[mark_end], gaps))
    clauses = np.bincount(np.searchsorted(starts, counted, side="right") - 1, minlength=n_docs)

    line_end_quote = ((f0 & _END_QUOTE) != 0) & ((c1 == 10) | (j == n))
    marks = np.sort(np.concatenate((idx[mark_end | line_end_quote], gaps)))
    k = np.searchsorted(marks, le, side="left") - 1  # the line's last mark before its end
    last = marks[np.maximum(k, 0)] if marks.size else np.zeros(le.size, dtype=np.int64)
    done = np.where((k >= 0) & (last >= ls), last + 1 - ls, 0)
    terminated = np.bincount(np.searchsorted(starts, ls, side="right") - 1, weights=done, minlength=n_docs)
    return clauses, terminated


def _char_classes(f: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Chinese-aware counts: letters and Han characters (the Han share), non-space characters and
    garbage (the garbage share)."""
    return {
        "letters": _per_doc((f & _ALPHA) != 0, starts, ends),
        "han": _per_doc((f & _HAN) != 0, starts, ends),
        "nonspace": _per_doc((f & _SPACE) == 0, starts, ends),
        "garbage": _per_doc((f & _GARBAGE) != 0, starts, ends),
    }


def _short_lines(
    f: np.ndarray, ls: np.ndarray, le: np.ndarray, ldoc: np.ndarray, t: dict[str, np.ndarray], n_docs: int
) -> dict[str, np.ndarray]:
    """FineWeb short lines and the Chinese repeated-short-lines share, per document: lines of at
    most 30 display columns (a Wide/Fullwidth character counts 2), and of those the ones whose text
    occurs on another short line too (menus repeated at the top and bottom, "返回顶部", "上一篇";
    compared on lower-cased letters/digits, so "- Home" and "Home" are the same line; a line
    without letters or digits is never "repeated"). `ls`/`le`: spans of the "\\n"-separated
    lines (some may be blank). Returned: line and short-line counts, and the hashes of the worded
    short lines (compared document-wide in `_dup_short`)."""
    n = f.size
    nonspace = np.zeros(n + 1, dtype=np.int32)
    np.cumsum((f & _SPACE) == 0, out=nonspace[1:])
    widths = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(1 + ((f & _WIDE) != 0), out=widths[1:])
    has_text = (nonspace[le] - nonspace[ls]) > 0
    # width of the stripped line: from its first to its last non-space character (code blocks keep
    # their indentation in the stored text)
    first = np.searchsorted(nonspace, nonspace[ls] + 1) - 1
    last = np.searchsorted(nonspace, nonspace[le]) - 1
    width = np.where(has_text, widths[np.minimum(last + 1, n)] - widths[np.minimum(first, n)], 0)
    short = has_text & (width <= _SHORT_LINE_COLUMNS)
    n_lines = np.bincount(ldoc[has_text], minlength=n_docs)
    short_n = np.bincount(ldoc[short], minlength=n_docs)
    cw, p0, pw = t["cw"], t["p0"], t["pw"]
    cs, ce = cw[ls[short]], cw[le[short]]
    worded = ce > cs
    cs, ce, sdoc = cs[worded], ce[worded], ldoc[short][worded]
    h = splitmix64_np(((p0[ce] - p0[cs]) * (pw[cs] if pw is not None else _pow_base(cs))) ^ ((ce - cs).astype(_U64) * _GOLD))
    return {"n_lines": n_lines, "short_n": short_n, "short_hash": h, "short_doc": sdoc}


def _dup_short(h: np.ndarray, sdoc: np.ndarray, n_docs: int) -> np.ndarray:
    """Per document, the worded short lines whose text occurs on another short line of it (hashes
    salted with the document, so equal lines of two documents never match)."""
    if h.size < 2:
        return np.zeros(n_docs, dtype=np.int64)
    h = splitmix64_np(h + splitmix64_np(sdoc.astype(_U64) * _GOLD + _U64(1)))
    _, inverse, counts = np.unique(h, return_inverse=True, return_counts=True)
    rep = counts[inverse] >= 2
    return np.bincount(sdoc[rep], minlength=n_docs)


# --------------------------------------------------------------------------------------------------
# Per-document string pass: lines, paragraphs, substrings
# --------------------------------------------------------------------------------------------------

_startswith_bullet = methodcaller("startswith", _BULLETS)
_endswith_ellipsis = methodcaller("endswith", _ELLIPSIS_END)
#: Truncation marks ("Read more...", "标题…") versus the ellipses people type in Chinese ("……",
#: "。。。", "......"): lines ending in a longer run are not counted by q_zh_ellipsis_lines.
_endswith_truncation = methodcaller("endswith", ("...", "…"))
_endswith_long_ellipsis = methodcaller("endswith", ("....", "……"))
_endswith_fw = methodcaller("endswith", _FW_TERMINAL)
_strip_closers = methodcaller("rstrip", _CLOSERS)
_contains_js = methodcaller("__contains__", "javascript")


def _line_stats(text: str, low: str) -> tuple[float, ...]:
    """Line, paragraph and substring signals of one document; only C-level string calls."""
    lines = [*filter(None, map(str.strip, text.split("\n")))]
    n_lines = len(lines)
    text_len = len(text)
    newlines = text.count("\n")
    if n_lines:
        uniq = set(lines)
        dup_lines = n_lines - len(uniq)
        dup_line_chars = sum(map(len, lines)) - sum(map(len, uniq)) if dup_lines else 0
        bullets = sum(map(_startswith_bullet, lines))
        ellipsis = sum(map(_endswith_ellipsis, lines))
        truncated = sum(map(_endswith_truncation, lines)) - sum(map(_endswith_long_ellipsis, lines)) if ellipsis else 0
        core = list(map(_strip_closers, lines))
        fw_punct = sum(map(_endswith_fw, core))
    else:
        dup_lines = dup_line_chars = bullets = ellipsis = fw_punct = truncated = 0

    if "\n\n" in text:
        paras = _PARA_SPLIT_RE.split(text.strip())
        n_paras = len(paras)
        uniq_p = set(paras)
        dup_paras = n_paras - len(uniq_p)
        dup_para_chars = sum(map(len, paras)) - sum(map(len, uniq_p)) if dup_paras else 0
    else:
        n_paras, dup_paras, dup_para_chars = 1, 0, 0

    hashes = text.count("#")
    ellipses = text.count("...")
    if not text.isascii():
        ellipses += text.count("…") - text.count("……") + text.count("。。。")
    # "-{...}-" is zh-Wikipedia's language-conversion markup (-{zh-hans:...;zh-hk:...}-), left in
    # dumps and corpora built from them (4% of the cmrc2018 paragraphs); it is not code
    curly = text.count("{")
    if curly:
        curly -= text.count("-{")
    if not text.isascii():
        curly += text.count("｛")
    lorem = low.count("lorem ipsum")
    javascript = sum(map(_contains_js, low.split("\n"))) if "javascript" in low else 0
    policy = 0
    for p in _POLICY_GATES:
        if p in low:
            policy = _policy_lines(low)
            break

    return _line_result(
        text_len, n_lines, hashes, ellipses, bullets, ellipsis, dup_lines, n_paras, dup_paras, dup_line_chars,
        dup_para_chars, lorem, javascript, curly, policy, fw_punct, newlines, truncated,
    )  # fmt: skip


def _line_result(
    text_len: int, n_lines: int, hashes: int, ellipses: int, bullets: int, ellipsis: int, dup_lines: int,
    n_paras: int, dup_paras: int, dup_line_chars: int, dup_para_chars: int, lorem: int, javascript: int,
    curly: int, policy: int, fw_punct: int, newlines: int, truncated: int,
) -> tuple[float, ...]:  # fmt: skip
    """The 17 line/paragraph/substring values of a document from its counts (one formula for the
    whole-document and the windowed pass)."""
    inv_lines = 1.0 / n_lines if n_lines else 0.0
    inv_len = 1.0 / text_len if text_len else 0.0
    non_nl = text_len - newlines
    return (
        n_lines,
        hashes,
        ellipses,
        bullets * inv_lines,
        ellipsis * inv_lines,
        dup_lines * inv_lines,
        dup_paras / n_paras,
        dup_line_chars * inv_len,
        dup_para_chars * inv_len,
        lorem,
        javascript,
        curly,
        policy,
        fw_punct * inv_lines,
        dup_line_chars / non_nl if non_nl > 0 else 0.0,
        newlines,
        truncated * inv_lines,
    )


class _LineCounts:
    """_line_stats' counts of one long document, added up window by window (line-aligned windows:
    no line, ellipsis, brace pair or phrase spans two); the distinct lines are kept as a set, as in
    the whole-document pass, so duplicate lines are found across windows."""

    def __init__(self) -> None:
        self.uniq: set[str] = set()
        self.c = dict.fromkeys(
            ("n_lines", "line_chars", "uniq_chars", "bullets", "ellipsis", "truncated", "fw_punct", "newlines",
             "hashes", "ellipses", "curly", "lorem", "javascript", "policy"), 0,
        )  # fmt: skip

    def add(self, text: str, low: str) -> None:
        c = self.c
        lines = [*filter(None, map(str.strip, text.split("\n")))]
        c["n_lines"] += len(lines)
        c["line_chars"] += sum(map(len, lines))
        new = set(lines).difference(self.uniq)
        self.uniq |= new
        c["uniq_chars"] += sum(map(len, new))
        c["bullets"] += sum(map(_startswith_bullet, lines))
        c["ellipsis"] += sum(map(_endswith_ellipsis, lines))
        c["truncated"] += sum(map(_endswith_truncation, lines)) - sum(map(_endswith_long_ellipsis, lines))
        c["fw_punct"] += sum(map(_endswith_fw, map(_strip_closers, lines)))
        del lines, new
        c["newlines"] += text.count("\n")
        c["hashes"] += text.count("#")
        c["ellipses"] += text.count("...")
        c["curly"] += text.count("{") - text.count("-{")
        if not text.isascii():
            c["ellipses"] += text.count("…") - text.count("……") + text.count("。。。")
            c["curly"] += text.count("｛")
        c["lorem"] += low.count("lorem ipsum")
        if "javascript" in low:
            c["javascript"] += sum(map(_contains_js, low.split("\n")))
        if any(p in low for p in _POLICY_GATES):
            c["policy"] += _policy_lines(low)

    def result(self, text: str, size: int) -> tuple[float, ...]:
        c = self.c
        n_lines = c["n_lines"]
        dup_lines = n_lines - len(self.uniq)
        n_paras, dup_paras, dup_para_chars = _paragraph_counts(text, size)
        return _line_result(
            len(text), n_lines, c["hashes"], c["ellipses"], c["bullets"], c["ellipsis"], dup_lines, n_paras,
            dup_paras, c["line_chars"] - c["uniq_chars"], dup_para_chars, c["lorem"], c["javascript"], c["curly"],
            c["policy"], c["fw_punct"], c["newlines"], c["truncated"],
        )  # fmt: skip


_NON_SPACE_RE = re.compile(r"\S")


def _paragraph_counts(text: str, size: int) -> tuple[int, int, int]:
    """(paragraphs, duplicate paragraphs, their characters) of `_PARA_SPLIT_RE.split(text.strip())`,
    without copying the text: pieces of the stripped span cut after a whole run of 2+ newlines, so
    each piece splits into whole paragraphs plus a trailing empty string."""
    if "\n\n" not in text:
        return 1, 0, 0
    m = _NON_SPACE_RE.search(text)
    if m is None:
        return 1, 0, 0  # "".split -> [""]
    lo, hi = m.start(), len(text)
    while text[hi - 1].isspace():  # trailing whitespace: short in practice
        hi -= 1
    uniq: set[str] = set()
    n_paras = chars = uniq_chars = 0
    a = lo
    while a < hi:
        p = text.find("\n\n", a + size, hi) if hi - a > size else -1
        b = hi
        if p >= 0:
            b = p + 2
            while text[b] == "\n":  # text[hi - 1] is not a space: the run ends before hi
                b += 1
        paras = _PARA_SPLIT_RE.split(text[a:b])
        if b < hi:
            paras.pop()  # the empty string after the piece's final separator
        n_paras += len(paras)
        chars += sum(map(len, paras))
        new = set(paras).difference(uniq)
        uniq |= new
        uniq_chars += sum(map(len, new))
        a = b
    return n_paras, n_paras - len(uniq), chars - uniq_chars


def _lower_chars(text: str) -> str:
    """_lower_same_length's rare path: every character lowered on its own."""
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _long_document(text: str, size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """(numpy signals, line values) of one document longer than `size`, in line-aligned windows
    (`_windows`): neither its lower-cased copy nor its character arrays exist whole. str.lower() of
    a window is the window of the whole lower-cased text (its only context rule, final sigma, stops
    at a "\\n"); a text holding U+0130 (the one character whose lower() is longer) is lowered
    character by character throughout, as `_lower_same_length` does for the whole text."""
    per_char = "\u0130" in text
    parts: list[dict[str, np.ndarray]] = []
    lines = _LineCounts()
    for a, b in _windows(text, size):
        w = text[a:b]
        low = _lower_chars(w) if per_char else w.lower()
        part = _window_sums(low, np.zeros(1, dtype=np.int64), np.array([b - a], dtype=np.int64))
        del part["wdoc"]  # all zeros: one broadcast zero below instead of 4 bytes per word
        parts.append(part)
        lines.add(w, low)
        del w, low, part
    merged = _merge(parts)
    merged["wdoc"] = np.broadcast_to(np.int32(0), merged["wh"].shape)
    arr = _finish(merged, 1)
    return arr, np.array([lines.result(text, size)], dtype=np.float64)


def _policy_lines(low: str) -> int:
    """Lines holding a C4 policy phrase (only called when the text holds one somewhere)."""
    n = 0
    for line in low.split("\n"):
        if any(p in line for p in C4_POLICY_SUBSTRINGS):
            n += 1
    return n


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def quality_signals(texts: Sequence[str], langs: Sequence[str | None] | None = None) -> dict[str, Any]:
    """The q_* columns for a batch of (stored, normalized) texts: int32/float32 numpy arrays, one
    value per text, keyed and typed as QUALITY_FIELDS.

    `langs` (the documents' language tags) is accepted for the tagger's uniform call shape and must
    match `texts` in length, but signals are defined per script, not per language (module
    docstring): thresholds are where languages differ."""
    n = len(texts)
    if langs is not None and len(langs) != n:
        raise ValueError(f"quality_signals: {n} texts but {len(langs)} language tags")
    cols: dict[str, np.ndarray] = {
        f.name: np.zeros(n, dtype=np.int32 if f.name in _INT_COLUMNS else np.float32) for f in QUALITY_FIELDS
    }
    i = 0
    while i < n:
        j, size = i, 0
        while j < n and (j == i or size + len(texts[j]) < _CHUNK_CHARS):
            size += len(texts[j]) + 1
            j += 1
        _fill(texts[i:j], cols, i)
        i = j
    return cols


def _fill(chunk: Sequence[str], cols: dict[str, np.ndarray], offset: int) -> None:
    n = len(chunk)
    if n == 1 and len(chunk[0]) > _WINDOW_CHARS:
        arr, stats = _long_document(chunk[0], _WINDOW_CHARS)
    else:
        joined = "\n".join(chunk)
        low = joined.lower()
        if len(low) != len(joined):
            low = "\n".join(map(_lower_same_length, chunk))
        arr = _batch_arrays(chunk, low)
        lows = low.split("\n") if joined.count("\n") == n - 1 else _split_lows(chunk, low)
        rows = list(map(_line_stats, chunk, lows))
        stats = np.array(rows, dtype=np.float64).reshape(n, 17)
    (
        n_lines,
        hashes,
        ellipses,
        bullet_lines,
        ellipsis_lines,
        dup_line_frac,
        dup_para_frac,
        dup_line_char_frac,
        dup_para_char_frac,
        lorem,
        javascript,
        curly,
        policy,
        fw_punct,
        fw_char_dup,
        newlines,
        zh_ellipsis_lines,
    ) = stats.T
    words = arr["words"]
    per_word = 1.0 / np.maximum(words, 1)
    sl = slice(offset, offset + n)
    cols["q_words"][sl] = words
    cols["q_lines"][sl] = n_lines
    cols["q_mean_word_len"][sl] = arr["mean_word_len"]
    cols["q_symbol_ratio"][sl] = np.maximum(hashes, ellipses) * per_word
    cols["q_bullet_lines"][sl] = bullet_lines
    cols["q_ellipsis_lines"][sl] = ellipsis_lines
    cols["q_alpha_words"][sl] = arr["alpha_words"]
    cols["q_stop_words"][sl] = arr["stop_words"]
    cols["q_dup_line_frac"][sl] = dup_line_frac
    cols["q_dup_para_frac"][sl] = dup_para_frac
    cols["q_dup_line_char_frac"][sl] = dup_line_char_frac
    cols["q_dup_para_char_frac"][sl] = dup_para_char_frac
    for m in (2, 3, 4):
        cols[f"q_top_{m}gram"][sl] = arr[f"q_top_{m}gram"]
    for m in range(5, 11):
        cols[f"q_dup_{m}gram"][sl] = arr[f"q_dup_{m}gram"]
    cols["q_c4_terminated"][sl] = arr["terminated"]
    cols["q_c4_sentences"][sl] = arr["sentences"]
    cols["q_c4_lorem"][sl] = lorem
    cols["q_c4_javascript"][sl] = javascript
    cols["q_c4_curly"][sl] = curly
    cols["q_c4_policy"][sl] = policy
    cols["q_fw_punct_lines"][sl] = fw_punct
    cols["q_fw_short_lines"][sl] = arr["short_lines"]
    cols["q_fw_char_dup"][sl] = fw_char_dup
    cols["q_fw_newline_ratio"][sl] = newlines * per_word
    cols["q_han_frac"][sl] = arr["han_frac"]
    cols["q_stop_word_frac"][sl] = arr["stop_word_frac"]
    cols["q_garbage_frac"][sl] = arr["garbage_frac"]
    cols["q_dup_short_lines"][sl] = arr["dup_short_lines"]
    cols["q_zh_clauses"][sl] = arr["zh_clauses"]
    cols["q_zh_terminated"][sl] = arr["zh_terminated"]
    cols["q_zh_ellipsis_lines"][sl] = zh_ellipsis_lines


def _split_lows(chunk: Sequence[str], low: str) -> list[str]:
    """The lower-cased texts of a chunk, cut out of the joined lower-cased string."""
    out = []
    pos = 0
    for t in chunk:
        out.append(low[pos : pos + len(t)])
        pos += len(t) + 1
    return out


def signals(text: str, lang: str | None = None) -> dict[str, float | int]:
    """Signals of one document as plain Python values (tests, notebooks); batch with quality_signals."""
    cols = quality_signals([text], [lang])
    return {k: (int(v[0]) if k in _INT_COLUMNS else float(v[0])) for k, v in cols.items()}

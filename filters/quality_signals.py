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

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

import filters.quality_ngrams as ngrams
from filters.quality_batch import (
    _batch_arrays,
    _finish,
    _lower_chars,
    _lower_same_length,
    _merge,
    _window_sums,
    _windows,
)
from filters.quality_chars import C4_POLICY_SUBSTRINGS, STOP_WORDS_EN, STOP_WORDS_ZH
from filters.quality_lines import _line_stats, _LineCounts

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

#: A document longer than this many characters has its character arrays (code points, classes,
#: shifted masks, prefix sums: ~40 bytes per character) built one line-aligned window at a time, so
#: that only word- and line-level arrays span the document (issue 19 item 10). A chunk of several
#: documents is always one window (it is at most quality_ngrams._CHUNK_CHARS long).
_WINDOW_CHARS = 1 << 18


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
        while j < n and (j == i or size + len(texts[j]) < ngrams._CHUNK_CHARS):
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

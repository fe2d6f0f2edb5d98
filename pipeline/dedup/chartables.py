"""Character tables of the shingler (`pipeline/dedup/shingles.py` has the overview): the class of
every code point (word letter, character-gram script, separator, symbol, ignorable) and the
table-driven fold (NFKC + casefold) of code point arrays.

Why apart: these tables are what signatures depend on besides the hash (built from this Python's
`unicodedata`, like the exact key), shared by the reference tokeniser and the vectorised hashing,
and a Unicode upgrade touches only them."""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np

#: Shingle kinds (also the token kinds).
WORD = 1
CHAR = 2

# Character classes of the lookup table.
_SEP = 0  # P*, S*, Z*, C* except Cf: token separator
_WORD = 1  # letters, marks, numbers of space-delimited scripts
_CJK = 2  # letters/marks/numbers of the character-gram scripts: one token each
_DOC = 3  # "\x00": document separator inside a batch (never in a text: see shingles._join)
_IGNORE = 4  # Cf: deleted before tokenising (soft hyphen, ZWSP, ZWJ, BOM, bidi controls)
_SYMBOL = 5  # S* (and P*): separators, but tokens for symbol-only documents

#: Character-gram scripts (code point ranges; only their L*/M*/N* characters become _CJK).
_CJK_RANGES: tuple[tuple[int, int], ...] = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x19E0, 0x19FF),  # Khmer symbols
    (0x2E80, 0x2FDF),  # CJK radicals (NFKC maps Kangxi radicals to ideographs)
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3021, 0x3029),  # Hangzhou numerals
    (0x3031, 0x3035),  # Kana repeat marks
    (0x3038, 0x303C),
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x312F),  # Bopomofo
    (0x3130, 0x318F),  # Hangul compatibility Jamo
    (0x31A0, 0x31BF),  # Bopomofo extended
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended-A
    (0xAA60, 0xAA7F),  # Myanmar extended-A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended-B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF66, 0xFFDC),  # half-width Katakana / Hangul (NFKC folds them anyway)
    (0x16FE0, 0x16FFF),  # ideographic symbols
    (0x1B000, 0x1B16F),  # Kana supplement / extended
    (0x20000, 0x3FFFF),  # CJK extensions B-H, compatibility supplement
)


@dataclass(frozen=True, slots=True)
class _Tables:
    cls: np.ndarray  # uint8 class of every code point
    fold: np.ndarray  # uint32: simple fold of every code point (see _fold_cp), | _HARD_BIT if hard


#: Set in `_Tables.fold` for characters that NFKC may change (compatibility form, combining mark,
#: Hangul V/T jamo) or that str.casefold changes (non-ASCII): their document goes through str
#: NFKC + casefold. The low bits hold the character itself.
_HARD_BIT = 1 << 31


#: Separators that compose with a following combining mark under NFC/NFKC ("<" + U+0338 -> "≮"):
#: never replaced before NFKC (their full-width forms neither).
_COMPOSING = frozenset("<=>¨᾿῾←→↔⇐⇒⇔∃∈∋∣∥∼≃≅≈≍≡≤≥≲≳≶≷≺≻≼≽⊂⊃⊆⊇⊑⊒⊢⊨⊩⊫⊲⊳⊴⊵⫝")


@functools.cache
def _tables() -> _Tables:
    """Lookup tables over all 0x110000 code points (classes 1.1 MB, fold 4.4 MB), built once per
    process from this Python's `unicodedata` (~0.3 s): the same Unicode version as the NFKC they are
    combined with (signatures depend on it like the exact key does: tag's resume key holds it)."""
    cats = "".join(map(unicodedata.category, map(chr, range(0x110000)))).encode("ascii")
    c = np.frombuffer(cats, dtype=np.uint8).reshape(-1, 2)
    major, minor = c[:, 0], c[:, 1]
    table = np.full(0x110000, _SEP, dtype=np.uint8)
    lmn = (major == ord("L")) | (major == ord("M")) | (major == ord("N"))
    table[lmn] = _WORD
    table[(major == ord("S")) | (major == ord("P"))] = _SYMBOL
    table[(major == ord("C")) & (minor == ord("f"))] = _IGNORE
    cjk = np.zeros(0x110000, dtype=bool)
    for a, b in _CJK_RANGES:
        cjk[a : b + 1] = True
    table[cjk & lmn] = _CJK
    table[0] = _DOC
    fold = np.arange(0x110000, dtype=np.uint32)
    fold[ord("A") : ord("Z") + 1] += 32
    # separators (P*, S*, Z*, Cc) whose NFKC form holds separators only -> space
    sep = (table == _SEP) | (table == _SYMBOL)
    sep[:0x80] = False  # ASCII: NFKC-stable anyway
    unassigned = (major == ord("C")) & ((minor == ord("n")) | (minor == ord("s")) | (minor == ord("o")))
    for cp in np.flatnonzero(sep & ~unassigned):
        ch = chr(cp)
        nf = unicodedata.normalize("NFKC", ch)
        if nf != ch and ch not in _COMPOSING:
            if all(table[ord(x)] in (_SEP, _SYMBOL) and x not in _COMPOSING and x != "\x00" for x in nf):
                fold[cp] = 32
    # NFKC candidates: characters NFKC changes alone (compatibility forms: ﬁ, ², full-width
    # letters, ...), and those that can change with their neighbour: combining marks / non-zero
    # combining class, Hangul vowel/final jamo (compose with L/LV). Precomposed letters (é) are
    # NFKC-stable alone, and a mark after them is flagged itself.
    hard = np.zeros(0x110000, dtype=bool)
    hard[major == ord("M")] = True
    hard[0x1160:0x1200] = True
    hard[0xD7B0:0xD800] = True
    skip = unassigned.copy()
    skip[0xAC00:0xD7A4] = True  # Hangul syllables: NFKC-stable
    skip[0x4E00:0xA000] = True  # CJK unified ideographs: no decomposition
    skip[0x3400:0x4DC0] = True
    skip[0x20000:0x2F800] = True
    skip[0x30000:0x323B0] = True
    skip[:0x80] = True
    for cp in np.flatnonzero(~skip & ~hard):
        ch = chr(cp)
        if unicodedata.combining(ch) or (unicodedata.decomposition(ch) and unicodedata.normalize("NFKC", ch) != ch):
            hard[cp] = True
    # casefold changes only cased letters and a few marks/symbols/numbers (U+0345, circled letters,
    # Roman numerals); Lo (uncased letters: Han, Kana, ...) and unassigned code points never change.
    maybe = (major != ord("C")) & ~((major == ord("L")) & (minor == ord("o")))
    maybe[:0x80] = False
    for cp in np.flatnonzero(maybe & ~hard):
        ch = chr(cp)
        if ch.casefold() != ch:
            hard[cp] = True
    hard &= fold != 32
    fold[hard] |= np.uint32(_HARD_BIT)
    table.setflags(write=False)
    fold.setflags(write=False)
    return _Tables(table, fold)


def _class_table() -> np.ndarray:
    return _tables().cls


def _to_cp(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _to_str(cp: np.ndarray) -> str:
    return cp.astype(np.uint32, copy=False).tobytes().decode("utf-32-le", "surrogatepass")


def _fold_cp(text: str) -> np.ndarray:
    """Code points of the folded text (NFKC + casefold) of one text or a NUL-joined batch (NFKC
    never crosses the NUL starter). uint8 for ASCII input, else uint32.

    Cheap on real text because one table lookup per character (`_Tables.fold`) does the simple
    cases and says where string work is needed at all:
    1. separators whose NFKC form is separators only (full-width ，（）；：, U+3000, NBSP, "…")
       become a space: for tokenising the same as NFKC, and Chinese paragraphs, where they make
       every document fail the NFKC check, then mostly need no NFKC at all;
    2. ASCII capitals become small letters;
    3. only documents holding a character that NFKC may change (a compatibility form, a combining
       mark, a Hangul vowel/final jamo) or that casefold changes get str NFKC + casefold + NFKC
       (casefold can undo NFKC, e.g. U+0390)."""
    if text.isascii():
        return np.frombuffer(text.lower().encode("ascii"), dtype=np.uint8)
    m = _tables().fold[_to_cp(text)]
    if int(m.max()) < _HARD_BIT:
        return m
    hard = np.flatnonzero(m >= _HARD_BIT)
    m &= np.uint32(_HARD_BIT - 1)
    # fix the documents that hold a hard character, one slice each, and splice them back
    seps = np.flatnonzero(m == 0)
    starts = np.concatenate([[0], seps + 1])
    ends = np.concatenate([seps, [len(m)]])
    pieces: list[np.ndarray] = []
    pos = 0
    for d in np.unique(np.searchsorted(seps, hard)).tolist():
        a, b = int(starts[d]), int(ends[d])
        doc = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", _to_str(m[a:b])).casefold())
        pieces += [m[pos:a], _to_cp(doc)]
        pos = b
    pieces.append(m[pos:])
    return np.concatenate(pieces)


def _fold(text: str) -> str:
    """The folded text (NFKC + casefold, see _fold_cp) of one text, as a string (reference path)."""
    return _to_str(_fold_cp(text))

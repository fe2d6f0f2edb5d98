"""Writing-system classes of code points, shared by language ID (script shares) and word counting
(Han runs go to jieba).

Python's `re` has no `\\p{Script=Han}`, and `unicodedata` has no script property, so the classes are
derived once per process from `unicodedata` (the same Unicode version as the rest of the pipeline):
category L* (letters) plus the character names (CJK ... IDEOGRAPH, HIRAGANA/KATAKANA, HANGUL, LATIN).
The result is a uint8 lookup table over all code points, so counting scripts of a whole batch is one
UTF-32 encode, one numpy gather and one bincount (no per-character Python), and regex classes for the
same sets are built from the same table, so word counting and language ID never disagree on what Han is.
Building the table takes ~0.15 s, once per process.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence

import numpy as np

__all__ = [
    "HAN",
    "HANGUL",
    "KANA",
    "LATIN",
    "NON_LETTER",
    "N_CLASSES",
    "OTHER",
    "class_body",
    "script_counts",
    "script_table",
]

HAN, LATIN, KANA, HANGUL, OTHER, NON_LETTER = range(6)
N_CLASSES = 6

#: Last code point with any assigned letter (planes 3.. are CJK extensions G-I; 14-16 hold no letters).
_LETTER_LIMIT = 0x40000

#: Han characters that are not category L*/named CJK ... IDEOGRAPH but are written as Han: 々 (iteration
#: mark, Lm, named IDEOGRAPHIC ITERATION MARK), 〇 (Nl, the Han zero), 〻 (vertical iteration mark).
_EXTRA_HAN = (0x3005, 0x3007, 0x303B)


def _classify(cp: int, category: str) -> int:
    name = unicodedata.name(chr(cp), "")
    if name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")) or cp in _EXTRA_HAN:
        return HAN
    if "HIRAGANA" in name or "KATAKANA" in name or name.startswith("HENTAIGANA"):
        return KANA
    if "HANGUL" in name:
        return HANGUL
    if name.startswith(("LATIN ", "FULLWIDTH LATIN ")) or cp in (0xAA, 0xBA):  # ª º are Latin letters
        return LATIN
    return OTHER


@functools.cache
def script_table() -> np.ndarray:
    """uint8[0x110000]: the class (HAN .. NON_LETTER) of every code point.

    Letters are Unicode category L*, plus the Han extras above. Astral gaps of unassigned code points
    between two Han blocks are filled as Han (future CJK extensions land there), which keeps the Han
    regex class down to a handful of ranges (each astral range costs a comparison per character)."""
    table = np.full(0x110000, NON_LETTER, dtype=np.uint8)
    assigned = np.zeros(_LETTER_LIMIT, dtype=bool)
    category = unicodedata.category
    for cp in range(_LETTER_LIMIT):
        cat = category(chr(cp))
        if cat == "Cn":
            continue
        assigned[cp] = True
        if cat[0] == "L" or cp in _EXTRA_HAN:
            table[cp] = _classify(cp, cat)
    # fill unassigned astral gaps between Han code points
    han = np.flatnonzero(table[:_LETTER_LIMIT] == HAN)
    astral = han[han >= 0x10000]
    for a, b in zip(astral[:-1], astral[1:]):
        if b - a > 1 and not assigned[a + 1 : b].any():
            table[a + 1 : b] = HAN
    table.flags.writeable = False
    return table


def _ranges(mask: np.ndarray) -> list[tuple[int, int]]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return list(zip(starts.tolist(), ends.tolist()))


def _esc(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


@functools.cache
def class_body(code: int) -> str:
    """Regex character-class body (no brackets) matching exactly the code points of one class."""
    return "".join(
        _esc(a) if a == b else f"{_esc(a)}-{_esc(b)}" for a, b in _ranges(script_table() == code)
    )


def script_counts(texts: Sequence[str]) -> np.ndarray:
    """int64[len(texts), N_CLASSES]: per text, how many code points fall in each class.

    The batch is joined and encoded once (UTF-32; lone surrogates pass through and count as
    non-letters), classified by one table gather, and counted by one bincount over
    (text index, class) pairs."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, N_CLASSES), dtype=np.int64)
    joined = "".join(texts)
    if not joined:
        return np.zeros((n, N_CLASSES), dtype=np.int64)
    if joined.isascii():
        cps: np.ndarray = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    else:
        cps = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cls = script_table()[cps]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    owner = np.repeat(np.arange(n, dtype=np.int64), lengths)
    counts = np.bincount(owner * N_CLASSES + cls, minlength=n * N_CLASSES)
    return counts.reshape(n, N_CLASSES)

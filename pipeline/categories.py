"""Unicode general-category classes of the BMP as regex class bodies, shared by the stored-text
casing policy (`pipeline/normalize.py`: upper/lower case letters) and the dedup keys
(`pipeline/dedup/keys.py`: the characters a key deletes).

Why built here and not taken from a third-party `\\p{..}` table: they come from this Python's
`unicodedata`, the same Unicode version as the NFKC they are combined with. `re` compiles a BMP
class into a constant-time bitmap but checks every range above U+FFFF one by one for every
character tested (a full-Unicode "P|Z|C|S" class ran at ~2 MB/s), so the classes cover the BMP
only: callers handle the rare characters above it on their own.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = ["category_runs", "class_body"]


@functools.cache
def _bmp_categories() -> str:
    """The category of every BMP code point as one string of two-letter codes ("Lu", "Po", ...:
    upper case then lower case, so regex matches are always aligned): ~50 ms once per process."""
    return "".join(map(unicodedata.category, map(chr, range(0x10000))))


def category_runs(pattern: str) -> list[tuple[int, int]]:
    """Inclusive code-point ranges of the BMP whose categories match `pattern`, a regex over the
    two-letter codes that matches whole runs, e.g. "(?:L[ut])+" for upper and title case letters."""
    cats = _bmp_categories()
    return [(m.start() // 2, m.end() // 2 - 1) for m in re.finditer(pattern, cats)]


def class_body(ranges: list[tuple[int, int]]) -> str:
    """Regex character-class body (no brackets) for inclusive code-point ranges of the BMP."""
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)

"""Long texts cut into pieces at positions a pass cannot see across, so that each pass over a long
document holds a piece at a time and the pieces' results add up to the whole text's.

Each caller owns its cut rule (a regex whose match end is the cut: a lookahead cuts before the
character it looks at, a consumed character cuts after it) and the argument why its pass is local
across such a cut; the loop that places the cuts is this one.
"""

from __future__ import annotations

import re


def pieces(text: str, size: int, cut_re: re.Pattern[str]) -> list[tuple[int, int]]:
    """[a, b) cuts covering `text`, each at the end of the first match of `cut_re` at or after
    `size` characters into the piece; the rest is one piece when no match is left."""
    cuts: list[tuple[int, int]] = []
    a, n = 0, len(text)
    while n - a > size:
        m = cut_re.search(text, a + size)
        if m is None:
            break
        cuts.append((a, m.end()))
        a = m.end()
    cuts.append((a, n))
    return cuts

"""C4's line removal (Raffel et al. 2020, sec. 2.2) as a text transformation, not a threshold.

C4 keeps only lines that end in a terminal punctuation mark, contain at least 5 words, and mention
neither "javascript" nor a policy/cookie phrase. Applied in `tag` right after normalization for
sources that opt in (`c4_line_filter: true`), so every later tag (keys, signature, tokens,
quality signals) sees the text that will be stored; how many documents and lines it changed is
counted in stats. Chinese-aware: a line ends in 。！？… as well as . ! ?, and a line's "words" are
its whitespace words plus its Han characters (one word each, as the quality signals count them).
"""

from __future__ import annotations

import re

from filters.quality_signals import C4_POLICY_SUBSTRINGS
from pipeline.scripts import HAN, class_body

#: C4: "a period, exclamation mark, question mark, or end quotation mark"; plus CJK sentence ends.
_TERMINAL = (".", "!", "?", '"', "”", "。", "！", "？", "…", "」", "』", "．")
#: C4: "only retained lines that contained at least 5 words".
MIN_WORDS = 5
#: Han as every other module counts it (pipeline/scripts.py), so no two modules disagree.
_HAN_RE = re.compile(f"[{class_body(HAN)}]")


def _keep(line: str) -> bool:
    stripped = line.rstrip()
    if not stripped.endswith(_TERMINAL):
        return False
    low = stripped.lower()
    if "javascript" in low or any(p in low for p in C4_POLICY_SUBSTRINGS):
        return False
    han = len(_HAN_RE.findall(stripped))
    return len(stripped.split()) + han >= MIN_WORDS


def c4_line_filter(text: str) -> tuple[str, int]:
    """The text with C4's unwanted lines removed (blank paragraph separators kept between kept
    lines), and how many lines were removed."""
    kept: list[str] = []
    removed = 0
    for line in text.split("\n"):
        if not line.strip():
            if kept and kept[-1] != "":
                kept.append("")
            continue
        if _keep(line):
            kept.append(line)
        else:
            removed += 1
    while kept and kept[-1] == "":
        kept.pop()
    return ("\n".join(kept), removed) if removed else (text, 0)

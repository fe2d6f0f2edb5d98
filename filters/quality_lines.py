"""Quality signals' per-document string pass: lines, paragraphs and substrings (bullets,
ellipses, terminal punctuation, duplicate lines and paragraphs, C4's lorem/javascript/curly/policy
counts), with C-level string calls only. Run by filters/quality_signals.py."""

from __future__ import annotations

import re
from operator import methodcaller

from filters.quality_chars import (
    _BULLETS,
    _CLOSERS,
    _ELLIPSIS_END,
    _FW_TERMINAL,
    _PARA_SPLIT_RE,
    _POLICY_GATES,
    C4_POLICY_SUBSTRINGS,
)  # fmt: skip

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


def _policy_lines(low: str) -> int:
    """Lines holding a C4 policy phrase (only called when the text holds one somewhere)."""
    n = 0
    for line in low.split("\n"):
        if any(p in line for p in C4_POLICY_SUBSTRINGS):
            n += 1
    return n

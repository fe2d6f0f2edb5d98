"""Quality signals' per-batch numpy pass (run by filters/quality_signals.py): token boundaries,
word counts and word hashes, stop words, sentences and Chinese clause ends, character classes and
short lines, over one joined, lower-cased batch (or one line-aligned window of a long document).
No Python code runs per word."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

import filters.quality_ngrams as ngrams
from filters.quality_chars import (
    _ALPHA,
    _CJK,
    _CJK_STOP,
    _CLAUSE,
    _CLOSER,
    _DOT,
    _END_QUOTE,
    _GARBAGE,
    _HAN,
    _HELLIP,
    _SHORT_LINE_COLUMNS,
    _SPACE,
    _STERM,
    _TILDE,
    _WIDE,
    _WORDCH,
    STOP_WORDS_EN,
    STOP_WORDS_ZH,
    _flags,
)  # fmt: skip
from filters.quality_ngrams import _GOLD, _U64, _ngram_signals, _pow_base, _powers
from pipeline.hashmix import splitmix64_np

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
    """Count of True (or sum of the integers) in mask[starts[d]:ends[d]] per document: one
    add.reduceat over the [start, end) and separator segments (~7x faster than a cumulative sum of
    the mask); reduceat gives an empty segment its first element, so empty documents are set to 0."""
    if starts.size == 0:
        return np.zeros(0, dtype=np.int64)
    # one element more: the last end may be the window's length, which reduceat cannot index
    padded = np.zeros(mask.size + 1, dtype=np.uint8 if mask.dtype == bool else mask.dtype)
    padded[: mask.size] = mask
    bounds = np.empty(2 * starts.size, dtype=np.int64)
    bounds[0::2], bounds[1::2] = starts, ends
    counts = np.add.reduceat(padded, bounds, dtype=np.int64)[0::2]  # chunks are far below 2^31
    counts[ends <= starts] = 0
    return counts


@functools.cache
def _stop_table() -> tuple[np.ndarray, np.ndarray]:
    """Sorted hashes of the stop words, and whether each is Chinese."""
    words = list(STOP_WORDS_EN) + list(STOP_WORDS_ZH)
    hashes = _word_hashes_of(words)
    order = np.argsort(hashes)
    if np.unique(hashes).size != hashes.size:  # pragma: no cover - guards list edits
        raise ValueError("duplicate stop words")
    return hashes[order], order


@functools.cache
def _stop_low_bits() -> np.ndarray:
    """True at the low 16 bits of every stop word's hash."""
    table = np.zeros(1 << 16, dtype=bool)
    table[(_stop_table()[0] & _U64(0xFFFF)).astype(np.intp)] = True
    return table


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
    # a token's segment [s[i], s[i + 1]) is the token and the spaces after it (every non-space
    # character belongs to a token), and spaces are never letters
    has_alpha = np.logical_or.reduceat((f & _ALPHA) != 0, s) if s.size else np.zeros(0, dtype=bool)
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
        "pw": pw if k and pw is ngrams._powers_cache.get("pw") else None,
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


def _lower_chars(text: str) -> str:
    """_lower_same_length's rare path: every character lowered on its own."""
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)



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
    # document of every character (separators: the next), as runs (no cumulative sum)
    owner = np.repeat(np.arange(n_docs, dtype=np.int32), np.diff(np.append(starts, cps.size + 1)))

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
    # a 64k-entry table of the stop words' low hash bits rules out almost every other word with one
    # gather; only the rest is searched (Chinese text: its function characters, ~15% of words)
    maybe = np.flatnonzero(_stop_low_bits()[(wh & _U64(0xFFFF)).astype(np.intp)])
    pos = np.searchsorted(stop_sorted, wh[maybe])
    pos[pos == stop_sorted.size] = 0
    found = stop_sorted[pos] == wh[maybe]
    hit, pos = maybe[found], pos[found]  # word positions of the stop words; which stop word each is
    # tokens are in text order, so each document's are one run: counts by segment, no gathers
    bounds = np.searchsorted(tdoc, np.arange(n_docs + 1))
    first, last = bounds[:-1], bounds[1:]
    return {
        "words": _per_doc(is_word, first, last),
        "gtoks": _per_doc(t["gtok"], first, last),
        "alpha_words": _per_doc(t["has_alpha"], first, last),
        "spaced_n": _per_doc(spaced, first, last),
        "spaced_len": _per_doc(np.where(spaced, t["wlen"], 0), first, last),
        "stop_occ": np.bincount(wdoc[hit], minlength=n_docs),
        "stop_pairs": np.unique(wdoc[hit].astype(np.int64) * stop_sorted.size + pos),
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
    # width of the stripped line: from its first to its last non-space character (code blocks keep
    # their indentation in the stored text), plus one per Wide character in between; positions of
    # the non-space and Wide characters, searched per line (no prefix sums over the characters)
    solid = np.flatnonzero((f & _SPACE) == 0)
    i0, i1 = np.searchsorted(solid, ls), np.searchsorted(solid, le)
    has_text = i1 > i0
    if solid.size:
        first, last = solid[np.minimum(i0, solid.size - 1)], solid[np.maximum(i1 - 1, 0)]
        wide = np.flatnonzero((f & _WIDE) != 0)
        n_wide = np.searchsorted(wide, last + 1) - np.searchsorted(wide, first)
        width = np.where(has_text, last + 1 - first + n_wide, 0)
    else:
        width = np.zeros(ls.size, dtype=np.int64)
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

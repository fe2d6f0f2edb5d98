"""Text normalization of the stored text (`normalize_text`); its aggressive twin for exact-dedup keys,
`normalize_key`, is `pipeline/dedup/keys.py`'s.

Two policies on purpose (design.md, "Text policies"):

* **Stored text** is what a model learns from, so it is changed as little as possible: NFC (never
  NFKC: NFKC turns Chinese punctuation ，。！？：；（） into ASCII and ① into 1), invisible junk removed,
  whitespace tidied, optional full-width ASCII letter/digit fold and casing policy.
* **Keys** only have to be equal for texts a reader would call equal, so they are aggressive:
  NFKC + casefold + punctuation, symbols, whitespace and control/format characters removed.

Per document everything runs through C-level str/bytes methods, precompiled regexes and cheap `in`
gates, with no per-character Python loop (the exception is rare by construction: the lines of texts
that contain capitals under "fix_shouting"). Pure-ASCII text skips the Unicode-only steps.
Measured figures: bench/normalize_tokens.py.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Literal

from pipeline.categories import category_runs, class_body
from pipeline.config import Casing
from pipeline.pieces import pieces

__all__ = ["NormChanges", "NORM_WINDOW", "normalize_text"]

# --------------------------------------------------------------------------------------------------
# Stored text: character sets
# --------------------------------------------------------------------------------------------------

#: Line breaks other than "\n" that are rewritten to "\n": CRLF, CR, VT, FF, NEL, LINE SEPARATOR.
#: VT/FF/NEL are control characters, but deleting them would glue the words on either side together.
_BREAK_RE = re.compile("\r\n?|[\x0b\x0c\x85\u2028]")
_PARA_SEP = "\u2029"  # PARAGRAPH SEPARATOR -> blank line

#: Control characters (Unicode Cc) that are deleted: every C0/C1 control except \t \n (whitespace
#: handling) and the line breaks above.
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")

#: Invisible format characters that carry no text: zero-width space, word joiner and invisible math
#: operators, BOM/ZWNBSP, soft hyphen, LRM/RLM/ALM and the bidi embedding/isolate controls, Mongolian
#: vowel separator, deprecated format characters, interlinear annotation marks.
#: Deliberately KEPT: U+200C ZWNJ and U+200D ZWJ (emoji ZWJ sequences such as 👩‍💻, and Persian /
#: Indic orthography, where ZWNJ changes how a word is written), variation selectors (emoji vs text
#: presentation) and tag characters U+E0020-E007F (subdivision flags such as 🏴 of Scotland).
_ZERO_WIDTH = "\u00ad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
_ZERO_WIDTH_RE = re.compile(f"[{_ZERO_WIDTH}]")

#: Gate: one scan that says whether any of the three removal/rewrite steps above has work to do.
_ODD_RE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_ZERO_WIDTH}]")
_ASCII_ODD_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

#: Horizontal whitespace: tab and every Unicode space separator (Zs). All become " ".
_HSPACE = "\t \u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"
_ODD_HSPACE = "\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000"  # _HSPACE minus the plain space
#: Both patterns begin with a plain character class so that `re` scans for candidate characters in
#: its fast C loop (an alternation of repeats would be tried at every position: ~2.5x slower).
#: Runs of horizontal whitespace at a line start (nothing but a newline or the text start before the
#: run's first character) or at a line end (a newline or the text end after it).
_EDGE_SPACE_RE = re.compile(f"[{_HSPACE}](?:(?<![^\n].)[{_HSPACE}]*|[{_HSPACE}]*(?![^\n]))")
#: Runs that need rewriting: one starting with a non-plain space, or two or more characters long.
_INNER_SPACE_RE = re.compile(f"[{_HSPACE}](?:(?<=[{_ODD_HSPACE}])[{_HSPACE}]*|[{_HSPACE}]+)")
_ODD_HSPACE_RE = re.compile(f"[{_ODD_HSPACE}]")
_NEWLINES3_RE = re.compile("\n{3,}")

#: Full-width ASCII digits and letters (U+FF10-FF19, FF21-FF3A, FF41-FF5A). Full-width punctuation in
#: the same block (，．：；！？（）＂＃％＆＊＋／＝～［］) is NOT in this set: it is the normal form in CJK text.
_FULLWIDTH_ALNUM_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")


#: Gates for non-ASCII text: anything for steps 1-4 or a non-plain space (with / without the fold).
_GATE_KEEP_RE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_ZERO_WIDTH}{_ODD_HSPACE}]")
_GATE_FOLD_RE = re.compile(
    f"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029{_ZERO_WIDTH}{_ODD_HSPACE}\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
)


def _fold_fullwidth(m: re.Match[str]) -> str:
    return chr(ord(m.group()) - 0xFEE0)


# --------------------------------------------------------------------------------------------------
# Casing: upper/lower case letters of the BMP (pipeline/categories.py); letters above U+FFFF are not
# counted in the shouting statistics (𝐁𝐎𝐋𝐃 math letters).
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ShoutRegexes:
    caps_pair: re.Pattern[str]
    upper: re.Pattern[str]
    cased_word: re.Pattern[str]
    letters: re.Pattern[str]


@functools.cache
def _shout_res() -> _ShoutRegexes:
    up, low = class_body(category_runs("(?:L[ut])+")), class_body(category_runs("(?:Ll)+"))
    return _ShoutRegexes(
        caps_pair=re.compile(f"[{up}][{up}]"),
        upper=re.compile(f"[{up}]"),
        cased_word=re.compile(f"[{up}{low}]+"),
        letters=re.compile(r"[^\W\d_]+"),
    )


# --------------------------------------------------------------------------------------------------
# Change record
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class NormChanges:
    """What `normalize_text` changed in one document, as counts (summed in stats; the names of the
    non-zero ones are stored per document in the `norm_changes` column)."""

    nfc_changed: int = 0  # 0/1: the text was not in NFC
    control_removed: int = 0  # control characters deleted
    zero_width_removed: int = 0  # invisible format characters deleted
    newlines_normalized: int = 0  # line breaks rewritten (CR, CRLF, VT, FF, NEL, LS, PS), 3+ runs cut, edge newlines
    whitespace_collapsed: int = 0  # horizontal whitespace runs rewritten or stripped at a line edge
    fullwidth_folded: int = 0  # full-width letters/digits folded to ASCII
    case_changed_lines: int = 0  # lines whose case the casing policy changed

    def names(self) -> list[str]:
        """Names of the non-zero counters, in field order (the per-document `norm_changes` list)."""
        return [f for f in _FIELD_NAMES if getattr(self, f)]

    def __bool__(self) -> bool:
        return any(getattr(self, f) for f in _FIELD_NAMES)


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(NormChanges))


# --------------------------------------------------------------------------------------------------
# Casing
# --------------------------------------------------------------------------------------------------

#: A line is "shouting" when it has at least SHOUT_MIN_CASED cased letters in at least
#: SHOUT_MIN_WORDS cased words, at least SHOUT_MIN_UPPER_SHARE of its cased letters are upper case, and
#: cased letters are at least SHOUT_MIN_CASED_SHARE of all its letters. Tuned on the real samples
#: (c4_demo, Dolma CC, oasst, cmrc2018, alpaca-zh):
#: - every all-caps English line there with >= 3 words is 100% upper ("I REFUSE TO CONSENT TO ANY
#:   SEARCH.", "PLEASE EXPLAIN IT :(", a 600-character real-estate ad); the mixed lines that must stay
#:   are at <= 74% ("AZTECH DSL TURBO USER MANUAL Pdf Download." 74%, "Come Learn from THE FLEUR
#:   WREATH!" 59%, "How Does DNA Do It?" 50%, `ELEM_ROOM = os.environ.get("ELEM_ROOM")` 57%). 80%
#:   leaves room for a unit or an "iPhone" inside a shouted sentence;
#: - the size floor keeps short all-caps headings and labels ("CONTACT US", "FAQ", "NASA HQ"):
#:   capitals there are a typographic convention, and lower-casing would destroy the acronyms;
#: - the cased-share floor is for Chinese: Han characters are uncased, so in a cmrc2018 line such as
#:   "...东日本旅客铁道（JR东日本）...IGR岩手银河铁道..." or "...NBA选秀...NCAA冠军..." every cased letter is an
#:   upper-case acronym (100%); 28 of 848 cmrc2018 paragraphs and 6 of 1,000 alpaca-zh records would
#:   be lower-cased ("nba", "ceo", "tcp/ip"). Such lines have far more Han than Latin letters.
#: Lines inside ``` fenced code blocks are never changed (SQL keywords are upper case by convention).
SHOUT_MIN_CASED = 12
SHOUT_MIN_WORDS = 3
SHOUT_MIN_UPPER_SHARE = 0.8
SHOUT_MIN_CASED_SHARE = 0.5

#: Sentence starts in a lower-cased line: the first letter of the line (after bullets, digits,
#: quotes), and the first letter after . ! ? + optional closing quotes/brackets + whitespace +
#: optional opening quotes/brackets, except after dotted abbreviations such as "i.e." and "u.s.".
_SENTENCE_START_RE = re.compile(
    r"^([\W\d_]*)([^\W\d_])|((?<!\b[^\W\d_]\.[^\W\d_])[.!?][\"'’”)\]]*\s+[\"'‘“(\[]*)([^\W\d_])"
)
#: The pronoun "i" standing alone: not inside a word, not in "i.e." (a dot followed by a letter).
_PRONOUN_I_RE = re.compile(r"(?<![\w'’.-])i(?![\w]|\.\w)")


def _upper_first(m: re.Match[str]) -> str:
    if m.group(2) is not None:
        prefix, ch = m.group(1), m.group(2)
    else:
        prefix, ch = m.group(3), m.group(4)
    up = ch.upper()
    return prefix + (up if len(up) == 1 else ch)  # "ß".upper() == "SS": leave such letters alone


def _sentence_case(line: str) -> str:
    return _PRONOUN_I_RE.sub("I", _SENTENCE_START_RE.sub(_upper_first, line.lower()))


def _is_shouting(line: str, res: _ShoutRegexes) -> bool:
    words = res.cased_word.findall(line)
    if len(words) < SHOUT_MIN_WORDS:
        return False
    cased = sum(map(len, words))
    if cased < SHOUT_MIN_CASED:
        return False
    if len(res.upper.findall(line)) < SHOUT_MIN_UPPER_SHARE * cased:
        return False
    return cased >= SHOUT_MIN_CASED_SHARE * sum(map(len, res.letters.findall(line)))


def _fix_shouting(text: str) -> tuple[str, int]:
    """Sentence-cases shouting lines only; the per-line Python loop runs only for texts that contain
    two adjacent capitals somewhere, and the counting regexes only on such lines."""
    res = _shout_res()
    if res.caps_pair.search(text) is None:
        return text, 0
    lines = text.split("\n")
    changed = 0
    fenced = "```" in text
    in_code = False
    for i, line in enumerate(lines):
        if fenced and line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            continue
        if res.caps_pair.search(line) is not None and _is_shouting(line, res):
            fixed = _sentence_case(line)
            if fixed != line:
                lines[i] = fixed
                changed += 1
    return ("\n".join(lines), changed) if changed else (text, 0)


def _lower(text: str) -> tuple[str, int]:
    low = text.lower()
    if low == text:
        return text, 0
    changed = sum(a != b for a, b in zip(text.split("\n"), low.split("\n")))
    return low, changed


# --------------------------------------------------------------------------------------------------
# Stored text
# --------------------------------------------------------------------------------------------------


#: Texts longer than this many characters are normalized piece by piece (`normalize_text`).
NORM_WINDOW = 1 << 20
#: Where a long text may be cut for normalizing: after a "\n" followed by an ASCII letter/digit or a
#: CJK unified ideograph. Every rule is local to a line or a newline run (line breaks, deletions,
#: full-width fold, space runs, line-edge spaces, 3+ newline runs, casing lines), a newline run ends
#: before such a character, and it is a starter that NFC never composes with what precedes it, that
#: no step deletes, and that str.lower's final-sigma context cannot see past (the "\n" stops it).
#: So the pieces' outputs concatenate to the whole text's output, and their counts add up.
_NORM_CUT_RE = re.compile("\n(?=[0-9A-Za-z\u4e00-\u9fff])")


def normalize_text(
    text: str,
    *,
    casing: Casing = "preserve",
    fullwidth_alnum: Literal["fold", "keep"] = "fold",
    whitespace: Literal["collapse", "code"] = "collapse",
    window: int = NORM_WINDOW,
) -> tuple[str, NormChanges]:
    """The stored-text normalization; returns the text and a record of what changed.

    Indentation carries meaning in code: lines inside ``` fences keep their spaces and tabs (only
    trailing ones go), and `whitespace="code"` (sources of source code, e.g. RedPajama github) keeps
    every line's leading and inner whitespace in the whole text.

    Steps, in an order chosen so that the result is a fixed point (normalizing it again changes
    nothing):

    1. line breaks CRLF, CR, VT, FF, NEL, U+2028 -> "\\n"; U+2029 -> "\\n\\n";
    2. control characters (Cc other than \\t \\n) deleted;
    3. invisible format characters deleted: ZWSP U+200B, word joiner U+2060, BOM U+FEFF, soft hyphen
       U+00AD, LRM/RLM U+200E/U+200F, bidi embeddings/isolates, ... ZWNJ U+200C and ZWJ U+200D are
       KEPT: emoji ZWJ sequences and Persian/Indic spelling need them;
    4. full-width ASCII letters and digits folded (optional); CJK punctuation is never touched;
    5. NFC (after 2-4, which can bring a base letter and a combining mark together);
    6. tab and Unicode spaces (NBSP, U+3000, U+2000-U+200A, ...) -> " ", runs -> one space, spaces at
       line starts/ends stripped (outside ``` code fences, and unless whitespace="code");
    7. 3+ newlines -> exactly 2 (paragraph breaks and single line breaks are kept), text stripped;
    8. casing policy: "preserve", "lower" (str.lower) or "fix_shouting" (see `SHOUT_*`).

    A text longer than `window` characters is normalized piece by piece (`_norm_pieces`: cuts no
    step sees across) and the output is appended in place, so a long document exists at most twice
    (input and output) instead of three or four times; texts with ``` fences take the whole path.
    """
    ch = NormChanges()
    if len(text) > window and "```" not in text:
        cuts = _norm_pieces(text, window)
        if len(cuts) > 1:
            return _normalize_long(text, cuts, ch, casing, fullwidth_alnum, whitespace), ch
    return _normalize(text, ch, casing, fullwidth_alnum, whitespace), ch


def _normalize(
    text: str,
    ch: NormChanges,
    casing: Casing,
    fullwidth_alnum: Literal["fold", "keep"],
    whitespace: Literal["collapse", "code"],
    strip_start: bool = True,
    strip_end: bool = True,
) -> str:
    """Steps 1-8 of `normalize_text` on one text or piece, counting into `ch`; `strip_start` /
    `strip_end`: whether this piece holds the text's start / end (newlines are stripped there only)."""
    if text.isascii():
        # ASCII: no NFC, zero-width, Unicode-space or full-width work can apply.
        if _ASCII_ODD_RE.search(text) is not None:
            text = _rewrite_breaks_and_controls(text, ch)
        odd_space = "\t" in text
    else:
        # One scan decides whether any of the rare rewrites has work to do (usually not).
        gate = _GATE_FOLD_RE if fullwidth_alnum == "fold" else _GATE_KEEP_RE
        if gate.search(text) is None:
            odd_space = False
        else:
            if _ODD_RE.search(text) is not None:
                text = _rewrite_breaks_and_controls(text, ch)
                text, ch.zero_width_removed = _ZERO_WIDTH_RE.subn("", text)
            if fullwidth_alnum == "fold":
                text, ch.fullwidth_folded = _FULLWIDTH_ALNUM_RE.subn(_fold_fullwidth, text)
            odd_space = _ODD_HSPACE_RE.search(text) is not None
        if not unicodedata.is_normalized("NFC", text):
            text = unicodedata.normalize("NFC", text)
            ch.nfc_changed = 1

    if whitespace == "code":
        text = _strip_trailing(text, ch)
    elif "```" in text:
        text = _tidy_outside_code(text, ch, odd_space)
    else:
        text = _tidy_spaces(text, ch, odd_space)
    text = _tidy_newlines(text, ch, strip_start, strip_end)

    if casing == "lower":
        text, ch.case_changed_lines = _lower(text)
    elif casing == "fix_shouting":
        text, ch.case_changed_lines = _fix_shouting(text)
    if ch.case_changed_lines and not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)  # lower() can leave a composable pair behind
    return text


def _norm_pieces(text: str, window: int) -> list[tuple[int, int]]:
    """[a, b) cuts of `text` right after a safe "\n" (_NORM_CUT_RE), about `window` characters apart."""
    return pieces(text, window, _NORM_CUT_RE)


def _normalize_long(
    text: str,
    cuts: list[tuple[int, int]],
    ch: NormChanges,
    casing: Casing,
    fullwidth_alnum: Literal["fold", "keep"],
    whitespace: Literal["collapse", "code"],
) -> str:
    """`_normalize` of each piece, counts summed (nfc_changed stays 0/1). The input is returned as it
    is while no piece changes; from the first changed piece on, the output is built with `+=` on a
    str only this frame references, which CPython extends in place (a realloc) instead of copying:
    a list joined at the end or an io.StringIO (whose getvalue copies) would hold the output twice."""
    out: str | None = None
    last = len(cuts) - 1
    for i, (a, b) in enumerate(cuts):
        piece = text[a:b]
        pc = NormChanges()
        got = _normalize(piece, pc, casing, fullwidth_alnum, whitespace, i == 0, i == last)
        for f in _FIELD_NAMES:
            setattr(ch, f, getattr(ch, f) + getattr(pc, f))
        if out is None:
            if got == piece:
                continue
            out = text[: cuts[i - 1][1]] if i else ""
        out += got
        del piece, got
    ch.nfc_changed = min(ch.nfc_changed, 1)
    return text if out is None else out


def _rewrite_breaks_and_controls(text: str, ch: NormChanges) -> str:
    text, n = _BREAK_RE.subn("\n", text)
    if _PARA_SEP in text:
        n += text.count(_PARA_SEP)
        text = text.replace(_PARA_SEP, "\n\n")
    ch.newlines_normalized += n
    text, ch.control_removed = _CONTROL_RE.subn("", text)
    return text


#: A fenced code block, fence lines included; an unclosed fence runs to the end of the text.
_CODE_FENCE_RE = re.compile(r"^[ \t]*```.*?^[ \t]*```[^\n]*$|^[ \t]*```.*\Z", re.M | re.S)
_TRAILING_SPACE_RE = re.compile(f"[{_HSPACE}]+$", re.M)


def _strip_trailing(text: str, ch: NormChanges) -> str:
    text, n = _TRAILING_SPACE_RE.subn("", text)
    ch.whitespace_collapsed += n
    return text


def _tidy_outside_code(text: str, ch: NormChanges, odd_space: bool) -> str:
    """Whitespace tidied between code fences; inside them only trailing spaces go."""
    out: list[str] = []
    pos = 0
    for m in _CODE_FENCE_RE.finditer(text):
        out.append(_tidy_spaces(text[pos : m.start()], ch, odd_space))
        out.append(_strip_trailing(m.group(), ch))
        pos = m.end()
    out.append(_tidy_spaces(text[pos:], ch, odd_space))
    return "".join(out)


def _tidy_spaces(text: str, ch: NormChanges, odd_space: bool) -> str:
    """Line-edge runs first (removed), then inner runs (-> one space): each run is counted once.
    `odd_space`: the text may hold a tab or a Unicode space; otherwise plain `in` tests (GB/s)
    decide whether the regexes need to run at all."""
    if odd_space or " \n" in text or "\n " in text or text[:1] == " " or text[-1:] == " ":
        text, n = _EDGE_SPACE_RE.subn("", text)
        ch.whitespace_collapsed += n
    if odd_space or "  " in text:
        text, n = _INNER_SPACE_RE.subn(" ", text)
        ch.whitespace_collapsed += n
    return text


def _tidy_newlines(text: str, ch: NormChanges, strip_start: bool = True, strip_end: bool = True) -> str:
    if "\n\n\n" in text:
        text, n = _NEWLINES3_RE.subn("\n\n", text)
        ch.newlines_normalized += n
    lead = strip_start and text[:1] == "\n"
    trail = strip_end and text[-1:] == "\n"
    if lead or trail:
        stripped = text.lstrip("\n") if not trail else text.rstrip("\n") if not lead else text.strip("\n")
        ch.newlines_normalized += lead + trail
        text = stripped
    return text

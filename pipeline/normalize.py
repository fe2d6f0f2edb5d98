"""Text normalization: the stored text (`normalize_text`) and the dedup/signal key (`normalize_key`).

Two policies on purpose (design.md, "Text policies"):

* **Stored text** is what a model learns from, so it is changed as little as possible: NFC (never
  NFKC: NFKC turns Chinese punctuation ，。！？：；（） into ASCII and ① into 1), invisible junk removed,
  whitespace tidied, optional full-width ASCII letter/digit fold and casing policy.
* **Keys** only have to be equal for texts a reader would call equal, so they are aggressive:
  NFKC + casefold + punctuation, symbols, whitespace and control/format characters removed.

Per document everything runs through C-level str/bytes methods, precompiled regexes and cheap `in`
gates, with no per-character Python loop (the exceptions are rare by construction: characters above
U+FFFF in keys, and the lines of texts that contain capitals under "fix_shouting"). Pure-ASCII text
skips the Unicode-only steps. Measured figures: bench/normalize_tokens.py.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Literal

import xxhash

from pipeline.config import Casing
from pipeline.pieces import pieces

__all__ = ["NormChanges", "normalize_text", "normalize_key", "key_hash", "key_hashes"]

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
# Unicode category classes (built once, lazily, from this Python's unicodedata)
# --------------------------------------------------------------------------------------------------
# `re` compiles a BMP class into a constant-time bitmap, but checks every range above U+FFFF one by
# one, for every character tested: a full-Unicode "P|Z|C|S" class (13k ranges) ran at ~2 MB/s. So the
# classes below cover the BMP only, and the rare characters above it are handled by a separate
# single-range regex (keys) or ignored (shouting statistics: 𝐁𝐎𝐋𝐃 math letters are not counted).

_NON_BMP_RE = re.compile("[\U00010000-\U0010ffff]+")

#: ASCII part of the key rules, as byte tables: A-Z -> a-z; every non-alphanumeric byte deleted.
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
_ASCII_DELETE = bytes(b for b in range(128) if not chr(b).isalnum())
#: Symbols that NFC composes with a following combining mark into another symbol ("<" + U+0338 ->
#: "≮", "→" + U+0338 -> "↛", ...), from the canonical decompositions. They are never deleted before
#: NFKC: the whole pair is a symbol, and deleting the base early would leave the mark in the key.
_COMPOSING_BASES = frozenset(
    "<=>¨᾿῾←→↔⇐⇒⇔∃∈∋∣∥∼≃≅≈≍≡≤≥≲≳≶≷≺≻≼≽⊂⊃⊆⊇⊑⊒⊢⊨⊩⊫⊲⊳⊴⊵⫝"
)
_ASCII_PREDELETE = bytes(b for b in _ASCII_DELETE if chr(b) not in _COMPOSING_BASES)


def _class_body(ranges: list[tuple[int, int]]) -> str:
    return "".join(f"\\u{a:04x}" if a == b else f"\\u{a:04x}-\\u{b:04x}" for a, b in ranges)


@functools.cache
def _category_classes() -> dict[str, str]:
    """Regex class bodies (BMP only) by purpose, from this Python's `unicodedata`: the same Unicode
    version as the NFKC they are combined with, which a third-party \\p{..} table would not guarantee.

    The category of every BMP code point is joined into one string of two-letter codes ("Lu", "Po",
    ...: upper case then lower case, so matches are always aligned) and runs are found with a regex:
    ~50 ms once per process (the prestrip check below is the only per-character loop).

    key_strip: non-ASCII BMP characters of category P*, Z*, C*, S* (ASCII ones go through a bytes
    table). key_prestrip: those of them whose NFKC form is made only of such characters (，。「」、
    U+3000 ...) and that never compose with a following mark: deleting them before NFKC gives the
    same key (see normalize_key), and spares NFKC, which rebuilds the whole string as soon as one
    character changes, most of its work on Chinese text."""
    cats = "".join(map(unicodedata.category, map(chr, range(0x10000))))

    def runs(pat: str) -> list[tuple[int, int]]:
        return [(m.start() // 2, m.end() // 2 - 1) for m in re.finditer(pat, cats)]

    strip = [(max(a, 0x80), b) for a, b in runs("(?:[PZCS][a-z])+") if b >= 0x80]
    strip_set = {chr(cp) for a, b in strip for cp in range(a, b + 1)}
    ascii_strip = {chr(b) for b in _ASCII_DELETE}

    def safe(c: str) -> bool:
        nfkc = unicodedata.normalize("NFKC", c)
        return all((x in strip_set or x in ascii_strip) and x not in _COMPOSING_BASES for x in nfkc)

    prestrip_cps = sorted(ord(c) for c in strip_set if safe(c))
    prestrip: list[tuple[int, int]] = []
    for cp in prestrip_cps:
        if prestrip and prestrip[-1][1] == cp - 1:
            prestrip[-1] = (prestrip[-1][0], cp)
        else:
            prestrip.append((cp, cp))
    return {
        "key_strip": _class_body(strip),
        "key_prestrip": _class_body(prestrip),
        "upper": _class_body(runs("(?:L[ut])+")),
        "lower": _class_body(runs("(?:Ll)+")),
    }


@functools.cache
def _key_res() -> tuple[re.Pattern[str], re.Pattern[str]]:
    c = _category_classes()
    return re.compile(f"[{c['key_strip']}]+"), re.compile(f"[{c['key_prestrip']}]+")


def _strip_non_bmp(m: re.Match[str]) -> str:
    category = unicodedata.category
    return "".join(c for c in m.group() if category(c)[0] not in "PZCS")


@dataclass(frozen=True, slots=True)
class _ShoutRegexes:
    caps_pair: re.Pattern[str]
    upper: re.Pattern[str]
    cased_word: re.Pattern[str]
    letters: re.Pattern[str]


@functools.cache
def _shout_res() -> _ShoutRegexes:
    c = _category_classes()
    up, low = c["upper"], c["lower"]
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


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------

def normalize_key(text: str, *, casefold: bool = True) -> str:
    """The key form for exact-dedup keys, shingles and signals: NFKC + casefold, then every character
    of category P* (punctuation), Z* (separators), C* (control, format, unassigned, private use,
    surrogates; this includes \\n and \\t) and S* (symbols) deleted. Letters, marks and numbers stay.

    Why symbols too: on web text they are mostly layout and boilerplate (bullets •▪, arrows, box
    drawing, ©®™, emoji, "$"/"€" next to the same number), which should not split two copies of the
    same page. The cost is that "C++" and "C" or "3+4" and "34" share a key, and a text made only of
    symbols/emoji has the empty key: callers must not treat empty keys as duplicates of each other.
    Marks (M*) stay because Indic vowel signs and Thai tone marks are spelling, not decoration.

    The result is a fixed point: normalize_key(normalize_key(x)) == normalize_key(x), and
    normalize_key(normalize_text(x)[0]) == normalize_key(x).

    Speed: characters that are deleted anyway and whose NFKC form would be deleted too (，。「」 U+3000,
    ASCII punctuation...) go before NFKC, so that NFKC, which rebuilds the whole string once anything
    in it changes, mostly finds nothing to do on Chinese text (~2x faster). This equals the plain
    order (NFKC, casefold, delete) except where a combining mark directly follows a deleted character
    ("<?" + U+0338, U+0345 + ":" + U+0300): the mark then meets the letter before it, as it does when
    normalize_text deletes a zero-width character, so keys of stored and raw text still agree.
    """
    if text.isascii():
        # NFKC is the identity on ASCII and casefold() == lower() there.
        table = _ASCII_LOWER if casefold else None
        return text.encode("ascii").translate(table, _ASCII_DELETE).decode("ascii")
    fold = str.casefold if casefold else _fold_ypogegrammeni
    strip_re, prestrip_re = _key_res()
    key = prestrip_re.sub("", _delete_ascii(text, _ASCII_PREDELETE))
    if not unicodedata.is_normalized("NFKC", key):
        key = unicodedata.normalize("NFKC", key)
    key = fold(key)
    if not unicodedata.is_normalized("NFKC", key):
        key = unicodedata.normalize("NFKC", key)
    key = _strip_key(key, strip_re)
    # Deleting a character can put a base letter next to a combining mark that NFKC then composes,
    # and casefold can undo a composition (U+01F0): iterate until stable (almost always 0 rounds).
    for _ in range(8):
        if key.isascii():
            return key.lower() if casefold else key  # NFKC is the identity on ASCII
        if unicodedata.is_normalized("NFKC", key) and fold(key) == key:
            break
        key = _strip_key(unicodedata.normalize("NFKC", fold(key)), strip_re)
    return key


def _fold_ypogegrammeni(text: str) -> str:
    """The case-sensitive key's only fold: U+0345 (combining ypogegrammeni) is the one mark that
    case folding turns into a letter (iota, U+03B9); left a mark, canonical ordering can move it
    behind a neighbouring mark once a deleted character between them is gone, and folding the
    case-sensitive key would then no longer give the key of the text ("\u0345<\u0300")."""
    return text.replace("\u0345", "\u03b9") if "\u0345" in text else text


def _delete_ascii(text: str, delete: bytes = _ASCII_DELETE) -> str:
    """ASCII punctuation/symbols/spaces/controls out via one bytes.translate: ~3x faster than a
    regex on English, where they are every few characters."""
    b = text.encode("utf-8", "surrogatepass").translate(None, delete)
    return b.decode("utf-8", "surrogatepass")


def _strip_key(text: str, strip_re: re.Pattern[str]) -> str:
    text = _delete_ascii(text)
    if text.isascii():
        return text
    text = strip_re.sub("", text)
    if text.isascii():
        return text
    return _NON_BMP_RE.sub(_strip_non_bmp, text)


def key_hash(key: str) -> str:
    """xxh3_128 hex digest of the UTF-8 key: the exact-dedup key column (32 hex characters)."""
    return xxhash.xxh3_128_hexdigest(key.encode("utf-8"))


#: Texts longer than this many characters are keyed piece by piece (`key_hashes`).
_KEY_WINDOW = 1 << 20
#: Where a long text may be cut for keying: before an ASCII letter/digit or a CJK unified ideograph.
#: Both are starters that NFKC never composes with what precedes them and that casefold maps to
#: themselves or a single ASCII letter, and the key keeps them; so no step of normalize_key (NFKC,
#: casefold, deletions, the fixed-point loop) sees across the cut.
_KEY_CUT_RE = re.compile("(?=[0-9A-Za-z\u4e00-\u9fff])")


def _key_pieces(text: str, window: int) -> list[tuple[int, int]]:
    """[a, b) cuts of `text` at safe positions (_KEY_CUT_RE), about `window` characters apart."""
    return pieces(text, window, _KEY_CUT_RE)


def key_hashes(text: str, *, window: int = _KEY_WINDOW) -> tuple[str, str]:
    """(key_hash(normalize_key(cs)), key_hash(cs)) with cs = normalize_key(text, casefold=False): the
    exact-dedup key columns `key_hash` and `key_hash_cs`. A text longer than `window` is keyed piece by piece and hashed by streaming xxh3
    updates, so neither key of a long document exists whole (issue 19 item 10); the pieces' keys
    concatenate to the whole text's key (see _KEY_CUT_RE), so the digests are the same.

    The case-insensitive key is the casefolded case-sensitive one (a tested property), and folding
    the short, already stripped key is cheaper than keying the text twice."""
    if len(text) <= window:
        cs = normalize_key(text, casefold=False)
        return key_hash(fold_key(cs)), key_hash(cs)
    h, h_cs = xxhash.xxh3_128(), xxhash.xxh3_128()
    for a, b in _key_pieces(text, window):
        cs = normalize_key(text[a:b], casefold=False)
        h_cs.update(cs.encode("utf-8"))
        h.update(fold_key(cs).encode("utf-8"))
    return h.hexdigest(), h_cs.hexdigest()


def fold_key(cs: str) -> str:
    """normalize_key(cs) for a case-sensitive key cs = normalize_key(x, casefold=False), in one or
    two C passes where case folding changes nothing (Chinese: ~5x cheaper than the full pass).

    Why it is exact: cs is always the output of _strip_key (no deletable character left), so when it
    is also NFKC and casefold maps it to itself, every step of normalize_key(cs) (pre-deletion, NFKC,
    casefold, deletion, the fixed-point loop) returns its input, and the result is cs itself. On
    ASCII, normalize_key is lower() plus deletions, and a stripped ASCII key holds only letters and
    digits. Anything else (ß, İ, Σ, capital letters outside ASCII) takes the full pass."""
    if cs.isascii():
        return cs.lower()
    if cs.casefold() == cs and unicodedata.is_normalized("NFKC", cs):
        return cs
    return normalize_key(cs)

"""Exact-dedup keys: the key form of a text (`normalize_key`), its hash (`key_hash`) and the two
staged key columns (`key_hashes`: `key_hash`, case-insensitive, and `key_hash_cs`, case kept).

Keys only have to be equal for texts a reader would call equal, so they are aggressive (design.md,
"Text policies"): NFKC + casefold + punctuation, symbols, whitespace and control/format characters
removed. The stored text's gentler policy is `pipeline/normalize.py`'s; the two agree where it
matters: normalize_key(normalize_text(x)[0]) == normalize_key(x).

The case-sensitive key is the twin of `normalize_key` without casefold, for the casing-impact
figure (how many more exact duplicates the case-insensitive key finds). Two texts with the same
case-sensitive key also have the same case-insensitive key, so the staged column `key_hash_cs`
counts a subset of `key_hash`'s duplicates and the impact is never negative.

Everything runs through C-level str/bytes methods and precompiled regexes with no per-character
Python loop (the exception is rare by construction: characters above U+FFFF). Pure-ASCII text skips
the Unicode-only steps. Measured figures: bench/normalize_tokens.py.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import xxhash

from pipeline.categories import category_runs, class_body
from pipeline.pieces import pieces

__all__ = [
    "KEY_HASH_CS",
    "EMPTY_KEY_HASH",
    "case_sensitive_key",
    "case_sensitive_key_hash",
    "fold_key",
    "key_hash",
    "key_hashes",
    "normalize_key",
]

#: Characters above U+FFFF (the category classes below cover the BMP only: see pipeline/categories.py).
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


@functools.cache
def _key_classes() -> tuple[str, str]:
    """Regex class bodies (BMP only) from this Python's `unicodedata`.

    key_strip: non-ASCII BMP characters of category P*, Z*, C*, S* (ASCII ones go through a bytes
    table). key_prestrip: those of them whose NFKC form is made only of such characters (，。「」、
    U+3000 ...) and that never compose with a following mark: deleting them before NFKC gives the
    same key (see normalize_key), and spares NFKC, which rebuilds the whole string as soon as one
    character changes, most of its work on Chinese text (the check below is the only
    per-character loop, once per process)."""
    strip = [(max(a, 0x80), b) for a, b in category_runs("(?:[PZCS][a-z])+") if b >= 0x80]
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
    return class_body(strip), class_body(prestrip)


@functools.cache
def _key_res() -> tuple[re.Pattern[str], re.Pattern[str]]:
    strip, prestrip = _key_classes()
    return re.compile(f"[{strip}]+"), re.compile(f"[{prestrip}]+")


def _strip_non_bmp(m: re.Match[str]) -> str:
    category = unicodedata.category
    return "".join(c for c in m.group() if category(c)[0] not in "PZCS")


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


#: Staged-shard column holding `case_sensitive_key_hash(text)`.
KEY_HASH_CS = "key_hash_cs"
#: key_hash("") — the key of a text made only of punctuation/symbols/spaces: never a duplicate key.
EMPTY_KEY_HASH = key_hash("")


def case_sensitive_key(text: str) -> str:
    """NFKC + P*/Z*/C*/S* deleted, case kept."""
    return normalize_key(text, casefold=False)


def case_sensitive_key_hash(text: str) -> str:
    """The `key_hash_cs` column value: xxh3-128 hex of `case_sensitive_key(text)`, computed by the
    keys tagger's own `key_hashes` so the two can never disagree."""
    return key_hashes(text)[1]

"""Script-aware shingles for MinHash: word n-grams for space-delimited scripts, character n-grams
for Han/Kana/Hangul/Thai (and Lao, Khmer, Myanmar, Bopomofo), both inside one document.

Shingle text (why not `normalize_key`): the exact-dedup key deletes punctuation and spaces, so word
boundaries are gone ("new york" == "newyork"). Shingles need them, so the shingle text is
NFKC + casefold (the same folding as the key: full-width forms, ligatures, case), with every
character of category P*, S*, Z*, C* (punctuation, symbols, spaces, controls) acting as a token
separator, and format characters (Cf: soft hyphen, zero-width space, ZWJ/ZWNJ, BOM) deleted so that
they split nothing. Apostrophes and hyphens therefore split words ("don't" -> "don" "t"), the same
way in every copy of a text, and "，" / "," / "、" separate alike.

Tokens: a word token is a maximal run of letters, marks and digits outside the character-gram
scripts; a character-gram script character is one token by itself. Consecutive tokens of one kind
form a *run*. A run shorter than its n ("minor": a number or an acronym inside Chinese text, one Han
character inside English text) next to a run of the other kind that is long enough ("major") takes
that kind and merges with it, repeatedly; so "2009年2月离世" inside a Chinese paragraph is one
character run whose tokens are "2009" 年 "2" 月 离 世, and "the character 中 means middle ..." is
one word run. Chains of minor runs with no major neighbour keep their kinds.

Shingles: every window of n consecutive tokens inside a run (n = `word_ngram` for word runs,
`char_ngram` for character runs); a run shorter than n yields ONE shingle of the whole run, so a
short Chinese text or a three-word title still gets a non-empty signature (datatrove drops
documents shorter than n). A document with no letter, digit or Han character at all (only
emoji, symbols, punctuation) is shingled over those characters as character tokens instead; only
an empty or whitespace/control-only text has no shingle (an empty signature, which clustering
ignores).

Hashes: token hash = fmix64(sum(ord(c_i) * P^i) + len * C_LEN); shingle hash = the high 32 bits of
fmix64(sum(token_hash_k * R^k) + m * C_M + kind * C_K) (all mod 2^64; m = tokens in the shingle).
Both are polynomial, so a whole batch (documents joined by NUL) is computed with a fixed number of
numpy passes: token hashes as differences of prefix sums of cp_j * P^j, shingle hashes as sums of
shifted slices; no Python loop per token or per shingle. `token_hash` / `shingle_hash` / `shingles`
are the pure-Python reference of the same values (`shingle_hash` is datasketch's `hashfunc` in the
equivalence tests). Folding (NFKC + casefold) goes through lookup tables so that string-level NFKC
runs only for the few documents that need it (see `_fold_cp`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.hashmix import fmix64, fmix64_np_inplace

__all__ = [
    "ShingleBatch",
    "WORD",
    "CHAR",
    "shingle_text",
    "shingle_hashes",
    "shingle_hash_blocks",
    "ngram_hashes64",
    "shingles",
    "shingle_hash",
    "token_hash",
    "tokens",
]

#: Shingle kinds (also the token kinds).
WORD = 1
CHAR = 2

# Character classes of the lookup table.
_SEP = 0  # P*, S*, Z*, C* except Cf: token separator
_WORD = 1  # letters, marks, numbers of space-delimited scripts
_CJK = 2  # letters/marks/numbers of the character-gram scripts: one token each
_DOC = 3  # "\x00": document separator inside a batch (never in a text: see _join)
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

# Hash constants (odd 64-bit multipliers from the golden ratio / splitmix / murmur families).
_M64 = (1 << 64) - 1
_P = 0x9E3779B97F4A7C15  # per-character polynomial base
_C_LEN = 0xBF58476D1CE4E5B9  # token length salt
_R = 0x94D049BB133111EB  # per-token polynomial base inside a shingle
_C_M = 0xD6E8FEB86659FD93  # shingle length salt
_C_K = 0xFF51AFD7ED558CCD  # shingle kind salt

_U64 = np.uint64


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


# --------------------------------------------------------------------------------------------------
# Pure-Python reference (tests, datasketch hashfunc)
# --------------------------------------------------------------------------------------------------


def token_hash(token: str) -> int:
    """64-bit hash of one token (a word or one character): the reference of the vectorised path."""
    acc = 0
    p = 1
    for ch in token:
        acc = (acc + ord(ch) * p) & _M64
        p = (p * _P) & _M64
    return fmix64((acc + len(token) * _C_LEN) & _M64)


def shingle_hash(shingle: tuple[int, tuple[str, ...]]) -> int:
    """32-bit hash of one shingle `(kind, tokens)`; usable as datasketch `MinHash(hashfunc=...)`."""
    kind, toks = shingle
    acc = 0
    r = 1
    for t in toks:
        acc = (acc + token_hash(t) * r) & _M64
        r = (r * _R) & _M64
    return fmix64((acc + len(toks) * _C_M + kind * _C_K) & _M64) >> 32


def shingle_text(text: str) -> str:
    """The text shingles are cut from, made readable: NFKC + casefold, Cf characters deleted,
    separators (P*, S*, Z*, C*) as single spaces. For inspection and tests; the hot path works on
    code point arrays and never builds this string."""
    norm = _fold(text.replace("\x00", " "))
    table = _class_table()
    out: list[str] = []
    for ch in norm:
        c = table[ord(ch)]
        if c == _IGNORE:
            continue
        out.append(ch if c in (_WORD, _CJK) else " ")
    return " ".join("".join(out).split())


def tokens(text: str, *, symbols: bool = False) -> list[tuple[int, str]]:
    """Reference tokeniser: `(kind, token)` in text order (WORD runs of letters/digits/marks, one
    CHAR token per character-gram script character). `symbols`: S*/P* characters are CHAR tokens
    (the fallback for documents with no other token)."""
    table = _class_table()
    out: list[tuple[int, str]] = []
    word: list[str] = []
    for ch in _fold(text.replace("\x00", " ")):
        c = table[ord(ch)]
        if c == _IGNORE:
            continue
        if c == _WORD:
            word.append(ch)
            continue
        if word:
            out.append((WORD, "".join(word)))
            word = []
        if c == _CJK or (symbols and c == _SYMBOL):
            out.append((CHAR, ch))
    if word:
        out.append((WORD, "".join(word)))
    return out


def shingles(text: str, word_ngram: int = 5, char_ngram: int = 5) -> list[tuple[int, tuple[str, ...]]]:
    """Reference shingler (slow, plain Python): the shingles of one text as `(kind, tokens)`, in
    text order, duplicates kept. `shingle_hashes` computes the same hashes vectorised."""
    toks = tokens(text)
    if not toks:
        toks = tokens(text, symbols=True)
    if not toks:
        return []
    kinds = [k for k, _ in toks]
    n_of = {WORD: word_ngram, CHAR: char_ngram}

    def runs() -> list[tuple[int, int, int]]:  # (start, end, kind)
        out: list[tuple[int, int, int]] = []
        start = 0
        for i in range(1, len(kinds) + 1):
            if i == len(kinds) or kinds[i] != kinds[start]:
                out.append((start, i, kinds[start]))
                start = i
        return out

    while True:  # rounds: every minor run next to a major one takes the other kind (merges)
        rs = runs()
        major = [e - s >= n_of[k] for s, e, k in rs]
        flips = [
            j
            for j, (s, e, k) in enumerate(rs)
            if not major[j] and ((j > 0 and major[j - 1]) or (j + 1 < len(rs) and major[j + 1]))
        ]
        if not flips:
            break
        for j in flips:
            s, e, k = rs[j]
            kinds[s:e] = [3 - k] * (e - s)
    out: list[tuple[int, tuple[str, ...]]] = []
    for s, e, k in runs():
        n = n_of[k]
        words = tuple(t for _, t in toks[s:e])
        if e - s < n:
            out.append((k, words))
        else:
            out.extend((k, words[i : i + n]) for i in range(e - s - n + 1))
    return out


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


# --------------------------------------------------------------------------------------------------
# Vectorised path
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShingleBatch:
    """Shingle hashes of a batch of documents: document i owns `hashes[offsets[i]:offsets[i+1]]`
    (duplicates within a document kept: MinHash's min makes them harmless)."""

    hashes: np.ndarray  # uint32
    offsets: np.ndarray  # int64, len(texts) + 1

    def of(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]


class _Powers:
    """P^k mod 2^64 for k < len, grown on demand (token lengths are unbounded: a base64 blob is one
    'word')."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.table = np.ones(1, dtype=np.uint64)

    def upto(self, n: int) -> np.ndarray:
        if n > len(self.table):
            size = max(n, 2 * len(self.table), 64)
            t = np.full(size, self.base, dtype=np.uint64)
            t[0] = 1
            with np.errstate(over="ignore"):
                self.table = np.cumprod(t, dtype=np.uint64)
        return self.table


_POW_P = _Powers(_P)
_P_INV = pow(_P, -1, 1 << 64)
#: Tokens are hashed through prefix sums over position-indexed power tables of this many entries
#: (2 x 8 bytes each, kept for reuse), batches longer than that piece by piece; only a single token
#: longer than the tables makes a batch use per-token offsets.
_PREFIX_MAX = 1 << 21


@functools.cache
def _prefix_tables_full() -> tuple[np.ndarray, np.ndarray]:
    pw = np.full(_PREFIX_MAX, _P, dtype=np.uint64)
    pw[0] = 1
    pinv = np.full(_PREFIX_MAX, _P_INV, dtype=np.uint64)
    pinv[0] = 1
    return np.cumprod(pw, dtype=np.uint64), np.cumprod(pinv, dtype=np.uint64)


_small_tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _prefix_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(P^j, P^-j) for j < n (n <= _PREFIX_MAX): small batches get tables of the next power of two
    (tests, single documents), batches of the usual size share the full 2M-entry tables (32 MB)."""
    size = max(1 << max(n - 1, 1).bit_length(), 1024)
    if size >= _PREFIX_MAX // 4:
        full = _prefix_tables_full()
        if full[0].size >= n:  # (built once per process: a test may have shrunk _PREFIX_MAX then)
            return full
    if size not in _small_tables:
        pw = np.full(size, _P, dtype=np.uint64)
        pw[0] = 1
        pinv = np.full(size, _P_INV, dtype=np.uint64)
        pinv[0] = 1
        _small_tables[size] = (np.cumprod(pw, dtype=np.uint64), np.cumprod(pinv, dtype=np.uint64))
    return _small_tables[size]


_POW_R = [pow(_R, k, 1 << 64) for k in range(64)]


def _rpow(k: int) -> int:
    return _POW_R[k] if k < len(_POW_R) else pow(_R, k, 1 << 64)


def _join(texts: Sequence[str]) -> str:
    """One string for the batch, documents separated by NUL (NULs inside texts become spaces)."""
    big = "\x00".join(texts)
    if big.count("\x00") != max(len(texts) - 1, 0):
        big = "\x00".join(t.replace("\x00", " ") for t in texts)
    return big


def shingle_hashes(texts: Sequence[str], word_ngram: int = 5, char_ngram: int = 5) -> ShingleBatch:
    """Shingle hashes (uint32) of every text, computed for the whole batch at once with numpy.

    Cost is a fixed number of numpy passes over the batch's code points and tokens, so batches
    should hold many documents (signatures() feeds ~1M characters at a time)."""
    n_docs = len(texts)
    if n_docs == 0:
        return ShingleBatch(np.zeros(0, np.uint32), np.zeros(1, np.int64))
    cp = _fold_cp(_join(texts))
    table = _class_table()
    cls = table[cp]
    hashes, doc_of = _hash_batch(cp, cls, word_ngram, char_ngram, symbols=False)
    counts = np.bincount(doc_of, minlength=n_docs) if len(doc_of) else np.zeros(n_docs, np.int64)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        # Symbol-only documents: shingle their symbols (rare, so a second pass over those alone).
        sub = [texts[i] for i in empty]
        scp = _fold_cp(_join(sub))
        sh, sdoc = _hash_batch(scp, table[scp], word_ngram, char_ngram, symbols=True)
        if len(sh):
            hashes = np.concatenate([hashes, sh])
            doc_of = np.concatenate([doc_of, empty[sdoc]])
            order = np.argsort(doc_of, kind="stable")
            hashes, doc_of = hashes[order], doc_of[order]
            counts = np.bincount(doc_of, minlength=n_docs)
    offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return ShingleBatch(hashes, offsets)


def ngram_hashes64(texts: Sequence[str], word_ngram: int, char_ngram: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full 64-bit hashes of the full n-grams only (no whole-run shingle of a run shorter than n, no
    symbol fallback): (hashes uint64, document index int64, position of the window among its
    document's shingles int64). For n-gram overlap (decontamination), where 32-bit hashes would
    collide at random and a short run is no evidence of overlap."""
    if not texts:
        z = np.zeros(0, np.int64)
        return np.zeros(0, np.uint64), z, z
    cp = _fold_cp(_join(texts))
    h, doc_of, full = _hash_batch(cp, _class_table()[cp], word_ngram, char_ngram, symbols=False, wide=True)
    pos = np.arange(len(doc_of), dtype=np.int64)
    if len(doc_of):
        first = np.searchsorted(doc_of, doc_of, side="left")
        pos = pos - first
    return h[full], doc_of[full], pos[full]


def _hash_batch(
    cp: np.ndarray, cls: np.ndarray, word_n: int, char_n: int, *, symbols: bool, wide: bool = False
) -> tuple[np.ndarray, ...]:
    """(shingle hashes uint32, document index int64 per shingle, non-decreasing) of a joined batch;
    `wide`: (hashes uint64, document index, full-window mask) instead."""
    if symbols:
        cls = np.where(cls == _SYMBOL, np.uint8(_CJK), cls)
    if (cls == _IGNORE).any():
        keep = cls != _IGNORE
        cp, cls = cp[keep], cls[keep]
    tok = _token_hashes(cp, cls)
    if tok is None:
        return (np.zeros(0, np.uint64), np.zeros(0, np.int64), np.zeros(0, bool)) if wide else (np.zeros(0, np.uint32), np.zeros(0, np.int64))
    th, kind, tok_doc = tok
    return _shingles_of_tokens(th, kind, tok_doc, word_n, char_n, wide=wide)


def _token_hashes(cp: np.ndarray, cls: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(token hash uint64, kind uint8, document index int64) of every token of a joined batch whose
    ignorable characters are already deleted; None without tokens."""
    n = len(cls)
    if n == 0:
        return None
    is_word = cls == _WORD
    is_cjk = cls == _CJK
    # A token starts at every character-gram character and at the first character of a word.
    start = is_cjk.copy()
    start[0] |= is_word[0]
    start[1:] |= is_word[1:] & ~is_word[:-1]
    tok_pos = np.flatnonzero(start)  # position of each token's first character
    n_tok = len(tok_pos)
    if n_tok == 0:
        return None
    # Per-token polynomial hash sum(cp_j * P^(j - start)).
    end = is_cjk.copy()
    end[-1] |= is_word[-1]
    end[:-1] |= is_word[:-1] & ~is_word[1:]
    tok_last = np.flatnonzero(end)
    del end
    tok_len = tok_last - tok_pos + 1
    if int(tok_len.max()) <= _PREFIX_MAX:
        # prefix sums of cp_j * P^j: a token is a difference of two prefix sums times P^-start (P is
        # odd, so invertible mod 2^64); positions index precomputed power tables. A batch longer than
        # the tables (one document of millions of characters) is cut into pieces at token starts:
        # every token lies inside one piece and its hash does not depend on where the piece starts,
        # so the temporaries stay at the tables' size (2 x 8 bytes per character of a piece).
        raw = np.empty(n_tok, dtype=np.uint64)
        t0 = 0
        while t0 < n_tok:
            a = int(tok_pos[t0])
            t1 = int(np.searchsorted(tok_last, a + _PREFIX_MAX - 1, side="right"))
            b = int(tok_last[t1 - 1]) + 1
            pw, pinv = _prefix_tables(b - a)
            w = cp[a:b].astype(np.uint64)
            w *= pw[: b - a]
            prefix = np.cumsum(w)
            pos = tok_pos[t0:t1] - a
            piece = prefix[tok_last[t0:t1] - a] - prefix[pos] + w[pos]
            piece *= pinv[pos]
            raw[t0:t1] = piece
            del w, prefix, pos, piece
            t0 = t1
    else:  # a token longer than the tables (a base64 blob is one "word"): offsets inside tokens
        tok_chars = np.flatnonzero(is_word | is_cjk)
        first = start[tok_chars]
        starts_in_chars = np.flatnonzero(first)
        tok_len = np.diff(starts_in_chars, append=len(tok_chars))
        tok_idx = np.cumsum(first, dtype=np.int64) - 1
        offset = tok_chars - tok_pos[tok_idx]
        contrib = cp[tok_chars].astype(np.uint64)
        contrib *= _POW_P.upto(int(tok_len.max()))[offset]
        raw = np.add.reduceat(contrib, starts_in_chars)
    raw += tok_len.astype(np.uint64) * _U64(_C_LEN)
    th = fmix64_np_inplace(raw)
    # Document of each token: the number of document separators before its first character.
    marks = np.flatnonzero(cls == _DOC)
    per_doc = np.diff(np.searchsorted(tok_pos, marks), prepend=0, append=n_tok)
    tok_doc = np.repeat(np.arange(len(per_doc), dtype=np.int64), per_doc)
    kind = np.where(is_cjk[tok_pos], np.uint8(CHAR), np.uint8(WORD))
    return th, kind, tok_doc


def _shingles_of_tokens(
    th: np.ndarray, kind: np.ndarray, tok_doc: np.ndarray, word_n: int, char_n: int, *, wide: bool
) -> tuple[np.ndarray, ...]:
    """The shingle hashes of _hash_batch from the batch's tokens (hashes, kinds, documents)."""
    # every character-gram character is a CHAR token (symbols too, in the fallback pass)
    run_start, run_len, run_kind = _absorb(kind, tok_doc, word_n, char_n, any_cjk=bool((kind == CHAR).any()))
    # Shingles per run: every window of n tokens, or the whole run when it is shorter than n.
    run_n = np.where(run_kind == WORD, word_n, char_n)
    count = np.maximum(run_len - run_n + 1, 1)
    first_sh = np.cumsum(count) - count
    s = np.repeat(run_start - first_sh, count) + np.arange(int(count.sum()))
    m_run = np.minimum(run_len, run_n)
    # Full windows: rolling sums over contiguous slices (acc[i] = sum_k th[i+k] R^k); when the two
    # n differ, the smaller one's partial sum is kept aside. Windows of short runs are redone below.
    lo_n, hi_n = min(word_n, char_n), max(word_n, char_n)
    acc, acc_lo = _rolling(th, lo_n, hi_n)
    if lo_n == hi_n:
        win = acc[s]
    else:
        win = np.where(np.repeat(run_n, count) == hi_n, acc[s], acc_lo[s])
    short = np.flatnonzero(run_len < run_n)
    if len(short):  # whole-run shingles of runs shorter than n
        win[first_sh[short]] = _short_run_sums(th, run_start[short], run_len[short])
    salt = m_run.astype(np.uint64) * _U64(_C_M) + run_kind.astype(np.uint64) * _U64(_C_K)
    win += np.repeat(salt, count)
    if wide:
        return fmix64_np_inplace(win), np.repeat(tok_doc[run_start], count), np.repeat(run_len >= run_n, count)
    h = (fmix64_np_inplace(win) >> _U64(32)).astype(np.uint32)
    return h, np.repeat(tok_doc[run_start], count)


def _rolling(th: np.ndarray, lo_n: int, hi_n: int) -> tuple[np.ndarray, np.ndarray]:
    """acc[i] = sum_k th[i+k] R^k over k < hi_n, and the same over k < lo_n (the same array when
    lo_n == hi_n); sums are cut short at the end of `th` (only full windows are read from them)."""
    n_tok = len(th)
    acc = th.copy()
    acc_lo = acc
    for k in range(1, hi_n):
        if k == lo_n:
            acc_lo = acc.copy()
        if k < n_tok:
            acc[:-k] += th[k:] * _U64(_rpow(k))
    return acc, acc_lo


def _short_run_sums(th: np.ndarray, ps: np.ndarray, pm: np.ndarray) -> np.ndarray:
    """sum_k th[ps + k] R^k for k < pm: the shingle sums of whole runs shorter than their n."""
    pacc = th[ps].copy()
    for k in range(1, int(pm.max())):
        sel = np.flatnonzero(pm > k)
        pacc[sel] += th[ps[sel] + k] * _U64(_rpow(k))
    return pacc


def _absorb(
    kind: np.ndarray, doc: np.ndarray, word_n: int, char_n: int, *, any_cjk: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs (start token, length, kind) after minor runs merged into major neighbours, in closed
    form. The reference (`shingles`) iterates rounds: each round every minor run next to a major
    run flips to the other kind and merges with it, so a major run swallows two runs of a minor
    chain per round (the adjacent one flips, the next one already has the major's kind). A minor
    run at distance d (in runs) from the nearest major run on a side is therefore reached in round
    ceil(d / 2); it joins the side that reaches it first; on a tie it flips towards the side at odd
    distance (adjacent in that round), and with both distances even it already has both kinds."""
    n = len(kind)
    brk = np.ones(n, dtype=bool)
    brk[1:] = doc[1:] != doc[:-1]
    if any_cjk:
        brk[1:] |= kind[1:] != kind[:-1]
    rs = np.flatnonzero(brk)
    rl = np.diff(rs, append=n)
    rk = kind[rs]
    if not any_cjk:  # one word run per document
        return rs, rl, rk
    nr = len(rs)
    major = rl >= np.where(rk == WORD, word_n, char_n)
    if major.all() or not major.any():
        return rs, rl, rk
    rd = doc[rs]
    idx = np.arange(nr)
    new_doc = np.ones(nr, dtype=bool)
    new_doc[1:] = rd[1:] != rd[:-1]
    doc_first = np.maximum.accumulate(np.where(new_doc, idx, 0))
    last_doc = np.ones(nr, dtype=bool)
    last_doc[:-1] = new_doc[1:]
    doc_last = np.minimum.accumulate(np.where(last_doc, idx, nr)[::-1])[::-1]
    left = np.maximum.accumulate(np.where(major, idx, -1))
    right = np.minimum.accumulate(np.where(major, idx, nr)[::-1])[::-1]
    left_ok = left >= doc_first
    right_ok = right <= doc_last
    far = np.int64(1) << 40
    dl = np.where(left_ok, idx - left, far)
    dr = np.where(right_ok, right - idx, far)
    rl_round, rr_round = (dl + 1) // 2, (dr + 1) // 2
    take_left = (rl_round < rr_round) | ((rl_round == rr_round) & (dr % 2 == 0))
    target = np.where(take_left, rk[np.clip(left, 0, nr - 1)], rk[np.clip(right, 0, nr - 1)])
    change = ~major & (left_ok | right_ok) & (target != rk)
    if not change.any():
        return rs, rl, rk
    new_kind = rk.copy()
    new_kind[change] = target[change]
    kind = np.repeat(new_kind, rl)
    brk[1:] = (doc[1:] != doc[:-1]) | (kind[1:] != kind[:-1])
    rs = np.flatnonzero(brk)
    return rs, np.diff(rs, append=n), kind[rs]


# --------------------------------------------------------------------------------------------------
# One long document, in bounded memory (issue 19 item 10)
# --------------------------------------------------------------------------------------------------

#: Characters per piece of a long text's character pass (code points, classes, prefix sums).
_PIECE_CHARS = 1 << 18
#: Shingles per block of a long text's window pass.
_BLOCK_SHINGLES = 1 << 17
_PIECE_CUT = re.compile("[\n ]")


def _pieces(text: str, size: int) -> list[tuple[int, int]]:
    """[a, b) cuts of `text` before a "\\n" or an ASCII space, about `size` characters apart. Both are
    separators that fold to themselves and that NFKC neither changes nor composes with a neighbour,
    so no token, fold or NFKC run crosses a cut."""
    cuts: list[tuple[int, int]] = []
    a, n = 0, len(text)
    while n - a > size:
        m = _PIECE_CUT.search(text, a + size)
        if m is None:
            break
        b = m.start()
        cuts.append((a, b))
        a = b
    cuts.append((a, n))
    return cuts


def _text_tokens(text: str, piece_chars: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(token hashes, kinds) of one text, computed piece by piece (the same values as the
    whole-text pass, since tokens hash independently of their position); None without tokens."""
    table = _class_table()
    ths: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    for a, b in _pieces(text, piece_chars):
        cp = _fold_cp(_join([text[a:b]]))
        cls = table[cp]
        if (cls == _IGNORE).any():
            keep = cls != _IGNORE
            cp, cls = cp[keep], cls[keep]
        tok = _token_hashes(cp, cls)
        del cp, cls
        if tok is not None:
            ths.append(tok[0])
            kinds.append(tok[1])
    if not ths:
        return None
    return np.concatenate(ths), np.concatenate(kinds)


def shingle_hash_blocks(
    text: str,
    word_ngram: int = 5,
    char_ngram: int = 5,
    *,
    piece_chars: int | None = None,
    block_shingles: int | None = None,
) -> Iterator[np.ndarray]:
    """The shingle hashes (uint32) of one text, in blocks of at most `block_shingles` whose
    concatenation is `shingle_hashes([text]).hashes` (same values, same order).

    For long documents: the character arrays exist one piece of `piece_chars` at a time, only the
    token hashes and kinds (9 bytes per token) span the text, and each block's windows are summed
    over its own slice of tokens. Sizes default to _PIECE_CHARS and _BLOCK_SHINGLES."""
    piece_chars = piece_chars or _PIECE_CHARS
    block_shingles = block_shingles or _BLOCK_SHINGLES
    tok = _text_tokens(text, piece_chars)
    if tok is None:  # no letter/digit/CJK token: the symbol fallback, on the whole text (rare)
        yield shingle_hashes([text], word_ngram, char_ngram).hashes
        return
    th, kind = tok
    doc = np.broadcast_to(np.int64(0), th.shape)  # one document: no per-token array
    run_start, run_len, run_kind = _absorb(kind, doc, word_ngram, char_ngram, any_cjk=bool((kind == CHAR).any()))
    del kind
    run_n = np.where(run_kind == WORD, word_ngram, char_ngram)
    count = np.maximum(run_len - run_n + 1, 1)
    first_sh = np.cumsum(count) - count
    total = int(count.sum())
    salt = np.minimum(run_len, run_n).astype(np.uint64) * _U64(_C_M) + run_kind.astype(np.uint64) * _U64(_C_K)
    short = run_len < run_n
    pacc = np.zeros(len(run_start), dtype=np.uint64)
    if short.any():
        pacc[short] = _short_run_sums(th, run_start[short], run_len[short])
    lo_n, hi_n = min(word_ngram, char_ngram), max(word_ngram, char_ngram)
    for i0 in range(0, total, block_shingles):
        idx = np.arange(i0, min(i0 + block_shingles, total), dtype=np.int64)
        r = np.searchsorted(first_sh, idx, side="right") - 1  # run of every shingle
        s = run_start[r] + (idx - first_sh[r])  # its first token (increasing)
        lo = int(s[0])
        acc, acc_lo = _rolling(th[lo : min(int(s[-1]) + hi_n, len(th))], lo_n, hi_n)
        s -= lo
        win = acc[s] if lo_n == hi_n else np.where(run_n[r] == hi_n, acc[s], acc_lo[s])
        del acc, acc_lo, s
        sh = short[r]
        if sh.any():
            win[sh] = pacc[r[sh]]
        win += salt[r]
        yield (fmix64_np_inplace(win) >> _U64(32)).astype(np.uint32)

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
runs only for the few documents that need it (see `chartables._fold_cp`).

Modules: `chartables.py` the character classes and the fold; `shingle_kernels.py` the hash
constants and the numpy passes; here the reference and the public entry points.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.dedup.chartables import (
    _CJK,
    _IGNORE,
    _SYMBOL,
    _WORD,
    CHAR,
    WORD,
    _class_table,
    _fold,
    _fold_cp,
)
from pipeline.dedup.shingle_kernels import (
    _C_K,
    _C_LEN,
    _C_M,
    _M64,
    _P,
    _R,
    _U64,
    _absorb,
    _hash_batch,
    _rolling,
    _short_run_sums,
    _token_hashes,
)
from pipeline.hashmix import fmix64, fmix64_np_inplace
from pipeline.pieces import pieces

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


# --------------------------------------------------------------------------------------------------
# One long document, in bounded memory (issue 19 item 10)
# --------------------------------------------------------------------------------------------------

#: Characters per piece of a long text's character pass (code points, classes, prefix sums).
_PIECE_CHARS = 1 << 18
#: Shingles per block of a long text's window pass.
_BLOCK_SHINGLES = 1 << 17
_PIECE_CUT = re.compile("(?=[\n ])")


def _pieces(text: str, size: int) -> list[tuple[int, int]]:
    """[a, b) cuts of `text` before a "\\n" or an ASCII space, about `size` characters apart. Both are
    separators that fold to themselves and that NFKC neither changes nor composes with a neighbour,
    so no token, fold or NFKC run crosses a cut."""
    return pieces(text, size, _PIECE_CUT)


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

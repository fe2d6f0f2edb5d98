"""The vectorised shingle hashing (`pipeline/dedup/shingles.py` has the overview and the
pure-Python reference of the same values): the hash constants, token hashes as differences of
prefix sums of cp_j * P^j, minor runs merged into major neighbours in closed form, and shingle
hashes as rolling sums of token hashes, all numpy passes over a whole batch.

Why apart: this is the hot path of the tag phase's MinHash and of decontamination n-grams; the
reference and the public entry points (`shingle_hashes`, `ngram_hashes64`, `shingle_hash_blocks`)
stay readable next to each other in shingles.py."""

from __future__ import annotations

import functools

import numpy as np

from pipeline.dedup.chartables import _CJK, _DOC, _IGNORE, _SYMBOL, _WORD, CHAR, WORD
from pipeline.hashmix import fmix64_np_inplace

# Hash constants (odd 64-bit multipliers from the golden ratio / splitmix / murmur families).
_M64 = (1 << 64) - 1
_P = 0x9E3779B97F4A7C15  # per-character polynomial base
_C_LEN = 0xBF58476D1CE4E5B9  # token length salt
_R = 0x94D049BB133111EB  # per-token polynomial base inside a shingle
_C_M = 0xD6E8FEB86659FD93  # shingle length salt
_C_K = 0xFF51AFD7ED558CCD  # shingle kind salt

_U64 = np.uint64

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
    (tests, single documents, a long text's pieces of ~256k characters: 8 MB, not 32), batches of
    the usual size (signatures' ~1M characters) share the full 2M-entry tables (32 MB)."""
    size = max(1 << max(n - 1, 1).bit_length(), 1024)
    if size >= _PREFIX_MAX // 2:
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

"""Quality signals' hashing and n-gram repetition: the polynomial hash powers (mod 2^64) the word
hashes are built with, and Gopher's top-n and duplicate-n fractions as an argsort of n-gram hashes
per n over the batch's word hashes (candidates only for n >= 3; blocks and hash-bit parts keep a long
document's sort bounded). Used by filters/quality_batch.py."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import numpy as np

from pipeline.hashmix import splitmix64_np_inplace

# --------------------------------------------------------------------------------------------------
# Hashing
# --------------------------------------------------------------------------------------------------

_U64 = np.uint64
_BASE = 0x9E3779B97F4A7C15  # odd, so invertible mod 2^64
_BASE_INV = pow(_BASE, -1, 1 << 64)
_GOLD = _U64(0x9E3779B97F4A7C15)
_NGRAM_MUL = _U64(0xD6E8FEB86659FD93)

#: Largest batch (in characters) hashed at once; longer inputs are split into chunks of documents.
_CHUNK_CHARS = 1 << 21
_powers_cache: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(B^i, B^-i) mod 2^64 for i < n, cached up to the chunk size."""
    cached = _powers_cache.get("pw")
    if cached is None or cached.size < n:
        size = max(n, min(_CHUNK_CHARS, 1 << 16))
        pw = np.full(size, _BASE, dtype=_U64)
        pw[0] = 1
        np.cumprod(pw, out=pw)
        pinv = np.full(size, _BASE_INV, dtype=_U64)
        pinv[0] = 1
        np.cumprod(pinv, out=pinv)
        if size > _CHUNK_CHARS:
            return pw, pinv  # a single huge document: not cached
        _powers_cache["pw"], _powers_cache["pinv"] = pw, pinv
        return pw, pinv
    return cached, _powers_cache["pinv"]


def _pow_base(exps: np.ndarray) -> np.ndarray:
    """_BASE ** exps mod 2^64 per element (square and multiply, 64 vector steps): for the few
    positions a huge document needs, without a power table as long as the document."""
    e = exps.astype(_U64)
    out = np.ones(e.size, dtype=_U64)
    sq = np.full(e.size, _BASE, dtype=_U64)
    while e.any():
        odd = (e & _U64(1)).astype(bool)
        out[odd] *= sq[odd]
        sq *= sq
        e >>= _U64(1)
    return out


def _ngram_signals(wh: np.ndarray, wl: np.ndarray, wdoc: np.ndarray, n_docs: int) -> dict[str, np.ndarray]:
    """Gopher top-n (n = 2..4) and duplicate-n (n = 5..10) character fractions of every document.

    top_n: characters of the most frequent n-gram (ties: the longest) times its count, over the
    document's word characters; only n-grams that occur at least twice count (a single occurrence
    is not repetition). dup_n: characters of words covered by a duplicate n-gram, i.e. a later
    occurrence of an n-gram seen before in the document (overlaps counted once), over the word
    characters. That is datatrove's reading of Gopher's "fraction of characters contained within all
    duplicate n-grams" (its find_all_duplicate skips first occurrences), the one FineWeb ran with
    Gopher's thresholds; RedPajama-V2 also counts the first occurrence, which doubles the signal of
    a text that says everything twice."""
    w = wh.size
    out = {f"q_top_{m}gram": np.zeros(n_docs) for m in (2, 3, 4)}
    out.update({f"q_dup_{m}gram": np.zeros(n_docs) for m in range(5, 11)})
    if n_docs == 1 and w:
        # one (long) document: its word-length array of document numbers is all zeros; a
        # read-only view of one zero holds none of it (every use below reads or indexes it)
        total = np.array([float(wl.sum(dtype=np.int64))])
        wdoc = np.broadcast_to(wdoc.dtype.type(0), wdoc.shape)
    else:
        total = np.bincount(wdoc, weights=wl, minlength=n_docs)
    if w < 2:
        return out
    # word-length arrays are what a long document holds here: hashes are mixed in place, and the
    # temporaries of each n are freed as soon as they are used (same values as plain expressions)
    g1 = wdoc.astype(_U64)
    g1 *= _GOLD
    g1 += _U64(1)
    splitmix64_np_inplace(g1)
    g1 += wh  # doc-salted: n-grams never match across docs
    del wh  # the caller hands it over: freed here when no one else holds it
    splitmix64_np_inplace(g1)
    g = g1
    dup_prev: np.ndarray | None = None
    with np.errstate(invalid="ignore", divide="ignore"):
        for m in range(2, 11):
            npos = w - m + 1
            if npos <= 0:
                break
            if m == 2:
                g = g1[:npos] * _NGRAM_MUL
            else:
                g = g[:npos]
                g *= _NGRAM_MUL
            g += g1[m - 1 :]
            splitmix64_np_inplace(g)
            valid = wdoc[:npos] == wdoc[m - 1 :]
            if dup_prev is not None:
                valid &= dup_prev[:npos] & dup_prev[1 : npos + 1]
            dup = np.zeros(npos, dtype=bool)
            best = np.zeros(n_docs, dtype=np.int64) if m <= 4 else None
            delta = np.zeros(w + 1, dtype=np.int8) if m >= 5 else None
            found = False  # a repeated n-gram (m <= 4) or a later occurrence (m >= 5) was seen
            for cand in _candidate_parts(valid, g):
                found |= _group_part(g, cand, m, dup, best, delta, wl, wdoc)
            del valid
            if found and best is not None:
                out[f"q_top_{m}gram"] = (best >> 32) * (best & 0xFFFFFFFF) / np.maximum(total, 1)
            if found and delta is not None:
                out[f"q_dup_{m}gram"] = _covered_chars(delta, wl, wdoc, n_docs) / np.maximum(total, 1)
            del delta
            if not dup.any():
                break  # no n-gram repeats, so no longer one does either
            dup_prev = dup
    return out


#: Sorted n-gram keys compared this many at a time (a gather per block, not a sorted copy).
_GROUP_BLOCK = 1 << 20
#: n-gram candidates grouped at once: more are split by the top bits of their hash (equal hashes
#: always fall in the same part), so the sort's temporaries (3 x 8 bytes each) stay bounded.
_PART_CANDIDATES = 1 << 18


def _covered_chars(delta: np.ndarray, wl: np.ndarray, wdoc: np.ndarray, n_docs: int) -> np.ndarray:
    """Word characters per document where the running sum of `delta` (n-grams covering a word) is
    positive, a block at a time (sums of integers in float64: exact, in any order). One document
    sums its block in place (no gathered copy of the covered words, no float64 weights)."""
    chars = np.zeros(n_docs)
    carry = np.int8(0)
    for i in range(0, wl.size, _GROUP_BLOCK):
        run = np.cumsum(delta[i : min(i + _GROUP_BLOCK, wl.size)], dtype=np.int8)
        run += carry  # true values stay within 0..m: no int8 overflow
        carry = run[-1]
        covered = run > 0
        if n_docs == 1:
            chars[0] += float(wl[i : i + run.size].sum(where=covered, dtype=np.int64))
            continue
        chars += np.bincount(wdoc[i : i + run.size][covered], weights=wl[i : i + run.size][covered], minlength=n_docs)
    return chars


def _candidate_parts(valid: np.ndarray, g: np.ndarray) -> Iterator[np.ndarray]:
    """The positions where `valid`, in parts that share no hash value (one part when few)."""
    n = int(np.count_nonzero(valid))
    if n < 2:
        return
    bits = min(max((n - 1) // _PART_CANDIDATES, 0).bit_length(), 6)
    if bits == 0:
        yield np.flatnonzero(valid)
        return
    top = np.empty(g.size, dtype=np.uint8)
    shift = _U64(64 - bits)
    for i in range(0, g.size, _GROUP_BLOCK):
        top[i : i + _GROUP_BLOCK] = g[i : i + _GROUP_BLOCK] >> shift
    for part in range(1 << bits):
        yield np.flatnonzero(valid & (top == part))


def _group_part(
    g: np.ndarray, cand: np.ndarray, m: int, dup: np.ndarray, best: np.ndarray | None,
    delta: np.ndarray | None, wl: np.ndarray, wdoc: np.ndarray,
) -> bool:  # fmt: skip
    """Groups the n-grams at `cand` by hash; marks repeated positions in `dup`, and adds to `best`
    (m <= 4: per document, max of count << 32 | characters over repeated n-grams) or to `delta`
    (m >= 5: +1/-1 at the start/end of every later occurrence). True when it found any."""
    if cand.size < 2:
        return False
    pos_sorted, gstart, counts = _groups(g, cand)
    del cand
    repeated = np.repeat(counts >= 2, counts)
    dup[pos_sorted[repeated]] = True
    if best is not None:
        rep_groups = counts >= 2
        if not rep_groups.any():
            return False
        first = pos_sorted[gstart[rep_groups]]
        glen = functools.reduce(np.add, (wl[first + i].astype(np.int64) for i in range(m)))
        key = (counts[rep_groups].astype(np.int64) << 32) | glen
        np.maximum.at(best, wdoc[first], key)
        return True
    # later occurrences only: the first one is not a duplicate of anything
    earliest = np.repeat(np.minimum.reduceat(pos_sorted, gstart), counts)
    repeated &= pos_sorted != earliest
    del earliest
    later = pos_sorted[repeated]
    # distinct positions, so at most m n-grams overlap anywhere: int8 counts suffice
    delta[later] += 1  # type: ignore[index]
    delta[later + m] -= 1  # type: ignore[index]
    return bool(later.size)


def _groups(g: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate positions ordered by n-gram hash, the start of each group of equal hashes in that
    order, and the group sizes."""
    keys = g[cand]
    order = np.argsort(keys)
    new_group = np.empty(keys.size, dtype=bool)
    new_group[0] = True
    for i in range(0, keys.size - 1, _GROUP_BLOCK):  # sorted keys a block at a time (no full copy)
        sk = keys[order[i : i + _GROUP_BLOCK + 1]]
        np.not_equal(sk[1:], sk[:-1], out=new_group[i + 1 : i + sk.size])
    del keys
    gstart = np.flatnonzero(new_group)
    del new_group
    counts = np.diff(np.append(gstart, cand.size))
    return cand[order], gstart, counts

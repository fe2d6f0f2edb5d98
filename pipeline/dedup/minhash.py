"""MinHash signatures, datasketch-compatible (scheme "affine32"), for whole batches at once.

Compatibility: `datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)` fed our shingles (see
`pipeline.dedup.shingles.shingles`) ends with exactly the hash values we compute here, because we
use its permutations (the generator behind `MinHash(num_perm, seed).permutations`, run once per
process without importing datasketch; tests compare the two) and apply its affine32 rule: h -> fmix32(h), then a_k * h + b_k mod 2^32, minimum per
permutation. So `LeanMinHash(MinHash(hashvalues=row, seed=seed, scheme="affine32"))` built from a
row of our matrix interoperates with datasketch (`jaccard`, `MinHashLSH`). `to_datasketch` does that.

Why uint32: affine32 works in uint32, halves storage against uint64 (128 perms = 512 bytes per
document in the staged shard), and at our scale (documents of at most a few million shingles) a
32-bit shingle hash does not saturate; datasketch recommends affine64 only around 1e8 elements.

Speed: all shingle hashes of a batch are permuted as one (shingles x num_perm) uint32 block per
~8k shingles (multiply, add, then `np.minimum.reduceat` per document), so the per-document Python
cost is zero; measured figures in bench/dedup_throughput.py.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from pipeline.config import DedupConfig
from pipeline.dedup.shingles import ShingleBatch, shingle_hash_blocks, shingle_hashes
from pipeline.hashmix import fmix32_np

if TYPE_CHECKING:  # datasketch's package import pulls in scipy and redis (~2 s): loaded where used
    from datasketch import LeanMinHash

__all__ = [
    "SCHEME",
    "EMPTY_VALUE",
    "permutations",
    "signatures",
    "signatures_from_shingles",
    "to_datasketch",
    "is_empty",
]

#: datasketch permutation scheme our signatures follow.
SCHEME = "affine32"
#: The value of every permutation of a document without shingles (datasketch's empty MinHash).
EMPTY_VALUE = np.uint32(0xFFFFFFFF)

#: Characters per internal batch: large enough that numpy's per-call overhead vanishes, small
#: enough that the temporary arrays stay in the tens of MB.
_BATCH_CHARS = 1_000_000
#: Texts longer than this (characters) are shingled alone, in bounded memory (`_long_signature`).
_LONG_CHARS = _BATCH_CHARS
#: Shingles per permutation block: 8k x 128 x 4 bytes = 4 MB (L2/L3-sized: measured fastest).
_BLOCK_SHINGLES = 8_192


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) uint32 arrays of datasketch's affine32 permutations for (num_perm, seed), once per
    process: the generator of `datasketch.MinHash._init_permutations` (2.x, scheme affine32: odd
    `a`, any `b`, from `np.random.RandomState(seed)`), written out here because importing datasketch
    costs ~2 s (its package pulls in scipy); tests compare both for several seeds and sizes."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a = np.ascontiguousarray(a, dtype=np.uint32)
    b = np.ascontiguousarray(b, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def signatures_from_shingles(batch: ShingleBatch, num_perm: int, seed: int) -> np.ndarray:
    """(documents, num_perm) uint32 MinHash matrix of a shingle batch; documents without shingles
    get the empty signature (all EMPTY_VALUE), like a datasketch MinHash that saw no update."""
    a, b = permutations(num_perm, seed)
    n_docs = len(batch.offsets) - 1
    out = np.full((n_docs, num_perm), EMPTY_VALUE, dtype=np.uint32)
    hv = fmix32_np(batch.hashes.astype(np.uint32, copy=False))
    counts = np.diff(batch.offsets)
    docs = np.flatnonzero(counts)
    if len(docs) == 0:
        return out
    starts = batch.offsets[docs]
    total = len(hv)
    # Permutations along rows (num_perm, shingles): reduceat then runs along contiguous memory,
    # ~6x faster than the (shingles, num_perm) layout.
    buf = np.empty((num_perm, min(_BLOCK_SHINGLES, total)), dtype=np.uint32)
    a_col, b_col = a[:, None], b[:, None]
    lo = 0
    while lo < total:
        hi = min(lo + _BLOCK_SHINGLES, total)
        blk = buf[:, : hi - lo]
        np.multiply(a_col, hv[None, lo:hi], out=blk)
        np.add(blk, b_col, out=blk)
        # documents whose shingles start inside [lo, hi), plus the one running in from before lo
        d0 = max(int(np.searchsorted(starts, lo, side="right")) - 1, 0)
        d1 = int(np.searchsorted(starts, hi, side="left"))
        seg_docs = docs[d0:d1]
        seg = np.maximum(starts[d0:d1], lo) - lo
        mins = np.minimum.reduceat(blk, seg, axis=1).T
        out[seg_docs] = np.minimum(out[seg_docs], mins)
        lo = hi
    return out


def signatures(texts: Sequence[str], cfg: DedupConfig) -> np.ndarray:
    """(len(texts), cfg.num_perm) uint32 MinHash signatures, shingling included (script-aware:
    word `cfg.word_ngram`-grams, character `cfg.char_ngram`-grams). Row i equals
    `datasketch.MinHash(cfg.num_perm, cfg.seed, hashfunc=shingle_hash)` updated with
    `shingles(texts[i], ...)`."""
    n = len(texts)
    out = np.empty((n, cfg.num_perm), dtype=np.uint32)
    i = 0
    while i < n:
        if len(texts[i]) > _LONG_CHARS:
            out[i] = _long_signature(texts[i], cfg)
            i += 1
            continue
        j, chars = i, 0
        while j < n and (j == i or chars + len(texts[j]) <= _BATCH_CHARS):
            chars += len(texts[j])
            j += 1
        sh = shingle_hashes(texts[i:j], cfg.word_ngram, cfg.char_ngram)
        out[i:j] = signatures_from_shingles(sh, cfg.num_perm, cfg.seed)
        i = j
    return out


def _long_signature(text: str, cfg: DedupConfig) -> np.ndarray:
    """The signature of one long text from its shingle hashes block by block (the minimum of the
    blocks' minima is the minimum): the text's shingles never exist as one array."""
    sig = np.full(cfg.num_perm, EMPTY_VALUE, dtype=np.uint32)
    for block in shingle_hash_blocks(text, cfg.word_ngram, cfg.char_ngram):
        if len(block):
            one = ShingleBatch(block, np.array([0, len(block)], dtype=np.int64))
            np.minimum(sig, signatures_from_shingles(one, cfg.num_perm, cfg.seed)[0], out=sig)
    return sig


def is_empty(sigs: np.ndarray) -> np.ndarray:
    """Rows that are the empty signature (no shingle): never a duplicate of anything."""
    return np.all(sigs == EMPTY_VALUE, axis=1)


def to_datasketch(row: np.ndarray, seed: int = 1) -> LeanMinHash:
    """A datasketch LeanMinHash of one signature row (for MinHashLSH or datasketch's jaccard)."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=seed, hashvalues=np.asarray(row, dtype=np.uint32), scheme=SCHEME)

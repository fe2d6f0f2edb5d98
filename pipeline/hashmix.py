"""The integer hash finalizers every hashing module shares, in one place so that no two modules
disagree on a constant.

- MurmurHash3's 64-bit finalizer (``fmix64``): band keys, token and shingle hashes.
- MurmurHash3's 32-bit finalizer (``fmix32_np``): datasketch's pre-mix of each shingle hash.
- splitmix64's finalizer (``splitmix64_np``): the quality signals' word and n-gram hashes.

Vectorised forms use numpy's wrapping unsigned arithmetic; the scalar ``fmix64`` is the reference
for the pure-Python paths (tests, datasketch ``hashfunc``). ``*_inplace`` variants overwrite their
argument and, for arrays as long as a document, work a block at a time so that temporaries stay
block-sized.
"""

from __future__ import annotations

import numpy as np

_U64 = np.uint64
_U32 = np.uint32
_M64 = (1 << 64) - 1

_F64_C1 = 0xFF51AFD7ED558CCD
_F64_C2 = 0xC4CEB9FE1A85EC53
_F32_C1 = _U32(0x85EBCA6B)
_F32_C2 = _U32(0xC2B2AE35)
_SM_C1 = _U64(0xBF58476D1CE4E5B9)
_SM_C2 = _U64(0x94D049BB133111EB)
_S33, _S30, _S27, _S31 = _U64(33), _U64(30), _U64(27), _U64(31)

#: Elements mixed at once by the block-wise in-place forms.
BLOCK = 1 << 20


def fmix64(x: int) -> int:
    """MurmurHash3 fmix64 of one Python int in [0, 2^64)."""
    x ^= x >> 33
    x = (x * _F64_C1) & _M64
    x ^= x >> 33
    x = (x * _F64_C2) & _M64
    return x ^ (x >> 33)


def fmix64_np_inplace(x: np.ndarray) -> np.ndarray:
    """fmix64 of a uint64 array, written into the array itself (returned)."""
    x ^= x >> _S33
    x *= _U64(_F64_C1)
    x ^= x >> _S33
    x *= _U64(_F64_C2)
    x ^= x >> _S33
    return x


def fmix32_np(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 fmix32 of a uint32 array as a new array."""
    h = h.copy()
    h ^= h >> _U32(16)
    h *= _F32_C1
    h ^= h >> _U32(13)
    h *= _F32_C2
    h ^= h >> _U32(16)
    return h


def splitmix64_np(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer of a uint64 array as a new array."""
    x = x ^ (x >> _S30)
    x *= _SM_C1
    x ^= x >> _S27
    x *= _SM_C2
    x ^= x >> _S31
    return x


def splitmix64_np_inplace(x: np.ndarray) -> np.ndarray:
    """splitmix64_np written into x a block at a time (block-sized temporaries instead of arrays as
    long as x)."""
    for i in range(0, x.size, BLOCK):
        x[i : i + BLOCK] = splitmix64_np(x[i : i + BLOCK])
    return x

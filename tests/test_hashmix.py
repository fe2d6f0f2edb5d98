"""The shared hash finalizers: published reference values, vector forms equal to the scalar
reference, and in-place forms equal to the copying ones (block boundaries included)."""

from __future__ import annotations

import numpy as np

from pipeline import hashmix
from pipeline.hashmix import fmix32_np, fmix64, fmix64_np_inplace, splitmix64_np, splitmix64_np_inplace


def _splitmix_next(state: int) -> int:
    """splitmix64's generator step as Vigna wrote it: add the golden gamma, then finalize."""
    z = (state + 0x9E3779B97F4A7C15) & (1 << 64) - 1
    return int(splitmix64_np(np.array([z], dtype=np.uint64))[0])


def test_splitmix64_matches_the_reference_generator() -> None:
    # First outputs of splitmix64 seeded with 0 (Vigna's splitmix64.c).
    assert _splitmix_next(0) == 0xE220A8397B1DCDAF
    assert _splitmix_next(0x9E3779B97F4A7C15) == 0x6E789E6AA1B965F4


def test_fmix32_matches_murmur3_reference() -> None:
    # fmix32(0) == 0 and fmix32(1) as in MurmurHash3.cpp.
    out = fmix32_np(np.array([0, 1], dtype=np.uint32))
    assert out.tolist() == [0, 0x514E28B7]


def test_fmix64_vector_equals_scalar() -> None:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 2**63, 1000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    y = x.copy()
    assert fmix64_np_inplace(y) is y
    assert y.tolist() == [fmix64(int(v)) for v in x]
    assert fmix64(0) == 0


def test_splitmix_inplace_equals_copy_across_blocks(monkeypatch) -> None:
    monkeypatch.setattr(hashmix, "BLOCK", 7)
    x = np.arange(100, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    expected = splitmix64_np(x)
    y = x.copy()
    assert splitmix64_np_inplace(y) is y
    assert np.array_equal(y, expected)

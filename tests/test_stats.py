"""Stats are mergeable: any split of the same outcomes into shards sums to the same totals."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

import numpy as np

from pipeline.sketches import empty_registers, hll_registers, log_buckets
from pipeline.stats import RunStats, SizeStats, StageStats

Outcome = tuple[str, str, bool, str, int, int]  # stage, source, kept, reason, bytes, tokens

outcomes = st.lists(
    st.tuples(
        st.sampled_from(["read", "normalize", "language"]),
        st.sampled_from(["a", "b", "c"]),
        st.booleans(),
        st.sampled_from(["malformed", "empty", "language"]),
        st.integers(0, 10_000),
        st.integers(0, 3_000),
    ),
    max_size=60,
)


def _stats(items: list[Outcome]) -> RunStats:
    rs = RunStats()
    for stage, src, kept, reason, nb, nt in items:
        if kept:
            rs.stage(stage, src).keep(nb, nt)
            rs.size(src, "en").add(nb, nb // 2, nt)
        else:
            rs.stage(stage, src).reject(reason, nb, nt)
        rs.normalize[(src, "whitespace_collapsed")] += nb % 2
        if kept:  # what select records for kept documents and dropped duplicates
            key = ("tokens", src, "en")
            rs.hist[key] = rs.hist.get(key, Counter()) + log_buckets(np.array([nt]))
            rs.variants[(src, "zh", "zh-Hans" if nb % 3 else "zh-Hant", "docs")] += 1
            rs.variants[(src, "zh", "zh-Hans" if nb % 3 else "zh-Hant", "chars")] += nb
            reg = hll_registers(np.array([nb, nt * 7919], dtype=np.uint64))
            old = rs.vocab.get((src, "en", "cased"), empty_registers())
            rs.vocab[(src, "en", "cased")] = np.maximum(old, reg)
        elif reason == "empty":
            rs.dup_pairs[(src, "a", "docs")] += 1
            rs.dup_pairs[(src, "a", "bytes")] += nb
            rs.dup_pairs[(src, "a", "tokens")] += nt
    return rs


@given(outcomes, st.lists(st.integers(0, 60), max_size=5))
def test_stats_add_up_across_shards(items: list[Outcome], cuts: list[int]) -> None:
    bounds = sorted({0, len(items), *[min(c, len(items)) for c in cuts]})
    shards = [_stats(items[a:b]) for a, b in zip(bounds, bounds[1:])]
    merged = sum(shards, RunStats())
    whole = _stats(items)
    assert merged.to_dict() == whole.to_dict()
    assert merged.balanced()


@given(outcomes)
def test_stats_round_trip_through_json_form(items: list[Outcome]) -> None:
    rs = _stats(items)
    assert RunStats.from_dict(rs.to_dict()).to_dict() == rs.to_dict()


def test_stage_balance_and_ratios() -> None:
    s = StageStats()
    s.keep(100, 25)
    s.reject("malformed", 10)
    s.reject("malformed")
    assert (s.docs_in, s.docs_kept, s.docs_rejected) == (3, 1, 2)
    assert s.to_dict()["rejected_by_reason"] == {"malformed": 2}
    assert s.balanced()
    size = SizeStats(docs=2, bytes=300, chars=100, tokens=60).to_dict()
    assert size["bytes_per_char"] == 3.0
    assert size["chars_per_token"] == round(100 / 60, 4)
    assert size["bytes_per_token"] == 5.0
    assert SizeStats().to_dict()["bytes_per_token"] is None

"""MinHash signatures: datasketch compatibility (same permutations and scheme), empty and short
texts, batching."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from dedup_helpers import alpaca_texts, c4_texts, cmrc_texts, oasst_texts

from pipeline.config import DedupConfig
from pipeline.dedup.minhash import EMPTY_VALUE, SCHEME, is_empty, permutations, signatures, to_datasketch
from pipeline.dedup.shingles import shingle_hash, shingles

CFG = DedupConfig()


def _datasketch(text: str, cfg: DedupConfig = CFG) -> MinHash:
    m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=shingle_hash)
    m.update_batch(shingles(text, cfg.word_ngram, cfg.char_ngram))
    return m


def test_signatures_equal_datasketch_hashvalues_on_real_documents() -> None:
    texts = c4_texts()[:25] + cmrc_texts()[:25] + oasst_texts()[:25] + alpaca_texts()[:25]
    sigs = signatures(texts, CFG)
    assert sigs.shape == (len(texts), CFG.num_perm) and sigs.dtype == np.uint32
    for t, row in zip(texts, sigs):
        assert np.array_equal(_datasketch(t).hashvalues, row)


def test_bulk_and_other_seeds_agree() -> None:
    cfg = DedupConfig(num_perm=64, bands=8, rows=8, seed=42)
    texts = c4_texts()[:10] + cmrc_texts()[:10]
    data = [shingles(t) for t in texts]
    bulk = MinHash.bulk(data, num_perm=64, seed=42, hashfunc=shingle_hash)
    assert np.array_equal(np.stack([m.hashvalues for m in bulk]), signatures(texts, cfg))


def test_jaccard_through_datasketch_equals_ours() -> None:
    base = cmrc_texts()[5]
    edited = base[:100] + "某" + base[101:200] + base[210:]
    texts = [base, edited, c4_texts()[0], c4_texts()[0].replace("the", "a", 3)]
    sigs = signatures(texts, CFG)
    ours = [[float(np.mean(sigs[i] == sigs[j])) for j in range(4)] for i in range(4)]
    lean = [to_datasketch(r, CFG.seed) for r in sigs]
    plain = [_datasketch(t) for t in texts]
    for i in range(4):
        for j in range(4):
            assert lean[i].jaccard(lean[j]) == ours[i][j] == plain[i].jaccard(plain[j])
            assert LeanMinHash(plain[i]).jaccard(lean[j]) == ours[i][j]
    assert ours[0][1] > 0.8 and ours[2][3] > 0.8 and ours[0][2] < 0.1


def test_signatures_work_in_datasketch_lsh() -> None:
    texts = [c4_texts()[1], c4_texts()[1] + " Thanks for reading.", cmrc_texts()[1]]
    lsh = MinHashLSH(threshold=0.8, num_perm=CFG.num_perm)
    for i, row in enumerate(signatures(texts, CFG)):
        lsh.insert(str(i), to_datasketch(row, CFG.seed))
    assert sorted(lsh.query(to_datasketch(signatures([texts[0]], CFG)[0], CFG.seed))) == ["0", "1"]


def test_permutations_generated_once_and_match_datasketch() -> None:
    a, b = permutations(128, 1)
    assert permutations(128, 1)[0] is a
    ref = MinHash(num_perm=128, seed=1, scheme=SCHEME).permutations
    assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])
    # generated without datasketch (its import costs ~2 s): the same values for other sizes and seeds
    for num_perm, seed in ((1, 0), (16, 7), (256, 42), (512, 2**31)):
        a, b = permutations(num_perm, seed)
        ref = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
        assert a.dtype == b.dtype == np.uint32
        assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1]), (num_perm, seed)


def test_short_chinese_text_gets_a_signature_and_empty_text_the_empty_one() -> None:
    sigs = signatures(["好", "你好吗", "", "   ", "。"], CFG)
    assert is_empty(sigs).tolist() == [False, False, True, True, False]
    assert (sigs[2] == EMPTY_VALUE).all()
    assert np.array_equal(sigs[1], _datasketch("你好吗").hashvalues)
    assert MinHash(num_perm=128, seed=1).is_empty()  # the empty signature is datasketch's


@pytest.mark.parametrize("batch_chars", [50, 5_000])
def test_internal_batching_does_not_change_signatures(monkeypatch: pytest.MonkeyPatch, batch_chars: int) -> None:
    import pipeline.dedup.minhash as mh

    texts = c4_texts()[:20] + cmrc_texts()[:20] + [""]
    whole = signatures(texts, CFG)
    monkeypatch.setattr(mh, "_BATCH_CHARS", batch_chars)
    monkeypatch.setattr(mh, "_BLOCK_SHINGLES", 97)  # documents straddle permutation blocks
    assert np.array_equal(signatures(texts, CFG), whole)


def test_long_text_signatures_equal_the_batch_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts above the long-text size are signed from shingle blocks (bounded memory, issue 19
    item 10): the same rows as the batch path, empty texts included."""
    from pipeline.dedup import minhash as M
    from pipeline.dedup import shingles as S

    texts = ["\n".join(c4_texts()[:10]), "\n\n".join(cmrc_texts()[:10]), "", "😀 👍", "short one", c4_texts()[0] + cmrc_texts()[0]]
    cfg = DedupConfig()
    want = signatures(texts, cfg)
    monkeypatch.setattr(M, "_LONG_CHARS", 5)
    monkeypatch.setattr(S, "_PIECE_CHARS", 97)
    monkeypatch.setattr(S, "_BLOCK_SHINGLES", 13)
    np.testing.assert_array_equal(signatures(texts, cfg), want)

"""Script-aware shingling: kinds per script, short texts, the vectorised path against the plain
Python reference, and the fold against plain NFKC + casefold."""

from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import pytest
from dedup_helpers import alpaca_texts, c4_texts, cmrc_texts, oasst_texts, poems

from pipeline.dedup import chartables as T
from pipeline.dedup import shingle_kernels as K
from pipeline.dedup import shingles as S
from pipeline.dedup.chartables import CHAR, WORD
from pipeline.dedup.shingles import (
    shingle_hash,
    shingle_hashes,
    shingle_text,
    shingles,
    tokens,
)


def test_mixed_document_gets_word_and_char_shingles() -> None:
    text = c4_texts()[3][:400] + "\n\n" + cmrc_texts()[0][:200]
    kinds = {k for k, _ in shingles(text)}
    assert kinds == {WORD, CHAR}
    words = [t for k, t in shingles(text) if k == WORD]
    chars = [t for k, t in shingles(text) if k == CHAR]
    assert all(len(t) == 5 for t in words + chars)
    assert any(all(len(tok) == 1 for tok in t) for t in chars)  # Han characters as tokens


def test_short_texts_still_get_one_shingle() -> None:
    assert shingles("春眠不觉晓") == [(CHAR, tuple("春眠不觉晓"))]
    assert shingles("你好") == [(CHAR, ("你", "好"))]
    assert shingles("Hello there!") == [(WORD, ("hello", "there"))]
    b = shingle_hashes(["你好", "好", "Hi", "", " \n\t ", "😀👍", "。。！"])
    counts = np.diff(b.offsets).tolist()
    assert counts == [1, 1, 1, 0, 0, 1, 1]  # only empty / whitespace-only texts have none


def test_symbol_only_text_is_shingled_over_its_symbols() -> None:
    assert shingles("😀 👍") == [(CHAR, ("😀", "👍"))]
    assert shingles("😀 👍") != shingles("👍 😀")


def test_minor_runs_merge_into_their_neighbours() -> None:
    # numbers inside Chinese text are tokens of the character run
    sh = shingles("范廷颂于2009年2月离世，享年89岁。")
    assert {k for k, _ in sh} == {CHAR}
    assert (CHAR, ("2009", "年", "2", "月", "离")) in sh
    # one Han character inside English text is a word token
    sh = shingles("The character 中 means middle or centre in Chinese")
    assert {k for k, _ in sh} == {WORD}
    assert (WORD, ("character", "中", "means", "middle", "or")) in sh
    # chains of minor runs with no major neighbour keep their kinds
    assert shingles("NBA选秀") == [(WORD, ("nba",)), (CHAR, ("选", "秀"))]


def test_shingle_text_keeps_word_boundaries_and_folds() -> None:
    assert shingle_text("Don't  STOP—the ﬁle's Ｆｕｌｌ-width，text…") == "don t stop the file s full width text"
    assert shingle_text("ǅemal\u00adovski") == "džemalovski"  # Cf (soft hyphen) deleted, not a split


def _reference_hashes(text: str, wn: int, cn: int) -> list[int]:
    return sorted(shingle_hash(s) for s in shingles(text, wn, cn))


@pytest.mark.parametrize(("wn", "cn"), [(5, 5), (3, 4), (7, 2)])
def test_vectorised_equals_reference_on_samples(wn: int, cn: int) -> None:
    texts = c4_texts()[:60] + cmrc_texts()[:60] + oasst_texts()[:60] + alpaca_texts()[:60] + poems()[:60]
    b = shingle_hashes(texts, wn, cn)
    for i, t in enumerate(texts):
        assert sorted(b.of(i).tolist()) == _reference_hashes(t, wn, cn), t[:80]


def test_vectorised_equals_reference_on_random_mixtures() -> None:
    rng = random.Random(7)
    units = ["ab", "Xy", "12", "3", "中", "文", "字", "ー", "가", "ก", "hello", "９", "ﬁ", "é", "e\u0301", "😀"]
    seps = ["", "", " ", "，", "-", "\u200b", "\n"]
    texts = ["".join(rng.choice(units) + rng.choice(seps) for _ in range(rng.randrange(0, 40))) for _ in range(400)]
    for wn, cn in ((5, 5), (2, 3), (1, 1)):
        b = shingle_hashes(texts, wn, cn)
        for i, t in enumerate(texts):
            assert sorted(b.of(i).tolist()) == _reference_hashes(t, wn, cn), repr(t)


def test_long_batch_path_equals_prefix_path(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = c4_texts()[:20] + cmrc_texts()[:20]
    fast = shingle_hashes(texts)
    monkeypatch.setattr(K, "_PREFIX_MAX", 16)  # force the per-token offset path
    slow = shingle_hashes(texts)
    assert np.array_equal(fast.hashes, slow.hashes) and np.array_equal(fast.offsets, slow.offsets)


def test_long_batch_hashed_in_pieces_equals_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch (or one document) longer than the power tables is hashed piece by piece, cut at token
    starts: the same hashes as in one piece (issue 19 item 10: bounded memory per long document)."""
    texts = c4_texts()[:20] + cmrc_texts()[:20]
    long_doc = "\n".join(texts)
    fast = shingle_hashes(texts)
    one = shingle_hashes([long_doc])
    longest = max(len(w) for w in re.findall(r"\w+", long_doc))
    monkeypatch.setattr(K, "_PREFIX_MAX", 256)  # ~100 pieces, every token shorter than a piece
    assert longest <= 256 < len(long_doc) // 50
    pieces = shingle_hashes(texts)
    assert np.array_equal(fast.hashes, pieces.hashes) and np.array_equal(fast.offsets, pieces.offsets)
    assert np.array_equal(one.hashes, shingle_hashes([long_doc]).hashes)


def test_batching_does_not_change_hashes() -> None:
    texts = c4_texts()[:30] + cmrc_texts()[:30] + ["", "😀", "\x00a\x00b"]
    whole = shingle_hashes(texts)
    for i, t in enumerate(texts):
        assert np.array_equal(shingle_hashes([t]).hashes, whole.of(i))


def test_fold_tokens_equal_plain_nfkc_casefold() -> None:
    """The table-driven fold gives the tokens that plain NFKC + casefold + NFKC would give."""
    texts = c4_texts()[:100] + cmrc_texts()[:100] + alpaca_texts()[:100] + poems()[:50]
    texts += ["ＡＢＣ，Ｄｅｆ１２３", "Straße ΐ ǅ Ⅻ ﬃ ㈱ ①", "e\u0301 a\u0308\u0301 \u1100\u1161\u11a8", "＜\u0338 ≮"]
    table = T._class_table()
    for t in texts:
        plain = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", t).casefold())
        expect: list[str] = []
        word = ""
        for ch in plain:
            c = table[ord(ch)]
            if c == T._IGNORE:
                continue
            if c == T._WORD:
                word += ch
                continue
            if word:
                expect.append(word)
                word = ""
            if c == T._CJK:
                expect.append(ch)
        if word:
            expect.append(word)
        assert [tok for _, tok in tokens(t)] == expect, t[:60]


def test_tables_cover_every_character_that_nfkc_or_casefold_changes() -> None:
    t = T._tables()
    changed = [
        c
        for c in range(0x80, 0x30000)
        if not 0xD800 <= c < 0xE000
        and (unicodedata.normalize("NFKC", chr(c)) != chr(c) or chr(c).casefold() != chr(c))
        and t.fold[c] == c
    ]
    assert changed == []


# --------------------------------------------------------------------------------------------------
# One long document in pieces and blocks (issue 19 item 10)
# --------------------------------------------------------------------------------------------------

#: Texts whose runs, minor-run merges, short runs, folds and ignorable characters meet piece edges.
_LONG_EDGES = [
    "2009年2月离世 the character 中 means middle and 北京 is a city name 好 ok",
    "ﬁne Ｔ字形 Straße e\u0301 soft\u00adhyphen zero\u200bwidth a\x00b İstanbul ΟΔΟΣ",
    "中 文 空 格 a 中 b 文 c 字 d e f g h i j k 春眠不觉晓处处闻啼鸟",
    "no-newline-just-one-token-" * 5,
    "😀 👍 ！",  # symbol-only: the fallback pass
    "",
    " \n\t ",
]


def _blocks(text: str, **kw: int) -> np.ndarray:
    parts = list(S.shingle_hash_blocks(text, **kw))
    return np.concatenate(parts) if parts else np.zeros(0, np.uint32)


def test_pieces_cut_before_newlines_and_spaces_and_cover_the_text() -> None:
    text = "\n".join(_LONG_EDGES)
    for size in (1, 3, 40):
        cuts = S._pieces(text, size)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
        assert all(b == a2 for (_, b), (a2, _) in zip(cuts, cuts[1:]))
        assert all(text[a] in "\n " for a, _ in cuts[1:])


@pytest.mark.parametrize(("piece", "block"), [(1, 1), (5, 3), (64, 7), (4096, 1 << 17)])
@pytest.mark.parametrize(("wn", "cn"), [(5, 5), (3, 5), (5, 2)])
def test_shingle_blocks_equal_whole_text_hashes(piece: int, block: int, wn: int, cn: int) -> None:
    texts = [*_LONG_EDGES, "\n".join(_LONG_EDGES) * 2, "\n".join(c4_texts()[:8] + cmrc_texts()[:8] + poems()[:8])]
    for text in texts:
        want = shingle_hashes([text], wn, cn).hashes
        got = _blocks(text, word_ngram=wn, char_ngram=cn, piece_chars=piece, block_shingles=block)
        assert np.array_equal(got, want), text[:60]

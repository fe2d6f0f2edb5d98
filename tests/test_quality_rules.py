"""Quality rules: every rule with a document on each side of its threshold and the exact
`quality:<rule>` reason under the full `web` profile; the Chinese thresholds on real Chinese text
(cmrc2018 paragraphs); the vectorised verdicts against the pure one; thresholds, profiles and the
config model.

English documents are built from random lower-case "words" (26^n spellings, so nothing repeats
unless a test repeats it on purpose) with controlled lengths, which pass every English rule until
a test bends one signal. Where the exact edge is fiddly to construct by hand, `straddle` walks a
size parameter and returns the two adjacent documents on either side of the threshold.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from filters.quality import (
    DEFAULT_THRESHOLDS,
    PROFILES,
    RULE_SPECS,
    RULES,
    default_profile,
    quality_signals,
    quality_verdict,
    quality_verdicts,
    resolve_profile,
    signals,
    thresholds_for,
)
from filters.quality_signals import STOP_WORDS_ZH
from pipeline.config import ConfigError, QualityConfig, parse_config

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
SPEC = {s.name: s for s in RULE_SPECS}


def failed(text: str, lang: str = "en", profile: str = "web", cfg: QualityConfig | None = None) -> list[str]:
    return quality_verdict(signals(text, lang), lang, profile, cfg)


# --------------------------------------------------------------------------------------------------
# English building blocks
# --------------------------------------------------------------------------------------------------


def word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def sentence(rng: random.Random, n: int = 10, length: int = 5, end: str = ".") -> str:
    """n random words of `length` letters, capitalised, with an end mark: 6n characters for 5."""
    s = " ".join(word(rng, length) for _ in range(n))
    return s[0].upper() + s[1:] + end


def prose(n_words: int, seed: int = 0, lengths: list[int] | None = None, stops: tuple[str, ...] = ("the", "and"),
          per_sentence: int = 10, per_line: int = 3) -> str:
    """`stops` first, then random words (5 letters, or `lengths`), 10-word sentences, 3 per line."""
    rng = random.Random(seed)
    rest = n_words - len(stops)
    sizes = lengths if lengths is not None else [5] * rest
    assert len(sizes) == rest
    words = list(stops) + [word(rng, k) for k in sizes]
    sents = []
    for i in range(0, len(words), per_sentence):
        s = " ".join(words[i : i + per_sentence])
        sents.append(s[0].upper() + s[1:] + ".")
    return "\n".join(" ".join(sents[i : i + per_line]) for i in range(0, len(sents), per_line))


def straddle(build: Callable[[int], str], rule: str, params: Iterable[int], lang: str = "en") -> tuple[str, str]:
    """(passing, failing) documents built from adjacent parameters around `rule`'s threshold."""
    prev: str | None = None
    prev_fails: bool | None = None
    for p in params:
        text = build(p)
        fails = rule in failed(text, lang)
        if prev is not None and fails != prev_fails:
            return (prev, text) if fails else (text, prev)
        prev, prev_fails = text, fails
    raise AssertionError(f"{rule}: no parameter crosses the threshold")


def check(rule: str, good: str, bad: str, lang: str = "en", value: str | None = None) -> None:
    """`good` does not fail `rule`; `bad` fails it first (its drop_reason), with `value` if given."""
    assert rule not in failed(good, lang), (rule, failed(good, lang))
    bad_failed = failed(bad, lang)
    assert bad_failed and bad_failed[0] == rule, (rule, bad_failed)
    spec = SPEC[rule]
    thr = thresholds_for(lang)[rule]
    assert thr is not None
    g, b = signals(good, lang)[spec.column], signals(bad, lang)[spec.column]
    assert (g >= thr if spec.op == "min" else g <= thr) or abs(g - thr) < 1e-6, (rule, g, thr)
    assert b < thr if spec.op == "min" else b > thr, (rule, b, thr)
    if value is not None:
        table = pa.table({**quality_signals([bad], [lang]), "lang": [lang]})
        _, reasons, values, _ = quality_verdicts(table, "web")
        assert reasons.to_pylist() == [f"quality:{rule}"]
        assert values.to_pylist() == [value]


def test_base_prose_passes_every_english_rule() -> None:
    assert failed(prose(60)) == []
    assert failed(prose(5000, seed=3)) == []


# --------------------------------------------------------------------------------------------------
# Gopher quality (Rae et al. 2021, App. A.1.1)
# --------------------------------------------------------------------------------------------------


def test_gopher_min_words() -> None:
    check("gopher_min_words", prose(50), prose(49), value="49")


def test_gopher_max_words() -> None:
    check("gopher_max_words", prose(100_000, seed=1), prose(100_001, seed=1), value="100001")


def test_gopher_mean_word_length() -> None:
    # 60 words of 3 letters ("the", "and" included): mean exactly 3 passes; one 2-letter word fails
    check("gopher_min_mean_word_len", prose(60, lengths=[3] * 58), prose(60, lengths=[3] * 57 + [2]),
          value="2.9833")
    # 50 words: 3 + 3 + 46 x 10 + 2 x 17 = 500 letters, mean exactly 10; one more letter fails
    check("gopher_max_mean_word_len", prose(50, lengths=[10] * 46 + [17, 17]),
          prose(50, lengths=[10] * 46 + [17, 18]), value="10.02")


def _tagged(n_marked: int, mark: Callable[[str], str], n_words: int = 100) -> str:
    rng = random.Random(5)
    words = ["the", "and"] + [word(rng, 5) for _ in range(n_words - 2)]
    for i in range(n_marked):
        words[2 + i * 4] = mark(words[2 + i * 4])
    sents = [" ".join(words[i : i + 10]) + "." for i in range(0, n_words, 10)]
    return "\n".join(" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3))


def test_gopher_symbol_ratio_hash_and_ellipsis() -> None:
    # 10 per 100 words is the limit (ratio 0.1 passes), 11 fail; '#' and ellipses count separately
    check("gopher_symbol_ratio", _tagged(10, lambda w: "#" + w), _tagged(11, lambda w: "#" + w), value="0.11")
    check("gopher_symbol_ratio", _tagged(10, lambda w: w + "..."), _tagged(11, lambda w: w + "…"))


def _lines(n: int, prefix: Callable[[int], str] = lambda i: "", end: Callable[[int], str] = lambda i: ".") -> str:
    rng = random.Random(7)
    body = [" ".join(word(rng, 5) for _ in range(10)) for _ in range(n)]
    body[0] = "The and " + body[0]
    return "\n".join(prefix(i) + b + end(i) for i, b in enumerate(body))


def test_gopher_bullet_lines() -> None:
    check("gopher_bullet_lines", _lines(10, prefix=lambda i: "- " if i < 9 else ""),
          _lines(10, prefix=lambda i: "• "), value="1")


def test_gopher_ellipsis_lines() -> None:
    check("gopher_ellipsis_lines", _lines(10, end=lambda i: "..." if i < 3 else "."),
          _lines(10, end=lambda i: "…" if i < 4 else "."), value="0.4")


def test_gopher_alpha_words() -> None:
    def numbers(k: int) -> str:
        rng = random.Random(9)
        return _tagged(k, lambda w: str(rng.randint(10000, 99999)))

    check("gopher_alpha_words", numbers(20), numbers(21), value="0.79")


def test_gopher_stop_words() -> None:
    check("gopher_stop_words", prose(60, stops=("with", "that")), prose(60, stops=("the",)), value="1")


# --------------------------------------------------------------------------------------------------
# Gopher repetition (Table A1)
# --------------------------------------------------------------------------------------------------


def test_gopher_dup_line_frac() -> None:
    def doc(copies: int) -> str:
        return _lines(6) + "\nYes." * copies

    # 10 lines with 3 duplicates is exactly 0.30 (stored as float32, equal to the threshold: passes)
    check("gopher_dup_line_frac", doc(4), doc(5), value="0.3636")


def test_gopher_dup_para_frac() -> None:
    rng = random.Random(11)
    paras = ["\n".join(sentence(rng) for _ in range(5)) for _ in range(6)]
    paras[0] = "The and " + paras[0]

    def doc(copies: int) -> str:
        return "\n\n".join(paras + ["Yes."] * copies)

    check("gopher_dup_para_frac", doc(4), doc(5), value="0.3636")


def test_gopher_dup_line_char_frac() -> None:
    rng = random.Random(13)
    dup = sentence(rng, 30)

    def doc(extra: int) -> str:
        return _lines(extra) + f"\n{dup}\n{dup}"

    good, bad = straddle(doc, "gopher_dup_line_char_frac", range(12, 0, -1))
    check("gopher_dup_line_char_frac", good, bad)


def test_gopher_dup_para_char_frac() -> None:
    # a duplicated paragraph of many short lines: its inner newlines make the paragraph fraction
    # exceed the line fraction, so the paragraph rule is the first to fail
    rng = random.Random(17)
    block = "\n".join(word(rng, 3).capitalize() + "." for _ in range(30))

    def doc(other: int) -> str:
        lines = [word(rng, 4).capitalize() + "." for _ in range(other)]
        lines[0] = "The and " + lines[0]
        chunks = ["\n".join(lines[i::3]) for i in range(3)]
        return "\n\n".join([block, chunks[0], block, chunks[1], chunks[2]])

    good, bad = straddle(doc, "gopher_dup_para_char_frac", range(120, 60, -1))
    check("gopher_dup_para_char_frac", good, bad)


def _repeated(gram: list[str], copies: int, filler: int, seed: int = 19) -> str:
    """`copies` of an n-gram spread over random filler words, in 10-word sentences."""
    rng = random.Random(seed)
    words = ["the", "and"] + [word(rng, 6) for _ in range(filler)]
    step = max(len(words) // copies, 1)
    for c in range(copies - 1, -1, -1):
        words[c * step + 2 : c * step + 2] = gram
    sents = [" ".join(words[i : i + 10]) + "." for i in range(0, len(words), 10)]
    return "\n".join(" ".join(sents[i : i + 3]) for i in range(0, len(sents), 3))


@pytest.mark.parametrize("n", [2, 3, 4])
def test_gopher_top_ngram(n: int) -> None:
    rng = random.Random(23 + n)
    gram = [word(rng, 7) for _ in range(n)]
    good, bad = straddle(lambda filler: _repeated(gram, 8, filler), f"gopher_top_{n}gram", range(400, 20, -4))
    check(f"gopher_top_{n}gram", good, bad)


@pytest.mark.parametrize("n", range(5, 11))
def test_gopher_dup_ngram(n: int) -> None:
    # ten copies of an n-gram of 4-letter words: the top 2/3/4-gram fractions stay below their
    # limits while the duplicate-n fraction crosses Gopher's limit for n (and not for n-1, whose
    # limit is higher and whose duplicate characters are the same)
    rng = random.Random(31 + n)
    gram = [word(rng, 4) for _ in range(n)]
    good, bad = straddle(lambda filler: _repeated(gram, 10, filler), f"gopher_dup_{n}gram", range(600, 100, -5))
    check(f"gopher_dup_{n}gram", good, bad)


# --------------------------------------------------------------------------------------------------
# C4 (Raffel et al. 2020, Sec. 2.2)
# --------------------------------------------------------------------------------------------------


def test_c4_terminal_punct() -> None:
    rng = random.Random(37)
    headings = [" ".join(word(rng, 6) for _ in range(6)).capitalize() for _ in range(40)]

    def doc(k: int) -> str:
        return prose(60) + "\n" + "\n".join(headings[:k])

    good, bad = straddle(doc, "c4_terminal_punct", range(0, 40))
    check("c4_terminal_punct", good, bad)


def test_c4_min_sentences() -> None:
    check("c4_min_sentences", prose(60, per_sentence=20), prose(60, per_sentence=30), value="2")


@pytest.mark.parametrize(
    ("rule", "line"),
    [
        ("c4_lorem_ipsum", "Lorem ipsum dolor sit amet, consectetur adipiscing elit."),
        ("c4_javascript", "Please enable JavaScript to view the comments powered by our provider."),
        ("c4_curly_bracket", "The template uses {name} for the reader's name in every message sent."),
        ("c4_policy", "This website uses cookies to give you the best experience on our pages."),
    ],
)
def test_c4_content_rules(rule: str, line: str) -> None:
    check(rule, prose(90), prose(90) + "\n" + line, value="1")


def test_c4_policy_chinese_phrases() -> None:
    assert failed(prose(90) + "\n阅读我们的隐私政策。") == ["c4_policy"]


# --------------------------------------------------------------------------------------------------
# FineWeb (Penedo et al. 2024; datatrove FineWebQualityFilter defaults)
# --------------------------------------------------------------------------------------------------


def test_fineweb_punct_lines() -> None:
    rng = random.Random(41)
    long_line = " ".join(sentence(rng, 10) for _ in range(12))
    tails = [" ".join(word(rng, 6) for _ in range(6)) for _ in range(12)]

    def doc(k: int) -> str:
        return "The and " + long_line + "\n" + "\n".join(tails[:k])

    good, bad = straddle(doc, "fineweb_punct_lines", range(1, 12))
    check("fineweb_punct_lines", good, bad)
    assert signals(good)["q_fw_punct_lines"] == pytest.approx(1 / 8)  # 1 of 8 lines >= 0.12
    assert signals(bad)["q_fw_punct_lines"] == pytest.approx(1 / 9)


def test_fineweb_short_lines() -> None:
    rng = random.Random(43)
    long_lines = [sentence(rng, 10) for _ in range(10)]
    long_lines[0] = "The and " + long_lines[0]
    shorts = [sentence(rng, 2) for _ in range(30)]

    def doc(k: int) -> str:
        return "\n".join(long_lines + shorts[:k])

    # 20 short of 30 lines (0.667) passes, 21 of 31 (0.677) fails
    check("fineweb_short_lines", doc(20), doc(21), value="0.6774")


def test_fineweb_char_dup() -> None:
    def doc(n: int) -> str:
        return prose(n) + "\nYes indeed.\nYes indeed."

    good, bad = straddle(doc, "fineweb_char_dup", range(220, 60, -10))
    check("fineweb_char_dup", good, bad)


def test_fineweb_newline_ratio() -> None:
    rng = random.Random(47)

    def doc(per_line: int) -> str:
        lines = [" ".join(word(rng, 10) for _ in range(per_line)).capitalize() + "." for _ in range(40)]
        return "The cat and the dog.\n" + "\n".join(lines)

    # 4 words per line: 40 newlines / 165 words = 0.24; 3 words: 40 / 125 = 0.32
    check("fineweb_newline_ratio", doc(4), doc(3), value="0.32")


# --------------------------------------------------------------------------------------------------
# Chinese: real text (cmrc2018 zh-Wikipedia paragraphs), zh thresholds
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cmrc() -> list[str]:
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    return [p["context"] for d in cm["data"] for p in d["paragraphs"]]


def test_cmrc_paragraphs_pass_the_zh_web_rules(cmrc: list[str]) -> None:
    clean = [p for p in cmrc[:40] if not failed(p, "zh")]
    assert len(clean) >= 38


def _sentences(text: str) -> list[str]:
    return [s + "。" for s in text.split("。") if s]


def test_zh_min_words_counts_characters(cmrc: list[str]) -> None:
    # prefixes of real sentences; words are characters (Han) plus Latin/digit runs
    sents = [s for p in cmrc[:20] for s in _sentences(p) if 8 <= len(s) <= 30]

    def doc(k: int) -> str:
        return "".join(sents[:k])

    good, bad = straddle(doc, "gopher_min_words", range(12, 0, -1), lang="zh")
    check("gopher_min_words", good, bad, lang="zh")
    assert signals(bad)["q_words"] < 80 <= signals(good)["q_words"]


def test_zh_han_frac(cmrc: list[str]) -> None:
    rng = random.Random(53)
    latin = [sentence(rng, 8, 7) for _ in range(60)]
    base = cmrc[1]

    def doc(k: int) -> str:
        return base + "\n" + " ".join(latin[:k])

    good, bad = straddle(doc, "zh_han_frac", range(0, 60), lang="zh")
    check("zh_han_frac", good, bad, lang="zh")


def test_zh_stop_word_frac(cmrc: list[str]) -> None:
    # real paragraph diluted by random CJK characters (no function words among them)
    rng = random.Random(59)
    stop = set(STOP_WORDS_ZH)
    salad = [c for c in (chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(20000)) if c not in stop]
    base = cmrc[2]

    def doc(k: int) -> str:
        chunks = ["".join(salad[i : i + 40]) + "。" for i in range(0, k, 40)]
        return base + "".join(chunks)

    good, bad = straddle(doc, "zh_stop_word_frac", range(0, 20000, 400), lang="zh")
    check("zh_stop_word_frac", good, bad, lang="zh")


def test_zh_garbage_frac(cmrc: list[str]) -> None:
    base = cmrc[3]

    def doc(k: int) -> str:
        return base + "■★◆�" * k

    good, bad = straddle(doc, "zh_garbage_frac", range(0, 200), lang="zh")
    check("zh_garbage_frac", good, bad, lang="zh")


def test_zh_repeated_short_lines(cmrc: list[str]) -> None:
    # a navigation menu at the top and the bottom of a page of real paragraphs
    menu = ["首页", "新闻中心", "产品展示"]

    def doc(n_paras: int) -> str:
        return "\n".join(menu + cmrc[10 : 10 + n_paras] + menu)

    good, bad = straddle(doc, "zh_repeated_short_lines", range(30, 0, -1), lang="zh")
    check("zh_repeated_short_lines", good, bad, lang="zh")


def test_zh_dup_ngram_threshold_is_higher_than_gopher(cmrc: list[str]) -> None:
    """A real paragraph that repeats one of its own sentences: the zh limit for duplicate 5-grams
    (0.28) is crossed later than Gopher's English one (0.15) would be."""
    base = cmrc[4]
    sent = max(_sentences(base), key=len)

    def doc(k: int) -> str:
        return base + sent * k

    good, bad = straddle(doc, "gopher_dup_5gram", range(0, 20), lang="zh")
    check("gopher_dup_5gram", good, bad, lang="zh")
    assert 0.15 < signals(good)["q_dup_5gram"] <= 0.28


def test_zh_rules_do_not_apply_to_english() -> None:
    junk = prose(200) + "\n" + "★" * 300
    assert "zh_garbage_frac" not in failed(junk, "en")
    assert "zh_garbage_frac" in failed(junk, "zh")
    # other languages fall back to the English table
    assert failed(junk, "fr") == failed(junk, "en")
    assert failed(junk, None) == failed(junk, "en")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Vectorised verdicts
# --------------------------------------------------------------------------------------------------


def _mixed_table() -> tuple[pa.Table, list[str], list[str | None]]:
    rng = random.Random(61)
    texts = [prose(60), prose(49), _lines(10, prefix=lambda i: "• "), prose(90) + "\nLorem ipsum dolor.", ""]
    texts += [sentence(rng, rng.randint(1, 30)) * rng.randint(1, 4) for _ in range(40)]
    langs: list[str | None] = [["en", "zh", "fr", None][i % 4] for i in range(len(texts))]
    profiles = [list(PROFILES)[i % len(PROFILES)] for i in range(len(texts))]
    table = pa.table({**quality_signals(texts, langs), "lang": pa.array(langs, pa.string())})
    return table, profiles, langs


@pytest.mark.parametrize(
    "cfg",
    [
        QualityConfig(),
        QualityConfig(
            thresholds={"en": {"gopher_min_words": 10, "fineweb_short_lines": None}, "zh": {"zh_han_frac": 0.9}}
        ),
        QualityConfig(enabled=False),
    ],
)
def test_vectorised_equals_pure(cfg: QualityConfig) -> None:
    table, profiles, langs = _mixed_table()
    mask, reasons, values, failed_lists = quality_verdicts(table, pa.array(profiles), cfg)
    rows = table.to_pylist()
    for i, row in enumerate(rows):
        want = quality_verdict(row, langs[i], profiles[i], cfg)
        assert failed_lists[i].as_py() == want
        assert mask[i].as_py() == bool(want)
        assert reasons[i].as_py() == (f"quality:{want[0]}" if want else None)
        assert (values[i].as_py() is None) == (not want)
    assert failed_lists.type == pa.list_(pa.string())
    if not cfg.enabled:
        assert not any(mask.to_pylist())


def test_verdict_outputs_and_profile_forms() -> None:
    texts = [prose(60), prose(49), prose(90) + "\nLorem ipsum dolor sit amet."]
    table = pa.table({**quality_signals(texts, ["en"] * 3), "lang": ["en", "en", "en"]})
    mask, reasons, values, failed_lists = quality_verdicts(table, "web")
    assert mask.to_pylist() == [False, True, True]
    assert reasons.to_pylist() == [None, "quality:gopher_min_words", "quality:c4_lorem_ipsum"]
    assert values.to_pylist() == [None, "49", "1"]
    assert failed_lists.to_pylist() == [[], ["gopher_min_words"], ["c4_lorem_ipsum"]]
    # the profile per row, as a list, an Arrow array, a chunked or dictionary array; null = web
    for prof in (["none", "web", "poetry"], pa.array(["none", "web", "poetry"]),
                 pa.chunked_array([["none"], ["web", "poetry"]]),
                 pa.array(["none", "web", "poetry"]).dictionary_encode()):
        assert quality_verdicts(table, prof)[0].to_pylist() == [False, True, False]
    assert quality_verdicts(table, pa.array([None, None, None], pa.string()))[0].to_pylist() == [False, True, True]
    with pytest.raises(ValueError, match="unknown quality profile"):
        quality_verdicts(table, ["web", "webb", "web"])
    with pytest.raises(ValueError, match="3 rows but 2 profiles"):
        quality_verdicts(table, ["web", "web"])
    # chunked signal columns and an empty batch
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    assert quality_verdicts(chunked, "web")[1].to_pylist() == reasons.to_pylist()
    empty = quality_verdicts(table.slice(0, 0), "web")
    assert [len(a) for a in empty] == [0, 0, 0, 0]


def test_nan_and_null_signals_pass() -> None:
    table = pa.table({
        **{s.column: pa.array([None], pa.float32() if s.column not in ("q_words",) else pa.int32())
           for s in RULE_SPECS},
        "lang": ["en"],
    })
    assert quality_verdicts(table, "web")[0].to_pylist() == [False]


# --------------------------------------------------------------------------------------------------
# Thresholds, profiles, config
# --------------------------------------------------------------------------------------------------


def test_rule_table_is_consistent() -> None:
    assert RULES == [s.name for s in RULE_SPECS] and len(set(RULES)) == len(RULES)
    for lang, table in DEFAULT_THRESHOLDS.items():
        assert set(table) == set(RULES), lang
    for name, rules in PROFILES.items():
        assert rules == [r for r in RULES if r in rules], name  # RULES order, no unknown names
    assert PROFILES["web"] == RULES and PROFILES["none"] == []
    # published values (Gopher App. A.1.1 / Table A1, C4 Sec. 2.2, datatrove FineWeb defaults)
    en = DEFAULT_THRESHOLDS["en"]
    assert (en["gopher_min_words"], en["gopher_max_words"]) == (50, 100_000)
    assert [en[f"gopher_dup_{n}gram"] for n in range(5, 11)] == [0.15, 0.14, 0.13, 0.12, 0.11, 0.10]
    assert [en[f"gopher_top_{n}gram"] for n in (2, 3, 4)] == [0.20, 0.18, 0.16]
    assert (en["fineweb_punct_lines"], en["fineweb_short_lines"], en["fineweb_char_dup"],
            en["fineweb_newline_ratio"]) == (0.12, 0.67, 0.01, 0.3)
    assert en["c4_min_sentences"] == 3


def test_thresholds_for_overrides() -> None:
    cfg = QualityConfig(thresholds={"en": {"gopher_min_words": 20}, "fr": {"gopher_stop_words": None},
                                    "zh": {"zh_garbage_frac": 0.2}})
    assert thresholds_for("en", cfg)["gopher_min_words"] == 20
    assert thresholds_for("de", cfg)["gopher_min_words"] == 20  # falls back to (overridden) en
    assert thresholds_for("fr", cfg)["gopher_min_words"] == 20
    assert thresholds_for("fr", cfg)["gopher_stop_words"] is None
    assert thresholds_for("zh", cfg)["gopher_min_words"] == 80  # zh has its own table
    assert thresholds_for("zh", cfg)["zh_garbage_frac"] == 0.2
    assert thresholds_for(None)["gopher_min_words"] == 50
    assert failed(prose(30), cfg=cfg) == []
    assert "gopher_stop_words" not in failed(prose(60, stops=()), "fr", cfg=cfg)


def test_profiles_select_rules() -> None:
    bad = prose(30) + "\nLorem ipsum dolor sit amet."
    assert failed(bad, profile="web")[0] == "gopher_min_words"
    assert failed(bad, profile="conversation") == ["c4_lorem_ipsum"]
    assert failed(bad, profile="none") == []
    with pytest.raises(ValueError, match="unknown quality profile"):
        failed(bad, profile="webb")


@pytest.mark.parametrize(
    ("source_type", "subset", "profile"),
    [
        ("redpajama", "common_crawl", "web"),
        ("redpajama", "c4", "web"),
        ("redpajama", "wikipedia", "curated"),
        ("redpajama", "book", "curated"),
        ("redpajama", "arxiv", "curated"),
        ("redpajama", "github", "code"),
        ("redpajama", "stackexchange", "code"),
        ("redpajama", None, "web"),
        ("redpajama_v2", None, "web"),
        ("dolma", "cc_en_head", "web"),
        ("dolma", "wiki", "curated"),
        ("oasst", None, "conversation"),
        ("wudao", None, "web"),
        ("clue", None, "web"),
        ("zhwiki", None, "curated"),
        ("squad", None, "curated"),
        ("chinese_poetry", None, "poetry"),
        ("alpaca", None, "instruction"),
        ("generic", None, "web"),
        ("generic", "GitHub", "code"),
    ],
)
def test_default_profile(source_type: str, subset: str | None, profile: str) -> None:
    assert default_profile(source_type, subset) == profile


def test_resolve_profile_override() -> None:
    assert resolve_profile("rp", "redpajama", "c4", {"rp": "curated"}) == "curated"
    assert resolve_profile("other", "redpajama", "c4", {"rp": "curated"}) == "web"


def test_quality_config_validation() -> None:
    QualityConfig(profiles={"wiki": "curated"}, thresholds={"zh": {"zh_han_frac": 0.3, "gopher_min_words": None}})
    with pytest.raises(ValueError, match=r"unknown quality profile .*wiki: 'curate'"):
        QualityConfig(profiles={"wiki": "curate"})
    with pytest.raises(ValueError, match=r"unknown quality rule.*gopher_min_word"):
        QualityConfig(thresholds={"en": {"gopher_min_word": 3}})
    with pytest.raises(ValueError, match="not NaN"):
        QualityConfig(thresholds={"en": {"gopher_min_words": float("nan")}})
    with pytest.raises(ValueError, match="Extra inputs"):
        QualityConfig.model_validate({"mode": "filter", "threshold": {}})
    with pytest.raises(ValueError, match="label_only"):
        QualityConfig.model_validate({"mode": "drop"})
    assert QualityConfig().mode == "filter" and QualityConfig().enabled


def test_run_config_untouched() -> None:
    """QualityConfig is standalone: the lead wires it into RunConfig; other models are unchanged."""
    cfg = parse_config({"sources": [{"name": "a", "type": "generic", "paths": ["x.jsonl"]}]})
    assert isinstance(getattr(cfg, "quality", QualityConfig()), QualityConfig)
    with pytest.raises(ConfigError):
        parse_config({"sources": []})

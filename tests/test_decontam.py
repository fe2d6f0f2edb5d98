"""Decontamination (filters/decontam.py): eval items embedded in real documents, whole and lightly
edited, are caught; unrelated real documents are not; the reason names the eval set."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from filters.decontam import EvalIndex, EvalSetError, items_from_records, read_records
from pipeline.config import load_config, parse_config
from pipeline.document import Document
from pipeline.runner import plan
from pipeline.select import contamination_rule
from pipeline.sources import iter_shard

REPO = Path(__file__).resolve().parents[1]
CMRC = REPO / "data/samples/zh/cmrc2018_dev.json"
PYDOC = REPO / "data/eval/pydoc_qa.jsonl"


@pytest.fixture(scope="module")
def real_docs() -> dict[str, list[str]]:
    """Unrelated real documents of the shipped samples: English web + oasst, Chinese poetry + alpaca."""
    cfg = load_config(REPO / "data/configs/sample.yaml")
    by_lang: dict[str, list[str]] = {"en": [], "zh": []}
    for shard, src in plan(cfg):
        if src.name == "cmrc2018":
            continue
        for d in iter_shard(shard, src, "reject"):
            if isinstance(d, Document):
                by_lang["en" if src.name in ("redpajama_c4", "cc_en", "oasst") else "zh"].append(d.text)
    return by_lang


def _edit_words(rng: random.Random) -> Callable[[str], str]:
    """Light edits of English: one word in 25 replaced (4%, rounded down: a 24-word item keeps its
    words; with at least one substitution per item, 13-grams catch 91% of the 20-30 word
    question + answer items and 8-grams 100%: README), one word upper-cased, commas dropped."""
    def edit(text: str) -> str:
        words = text.replace(",", "").split()
        for _ in range(len(words) // 25):
            words[rng.randrange(len(words))] = rng.choice(["the", "very", "some", "often"])
        i = rng.randrange(len(words))
        words[i] = words[i].upper()
        return " ".join(words)
    return edit


def _edit_chars(rng: random.Random) -> Callable[[str], str]:
    """Light edits of Chinese: one character in 40 replaced, full-width commas to ASCII."""
    def edit(text: str) -> str:
        chars = list(text.replace("，", ","))
        for _ in range(max(1, len(chars) // 40)):
            chars[rng.randrange(len(chars))] = rng.choice("的一是了我不人在有这")
        return "".join(chars)
    return edit


def _embed(items: list[str], hosts: list[str], edit: Callable[[str], str] | None, rng: random.Random) -> list[str]:
    out = []
    for item in items:
        host = rng.choice(hosts)
        cut = min(len(host), 300)
        out.append(host[:cut] + "\n" + (edit(item) if edit else item) + "\n" + host[cut : cut + 300])
    return out


def test_chinese_eval_items_caught_and_unrelated_documents_not(real_docs: dict[str, list[str]]) -> None:
    recs = list(read_records(CMRC))
    assert len(recs) == 3219  # one flat record per question
    index = EvalIndex.build([("cmrc2018", items_from_records(recs, ["context", "question", "answers"], "cmrc"))])
    rng = random.Random(7)
    contexts = rng.sample(sorted({r["context"] for r in recs}), 100)
    qa = [r["question"] + r["answers"][0]["text"] for r in rng.sample(recs, 100)]
    for edit in (None, _edit_chars(rng)):
        for items in (contexts, qa):
            tags = index.tag(_embed(items, real_docs["zh"], edit, rng))
            caught = sum(n >= 2 for n in tags["decon_ngrams"]) / len(items)
            assert caught >= 0.95, (edit is not None, caught)
            assert all(s == ["cmrc2018"] for s, n in zip(tags["decon_sets"], tags["decon_ngrams"]) if n)
    unrelated = index.tag(real_docs["zh"])
    flagged = sum(n >= 2 for n in unrelated["decon_ngrams"])
    assert len(real_docs["zh"]) == 3000
    assert flagged / 3000 <= 0.01  # 4 of 3,000 at the default min_ngrams 2 (16 at 1: common phrases such as 中的一个重要概念)


def test_english_eval_items_caught_and_unrelated_documents_not(real_docs: dict[str, list[str]]) -> None:
    recs = list(read_records(PYDOC))
    index = EvalIndex.build([("pydoc_qa", items_from_records(recs, ["question", "answer", "context"], "pydoc"))])
    rng = random.Random(11)
    qa = [r["question"] + " " + r["answer"] for r in recs]
    contexts = [r["context"] for r in recs if len(r["context"].split()) >= 40]  # paragraphs, not one-liners
    assert len(qa) == 82 and len(contexts) == 37
    for edit in (None, _edit_words(rng)):
        for items in (qa, contexts):
            tags = index.tag(_embed(items, real_docs["en"], edit, rng))
            caught = sum(n >= 2 for n in tags["decon_ngrams"]) / len(items)
            assert caught >= 0.95, (edit is not None, caught)
    unrelated = index.tag(real_docs["en"])
    assert sum(n >= 2 for n in unrelated["decon_ngrams"]) / len(real_docs["en"]) <= 0.01


def test_longest_span_and_set_attribution() -> None:
    a = "the quick brown fox jumps over the lazy dog while the cat sleeps on the warm mat all day long"
    b = "北京是中华人民共和国的首都也是全国的政治文化中心"
    index = EvalIndex.build([("en_set", [a]), ("zh_set", [b])], word_ngram=5, char_ngram=4)
    tags = index.tag([f"Intro text here. {a.upper()}! Outro.", f"前言{b}后记", "nothing in common at all here today"])
    assert tags["decon_sets"] == [["en_set"], ["zh_set"], []]
    assert tags["decon_span"][0] == len(a.split())
    assert tags["decon_match"][0] == a  # folded (casefold) tokens joined by spaces
    assert tags["decon_match"][1] == b
    assert tags["decon_ngrams"][0] == len(a.split()) - 5 + 1
    # a text shorter than n has no n-gram: never matches by itself
    short = EvalIndex.build([("s", ["Paris"])], word_ngram=13, char_ngram=8)
    assert short.tag(["Paris"])["decon_ngrams"] == [0]


def test_contamination_rule_reason_names_the_eval_set() -> None:
    cfg = parse_config({
        "sources": [{"name": "web", "type": "generic", "paths": ["x"]}],
        "decontamination": {"eval_sets": [{"name": "cmrc2018", "path": str(CMRC)}], "min_ngrams": 2},
    })
    batch = pa.table({
        "source": ["web"] * 3,
        "decon_ngrams": pa.array([0, 1, 5], pa.int32()),
        "decon_sets": pa.array([[], ["cmrc2018"], ["cmrc2018", "other"]], pa.list_(pa.string())),
        "decon_match": [None, "ab", "光荣和ω-force合作开发"],
    })
    mask, reasons, values, failed = contamination_rule(batch, cfg)
    assert mask.to_pylist() == [False, False, True]
    assert reasons.to_pylist()[2] == "contamination:cmrc2018"
    assert values.to_pylist()[2] == "光荣和ω-force合作开发"
    assert failed.to_pylist()[2] == ["cmrc2018", "other"]


def test_bad_eval_files_name_file_and_record(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{not json\n')
    with pytest.raises(EvalSetError, match=r"bad.jsonl:2: invalid JSON"):
        list(read_records(bad))
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"question": ""}\n')
    with pytest.raises(EvalSetError, match=r"empty.jsonl: record 0: none of the fields question, answer holds text"):
        items_from_records(read_records(empty), ["question", "answer"], str(empty))
    csv = tmp_path / "set.csv"
    csv.write_text("question,answer\nWhat is it?,A thing\n")
    assert items_from_records(read_records(csv), ["question", "answer"], "csv") == ["What is it?\nA thing"]
    with pytest.raises(EvalSetError, match="cannot tell the eval set's format"):
        list(read_records(tmp_path / "set.xml"))

"""Duplicates planted across sources in the shipped samples are removed by the whole pipeline, with
the reason and the keeper; deduplicating the output again removes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.config import parse_config
from pipeline.dedup.shingles import shingles
from pipeline.normalize import normalize_text
from pipeline.runner import RunSummary, run_local
from outfiles import only_part

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def _jaccard(a: str, b: str) -> float:
    sa, sb = set(shingles(a)), set(shingles(b))
    return len(sa & sb) / len(sa | sb)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunSummary, dict[str, str]]:
    work = tmp_path_factory.mktemp("planted")
    page = orjson.loads((SAMPLES / "en/c4_demo.jsonl").read_bytes().split(b"\n")[0])["text"]
    # an oasst tree (nested export format) whose answer quotes the first C4 page
    tree = {
        "message_id": "planted-root",
        "text": "Can you share an article about basic air cleaners?",
        "role": "prompter",
        "lang": "en",
        "replies": [
            {
                "message_id": "planted-answer",
                "parent_id": "planted-root",
                "text": "Sure, here it is:\n\n" + page,
                "role": "assistant",
                "lang": "en",
                "rank": 0,
                "replies": [],
            }
        ],
    }
    oasst = work / "oasst_planted.jsonl"
    oasst.write_bytes((SAMPLES / "oasst/en_100_message.jsonl").read_bytes() + orjson.dumps(tree) + b"\n")
    # a cmrc2018 paragraph with three characters changed
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    para = cm["data"][0]["paragraphs"][0]
    context = para["context"]
    edited = context.replace("光荣", "光荥", 1).replace("故事", "古事", 1)
    assert edited != context
    zh = work / "zh_planted.jsonl"
    zh.write_bytes(orjson.dumps({"text": edited}) + b"\n")
    cfg = parse_config(
        {
            "sources": [
                {"name": "c4", "type": "redpajama", "subset": "c4", "paths": [str(SAMPLES / "en/c4_demo.jsonl")]},
                {"name": "oasst", "type": "oasst", "paths": [str(oasst)]},
                {"name": "cmrc2018", "type": "squad", "lang": "zh", "paths": [str(SAMPLES / "zh/cmrc2018_dev.json")]},
                {"name": "zh_planted", "type": "generic", "lang": "zh", "paths": [str(zh)]},
            ]
        }
    )
    out = work / "out"
    facts = {"page": page, "context": context, "edited": edited, "cmrc_id": f"cmrc2018/{para['id']}"}
    return out, run_local(cfg, out), facts


def test_planted_duplicates_are_removed_with_reason_and_keeper(planted: tuple[Path, RunSummary, dict[str, str]]) -> None:
    out, _, facts = planted
    zh_j = _jaccard(normalize_text(facts["context"])[0], normalize_text(facts["edited"])[0])
    assert zh_j >= 0.85  # the planted edit is a near-duplicate under the default shingling
    dups = {r["id"]: r for r in pq.read_table(only_part(out / "rejected" / "dedup")).to_pylist()}
    page = dups["c4/c4_demo/0"]
    assert page["drop_reason"] == "near_duplicate"
    assert page["duplicate_of"] == "planted-answer"  # the longer document (the oasst thread) is kept
    edited = dups["zh_planted/zh_planted/0"]
    assert edited["drop_reason"] == "near_duplicate"
    assert edited["duplicate_of"] == facts["cmrc_id"]  # same length: the smaller id wins
    stats = json.loads((out / "stats" / "stats.json").read_text())
    pairs = stats["dedup"]["source_pairs"]
    assert pairs["c4"]["oasst"] >= 1 and pairs["oasst"]["c4"] >= 1  # across sources
    assert pairs["cmrc2018"]["zh_planted"] >= 1
    kept = pq.read_table(out / "data" / "oasst" / "en").to_pylist()
    answer = next(r for r in kept if r["id"] == "planted-answer")
    assert answer["dup_cluster_size"] == 2 and answer["dup_cluster"] is not None


def test_dedup_of_the_output_removes_nothing_more(planted: tuple[Path, RunSummary, dict[str, str]], tmp_path: Path) -> None:
    out, _, _ = planted
    # oasst threads of one tree share their prefix and are exempt by policy, which a generic re-read
    # cannot know: re-deduplicate every other source's output
    files = sorted(str(p) for p in (out / "data").rglob("*.parquet") if "/oasst/" not in p.as_posix())
    cfg = parse_config(
        {"sources": [{"name": "again", "type": "generic", "paths": files}], "select": {"languages": None}, "quality": {"enabled": False}}
    )
    summary = run_local(cfg, tmp_path / "again")
    assert summary.stats.stage_total("dedup").docs_rejected == 0
    assert summary.stats.stage_total("dedup").docs_in == sum(pq.ParquetFile(f).metadata.num_rows for f in files)

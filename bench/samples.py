"""The shipped real samples (data/samples) as lists of texts, shared by the benchmarks."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def web_texts() -> list[str]:
    """English web pages: the C4 and Dolma/CCNet samples."""
    texts = []
    for name in ("en/c4_demo.jsonl", "en/cc_en_head-0091.jsonl", "en/cc_en_head-0174.jsonl"):
        texts += [orjson.loads(line)["text"] for line in (SAMPLES / name).read_bytes().splitlines() if line.strip()]
    return texts


def oasst_messages() -> list[str]:
    texts: list[str] = []

    def walk(m: dict[str, Any]) -> None:
        texts.append(m["text"])
        for r in m.get("replies") or []:
            walk(r)

    for line in (SAMPLES / "oasst/en_100_message.jsonl").read_bytes().splitlines():
        if line.strip():
            walk(orjson.loads(line))
    return texts


def cmrc_paragraphs() -> list[str]:
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    return [p["context"] for d in cm["data"] for p in d["paragraphs"]]


def chinese_texts() -> list[str]:
    """cmrc2018 paragraphs, alpaca-zh records, Tang poems and Song ci, as the pipeline builds them."""
    texts = cmrc_paragraphs()
    for r in orjson.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_bytes()):
        texts.append("\n\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x))
    for name in ("zh/poet.tang.0.json", "zh/ci.song.0.json"):
        for r in orjson.loads((SAMPLES / name).read_bytes()):
            texts.append((r.get("title") or r.get("rhythmic", "")) + "\n" + "\n".join(r["paragraphs"]))
    return texts


def repeat_to(texts: list[str], mb: float) -> list[str]:
    """The texts repeated until they total `mb` megabytes of UTF-8."""
    out: list[str] = []
    size = 0
    while size < mb * 1e6:
        for t in texts:
            out.append(t)
            size += len(t.encode("utf-8"))
    return out


def shuffled(text: str, rnd: random.Random, chinese: bool) -> str:
    """The text with its words (English) or the characters of each line (Chinese) shuffled: a copy
    that is no near-duplicate of the original, with the same length, script mix and line shape."""
    lines = []
    for line in text.split("\n"):
        units = list(line) if chinese else line.split(" ")
        rnd.shuffle(units)
        lines.append(("" if chinese else " ").join(units))
    return "\n".join(lines)

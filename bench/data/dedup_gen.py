"""Seeded generators for the dedup benchmarks: real sample documents (data/samples) and planted
near-duplicates at controlled edit rates. Nothing here is written to disk; every call with the same
seed returns the same documents.

Edits are made in the unit a reader would use: words for English (whitespace tokens), characters
for Chinese (Han characters; punctuation and Latin runs are left alone), both parts separately in a
mixed document. `rate` is the number of edit operations per unit (0.03 on a 200-word page = 6
edits). Operations: substitute (a unit from another document of the same language), insert,
delete, and reorder (two sentences swap places: a reordering changes no unit, only the shingles
across the sentence boundaries).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"

_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_SENT_EN = re.compile(r"(?<=[.!?])\s+")
_SENT_ZH = re.compile(r"(?<=[。！？；])")


def english_docs() -> list[str]:
    """c4_demo + Dolma CC head + oasst thread texts (prompt and first reply): 420 documents."""
    out = [json.loads(line)["text"] for line in (SAMPLES / "en/c4_demo.jsonl").read_text("utf-8").splitlines()]
    for name in ("en/cc_en_head-0091.jsonl", "en/cc_en_head-0174.jsonl"):
        out += [json.loads(line)["text"] for line in (SAMPLES / name).read_text("utf-8").splitlines()]
    for line in (SAMPLES / "oasst/en_100_tree.jsonl").read_text("utf-8").splitlines():
        p = json.loads(line)["prompt"]
        reply = p["replies"][0]["text"] if p.get("replies") else ""
        out.append(p["text"] + "\n\n" + reply)
    return [t for t in out if t.strip()]


def chinese_docs() -> list[str]:
    """cmrc2018 paragraphs, alpaca-zh records, Tang poems and Song ci (short texts included)."""
    cm = json.loads((SAMPLES / "zh/cmrc2018_dev.json").read_text("utf-8"))
    out = [p["context"] for d in cm["data"] for p in d["paragraphs"]]
    for r in json.loads((SAMPLES / "zh/alpaca_zh_demo.json").read_text("utf-8")):
        out.append("\n\n".join(x for x in (r["instruction"], r["input"], r["output"]) if x))
    for name in ("zh/poet.tang.0.json", "zh/ci.song.0.json"):
        for r in json.loads((SAMPLES / name).read_text("utf-8")):
            out.append((r.get("title") or r.get("rhythmic") or "") + "\n" + "\n".join(r["paragraphs"]))
    return [t for t in out if t.strip()]


def mixed_docs(n: int, seed: int) -> list[str]:
    """English page + Chinese paragraph in one document (bilingual pages, translation pairs)."""
    rng = random.Random(seed)
    en, zh = english_docs(), [t for t in chinese_docs() if len(t) > 200]
    return [rng.choice(en) + "\n\n" + rng.choice(zh) for _ in range(n)]


def _sentences(text: str, zh: bool) -> list[str]:
    parts = (_SENT_ZH if zh else _SENT_EN).split(text)
    return [p for p in parts if p]


def _reorder(text: str, rate: float, rng: random.Random, zh: bool) -> str:
    sents = _sentences(text, zh)
    if len(sents) < 2:
        return text
    for _ in range(max(1, round(rate * len(sents)))):
        i = rng.randrange(len(sents) - 1)
        sents[i], sents[i + 1] = sents[i + 1], sents[i]
    return ("" if zh else " ").join(sents)


def edit_english(text: str, rate: float, rng: random.Random, vocab: list[str], op: str = "mixed") -> str:
    """Word-level edits (see module doc); `op` one of substitute/insert/delete/reorder/mixed."""
    if op == "reorder":
        return _reorder(text, rate, rng, zh=False)
    words = text.split(" ")
    k = max(1, round(rate * len(words))) if rate > 0 else 0
    for _ in range(k):
        o = rng.choice(("substitute", "insert", "delete")) if op == "mixed" else op
        i = rng.randrange(len(words))
        if o == "substitute":
            words[i] = rng.choice(vocab)
        elif o == "insert":
            words.insert(i, rng.choice(vocab))
        elif len(words) > 1:
            del words[i]
    return " ".join(words)


def edit_chinese(text: str, rate: float, rng: random.Random, vocab: list[str], op: str = "mixed") -> str:
    """Han-character edits (see module doc)."""
    if op == "reorder":
        return _reorder(text, rate, rng, zh=True)
    chars = list(text)
    han = [i for i, c in enumerate(chars) if _HAN_RE.match(c)]
    if not han:
        return text
    k = max(1, round(rate * len(han))) if rate > 0 else 0
    for _ in range(k):
        o = rng.choice(("substitute", "insert", "delete")) if op == "mixed" else op
        i = rng.choice(han)
        if i >= len(chars):
            continue
        if o == "substitute":
            chars[i] = rng.choice(vocab)
        elif o == "insert":
            chars.insert(i, rng.choice(vocab))
        else:
            chars[i] = ""
    return "".join(chars)


def edit(text: str, lang: str, rate: float, rng: random.Random, vocab: dict[str, list[str]], op: str = "mixed") -> str:
    """Edits a document of language en / zh / mixed (mixed: each part in its own unit)."""
    if lang == "en":
        return edit_english(text, rate, rng, vocab["en"], op)
    if lang == "zh":
        return edit_chinese(text, rate, rng, vocab["zh"], op)
    head, _, tail = text.partition("\n\n")
    return edit_english(head, rate, rng, vocab["en"], op) + "\n\n" + edit_chinese(tail, rate, rng, vocab["zh"], op)


def vocabularies() -> dict[str, list[str]]:
    """Replacement units drawn from the samples: English words, Han characters (sorted: seeded
    choices stay reproducible)."""
    words = sorted({w for t in english_docs() for w in t.split() if w.isalpha()})
    han = sorted({c for t in chinese_docs() for c in t if _HAN_RE.match(c)})
    return {"en": words, "zh": han}


def english_1k(n: int, seed: int) -> list[str]:
    """~1,000-character English documents cut from the samples at word boundaries, each with a
    seeded word shuffle of its tail so the n documents are distinct (throughput benchmarks)."""
    rng = random.Random(seed)
    base = " ".join(english_docs()).split()
    out = []
    while len(out) < n:
        i = rng.randrange(max(1, len(base) - 400))
        doc: list[str] = []
        size = 0
        while size < 1000 and i < len(base):
            doc.append(base[i])
            size += len(base[i]) + 1
            i += 1
        out.append(" ".join(doc)[:1000])
    return out


def chinese_1k(n: int, seed: int) -> list[str]:
    """~1,000-character Chinese documents cut from cmrc2018 + alpaca-zh (throughput benchmarks)."""
    rng = random.Random(seed)
    base = "".join(chinese_docs())
    return [base[(i := rng.randrange(len(base) - 1000)) : i + 1000] for _ in range(n)]

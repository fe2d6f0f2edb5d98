"""Decontamination + PII benchmark (prints JSON): MB/s per core of the PII tagger, the
decontamination tagger and both, English and Chinese, beside the tag step without them (every
other registered tagger: language, tokens, keys, quality signals, MinHash), and the ratio of tag
time with both against without (target <= 1.25).

Texts: English (C4 + Dolma CC + oasst) and Chinese (alpaca-zh, Tang/Song poetry; cmrc2018 is the
eval set) samples repeated to --mb megabytes, 2,048-document batches as in tag, one pinned core,
best of --repeats. Eval sets: cmrc2018 dev (context + question + answers) and data/eval/pydoc_qa.

Usage: .venv/bin/python bench/decontam_pii.py [--mb 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import orjson

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))
os.chdir(_ROOT)

from pipeline import taggers  # noqa: E402
from pipeline.config import load_config, parse_config  # noqa: E402
from pipeline.document import Document  # noqa: E402
from pipeline.runner import plan  # noqa: E402
from pipeline.sources import iter_shard  # noqa: E402
from pipeline.stats import RunStats  # noqa: E402

EN = ("redpajama_c4", "cc_en", "oasst")
ZH = ("alpaca_zh", "poetry_tang", "poetry_song")


def _docs(names: tuple[str, ...], mb: float) -> list[Document]:
    cfg = load_config("data/configs/sample.yaml")
    docs = [d for shard, src in plan(cfg) if src.name in names for d in iter_shard(shard, src, "reject") if isinstance(d, Document)]
    out, size, i = [], 0, 0
    while size < mb * 1e6:
        d = docs[i % len(docs)]
        out.append(Document(id=f"{d.id}#{i}", text=d.text, source=d.source, messages=d.messages))
        size += len(d.text.encode("utf-8"))
        i += 1
    return out


def _time(docs: list[Document], cfg, chosen: list[taggers.Tagger], repeats: int) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for k in range(0, len(docs), 2048):
            part = docs[k : k + 2048]
            batch = taggers.TagBatch(docs=part, texts=[d.text for d in part], changes=[[] for _ in part], cfg=cfg, stats=RunStats())
            for t in chosen:
                batch.cols.update(t.tag(batch))
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    sources = sorted(set(EN + ZH))
    cfg = parse_config({
        "sources": [{"name": s, "type": "generic", "paths": ["x"]} for s in sources],
        "decontamination": {"eval_sets": [
            {"name": "cmrc2018", "path": "data/samples/zh/cmrc2018_dev.json", "fields": ["context", "question", "answers"]},
            {"name": "pydoc_qa", "path": "data/eval/pydoc_qa.jsonl", "fields": ["question", "answer", "context"]},
        ]},
        "pii": {"policy": "redact"},
    })
    t0 = time.perf_counter()
    taggers.eval_index(cfg.decontamination)
    build_s = time.perf_counter() - t0
    base = [t for t in taggers.TAGGERS if t.name not in ("pii", "decontamination")]
    pii = [t for t in taggers.TAGGERS if t.name == "pii"]
    dec = [t for t in taggers.TAGGERS if t.name == "decontamination"]
    result: dict[str, object] = {"core": core, "mb": args.mb, "index_build_s": round(build_s, 2), "langs": {}}
    for lang, names in (("en", EN), ("zh", ZH)):
        docs = _docs(names, args.mb)
        mb = sum(len(d.text.encode("utf-8")) for d in docs) / 1e6
        _time(docs[:2048], cfg, taggers.TAGGERS, 1)  # warm: fastText, tiktoken, jieba, index
        t_base = _time(docs, cfg, base, args.repeats)
        t_pii = _time(docs, cfg, pii, args.repeats)
        t_dec = _time(docs, cfg, dec, args.repeats)
        t_both = _time(docs, cfg, pii + dec, args.repeats)
        result["langs"][lang] = {  # type: ignore[index]
            "mb": round(mb, 2),
            "tag_without_mb_s": round(mb / t_base, 2),
            "pii_mb_s": round(mb / t_pii, 2),
            "decontam_mb_s": round(mb / t_dec, 2),
            "both_mb_s": round(mb / t_both, 2),
            "tag_time_ratio_with_both": round((t_base + t_both) / t_base, 3),
        }
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()

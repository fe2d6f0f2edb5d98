"""End-to-end throughput on one core: tag -> cluster -> select (the target's span), and with finish,
English and Chinese, printed as JSON.

The corpus is built from the shipped real samples (data/samples), repeated to --mb megabytes per
language; each repetition after the first shuffles the words (English) or the characters of each
line (Chinese) with a seeded generator, so copies are not near-duplicates of each other and the
dedup step does the work of a real corpus rather than of one giant cluster. One-time loading of the
models (fastText, BPE ranks, jieba dictionary, script tables) happens before the timed region and
is reported separately. Baselines measured in the
same run: reading + JSON parsing alone (the I/O floor) and single-call `tiktoken.encode` per document
(best of --repeat passes, like the pipeline's runs).
Targets (DEVELOPERS.md): >= 5 MB/s English, >= 1.5 MB/s Chinese; issue 22 item 8: end to end >= 0.35x
of tiktoken's encoding alone (`ratio_to_tiktoken_alone`).

`steps_seconds`: the main per-document steps timed alone, in the same run, on the same parsed texts
in tag's batches (language, quality signals, token counts, exact keys, MinHash; select's word
counts), to show where the time goes. `datatrove`: its own LID + MinHash pipeline over the same
file (bench/peer_datatrove.py) and `ratio_to_datatrove`, or why it was skipped (`pip install -e
'.[peers]'`; --no-peer skips it).

    python bench/e2e.py [--mb 20] [--keep DIR] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.config import parse_config  # noqa: E402
from pipeline.driver import run_phases  # noqa: E402
from pipeline.runner import LocalPhases, plan, run_local  # noqa: E402
from pipeline.tokens import get_encoding  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
import peer_datatrove  # noqa: E402
from samples import chinese_texts, shuffled, web_texts  # noqa: E402

TARGET = {"en": 5.0, "zh": 1.5}
#: tag's batch size (pipeline.tag.BATCH_DOCS), so the steps are timed on the batches tag hands them
STEP_BATCH = 2048


def time_steps(cfg: object, texts: list[str], lang: str) -> dict[str, float]:
    """Seconds of each main per-document step alone over `texts` (tag's batches), same run."""
    from filters.quality import quality_signals
    from pipeline.dedup.minhash import signatures
    from pipeline.dedup.keys import key_hashes
    from pipeline.taggers import language_tagger
    from pipeline.tokens import count_tokens
    from pipeline.words import count_words

    lid = language_tagger(cfg.language)  # type: ignore[attr-defined]
    langs = [lang] * STEP_BATCH
    steps = {
        "language": lid.tag,
        "quality_signals": lambda b: quality_signals(b, langs[: len(b)]),
        "tokens": lambda b: count_tokens(b, cfg.tokens.tokenizer[0]),  # type: ignore[attr-defined]
        "exact_keys": lambda b: list(map(key_hashes, b)),
        "minhash": lambda b: signatures(b, cfg.dedup),  # type: ignore[attr-defined]
        "select_words": count_words,
    }
    batches = [texts[i : i + STEP_BATCH] for i in range(0, len(texts), STEP_BATCH)]
    out = {}
    for name, fn in steps.items():
        t0 = time.perf_counter()
        for b in batches:
            fn(b)
        out[name] = round(time.perf_counter() - t0, 3)
    return out



def write_corpus(texts: list[str], path: Path, mb: float, chinese: bool = False) -> int:
    target = int(mb * 1e6)
    rnd = random.Random(20261123)
    size = 0
    n = 0
    rep = 0
    with open(path, "wb") as f:
        while size < target:
            for t in texts:
                body = t if rep == 0 else shuffled(t, rnd, chinese)
                line = orjson.dumps({"text": body}) + b"\n"
                f.write(line)
                size += len(line)
                n += 1
                if size >= target:
                    break
            rep += 1
    return n


def warm_up(cfg: object, work: Path, texts: list[str]) -> None:
    """Loads every model once (what a long-running worker pays once, not per document)."""
    work.mkdir(parents=True, exist_ok=True)
    f = work / "warm.jsonl"
    f.write_bytes(b"".join(orjson.dumps({"text": t}) + b"\n" for t in texts))
    run_local(cfg.model_copy(update={"sources": [cfg.sources[0].model_copy(update={"paths": [str(f)]})]}), work / "out")  # type: ignore[attr-defined]


def bench_language(lang: str, texts: list[str], mb: float, work: Path, repeat: int = 3, peer: bool = True) -> dict[str, object]:
    src_file = work / f"{lang}.jsonl"
    docs = write_corpus(texts, src_file, mb, chinese=lang == "zh")
    nbytes = src_file.stat().st_size
    cfg = parse_config(
        {
            "sources": [{"name": f"bench_{lang}", "type": "generic", "lang": lang, "paths": [str(src_file)]}],
            "select": {"languages": [lang]},
        }
    )
    out = work / f"out_{lang}"
    w0 = time.perf_counter()
    warm_up(cfg, work / f"warm_{lang}", texts[:50])
    warm = time.perf_counter() - w0

    best = None
    for _ in range(repeat):  # best of N: these machines are shared, the minimum is the signal
        shutil.rmtree(out, ignore_errors=True)
        res = run_phases(LocalPhases(cfg, out), plan(cfg))  # the phases as `curate shard` runs them
        if best is None or res.seconds["total"] < best.seconds["total"]:
            best = res
    assert best is not None
    phase = best.seconds
    summary = best.summary

    # baselines in the same run
    b0 = time.perf_counter()
    parsed = [orjson.loads(line)["text"] for line in src_file.read_bytes().splitlines()]
    b1 = time.perf_counter()
    enc = get_encoding(cfg.tokens.encoding)
    sample = parsed[: max(1, len(parsed) // 4)]
    sample_bytes = sum(len(t.encode("utf-8")) for t in sample)
    tik = float("inf")
    for _ in range(repeat):  # best of N, like the pipeline's runs (one pass ran ~30% slower than the best of three here)
        b2 = time.perf_counter()
        for t in sample:
            len(enc.encode(t))
        tik = min(tik, time.perf_counter() - b2)

    steps = time_steps(cfg, parsed, lang)
    why = peer_datatrove.available() if peer else "--no-peer"
    dt = {"skipped": why} if why else peer_datatrove.run_datatrove(src_file, lang, work / f"peer_{lang}")

    total = phase["total"]
    # the target covers tag, cluster and select (per-byte work); finish (shard naming, stats, report
    # plots, card) is a fixed cost per run, reported beside it
    mbps = nbytes / 1e6 / (phase["tag"] + phase["cluster"] + phase["select"])
    kept = summary.stats.to_dict()["sizes"]["total"]
    return {
        "docs": docs,
        "input_mb": round(nbytes / 1e6, 2),
        "kept_docs": kept["docs"],
        "seconds": {
            "tag": round(phase["tag"], 3),
            "cluster": round(phase["cluster"], 3),
            "select": round(phase["select"], 3),
            "finish": round(phase["finish"], 3),
            "total": round(total, 3),
            "one_time_model_loading_excluded": round(warm, 3),
        },
        "duplicates_removed": summary.stats.stage_total("dedup").docs_rejected,
        "mb_per_s": round(mbps, 2),
        "mb_per_s_incl_finish": round(nbytes / 1e6 / total, 2),
        "target_mb_per_s": TARGET[lang],
        "meets_target": mbps >= TARGET[lang],
        "baseline_read_parse_mb_per_s": round(nbytes / 1e6 / (b1 - b0), 2),
        "baseline_tiktoken_single_call_mb_per_s": round(sample_bytes / 1e6 / tik, 2),
        "ratio_to_tiktoken_alone": round(mbps / (sample_bytes / 1e6 / tik), 3),
        "bytes_per_token": kept["bytes_per_token"],
        "steps_seconds": steps,
        "datatrove": dt,
        "ratio_to_datatrove": None if why else round(mbps / dt["mb_per_s"], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20.0, help="megabytes of input per language")
    ap.add_argument("--repeat", type=int, default=3, help="runs per language; the fastest is reported")
    ap.add_argument("--keep", type=Path, default=None, help="keep the work directory here")
    ap.add_argument("--no-peer", action="store_true", help="skip datatrove's pipeline (bench/peer_datatrove.py)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, honestly
    work = args.keep or Path(tempfile.mkdtemp(prefix="curate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        result = {
            "benchmark": "e2e tag+select+finish, one process",
            "cpu_count": os.cpu_count(),
            "cores_used": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "repeat": args.repeat,
            "en": bench_language("en", web_texts(), args.mb, work, args.repeat, not args.no_peer),
            "zh": bench_language("zh", chinese_texts(), args.mb, work, args.repeat, not args.no_peer),
        }
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

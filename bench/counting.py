"""Word counting throughput per core (English regex words, Chinese jieba words), next to the
baselines it is judged against, measured in the same run on the same texts, as JSON.

Corpus: the shipped real samples (data/samples; English: C4 + Dolma CC + oasst messages; Chinese:
cmrc2018, alpaca-zh, Tang poems, Song ci), repeated to --mb MB per language. The process is pinned to
one core (os.sched_setaffinity), so MB/s is per core. The measures take turns (round robin, --repeat
rounds, best round kept), so a busy neighbour on a shared machine slows all of them alike. Measures:

- `count_words`: pipeline.words.count_words in batches of --batch documents (as select calls it)
  with the preferred segmenter (jieba-next when installed), and `count_words_jieba` forcing jieba
  (the fallback when jieba-next is not installed);
- `tiktoken_encode`: `len(enc.encode_ordinary(t))`, one call per document (o200k_base, offline);
- `jieba_lcut`: `jieba.lcut(t, HMM=False)`, one call per document, the same mode count_words uses;
  `jieba_lcut_hmm`: jieba's default mode (HMM on), for reference;
- `jieba_next_lcut`: `jieba_next.lcut(t, HMM=False)`, one call per document.

Targets: Chinese count_words >= 2x jieba_lcut; English count_words >= 1/1.5 of tiktoken_encode.
Also reported: jieba vs jieba-next segmentation identity on the 848 cmrc2018 paragraphs, both modes.

    python bench/counting.py [--mb 5] [--repeat 3] [--batch 256]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.tokens import get_encoding  # noqa: E402
from pipeline.words import count_words, words_segmenter_name  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from samples import chinese_texts, cmrc_paragraphs, oasst_messages, repeat_to, web_texts  # noqa: E402


def english_texts() -> list[str]:
    return web_texts() + oasst_messages()


def round_robin(fns: dict[str, Callable[[list[str]], object]], texts: list[str], mb: float, repeat: int) -> dict[str, float]:
    """MB/s of each function, best of `repeat` rounds; within a round every function runs once."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn(texts)
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: round(mb / t, 3) for name, t in best.items()}


def each(f: Callable[[str], object]) -> Callable[[list[str]], None]:
    def run(texts: list[str]) -> None:
        for t in texts:
            f(t)

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=5.0, help="MB of text per language")
    ap.add_argument("--repeat", type=int, default=5, help="rounds (best is reported)")
    ap.add_argument("--batch", type=int, default=256, help="documents per count_words call")
    args = ap.parse_args()
    core = None
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    have_next = importlib.util.find_spec("jieba_next") is not None
    jn: Any = None
    if have_next:
        jn = importlib.import_module("jieba_next")
        logging.getLogger("jieba_next").setLevel(logging.WARNING)
        jn.initialize()
    enc = get_encoding("o200k_base")

    def batched(**kw: object) -> Callable[[list[str]], None]:
        def run(texts: list[str]) -> None:
            for i in range(0, len(texts), args.batch):
                count_words(texts[i : i + args.batch], **kw)  # type: ignore[arg-type]

        return run

    measures: dict[str, Callable[[list[str]], object]] = {
        "count_words": batched(),
        "count_words_jieba": batched(segmenter="jieba"),
        "tiktoken_encode": each(enc.encode_ordinary),
        "jieba_lcut": each(lambda t: jieba.lcut(t, HMM=False)),
        "jieba_lcut_hmm": each(lambda t: jieba.lcut(t, HMM=True)),
    }
    if jn is not None:
        measures["jieba_next_lcut"] = each(lambda t: jn.lcut(t, HMM=False))
    for texts in (english_texts()[:50], chinese_texts()[:50]):  # warm-up: regex classes, dictionaries
        for fn in measures.values():
            fn(texts)

    results: dict[str, object] = {}
    for lang, base in (("en", english_texts()), ("zh", chinese_texts())):
        texts = repeat_to(base, args.mb)
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        names = ["count_words", "tiktoken_encode"] if lang == "en" else list(measures)
        mbs = round_robin({name: measures[name] for name in names}, texts, mb, args.repeat)
        if lang == "en":
            ratios = {"count_words / tiktoken_encode": round(mbs["count_words"] / mbs["tiktoken_encode"], 2)}
        else:
            ratios = {
                "count_words / jieba_lcut": round(mbs["count_words"] / mbs["jieba_lcut"], 2),
                "count_words / jieba_lcut_hmm": round(mbs["count_words"] / mbs["jieba_lcut_hmm"], 2),
                "count_words_jieba / jieba_lcut": round(mbs["count_words_jieba"] / mbs["jieba_lcut"], 2),
            }
            if "jieba_next_lcut" in mbs:
                ratios["jieba_next_lcut / jieba_lcut"] = round(mbs["jieba_next_lcut"] / mbs["jieba_lcut"], 2)
        results[lang] = {
            "mb": round(mb, 2),
            "docs": len(texts),
            "distinct_docs": len(base),
            "ascii_only_docs_share": round(sum(t.isascii() for t in base) / len(base), 3),
            "mb_per_s": mbs,
            "ratios": ratios,
        }

    identity: dict[str, object] = {"jieba_next_installed": have_next}
    if jn is not None:
        paragraphs = cmrc_paragraphs()
        for hmm in (False, True):
            differ = sum(jieba.lcut(p, HMM=hmm) != jn.lcut(p, HMM=hmm) for p in paragraphs)
            identity[f"cmrc2018_paragraphs_differing_hmm_{'on' if hmm else 'off'}"] = f"{differ}/{len(paragraphs)}"
        counts = (count_words(paragraphs, segmenter="jieba"), count_words(paragraphs, segmenter="jieba_next"))
        identity["count_words_equal_jieba_vs_jieba_next"] = counts[0] == counts[1]

    report = {
        "bench": "counting",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "pinned_core": core,
        "segmenter": words_segmenter_name(),
        "batch": args.batch,
        "repeat": args.repeat,
        "results": results,
        "jieba_vs_jieba_next": identity,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

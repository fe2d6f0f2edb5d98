"""Throughput per core of normalize_text, normalize_key and count_tokens, English and Chinese, as JSON.

Corpus: the shipped real samples (data/samples, else /work/shared/corpora), repeated to --mb MB per
language. Everything runs in this one process and thread, so MB/s is per core. Baselines measured in
the same run, on the same texts:

- `nfkc_lower`: unicodedata.normalize("NFKC", t).lower()  (what a naive key normalization costs)
- `nfkc_ws_lower`: NFKC + " ".join(t.split()) + lower  (the ceiling quoted in dependencies.md)
- `encode_single`: len(enc.encode(t, disallowed_special=())) one call per document
- `encode_ordinary_batch_8`: tiktoken's batch call with its default 8 threads (uses every core: shown
  for reference, not a per-core figure)

    python bench/normalize_tokens.py [--mb 20] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.dedup.keys import key_hash, normalize_key  # noqa: E402
from pipeline.normalize import normalize_text  # noqa: E402
from pipeline.tokens import NUM_THREADS, count_tokens, get_encoding  # noqa: E402

sys.path.insert(0, str(REPO / "bench"))
from samples import chinese_texts, repeat_to, web_texts  # noqa: E402

BATCH = 256  # documents per count_tokens call, as in pipeline/tag.py


def best_mb_s(fn: Callable[[list[str]], object], texts: list[str], mb: float, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return round(mb / best, 2)


def batched(fn: Callable[[list[str]], object]) -> Callable[[list[str]], None]:
    def run(texts: list[str]) -> None:
        for i in range(0, len(texts), BATCH):
            fn(texts[i : i + BATCH])

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20.0, help="MB of text per language")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is reported)")
    args = ap.parse_args()

    enc = get_encoding("o200k_base")
    corpora = {"en": web_texts(), "zh": chinese_texts()}

    # warm-up: lazily built regex classes, the encoding
    for texts in corpora.values():
        for t in texts[:50]:
            normalize_text(t, casing="fix_shouting")
            normalize_key(t)
        count_tokens(texts[:50])

    def each(f: Callable[[str], object]) -> Callable[[list[str]], None]:
        def run(texts: list[str]) -> None:
            for t in texts:
                f(t)

        return run

    measures: dict[str, Callable[[list[str]], object]] = {
        "normalize_text": each(normalize_text),
        "normalize_text_fix_shouting": each(lambda t: normalize_text(t, casing="fix_shouting")),
        "normalize_text_lower": each(lambda t: normalize_text(t, casing="lower")),
        "normalize_key": each(normalize_key),
        "key_hash_of_key": each(lambda t: key_hash(normalize_key(t))),
        "count_tokens": batched(count_tokens),
        # baselines
        "nfkc_lower": each(lambda t: unicodedata.normalize("NFKC", t).lower()),
        "nfkc_ws_lower": each(lambda t: " ".join(unicodedata.normalize("NFKC", t).split()).lower()),
        "encode_single": each(lambda t: len(enc.encode(t, disallowed_special=()))),
        "encode_ordinary_batch_8": batched(lambda b: enc.encode_ordinary_batch(b)),
    }

    results: dict[str, object] = {}
    for lang, base in corpora.items():
        texts = repeat_to(base, args.mb)
        mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
        ascii_share = sum(t.isascii() for t in base) / len(base)
        mbs = {name: best_mb_s(fn, texts, mb, args.repeat) for name, fn in measures.items()}
        ratios = {
            "normalize_text / nfkc_ws_lower": round(mbs["normalize_text"] / mbs["nfkc_ws_lower"], 2),
            "normalize_text / nfkc_lower": round(mbs["normalize_text"] / mbs["nfkc_lower"], 2),
            "normalize_key / nfkc_lower": round(mbs["normalize_key"] / mbs["nfkc_lower"], 2),
            "count_tokens / encode_single": round(mbs["count_tokens"] / mbs["encode_single"], 2),
        }
        results[lang] = {
            "mb": round(mb, 2),
            "docs": len(texts),
            "distinct_docs": len(base),
            "ascii_only_docs_share": round(ascii_share, 3),
            "mb_per_s": mbs,
            "ratios": ratios,
        }

    report = {
        "bench": "normalize_tokens",
        "samples": "data/samples",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "count_tokens_num_threads": NUM_THREADS,
        "repeat": args.repeat,
        "results": results,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()

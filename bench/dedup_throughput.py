"""MinHash signature throughput on ONE core (pinned with os.sched_setaffinity), shingling
included, on ~1,000-character English and Chinese documents, printed as JSON.

Methods (128 permutations, 5-grams: words for English, characters for Chinese):
- `ours`: pipeline.dedup.minhash.signatures (script-aware shingles, vectorised, affine32);
- `datasketch`: plain datasketch, `MinHash(num_perm=128)` + `update_batch` of UTF-8 shingles
  (default sha1), Python shingling (lower + split / characters without spaces);
- `datasketch_bulk_xxh32`: `MinHash.bulk(..., hashfunc=xxhash.xxh32_intdigest)` (permutations
  reused), same Python shingling;
- `rensa`: rensa `RMinHash(128, seed).update(shingles)` + `digest()` (Rust), same Python
  shingling, when rensa is installed (`pip install .[bench]`).
Ratios are ours / other. Target: ours >= 5x plain datasketch.

    python bench/dedup_throughput.py [--docs 4000] [--repeat 3] [--cpu 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench" / "data"))

import dedup_gen as gen  # noqa: E402
import xxhash  # noqa: E402
from datasketch import MinHash  # noqa: E402

from pipeline.config import DedupConfig  # noqa: E402
from pipeline.dedup.minhash import signatures  # noqa: E402

_SPACE = re.compile(r"\s+")


def py_shingles(text: str, lang: str, n: int = 5) -> list[str]:
    """The shingling a plain datasketch user writes: word n-grams / character n-grams."""
    if lang == "en":
        w = text.lower().split()
        return [" ".join(w[i : i + n]) for i in range(max(1, len(w) - n + 1))]
    c = _SPACE.sub("", text)
    return [c[i : i + n] for i in range(max(1, len(c) - n + 1))]


def run_ours(texts: list[str], lang: str, cfg: DedupConfig) -> None:
    signatures(texts, cfg)


def run_datasketch(texts: list[str], lang: str, cfg: DedupConfig) -> None:
    for t in texts:
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch([s.encode("utf-8") for s in py_shingles(t, lang)])
        m.digest()


def run_datasketch_bulk(texts: list[str], lang: str, cfg: DedupConfig) -> None:
    data = [[s.encode("utf-8") for s in py_shingles(t, lang)] for t in texts]
    for m in MinHash.generator(data, num_perm=cfg.num_perm, seed=cfg.seed, hashfunc=xxhash.xxh32_intdigest):
        m.digest()


def run_rensa(texts: list[str], lang: str, cfg: DedupConfig) -> None:
    from rensa import RMinHash

    for t in texts:
        m = RMinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update(py_shingles(t, lang))
        m.digest()


def timed(
    methods: dict[str, Callable[[list[str], str, DedupConfig], None]], texts: list[str], lang: str, cfg: DedupConfig, repeat: int
) -> dict[str, float]:
    """Documents per second of each method: best of `repeat` rounds, the methods interleaved in
    every round so that load from other processes hits them alike (after one warm-up each)."""
    best = {name: float("inf") for name in methods}
    for fn in methods.values():
        fn(texts[:50], lang, cfg)
    for _ in range(repeat):
        for name, fn in methods.items():
            t0 = time.perf_counter()
            fn(texts, lang, cfg)
            best[name] = min(best[name], time.perf_counter() - t0)
    return {name: len(texts) / t for name, t in best.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=int, default=4000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0)
    args = ap.parse_args()
    os.sched_setaffinity(0, {args.cpu})
    cfg = DedupConfig()
    methods: dict[str, Callable[[list[str], str, DedupConfig], None]] = {
        "ours": run_ours,
        "datasketch": run_datasketch,
        "datasketch_bulk_xxh32": run_datasketch_bulk,
    }
    try:
        import rensa  # noqa: F401

        methods["rensa"] = run_rensa
    except ImportError:
        pass
    result: dict[str, object] = {"cpu": args.cpu, "num_perm": cfg.num_perm, "docs": args.docs}
    for lang, texts in (("en", gen.english_1k(args.docs, 1)), ("zh", gen.chinese_1k(args.docs, 1))):
        chars = sum(map(len, texts)) / len(texts)
        rates = timed(methods, texts, lang, cfg, args.repeat)
        result[lang] = {
            "avg_chars": round(chars),
            "docs_per_s": {k: round(v) for k, v in rates.items()},
            "mchars_per_s_ours": round(rates["ours"] * chars / 1e6, 2),
            "ratio_ours_over": {k: round(rates["ours"] / v, 2) for k, v in rates.items() if k != "ours"},
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

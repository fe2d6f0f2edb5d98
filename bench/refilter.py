"""`curate refilter` against a full run with the same new config, on a generated corpus, as JSON.

The corpus is the shipped English and Chinese samples repeated (copies shuffled as in bench/e2e.py)
to --mb megabytes. Steps timed: (1) a full run with the original config, (2) `refilter` to a
stricter config (higher language-score minimums, tighter quality thresholds), (3) a full run of the
stricter config into a fresh directory; the ratio (3)/(2) is what refilter saves. The outputs of
(2) and (3) are compared file by file (they must be identical).

    python bench/refilter.py [--mb 200]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from e2e import write_corpus  # noqa: E402
from samples import chinese_texts, web_texts  # noqa: E402

from pipeline.config import RunConfig, parse_config  # noqa: E402
from pipeline.runner import refilter, run_local  # noqa: E402
from pipeline.shards import file_sha256  # noqa: E402


def configs(en: Path, zh: Path) -> tuple[RunConfig, RunConfig]:
    sources = [
        {"name": "web_en", "type": "generic", "lang": "en", "paths": [str(en)]},
        {"name": "web_zh", "type": "generic", "lang": "zh", "paths": [str(zh)]},
    ]
    original = parse_config({"sources": sources})
    stricter = parse_config(
        {
            "sources": sources,
            "select": {"min_lang_score": {"en": 0.9, "zh": 0.9}},
            "quality": {"thresholds": {"en": {"gopher_min_words": 100}, "zh": {"gopher_min_words": 160}}},
        }
    )
    return original, stricter


def outputs(out: Path) -> dict[str, str]:
    return {p.relative_to(out).as_posix(): file_sha256(p) for p in sorted(out.rglob("*.parquet")) if ".staging" not in p.parts}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=200.0, help="megabytes of input in all (half English, half Chinese)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curate-refilter-"))
    try:
        en, zh = work / "en.jsonl", work / "zh.jsonl"
        write_corpus(web_texts(), en, args.mb / 2)
        write_corpus(chinese_texts(), zh, args.mb / 2, chinese=True)
        original, stricter = configs(en, zh)
        out, fresh = work / "out", work / "fresh"

        t0 = time.perf_counter()
        run_local(original, out)
        t1 = time.perf_counter()
        refilter(stricter, out)
        t2 = time.perf_counter()
        run_local(stricter, fresh)
        t3 = time.perf_counter()

        print(
            json.dumps(
                {
                    "benchmark": "refilter vs full run with the new config",
                    "input_mb": round((en.stat().st_size + zh.stat().st_size) / 1e6, 1),
                    "seconds": {"full_run_original": round(t1 - t0, 2), "refilter": round(t2 - t1, 2), "full_run_new": round(t3 - t2, 2)},
                    "speedup_refilter_over_full_run": round((t3 - t2) / (t2 - t1), 1),
                    "target_speedup": 20,
                    "identical_outputs": outputs(out) == outputs(fresh),
                },
                indent=2,
            )
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

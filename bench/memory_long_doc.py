"""Peak memory of one very long document (issue 19 item 10), as JSON.

A single-document JSONL file of --sizes MB (default 10 and 60) is built from the shipped real
samples (English: the C4 demo documents; `--lang zh`: the cmrc2018 paragraphs), joined by newlines
and repeated to the size. Each measure runs in a fresh process and reports that process's peak RSS
(`ru_maxrss`):

- `read_baseline`: read the file and parse it with orjson (the document held once as bytes and once
  as str): the floor any reader pays;
- `shard`: `curate shard FILE --source-type generic --no-report --allow-empty` (read, normalize,
  tag, select, finish; the quality rules usually drop such a document, which changes nothing here:
  every tagger has run on it by then).

- `shard_tiny`: the same command on a 10 kB document of the same text: the process's fixed cost
  (interpreter, numpy/pyarrow, fastText, tiktoken and jieba tables, the signal lookup tables).
  `shard_above_tiny_per_doc_byte` is the peak above that, per byte of the document: what one long
  document itself costs (the issue's ratio, `shard_peak_per_doc_byte`, includes the fixed cost,
  ~300 MB, which alone is 30x a 10 MB document).

With `--stages`, the peak of Python/numpy allocations (tracemalloc) of each tagging step on the same
document, measured in this process: which step holds the copies (tiktoken's Rust allocations are not
traced). Target of the issue: shard peak RSS <= 10x the document.

    python bench/memory_long_doc.py [--sizes 10 60] [--lang en|zh] [--stages]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_PEAK = "import resource, sys\nprint('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"


def _texts(lang: str) -> list[str]:
    if lang == "zh":
        data = orjson.loads((REPO / "data/samples/zh/cmrc2018_dev.json").read_bytes())
        return [p["context"] for art in data["data"] for p in art["paragraphs"]]
    return [orjson.loads(line)["text"] for line in (REPO / "data/samples/en/c4_demo.jsonl").read_bytes().splitlines() if line.strip()]


def make_document(path: Path, mb: float, lang: str) -> int:
    """Writes one JSONL record whose text is about `mb` MB of UTF-8; returns the text's byte size."""
    blob = "\n".join(_texts(lang)) + "\n"
    target = int(mb * 1_000_000)
    reps = target // len(blob.encode("utf-8")) + 1
    text = (blob * reps).encode("utf-8")[:target].decode("utf-8", "ignore")
    path.write_bytes(orjson.dumps({"text": text}) + b"\n")
    return len(text.encode("utf-8"))


def _peak_of(code: str, cwd: Path) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of a fresh Python process running `code`."""
    t0 = time.perf_counter()
    # this checkout's code, whatever an installed (editable) copy of the package points at
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    res = subprocess.run([sys.executable, "-c", f"{code}\n{_PEAK}"], cwd=cwd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-2000:])
    kb = next(int(line.split()[1]) for line in res.stderr.splitlines() if line.startswith("PEAK_KB"))
    return kb / 1024, dt


def _shard_code(doc: Path, out: Path) -> str:
    return (
        "from pipeline.cli import main\n"
        f"main(['shard', {str(doc)!r}, '--source-type', 'generic', '--out', {str(out)!r}, '--no-report', '--allow-empty', '--no-progress'], standalone_mode=False)"
    )


def stage_peaks(path: Path) -> dict[str, float]:
    """tracemalloc peak (MB) of each tagging step on the document, in pipeline order."""
    from filters.language import LanguageTagger
    from filters.quality import quality_signals
    from pipeline.config import DedupConfig
    from pipeline.dedup.minhash import signatures
    from pipeline.dedup.keys import key_hashes
    from pipeline.normalize import normalize_text
    from pipeline.tokens import count_tokens
    from pipeline.words import count_words

    text = orjson.loads(path.read_bytes())["text"]
    tagger = LanguageTagger()
    count_tokens(["warm up"], "o200k_base")
    out: dict[str, float] = {}

    def step(name: str, f: Any) -> Any:
        tracemalloc.start()
        r = f()
        out[name] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
        return r

    norm, _ = step("normalize", lambda: normalize_text(text, casing="preserve", fullwidth_alnum="fold", whitespace="collapse"))
    step("language", lambda: tagger.tag([norm]))
    step("tokens", lambda: count_tokens([norm], "o200k_base"))
    step("exact_key", lambda: key_hashes(norm))
    step("quality_signals", lambda: quality_signals([norm], ["en"]))
    step("minhash", lambda: signatures([norm], DedupConfig()))
    step("words", lambda: count_words([norm]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=float, nargs="+", default=[10, 60])
    ap.add_argument("--lang", choices=["en", "zh"], default="en")
    ap.add_argument("--stages", action="store_true", help="also the tracemalloc peak of every tagging step")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tiny = work / "tiny.jsonl"
        make_document(tiny, 0.01, args.lang)
        tiny_mb, _ = _peak_of(_shard_code(tiny, work / "out_tiny"), REPO)
        for mb in args.sizes:
            doc = work / f"long_{mb:g}mb.jsonl"
            n_bytes = make_document(doc, mb, args.lang)
            read_mb, read_s = _peak_of(f"import orjson\nd = orjson.loads(open({str(doc)!r}, 'rb').read())\nassert d['text']", work)
            shard_mb, shard_s = _peak_of(_shard_code(doc, work / f"out_{mb:g}"), REPO)
            row: dict[str, Any] = {
                "doc_mb": round(n_bytes / 1e6, 2),
                "read_baseline_peak_mb": round(read_mb, 1),
                "shard_peak_mb": round(shard_mb, 1),
                "shard_seconds": round(shard_s, 1),
                "shard_peak_per_doc_byte": round(shard_mb * 2**20 / n_bytes, 1),
                "shard_over_read_baseline": round(shard_mb / read_mb, 2),
                "target_10x": shard_mb * 2**20 <= 10 * n_bytes,
                "shard_tiny_peak_mb": round(tiny_mb, 1),
                "shard_above_tiny_mb": round(shard_mb - tiny_mb, 1),
                "shard_above_tiny_per_doc_byte": round((shard_mb - tiny_mb) * 2**20 / n_bytes, 1),
                "target_10x_above_tiny": (shard_mb - tiny_mb) * 2**20 <= 10 * n_bytes,
            }
            if args.stages:
                row["stage_tracemalloc_peak_mb"] = stage_peaks(doc)
            results.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print(json.dumps({"machine": {"python": platform.python_version(), "cpus": os.cpu_count()}, "lang": args.lang, "results": results}, indent=2))


if __name__ == "__main__":
    main()

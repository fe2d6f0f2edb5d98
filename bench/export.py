"""Throughput per core of `curate export` against the `tokenizers` library's encode_batch alone, as JSON.

Corpus: the shipped real samples (bench/samples: English web, Chinese), repeated to --mb MB per
language and written as a small curated OUT (Parquet shards + manifest.json, what export reads).
Tokenizer: a byte-level BPE trained by `tokenizers` on the samples (tests/trained_tokenizer.py; no
download). Everything runs with one Rust thread (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false)
in one process, so MB/s is per core; the three measurements alternate round by round (best of
--repeat each), so load drift on a shared machine hits them alike. Baseline in the same run, on the same texts and batch size:
`encode_batch`: Tokenizer.encode_batch_fast(texts) per 1024-document batch, nothing else (no
Parquet, no arrays, no files). Target: export >= 0.8x of it.

    python bench/export.py [--mb 20] [--repeat 3]
"""

from __future__ import annotations

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers starts its thread pool
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import orjson  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from samples import chinese_texts, repeat_to, web_texts  # noqa: E402

from pipeline.export import ExportOptions, run_export  # noqa: E402
from pipeline.user_tokenizers import get_tokenizer  # noqa: E402
from tests.trained_tokenizer import train_tokenizer  # noqa: E402

BATCH = 1024  # ExportOptions.batch_docs


def make_out(root: Path, lang: str, texts: list[str]) -> None:
    """A minimal curated OUT: data/<source>/<lang>/train-*.parquet and a manifest naming them."""
    rel = f"data/bench/{lang}/train-00000-of-00001.parquet"
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": [f"bench/{i}" for i in range(len(texts))], "text": texts}), root / rel, compression="zstd")
    data = (root / rel).read_bytes()
    manifest = {"files": [{"path": rel, "rows": len(texts), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}]}
    (root / "manifest.json").write_bytes(orjson.dumps(manifest))


def best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=20.0, help="MB of text per language")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is reported)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="curate-bench-export-"))
    try:
        tok_path = train_tokenizer(work / "bpe")
        tok = get_tokenizer(str(tok_path))
        hf = tok._tok
        results: dict[str, object] = {}
        for lang, base in (("en", web_texts()), ("zh", chinese_texts())):
            texts = repeat_to(base, args.mb)
            mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
            out = work / f"out-{lang}"
            make_out(out, lang, texts)

            def baseline() -> None:
                for i in range(0, len(texts), BATCH):
                    hf.encode_batch_fast(texts[i : i + BATCH], add_special_tokens=False)

            def export(fmt: str) -> None:
                dest = work / f"export-{lang}-{fmt}"
                shutil.rmtree(dest, ignore_errors=True)  # never a resumed (skipped) run
                run_export(out, dest, ExportOptions(str(tok_path), fmt))

            baseline()  # warm-up
            # interleaved rounds, best of each: on a shared machine, load drifts between rounds
            t_base = t_meg = t_npy = float("inf")
            for _ in range(args.repeat):
                t_base = min(t_base, best(baseline, 1))
                t_meg = min(t_meg, best(lambda: export("megatron"), 1))
                t_npy = min(t_npy, best(lambda: export("npy"), 1))
            results[lang] = {
                "mb": round(mb, 2),
                "docs": len(texts),
                "mb_per_s": {
                    "encode_batch": round(mb / t_base, 2),
                    "export_megatron": round(mb / t_meg, 2),
                    "export_npy": round(mb / t_npy, 2),
                },
                "ratio_export_megatron / encode_batch": round(t_base / t_meg, 3),
                "ratio_export_npy / encode_batch": round(t_base / t_npy, 3),
            }
        report = {
            "bench": "export",
            "tokenizer": "byte-level BPE trained on data/samples (vocab 3000)",
            "threads": 1,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
            "repeat": args.repeat,
            "target": "export >= 0.8x encode_batch",
            "results": results,
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Remote input overhead: MB/s per core of our reader on the same files served by a loopback HTTP
server (tests/remote_servers.py: ETag + Range) and a local S3 server (moto), next to the same files
read locally, in one run. Prints JSON.

What it measures is the reader (bytes -> records, gzip decoded on the fly), not the network: both
servers are on loopback, and moto itself is slow (~50-70 MB/s), so the S3 figure is a floor.

    python bench/remote.py [--mb 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from pipeline.sources.reader import read_file  # noqa: E402
from remote_servers import Bucket, HttpFileServer, MotoServer  # noqa: E402


def _corpus(mb: float) -> bytes:
    lines = [x for x in (REPO / "data/samples/en/c4_demo.jsonl").read_bytes().splitlines() if x.strip()]
    out, size, i = [], 0, 0
    while size < mb * 1e6:
        line = lines[i % len(lines)]
        out.append(line)
        size += len(line) + 1
        i += 1
    return b"\n".join(out) + b"\n"


def _read(location: str) -> tuple[float, int]:
    w0 = time.perf_counter()
    n = sum(1 for _ in read_file(location, "bench"))
    return time.perf_counter() - w0, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=32.0, help="uncompressed MB per file")
    ap.add_argument("--repeat", type=int, default=3, help="best of N reads per case")
    args = ap.parse_args()
    raw = _corpus(args.mb)
    files = {"plain.jsonl": raw, "packed.jsonl.gz": gzip.compress(raw, compresslevel=6)}
    root = Path(tempfile.mkdtemp(prefix="bench-remote-"))
    results: dict[str, dict[str, float]] = {}
    with HttpFileServer(root) as http, MotoServer() as moto:
        http.publish(files, url_list=None)
        for k, v in moto.env.items():
            os.environ[k] = v
        bucket = Bucket(moto, "bench")
        bucket.s3.create_bucket(Bucket="bench")
        for name, data in files.items():
            bucket.put(name, data)
        for name in files:
            cases = {"local": str(root / name), "http": f"{http.url}/{name}", "s3": f"s3://bench/{name}"}
            row: dict[str, float] = {}
            docs = None
            for case, loc in cases.items():
                best = min(_read(loc)[0] for _ in range(args.repeat))
                n = _read(loc)[1]
                assert docs is None or n == docs, (case, n, docs)
                docs = n
                row[f"{case}_mb_s"] = round(len(raw) / 1e6 / best, 1)
            row["http_vs_local"] = round(row["http_mb_s"] / row["local_mb_s"], 3)
            row["s3_vs_local"] = round(row["s3_mb_s"] / row["local_mb_s"], 3)
            row["docs"] = docs or 0
            results[name] = row
    print(
        json.dumps(
            {
                "uncompressed_mb": round(len(raw) / 1e6, 1),
                "repeat": args.repeat,
                "cases": results,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()

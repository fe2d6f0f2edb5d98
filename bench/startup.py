"""Start-up cost of the `curate` command (issue 19 item 14), as JSON.

Each measure is a fresh process (wall time, best of --repeat rounds taken in turns, so a busy
neighbour slows all of them alike):

- `python_startup`: `python -c pass`, the floor every command pays;
- `eager_imports`: importing what `pipeline.cli` imported at top level before the imports were made
  lazy (the runner with everything below it, datasketch, which pulls in scipy, and tqdm): the
  baseline that `curate --help` used to pay;
- `help`: `curate --help` (target < 1 s);
- `shard5`: `curate shard` of the first 5 documents of data/samples/en/c4_demo.jsonl, report
  included; `shard5_no_report`: the same with `--no-report` (target < 3 s).

    python bench/startup.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EAGER = "import pipeline.runner, datasketch, tqdm"


def _wall(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        src = work / "five.jsonl"
        src.write_bytes(b"\n".join((REPO / "data/samples/en/c4_demo.jsonl").read_bytes().splitlines()[:5]) + b"\n")
        shard = [py, "-m", "pipeline.cli", "shard", str(src), "--source-type", "generic", "--no-progress"]
        measures = {
            "python_startup": [py, "-c", "pass"],
            "eager_imports": [py, "-c", EAGER],
            "help": [py, "-m", "pipeline.cli", "--help"],
            "shard5": [*shard, "--out", str(work / "o1")],
            "shard5_no_report": [*shard, "--out", str(work / "o2"), "--no-report"],
        }
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, cmd in measures.items():
                for o in ("o1", "o2"):
                    shutil.rmtree(work / o, ignore_errors=True)
                t = _wall(cmd, REPO)
                best[name] = min(best.get(name, t), t)
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_1min": os.getloadavg()[0]},
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "help_vs_eager_imports": round(best["help"] / best["eager_imports"], 3),
        "targets": {"help_under_1s": best["help"] < 1.0, "shard5_no_report_under_3s": best["shard5_no_report"] < 3.0},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

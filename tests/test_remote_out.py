"""OUT on an object store (issue #17) against a local S3 server (moto), and one writer per OUT:
the same bytes as a local OUT, a kill -9 mid-run never leaves a manifest naming a missing or partial
file, and a second run on a locked OUT fails fast naming the holder (or waits)."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import yaml

from pipeline.config import load_config
from pipeline.layout import Layout
from pipeline.lock import LockHeld, OutLock
from pipeline.runner import run_local
from pipeline.shards import file_sha256
from test_orchestration_resume import write_corpus

REPO = Path(__file__).resolve().parents[1]


def _local_hashes(out: Path) -> dict[str, str]:
    files = [*sorted((out / "data").rglob("*.parquet")), *sorted((out / "rejected").rglob("*.parquet")), out / "stats" / "stats.json", out / "manifest.json", out / "README.md"]
    return {p.relative_to(out).as_posix(): file_sha256(p) for p in files}


def _bucket_hashes(bucket, prefix: str) -> dict[str, str]:
    keys = [k for k in bucket.listing(prefix) if not k[len(prefix):].startswith((".staging/", ".lock"))]
    names = [k[len(prefix):] for k in keys]
    wanted = [n for n in names if n.startswith(("data/", "rejected/")) and n.endswith(".parquet")] + ["stats/stats.json", "manifest.json", "README.md"]
    return {n: hashlib.sha256(bucket.get(prefix + n)).hexdigest() for n in sorted(wanted)}


def _manifest_ok(snap: dict, prefix: str) -> bool:
    """The manifest of a snapshot names only keys that were listed, each with its size."""
    raw = snap["read"].get("manifest.json")
    if raw is None:
        return True
    manifest = orjson.loads(raw)
    listing = snap["listing"]
    return all(prefix + f["path"] in listing and listing[prefix + f["path"]]["size"] == f["bytes"] for f in manifest["files"])


def test_out_on_s3_equals_local_out(s3, tmp_path: Path) -> None:
    config = write_corpus(tmp_path / "in", n_en=2, mb_each=0.2)
    cfg = load_config(config)
    run_local(cfg, tmp_path / "local")
    summary = run_local(cfg, f"{s3.url}/run")
    assert summary.out == f"{s3.url}/run"
    assert _bucket_hashes(s3, "run/") == _local_hashes(tmp_path / "local")
    assert not [k for k in s3.listing("run/") if "/.lock" in k or k.endswith(".lock.json")]  # released
    # staging elsewhere (a local scratch folder), same final bytes
    run_local(cfg, Layout(f"{s3.url}/run2", staging=tmp_path / "scratch"))
    assert _bucket_hashes(s3, "run2/") == _local_hashes(tmp_path / "local")
    assert not [k for k in s3.listing("run2/") if ".staging/" in k]


@pytest.mark.slow  # the commit protocol's kill -9 path runs fast on a local OUT (test_orchestration_resume)
def test_kill_9_on_s3_never_leaves_a_manifest_naming_a_missing_file(s3, tmp_path: Path) -> None:
    config = write_corpus(tmp_path / "in", n_en=3, mb_each=0.3)
    out = f"{s3.url}/run"
    run_local(load_config(config), out)  # a complete earlier run: its manifest must stay valid
    old_manifest = orjson.loads(s3.get("run/manifest.json"))
    for name in ("web-00.jsonl", "web-02.jsonl"):  # new content: new shards
        p = tmp_path / "in" / name
        p.write_bytes(b"\n".join(p.read_bytes().splitlines()[1::2]) + b"\n")
    code = f"from pipeline.config import load_config; from pipeline.runner import run_local; run_local(load_config({str(config)!r}), {out!r})"
    old_files = {f"run/{f['path']}" for f in old_manifest["files"]}
    with s3.watch(read=["manifest.json"], prefix="run/") as snaps:
        proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
        deadline = time.time() + 240
        killed = False
        while time.time() < deadline and proc.poll() is None:
            if snaps and any(k.startswith("run/data/") and k not in old_files for k in snaps[-1]["listing"]):
                os.kill(proc.pid, signal.SIGKILL)  # mid-finish: new shards written, not yet committed
                killed = True
                break
            time.sleep(0.01)
        proc.wait(30)
        assert killed, "the run finished before a new shard appeared"
        assert orjson.loads(s3.get("run/manifest.json")) == old_manifest  # the old commit stands
        run_local(load_config(config), out)  # takes the dead run's lock over (same host, pid gone)
    assert len(snaps) > 10
    assert all(_manifest_ok(s, "run/") for s in snaps)
    run_local(load_config(config), tmp_path / "clean")
    assert _bucket_hashes(s3, "run/") == _local_hashes(tmp_path / "clean")
    listed = {f"run/{f['path']}" for f in orjson.loads(s3.get("run/manifest.json"))["files"]}
    assert {k for k in s3.listing("run/data/")} | {k for k in s3.listing("run/rejected/")} == listed


def test_lease_on_s3_is_exclusive_and_expires(s3) -> None:

    lay = Layout(f"{s3.url}/locked")
    with OutLock(lay):
        info = orjson.loads(s3.get("locked/.lock.json"))
        assert info["pid"] == os.getpid() and info["expires"] > time.time()
        with pytest.raises(LockHeld, match=rf"pid {os.getpid()} on .*wait for it, or start this one with --wait"):
            OutLock(lay).acquire()
    assert s3.get("locked/.lock.json") is None
    # a lease of another host that stopped renewing is taken over once expired
    s3.put("locked/.lock.json", orjson.dumps({"owner": "x", "host": "elsewhere", "pid": 1, "started": 0, "expires": time.time() - 1}))
    said: list[str] = []
    with OutLock(lay, log=said.append):
        assert orjson.loads(s3.get("locked/.lock.json"))["host"] != "elsewhere"
    assert said and "its lease expired" in said[0]


def _shard_cmd(out: Path, *extra: str) -> list[str]:
    sample = REPO / "data" / "samples" / "zh" / "alpaca_zh_demo.json"
    return [sys.executable, "-m", "pipeline.cli", "shard", str(sample), "--source-type", "alpaca", "--out", str(out), "--no-progress", *extra]


def test_two_runs_on_one_out(tmp_path: Path) -> None:
    """The second run fails within seconds naming the holder; with --wait it waits; a kill -9 leaves
    a lock the next run takes over; the output equals a single run's."""
    out = tmp_path / "out"
    single = tmp_path / "single"
    subprocess.run(_shard_cmd(single), check=True, capture_output=True)
    first = subprocess.Popen(_shard_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (out / ".lock.json").exists() and time.time() < deadline:
        time.sleep(0.02)
    start = time.time()
    second = subprocess.run(_shard_cmd(out), capture_output=True, text=True)
    assert second.returncode != 0 and time.time() - start < 5 + 3  # interpreter start-up included
    assert f"pid {first.pid} on" in second.stderr and "another run" in second.stderr
    waiting = subprocess.Popen(_shard_cmd(out, "--wait"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert first.wait(120) == 0
    assert waiting.wait(120) == 0
    assert _local_hashes(out) == _local_hashes(single)
    assert not (out / ".lock.json").exists()

    # kill -9 while holding the lock: the next run takes it over and says so
    killed = subprocess.Popen(_shard_cmd(out, "--force"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (out / ".lock.json").exists() and killed.poll() is None:
        time.sleep(0.02)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(10)
    assert (out / ".lock.json").exists()
    again = subprocess.run(_shard_cmd(out), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"pid {killed.pid}" in again.stderr and "is gone" in again.stderr
    assert _local_hashes(out) == _local_hashes(single)


@pytest.mark.slow  # Dask workers: test_orchestration; S3 OUT equal to a local one: test_out_on_s3_equals_local_out
def test_dask_workers_without_the_drivers_paths(s3, tmp_path: Path) -> None:
    """Inputs and OUT on S3, workers started in a directory where the driver's paths do not exist:
    the same shards as a local run."""
    import socket

    inputs = write_corpus(tmp_path / "in", n_en=2, mb_each=0.2)
    cfg = yaml.safe_load(inputs.read_text())
    for src in cfg["sources"]:
        for path in sorted(Path(p).name for pattern in src["paths"] for p in __import__("glob").glob(pattern)):
            s3.put(f"inputs/{path}", (tmp_path / "in" / path).read_bytes())
        src["paths"] = [f"{s3.url}/inputs/{src['paths'][0].rsplit('/', 1)[1]}"]
    remote_cfg = tmp_path / "remote.yaml"
    remote_cfg.write_text(yaml.safe_dump(cfg))
    run_local(load_config(inputs), tmp_path / "local")

    elsewhere = tmp_path / "worker-cwd"
    elsewhere.mkdir()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        time.sleep(3)
        procs += [
            subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--no-dashboard"], cwd=elsewhere, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]
        res = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "run", str(remote_cfg), "--out", f"{s3.url}/dask", "--dask-address", f"tcp://127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=480, env=os.environ.copy(),
        )
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        for p in procs:
            p.kill()
            p.wait(10)
    local = {k: v for k, v in _local_hashes(tmp_path / "local").items() if k.startswith("data/")}
    remote = {k: v for k, v in _bucket_hashes(s3, "dask/").items() if k.startswith("data/")}
    assert sorted(local.values()) == sorted(remote.values()) and len(local) > 1

"""In-process checks behind resume and scale-out: a crash while publishing never leaves a mix of
old and new shards (or a temporary file) under OUT/data; task results stay small (paths and stats,
never documents). Also the corpus and process helpers of tests/test_orchestration.py, where runs
are killed, resumed, scheduled and spread over Dask workers."""

from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

import cloudpickle
import orjson
import psutil
import pyarrow as pa
import pytest
import yaml
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import OutputConfig, load_config
from pipeline.driver import run_phases
from pipeline.runner import LocalPhases, plan, run_local
from pipeline.shards import RotatingWriter, file_sha256

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


def _web_texts() -> list[str]:
    texts = []
    for name in ("en/c4_demo.jsonl", "en/cc_en_head-0091.jsonl", "en/cc_en_head-0174.jsonl"):
        texts += [orjson.loads(line)["text"] for line in (SAMPLES / name).read_bytes().splitlines() if line.strip()]
    return texts


def _zh_texts() -> list[str]:
    cm = orjson.loads((SAMPLES / "zh/cmrc2018_dev.json").read_bytes())
    return [p["context"] for d in cm["data"] for p in d["paragraphs"]]


def write_corpus(root: Path, n_en: int = 5, mb_each: float = 0.5) -> Path:
    """`n_en` English files (sample pages with their sentences shuffled per file, so files are not
    duplicates of each other) and one Chinese file, as generic JSONL; returns the run config."""
    root.mkdir(parents=True, exist_ok=True)
    web, zh = _web_texts(), _zh_texts()
    for i in range(n_en):
        rnd = random.Random(i)
        size, lines = 0, []
        while size < mb_each * 1e6:
            for t in web:
                sentences = t.split(". ")
                rnd.shuffle(sentences)
                line = orjson.dumps({"text": ". ".join(sentences)})
                lines.append(line)
                size += len(line)
        (root / f"web-{i:02d}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (root / "zh-00.jsonl").write_bytes(b"".join(orjson.dumps({"text": t}) + b"\n" for t in zh))
    config = {
        "sources": [
            {"name": "web", "type": "generic", "lang": "en", "paths": [str(root / "web-*.jsonl")]},
            {"name": "zh", "type": "generic", "lang": "zh", "paths": [str(root / "zh-*.jsonl")]},
        ],
        "output": {"shard_size_mb": 1},
    }
    path = root / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def result_hashes(out: Path) -> dict[str, str]:
    """What a run publishes: shards, rejects, stats.json, manifest.json."""
    files = sorted((out / "data").rglob("*")) + sorted((out / "rejected").rglob("*"))
    files += [out / "stats" / "stats.json", out / "manifest.json"]
    return {p.relative_to(out).as_posix(): file_sha256(p) for p in files if p.is_file()}


def curate_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", *args]


def run_env() -> dict[str, str]:
    """The test environment (conftest) with Prefect's task logs on: the tests read them."""
    return {**os.environ, "PREFECT_LOGGING_LEVEL": "INFO"}


def kill_tree(pid: int, children: list[psutil.Process]) -> None:
    """SIGKILL by PID: the process, then the children recorded before (its ephemeral server)."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in children:
        try:
            child.kill()
            child.wait(10)
        except psutil.NoSuchProcess:
            pass


SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string())])


def _parts(root: Path, n: int, tag: str, cfg: OutputConfig) -> list[Path]:
    parts: list[Path] = []
    rnd = random.Random(tag)
    for k in range(n):
        w = RotatingWriter(root / f"{tag}{k}", SCHEMA, cfg)
        texts = ["".join(rnd.choice("abcdefgh ") for _ in range(3000)) for _ in range(40)]
        w.write(pa.table({"id": [f"{tag}{k}-{i}" for i in range(40)], "text": texts}, schema=SCHEMA))
        parts += w.close()
    return parts


def manifest_is_valid(out: Path) -> bool:
    """Every file the manifest names exists with the manifest's size and sha256."""
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    return all(
        (out / f["path"]).is_file() and (out / f["path"]).stat().st_size == f["bytes"] and file_sha256(out / f["path"]) == f["sha256"]
        for f in manifest["files"]
    )


def test_crash_before_the_commit_leaves_the_old_manifest_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure after new final files are written but before manifest.json (the commit point)
    leaves the previous manifest and every file it names intact; the rerun ends identical to a
    clean run and removes the files of the failed attempt."""
    import pipeline.runner as runner

    config = write_corpus(tmp_path / "in", n_en=2, mb_each=0.2)
    out = tmp_path / "out"
    run_local(load_config(config), out)
    old_manifest = (out / "manifest.json").read_bytes()
    # new content in one input: its shard's documents change
    web = tmp_path / "in" / "web-00.jsonl"
    web.write_bytes(b"\n".join(web.read_bytes().splitlines()[::2]) + b"\n")

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("simulated crash before the commit")

    monkeypatch.setattr(runner, "_publish_rejects", crash)
    with pytest.raises(OSError, match="simulated crash"):
        run_local(load_config(config), out)
    assert (out / "manifest.json").read_bytes() == old_manifest
    assert manifest_is_valid(out)
    old_files = {f["path"] for f in orjson.loads(old_manifest)["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet")}
    assert on_disk - old_files  # the failed attempt's new shards sit beside the old ones, unnamed
    monkeypatch.undo()

    run_local(load_config(config), out)
    clean = tmp_path / "clean"
    run_local(load_config(config), clean)
    assert result_hashes(out) == result_hashes(clean)
    listed = {f["path"] for f in orjson.loads((out / "manifest.json").read_bytes())["files"]}
    assert {p.relative_to(out).as_posix() for p in (out / "data").rglob("*.parquet")} | {
        p.relative_to(out).as_posix() for p in (out / "rejected").rglob("*.parquet")
    } == listed


def test_task_results_are_small_and_hold_no_documents(tmp_path: Path) -> None:
    """What tasks hand each other through Dask: paths and stats objects, never texts."""
    config = write_corpus(tmp_path / "in", n_en=1, mb_each=0.3)
    cfg = load_config(config)
    out = tmp_path / "out"
    res = run_phases(LocalPhases(cfg, out), plan(cfg))
    tagged, selected, dedup = res.tagged, res.selected, res.dedup
    probe = _zh_texts()[0][:40].encode()
    for obj in [*tagged, *selected, dedup, cfg, *[shard for shard, _ in plan(cfg)]]:
        blob = cloudpickle.dumps(obj)
        assert len(blob) < 128 * 1024, (type(obj).__name__, len(blob))
        assert probe not in blob


def test_shard_tasks_retry_io_errors_only() -> None:
    """tag and select retry OSError (network, disk) with backoff; a bad config or a bug fails at once;
    finish is never retried (it moves the selected parts into place)."""
    from prefect.states import Failed

    from flows.curate import cluster_task, finish_task, retry_on_io, select_task, tag_task

    for t in (tag_task, select_task):
        assert t.retries == 2 and t.retry_delay_seconds == [5, 10] and t.retry_condition_fn is retry_on_io
    assert finish_task.retries == 0 and cluster_task.retries == 0
    assert retry_on_io(tag_task, None, Failed(data=ConnectionResetError("peer reset")))  # type: ignore[arg-type]
    assert retry_on_io(tag_task, None, Failed(data=OSError(5, "Input/output error")))  # type: ignore[arg-type]
    assert not retry_on_io(tag_task, None, Failed(data=ValueError("sources.0.colour: Extra inputs")))  # type: ignore[arg-type]


def test_remote_dask_cluster_needs_a_configured_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A temporary server listens on 127.0.0.1: workers on another machine could not reach it."""
    from flows.workers import RemoteClusterNeedsAPI, check_remote_api

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    check_remote_api(None)
    check_remote_api("tcp://127.0.0.1:8786")
    check_remote_api("tcp://localhost:8786")
    with pytest.raises(RemoteClusterNeedsAPI, match="PREFECT_API_URL"):
        check_remote_api("tcp://10.0.0.7:8786")
    res = CliRunner().invoke(main, ["run", str(REPO / "data/configs/sample.yaml"), "--out", str(tmp_path / "o"), "--dask-address", "tcp://10.0.0.7:8786"])
    assert res.exit_code == 1 and "not on this machine" in res.output

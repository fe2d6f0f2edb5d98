"""Test environment: offline, quiet, and isolated from the developer's own Prefect and HF state.

Set at import time, before any test module imports prefect, datasets or tiktoken."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="curate-tests-"))

_ENV = {
    "PREFECT_HOME": str(_HOME / "prefect"),
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    "DASK_LOGGING__DISTRIBUTED": "warning",
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HOME": str(_HOME / "hf"),
    "HF_DATASETS_CACHE": str(_HOME / "hf" / "datasets"),
    "TOKENIZERS_PARALLELISM": "false",
    "TIKTOKEN_CACHE_DIR": str(_HOME / "tiktoken"),
}
for key, value in _ENV.items():
    os.environ[key] = value
os.environ.pop("PREFECT_API_URL", None)

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


@pytest.fixture(scope="session")
def sample_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One in-process run of data/configs/sample.yaml, shared by tests that only read it (copy it
    with shutil.copytree before changing anything)."""
    from pipeline.config import load_config
    from pipeline.runner import run_local

    out = tmp_path_factory.mktemp("sample_shared") / "out"
    run_local(load_config(REPO / "data/configs/sample.yaml"), out)
    return out


# ---------------------------------------------------------------- loopback servers (issue #17)
# Real servers in child processes on 127.0.0.1, started and stopped by PID: see tests/remote_servers.py
# (HTTP file server, Hub stand-in) and tests/s3_server.py (moto).


@pytest.fixture
def http_server(tmp_path: Path):
    """A static file server (ETag, Range, faults, request log) serving `http_server.root`
    (tmp_path/"www", empty at start) on `http_server.url`; function scope (starts in ~0.2 s)."""
    from remote_servers import HttpFileServer

    root = tmp_path / "www"
    root.mkdir()
    with HttpFileServer(root, log_file=tmp_path / "http-requests.jsonl") as server:
        yield server


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server, one per session (it takes a second or two to start); use `s3` in tests."""
    from s3_server import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture
def s3(moto_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """An empty bucket `curate-test` on the local S3 server (moto reset first) and the environment
    that points boto3/s3fs, and any subprocess, at it: AWS_ENDPOINT_URL, dummy keys, us-east-1, no
    profile or config file of the developer's. Yields an s3_server.Bucket (`.url` = s3://curate-test)."""
    from s3_server import Bucket

    moto_server.reset()
    for key, value in moto_server.env.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    _clear_fsspec_instances("s3fs", "S3FileSystem")
    bucket = Bucket(moto_server, "curate-test")
    bucket.s3.create_bucket(Bucket=bucket.name)
    yield bucket
    _clear_fsspec_instances("s3fs", "S3FileSystem")


@pytest.fixture
def hub_server(monkeypatch: pytest.MonkeyPatch):
    """The Hub stand-in (tests/hub_standin.py) in its own process, with HF_ENDPOINT pointing at it,
    HF_HUB_OFFLINE=0 and the values huggingface_hub read at import time patched (monkeypatch restores
    all). `hub_server.commit(repo, {path: bytes})` makes a commit upstream and returns its sha."""
    import huggingface_hub.constants as hf_constants
    from remote_servers import HubProcess

    with HubProcess() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.setattr(hf_constants, "ENDPOINT", hub.endpoint)
        monkeypatch.setattr(hf_constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        _clear_fsspec_instances("huggingface_hub", "HfFileSystem")
        yield hub
        _clear_fsspec_instances("huggingface_hub", "HfFileSystem")


def _clear_fsspec_instances(module: str, cls: str) -> None:
    """fsspec caches filesystem objects (and their listings) per arguments: a later test must not get
    one that points at an earlier test's server or remembers its files."""
    import importlib

    getattr(importlib.import_module(module), cls).clear_instance_cache()

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

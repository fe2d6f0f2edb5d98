# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
# Both create (or refresh, when pyproject.toml changed) the virtual environment in .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out
CONFIG ?= data/configs/sample.yaml

# Quiet, offline-friendly Prefect and Hugging Face settings (see docs in README).
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1
export PREFECT_SERVER_UI_ENABLED ?= false
export PREFECT_LOGGING_TO_API_ENABLED ?= false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 90
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1

.PHONY: run test test-all venv bench clean chromium server

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/curate run $(CONFIG) --out $(OUT)

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

# Every test, the slow ones too (a second, heavier path of a feature that `make test` covers fast).
test-all: $(STAMP) chromium
	$(BIN)/python -m pytest -q -m "slow or not slow"

# Headless Chromium for the report's browser test (tests/test_report.py); Debian's `chromium` package.
# Installed as root, or through sudo; otherwise that one test is skipped with its reason.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO=sudo; else SUDO=none; fi; \
	  if [ "$$SUDO" = none ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "chromium missing and not installable here (no root/sudo or no apt-get): the browser test will be skipped"; \
	  else \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	      || echo "chromium install failed: the browser test will be skipped"; \
	  fi; }

bench: $(STAMP)
	$(BIN)/python bench/e2e.py

# A local Prefect server for scheduled runs (`curate serve`) and the UI: SQLite under PREFECT_HOME
# (default ~/.prefect), embedded. In another shell: export PREFECT_API_URL=http://127.0.0.1:4200/api
server: $(STAMP)
	PREFECT_SERVER_UI_ENABLED=true $(BIN)/prefect server start --host 127.0.0.1 --port 4200

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis

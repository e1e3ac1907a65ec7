# Two commands do all set-up on a fresh machine:
#   make run    bootstrap .venv, then a demo rebalance (simulated broker, SQLite, temporary Prefect API)
#   make test   bootstrap .venv, then ruff, mypy on lib/, and the whole pytest suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
# A new Prefect home builds its database first (~20 s = Prefect's default time-out).
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS ?= 240
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install run test lint typecheck pytest bench bench-quick clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else "Python 3.11-3.13 is required (ib_async breaks on 3.14; set PYTHON=python3.12)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev,bench]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) -m flows.cli demo

lint: install
	$(VENV)/bin/ruff check lib tasks flows tests bench

typecheck: install
	$(VENV)/bin/mypy lib

pytest: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench-quick: install
	$(PY) bench/execution_quality.py --quick

bench: install
	$(PY) bench/execution_quality.py

clean:
	rm -rf $(VENV) var/ .pytest_cache .mypy_cache .ruff_cache

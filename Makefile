# Everything a fresh machine needs, in two commands: `make test`, `make demo`.
# torch is installed before anything that depends on it, so pip never resolves
# another (multi-GB) build.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.sklog-installed

.PHONY: install test test-all lint demo docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check sklog tests examples docs/conf.py

test: lint
	$(BIN)/python -m pytest -q

test-all: lint
	$(BIN)/python -m pytest -q -m "slow or not slow"

demo: install
	$(BIN)/sklog demo

bench: install
	$(BIN)/python -m sklog.benchmarks --quick

docs: install
	$(BIN)/python -m sphinx -b html -W --keep-going docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build docs/generated docs/auto_examples

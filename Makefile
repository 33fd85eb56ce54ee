# sarolangun-geo — run `make help` for the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= out
DEMO_DATA ?= data/sample

.DEFAULT_GOAL := help
.PHONY: help install demo test test-fast lint typecheck bench bench-detection bench-load bench-registry bench-lifecycle browser-deps golden clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install the package with dev extras

browser-deps: ## Install Debian's headless Chromium for the browser tests (needs root or sudo)
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	elif command -v sudo >/dev/null 2>&1; then sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "WARNING: chromium missing and no root: browser tests will be skipped"; fi

demo: install ## Simulate the sample data and run the weekly pipeline on it
	$(PY) -m sarolangun_geo.cli demo --data $(DEMO_DATA) --out $(OUT)

test: install browser-deps ## Run the whole test suite (lint contracts, unit, integration, browser)
	$(PY) -m pytest -q

test-fast: install ## Run the tests without the slow and browser ones
	$(PY) -m pytest -q -m "not slow and not browser"

lint: install ## ruff + import-linter
	$(VENV)/bin/ruff check sarolangun_geo tests benchmarks
	$(VENV)/bin/lint-imports

typecheck: install ## mypy on the package
	$(VENV)/bin/mypy sarolangun_geo

bench: install ## All benchmarks; results in benchmarks/results/
	$(PY) benchmarks/detection.py
	$(PY) benchmarks/load.py
	$(PY) benchmarks/registry.py
	$(PY) benchmarks/perf.py

bench-detection: install ## Detection-quality benchmark -> benchmarks/results/detection.{json,md}
	$(PY) benchmarks/detection.py

LIFECYCLE_SIMS ?= data/bench/detection/demo-42 data/bench/detection/demo-2027 data/bench/detection/hard-1234

bench-lifecycle: install ## Site-status benchmark (registry vs simulated truth; simulated catalogs of bench-detection) -> benchmarks/results/lifecycle.{json,md}
	for s in $(LIFECYCLE_SIMS); do for m in evidence change; do \
	  nice -n 10 $(PY) benchmarks/lifecycle_eval.py --sim $$s --work /tmp/lifecycle/$$(basename $$s)-$$m --activity $$m --label $$m || exit 1; \
	done; done

bench-load: install ## Cube-loading benchmark -> benchmarks/results/load.{json,md}
	$(PY) benchmarks/load.py

bench-registry: install ## Registry benchmark (a year of weekly upserts) -> benchmarks/results/registry.{json,md}
	$(PY) benchmarks/registry.py

golden: install ## Refresh the golden files in tests/data/golden (explicit only)
	UPDATE_GOLDEN=1 $(PY) -m pytest -q -m golden

clean: ## Remove outputs and caches (keeps .venv)
	rm -rf $(OUT) .pytest_cache .mypy_cache .ruff_cache tests/artifacts

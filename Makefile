# Himaya — two commands are all a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))

.PHONY: help install sync-locked run test test-fast lint migrate demo load-scale bench bench-gateway soak stop-db clean

help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

# uv through pip in a small venv where this Python can make one; where it cannot (Debian and Ubuntu keep
# venv/ensurepip in python3-venv), straight from its PyPI wheel with the standard library. uv then builds
# the project's env itself, so neither path needs the venv module afterwards.
$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) not found: install Python 3.11+ (or make PYTHON=...)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@if $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
		$(PYTHON) -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	else \
		echo "$(PYTHON) has no venv module: fetching uv $(UV_VERSION) from PyPI directly"; \
		$(PYTHON) tools/bootstrap_uv.py $(UV_VERSION) $(TOOLS)/bin; \
	fi

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml tools/himaya-dev/pyproject.toml \
		$(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced ## Create the virtual env and install every package (locked versions)

sync-locked: $(UV) ## Install from uv.lock, failing if the lock no longer matches the pyproject files (CI)
	$(UV) sync --locked --all-packages --python $(PYTHON)
	@touch $(VENV)/.synced

run: install ## Start Postgres (embedded unless DATABASE_URL), migrate, seed, run all four services
	$(PY) -m himaya_dev.devstack run

test: install ## Run the whole test suite (embedded Postgres unless DATABASE_URL)
	$(PY) -m pytest

test-fast: install ## Run the tests without the slow fault-injection and fuzz suites
	$(PY) -m pytest -m "not slow"

# The packages mypy checks (mypy_path in pyproject.toml resolves himaya and himaya_dev from their source).
# Each service joins once its code type-checks.
MYPY_TARGETS := shared/src tools/himaya-dev/src services/gateway/src services/identity/src services/referrals/src \
	services/cases/src

lint: install ## ruff, the import boundaries (lint-imports, private names), mypy
	$(VENV)/bin/ruff check shared services tests tools bench
	$(VENV)/bin/lint-imports
	$(PY) -m himaya_dev.private_imports shared services tools bench tests
	$(VENV)/bin/mypy $(MYPY_TARGETS)

migrate: install ## Provision and migrate every service's schema, seed reference data and the admin
	$(PY) -m himaya_dev.devstack migrate

demo: install ## Load the synthetic demo dataset (the pilot as published, phase-2 cities) into the dev database
	$(PY) -m himaya_dev.devstack with-env -- $(PY) -m cases_service.demo

N ?= 100000
load-scale: install ## Add N synthetic cases to the dev database (COPY through the service's own encryption)
	$(PY) -m himaya_dev.devstack with-env -- $(PY) -m cases_service.scale $(N)

bench: install ## Every performance figure of docs/quality.md against its target; bench-results/bench.json (ARGS=--million)
	$(PY) -m bench.scale $(ARGS)

bench-gateway: install ## Gateway against direct calls only (ratios, p50/p99)
	$(PY) -m bench.gateway $(ARGS)

soak: install ## Long forms of the fault, concurrency, bad-input and fuzz suites, with a summary
	$(PY) tests/soak.py

stop-db: install ## Stop the embedded Postgres
	$(PY) -m himaya_dev.devstack stop-db

clean: ## Remove the virtual envs (keeps the database in .data)
	rm -rf $(VENV) $(TOOLS)

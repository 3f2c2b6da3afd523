# Prism: the one entry point for people, hooks and CI. `make help` lists targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
TOOLS := .tools/bin
GRPCURL_VERSION := v1.9.3
PYTEST_ARGS ?=

.PHONY: help install dev run test test-rust test-python lint codegen check-codegen bench bench-smoke clean distclean
.PHONY: stack-up stack-down stack-status

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard patterns/*/pyproject.toml))

$(VENV)/.installed: pyproject.toml Cargo.toml $(wildcard patterns/*/pyproject.toml) $(shell find proxy -name '*.rs' -o -name Cargo.toml) $(shell find proto -name '*.proto')
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@echo "building the Rust core (release) and installing Prism into $(VENV) ..."
	$(PIP) install --quiet -e '.[dev]'
	$(PIP) install --quiet $(foreach p,$(PLUGINS),-e $(p))
	@touch $@

$(TOOLS)/grpcurl:
	@mkdir -p $(TOOLS)
	@echo "installing grpcurl $(GRPCURL_VERSION) into $(TOOLS) ..."
	GOBIN=$(CURDIR)/$(TOOLS) go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

install: $(VENV)/.installed $(TOOLS)/grpcurl ## Create .venv, build the Rust core, install Prism, the backend plugins and grpcurl

dev: install ## Alias of install

run: install ## Run the gateway (admin + proxy) on its embedded SQLite default: gRPC :8980, admin :8981
	$(VENV)/bin/prism serve

test: install check-codegen lint test-rust test-python ## The whole suite: codegen check, lint, cargo tests, pytest

test-rust: ## cargo tests of the engine (layers, status mapping, backends)
	cargo test --workspace --quiet

test-python: install ## pytest: the stack tool, then unit, plugins, conformance, e2e (real servers)
	@# The stack tool's own tests start and stop the stack, so they run on their own first;
	@# the main run then brings the stack up for the backends it tests and down at the end.
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(PY) -m pytest tests/stack $(PYTEST_ARGS)
	PATH=$(CURDIR)/$(TOOLS):$$PATH $(PY) -m pytest --ignore=tests/stack $(PYTEST_ARGS)

lint: install ## ruff, mypy, clippy -D warnings, docs validation
	$(VENV)/bin/ruff check python patterns tooling tests
	$(VENV)/bin/mypy python/prism $(foreach p,$(PLUGINS),$(wildcard $(p)/prism_*)) tooling
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(PY) tooling/validate_docs.py

codegen: install ## Regenerate code from proto/ (Python stubs, plugin metadata, Rust route table)
	$(PY) tooling/codegen/run.py

check-codegen: install ## Fail if regenerating from proto/ would change any generated file
	$(PY) tooling/codegen/run.py --check

bench: install ## All lanes (T B B(Rust only) D E A W TS), saturation + open loop at 1,000 rps: JSON, table, PNG in .bench-results/; then the bridge microbenchmark
	$(PY) -m tooling.bench --out .bench-results
	$(PY) tooling/bench/bridge_crossing.py

bench-smoke: install ## Short lanes (under 2 min, no W/TS); fails only on a broken lane or a ratio under half its target
	$(PY) -m tooling.bench --smoke --out .bench-results

stack-up: ## Start real PostgreSQL, Redis, NATS, Kafka on loopback (stdlib-only tool)
	$(PYTHON) -m tooling.stack up

stack-down: ## Stop the local stack and delete its data dir (.prism-stack)
	$(PYTHON) -m tooling.stack down

stack-status: ## Show the local stack's servers (pid, port, up/down)
	$(PYTHON) -m tooling.stack status

clean: ## Remove build outputs and local data (keeps .venv; 'make distclean' removes it)
	cargo clean
	rm -rf .pytest_cache .mypy_cache .ruff_cache .prism-data
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## Also remove .venv and .tools
	rm -rf $(VENV) .tools

# The city contact centre. `make run` runs it all; `make test` passes the whole suite. Nothing needs Docker.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV_VERSION := 0.13.9
UV := .local/uv/bin/uv
PY := .venv/bin/python
export UV_PYTHON := python3.11

.PHONY: help venv up down status run test lint fmt docs bench chaos clean

help:
	@echo "make run    - set up what is missing, start Kafka, PostgreSQL, SMTP, Prometheus and the 4 services"
	@echo "make test   - set up what is missing, lint, run the whole test suite against the real stack"
	@echo "make up / make down / make status - the local stack alone"
	@echo "make lint   - ruff + mypy;  make docs - regenerate docs/;  make bench - the benchmark"

$(UV):
	@python3 -m venv .local/uv && .local/uv/bin/pip install -q "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	@$(UV) sync --all-packages --frozen -q
	@touch $@

venv: .venv/.synced

up: venv
	@$(PY) -m devstack up

down:
	@if [ -x $(PY) ]; then $(PY) -m devstack down; fi

status: venv
	@$(PY) -m devstack status

run: venv
	@$(PY) -m devstack run

lint: venv
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy

fmt: venv
	@$(PY) -m ruff format .
	@$(PY) -m ruff check --fix .

test: venv
	@scripts/test.sh $(ARGS)

docs: venv
	@$(PY) -m devstack.docs write

bench: venv
	@$(PY) -m devstack.bench $(ARGS)

chaos: venv
	@CHAOS_FULL=1 CHAOS_RESULTS_DIR=bench/results scripts/test.sh tests/chaos -v $(ARGS)

clean: down
	rm -rf .venv .local

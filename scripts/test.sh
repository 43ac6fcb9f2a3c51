#!/usr/bin/env bash
# make test: lint, start the real stack, run every test, stop what was started (also on failure).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

echo "== lint (ruff, mypy)"
$PY -m ruff check . && $PY -m ruff format --check . && $PY -m mypy || exit 1

echo "== tools (promtool)"
$PY -m devstack tools || exit 1

started_stack=0
if ! $PY -m devstack status >/dev/null 2>&1; then started_stack=1; fi
cleanup() { if [ "$started_stack" = 1 ]; then $PY -m devstack down; fi; }
trap cleanup EXIT INT TERM

echo "== stack (real Kafka, PostgreSQL, SMTP)"
$PY -m devstack up || exit 1
eval "$($PY -m devstack env)"

echo "== tests"
$PY -m pytest "$@"
code=$?
if [ "$code" = 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi
exit $code

#!/bin/sh
# Set up (tools/setup.sh), then run every check: lint, types, and the whole
# test suite (unit tests, then kernel, DNS and packaging tests as root).
set -eu
cd "$(dirname "$0")/.."
./tools/setup.sh
echo "== ruff" && .venv/bin/ruff check snf_network tests bench
echo "== mypy" && .venv/bin/mypy
echo "== pytest" && exec .venv/bin/pytest "$@"

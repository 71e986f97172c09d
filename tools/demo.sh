#!/bin/sh
# Set up (tools/setup.sh), then demonstrate a routed VM NIC in throwaway namespaces.
set -eu
cd "$(dirname "$0")/.."
./tools/setup.sh
exec .venv/bin/python tools/demo.py

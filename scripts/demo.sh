#!/usr/bin/env bash
# Quick-start command 1: installs what is missing, pip-installs the tenantry
# package (optimized build) into build/venv, and runs the seed scenario in
# Python (scripts/demo.py): decisions and their explanations, invitations,
# credits, the ledger, and the measured per-call latency of `check` next to
# SQLite answering the same question. The same scenario in C++:
# build/release/scripts/demo/tenantry_demo (cmake --preset release).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
python=$(bash scripts/venv.sh)
exec "$python" scripts/demo.py

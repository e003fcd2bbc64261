#!/usr/bin/env bash
# Quick-start command 1: installs what is missing, builds optimized, and runs
# the seed-scenario demo (decisions, explanations and measured check latency).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target tenantry_demo
exec ./build/release/scripts/demo/tenantry_demo

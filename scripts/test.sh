#!/usr/bin/env bash
# Quick-start command 2: installs what is missing, then builds and runs every
# test: the GoogleTest suites through ctest (Debug with assertions), again
# under ASan+UBSan, and the concurrency suites under TSan. First, the core is
# compiled with clang's -Wthread-safety (lock annotations checked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc)
run_preset() {
  local preset=$1
  echo "== tenantry tests: preset '$preset'"
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  ctest --preset "$preset" -j "$jobs" --timeout 900
}

echo "== tenantry: clang -Wthread-safety build of the core"
cmake --preset lint >/dev/null
cmake --build --preset lint -j "$jobs"

run_preset dev
run_preset asan
run_preset tsan
echo "== tenantry tests: all green"

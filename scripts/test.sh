#!/usr/bin/env bash
# Quick-start command 2: installs what is missing, then builds and runs every
# test: the GoogleTest suites through ctest (Debug with assertions), again
# under ASan+UBSan, and the concurrency suites under TSan; then the Python
# package, pip-installed into a fresh venv: its stubs checked against the
# module (mypy.stubtest) and the pytest suite. First, the core is compiled
# with clang's -Wthread-safety (lock annotations checked).
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

echo "== tenantry tests: Python package (pip install into a fresh venv, stubtest, pytest)"
python=$(bash scripts/venv.sh --fresh)
# Run from outside the source tree, so that only the installed package can be imported.
(cd build && "../$python" -m mypy.stubtest --allowlist ../python/tenantry/stubtest-allowlist.txt tenantry &&
  "../$python" -m mypy --strict -p tenantry &&
  "../$python" -m mypy --strict ../scripts/demo.py ../bench/python_bench.py)
TENANTRY_EXPECT_INSTALLED=1 "$python" -m pytest -p no:cacheprovider tests/python
# The Python benchmark's smoke run (small data, few calls; it checks its
# SQLite baseline's answers against tenantry's before timing), so it cannot rot.
"$python" bench/python_bench.py --quick >/dev/null
echo "== tenantry tests: all green"

#!/usr/bin/env bash
# Quick-start command 2: installs what is missing, then builds and runs every
# test: the GoogleTest suites through ctest (Debug with assertions), again
# under ASan+UBSan, the concurrency suites under TSan, and all of them in the
# optimized build (README's C install command as written, which builds the
# release preset; any warning it prints fails CI); README's C example and a
# C++ program with tenantry as its CMake subproject; then the libFuzzer
# targets over their corpora and for a bounded time; then the Python
# package, pip-installed into a fresh venv: its stubs checked against the
# module (mypy.stubtest), the pytest suite and README's Python example.
# First, the core is compiled with clang's -Wthread-safety (lock annotations
# checked).
# The replica suites (label `replica`) start a throwaway PostgreSQL each
# (scripts/pg_cluster.sh) in the dev, asan and release presets, except the
# many-process kill suite, replica_kill_test (tests/replica/: replicas and
# the postmaster SIGKILLed at random), which ctest runs in the dev preset
# only, ~65 s on 2 cores; the other presets build it only when asked to
# (docs/replication.md, "Testing", for longer runs). replica_test is also
# labelled `concurrency`, so the tsan preset runs it too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
# The repository is its own reference: nothing points outside it, and every
# rule id a message names is in docs/rules.md. A second; before the builds.
bash scripts/check_docs.sh

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
# README's C example, exactly as written (scripts/check_readme.sh): its install
# command builds the release preset, tests included, from scratch and installs
# into /opt/tenantry (root, or sudo); a warning in that build fails CI, since
# -O3 shows warnings -O0 never does (GCC 12's -Wrestrict inside std::string,
# for one). Then the program and its compile line, in an empty directory.
# The same -O3 build's tests run next: nothing is built twice. About 5
# minutes on 2 idle cores.
bash scripts/check_readme.sh c
echo "== tenantry tests: preset 'release' (the build README's install command made)"
ctest --preset release -j "$jobs" --timeout 900

# README's C++ path: a program that builds tenantry as its CMake subproject
# (add_subdirectory, then FetchContent from the local tree) in Release, only
# what it links (~1 minute on 2 cores).
echo "== tenantry tests: a C++ program with tenantry as its CMake subproject"
bash tests/consumer/subproject/run.sh build/subproject

# Issue 7: the libFuzzer targets (tests/fuzz), clang with ASan+UBSan. Each
# runs once over its checked-in corpus (ctest), then fuzzes for 60 s on a
# copy of it, so that CI never writes into the checked-in corpus. A finding
# fails CI; its input is left in build/fuzz/findings/.
echo "== tenantry tests: libFuzzer targets (corpus pass, then 60 s of fuzzing each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
ctest --preset fuzz -j "$jobs" --timeout 300
rm -rf build/fuzz/findings build/fuzz/corpus-run
mkdir -p build/fuzz/findings
for corpus in tests/fuzz/corpus/*/; do
  name=$(basename "$corpus")
  mkdir -p "build/fuzz/corpus-run/$name"
  cp "$corpus"* "build/fuzz/corpus-run/$name/"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  log="build/fuzz/findings/$name.log"
  if ! "build/fuzz/tests/fuzz/${name}_fuzzer" "build/fuzz/corpus-run/$name" "${dict[@]}" \
    -max_total_time=60 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="build/fuzz/findings/$name-" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "== tenantry tests: ${name}_fuzzer found a bug; its input is in build/fuzz/findings/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
done

echo "== tenantry tests: Python package (pip install into a fresh venv, stubtest, pytest)"
python=$(TENANTRY_WERROR=1 bash scripts/venv.sh --fresh)
# Run from outside the source tree, so that only the installed package can be imported.
(cd build && "../$python" -m mypy.stubtest --allowlist ../python/tenantry/stubtest-allowlist.txt tenantry &&
  "../$python" -m mypy --strict -p tenantry &&
  "../$python" -m mypy --strict ../scripts/demo.py ../scripts/readme_blocks.py ../bench/python_bench.py ../bench/report.py)
TENANTRY_EXPECT_INSTALLED=1 "$python" -m pytest -p no:cacheprovider tests/python
# README's Python example as written, in an empty directory.
bash scripts/check_readme.sh python
bash scripts/check_readme.sh replicas
# The whole suite again with gc.set_threshold(1) for the session and its child
# interpreters (tests/python/conftest.py): a collection at every allocation of
# a container, so the collector meets every object of the module in each state
# it passes through (docs/python.md, "The GIL and clocks"). About as long as
# the run above (~40 s each on this 2-vCPU machine): young collections are cheap.
TENANTRY_EXPECT_INSTALLED=1 TENANTRY_GC_THRESHOLD=1 "$python" -m pytest -p no:cacheprovider tests/python
# The Python benchmark's smoke run (small data, few calls; it checks its
# SQLite baseline's answers against tenantry's before timing), so it cannot rot.
"$python" bench/python_bench.py --quick >/dev/null
echo "== tenantry tests: all green"

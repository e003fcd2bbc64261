#!/usr/bin/env bash
# Runs the full-scale benchmark suite (docs/rules.md section 12) and writes
# bench/RESULTS.md and bench/results.png from it:
#   1. bench/scale_bench (Google Benchmark, `bench` preset): builds 100,000
#      workspaces / 1,000,000 users / 5,000,000 memberships through the batch
#      API, checks SQLite's answers against tenantry's, then every C++, C ABI,
#      change, snapshot and SQLite row, 3 repetitions;
#   2. bench/python_bench.py --snapshot: the Python rows on the same data
#      (the engine loaded from the snapshot scale_bench kept);
#   3. bench/report.py: the tables against the targets, and the chart.
# Takes about 10 minutes and 3 GiB of memory; run it on a quiet machine.
#   scripts/bench.sh           # full scale, rewrites bench/RESULTS.md
#   scripts/bench.sh --quick   # small data, few repetitions, into build/bench-results/
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1
out=build/bench-results
mkdir -p "$out"
jobs=$(nproc)
cmake --preset bench >/dev/null
cmake --build --preset bench -j "$jobs" --target scale_bench
python=$(bash scripts/venv.sh)

if [ "$quick" = 1 ]; then
  scale=(--scale=small --benchmark_repetitions=1 --benchmark_min_time=0.05)
  pyargs=(--repeat 2 --calls 100000 --sample 20000)
  results=$out/RESULTS.md chart=$out/results.png
else
  scale=(--scale=full --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
  pyargs=()
  results=bench/RESULTS.md chart=bench/results.png
fi

echo "== tenantry bench: scale_bench ${scale[*]} (load average $(cut -d' ' -f1 /proc/loadavg))"
build/bench/bench/scale_bench "${scale[@]}" --files="$out" \
  --benchmark_out="$out/scale.json" --benchmark_out_format=json
# The read rows again, in a process whose heap is in 2 MiB pages (glibc's
# malloc asks for transparent huge pages): a deployment knob, not a default.
echo "== tenantry bench: read rows with GLIBC_TUNABLES=glibc.malloc.hugetlb=1"
GLIBC_TUNABLES=glibc.malloc.hugetlb=1 build/bench/bench/scale_bench --load="$out" \
  --benchmark_filter='^(Check/|CheckMany/|CAbi/)' "${scale[@]:1}" \
  --benchmark_out="$out/hugepages.json" --benchmark_out_format=json
echo "== tenantry bench: python_bench.py --snapshot"
"$python" bench/python_bench.py --snapshot "$out/scale.tny" --questions "$out/scale.q" \
  "${pyargs[@]}" --json "$out/python.json"
/usr/bin/python3 bench/report.py --scale "$out/scale.json" --python "$out/python.json" \
  --hugepages "$out/hugepages.json" \
  --out "$results" --chart "$chart"
rm -f "$out/scale.tny" "$out/scale.q"

#!/usr/bin/env bash
# Runs the replica benchmarks (docs/rules.md section 13) and writes the
# "Replicas (section 13)" section of bench/RESULTS.md:
#   1. pg_test_fsync (1 s per method), before and after, on the disk the
#      benchmark's server uses: the time of one write and flush, which every
#      durable commit pays;
#   2. bench/replica_bench (Google Benchmark, `bench` preset): starts its own
#      PostgreSQL 15 through scripts/pg_cluster.sh in a temporary directory
#      (stopped and removed at the end, failures included), builds the
#      100,000-membership data set through a replica's log, and runs every
#      replica row beside a plain Engine and SQLite, 5 repetitions
#      interleaved at random;
#   3. bench/report_replicas.py: the rows against their targets, between the
#      section's markers in bench/RESULTS.md (scale_bench's part of the file,
#      bench/report.py's, is left as it is).
# Takes about 8 minutes; run it on a quiet machine (every durable commit
# waits for the disk, so other I/O shows in the change rows).
#   scripts/bench_replicas.sh           # rewrites the section in bench/RESULTS.md
#   scripts/bench_replicas.sh --quick   # a smoke test: build/bench-results/RESULTS-replicas.md
#   TENANTRY_BENCH_LOAD_NOTE='...' scripts/bench_replicas.sh   # says what else ran
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1
out=build/bench-results
mkdir -p "$out"
cmake --preset bench >/dev/null
cmake --build --preset bench -j "$(nproc)" --target replica_bench

if [ "$quick" = 1 ]; then
  args=(--quick --benchmark_repetitions=1)
  results=$out/RESULTS-replicas.md
else
  args=(--benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
    --benchmark_report_aggregates_only=true)
  results=bench/RESULTS.md
fi

echo "== tenantry bench: pg_test_fsync (load average $(cut -d' ' -f1 /proc/loadavg))"
probe=$(mktemp -d /tmp/tenantry-fsync-XXXXXX)
trap 'rm -rf "$probe"' EXIT
/usr/lib/postgresql/15/bin/pg_test_fsync -s 1 -f "$probe/test" |
  tee "$out/fsync.txt"

echo "== tenantry bench: replica_bench ${args[*]} (load average $(cut -d' ' -f1 /proc/loadavg))"
build/bench/bench/replica_bench "${args[@]}" \
  --benchmark_out="$out/replica.json" --benchmark_out_format=json
echo "== tenantry bench: pg_test_fsync again"
/usr/lib/postgresql/15/bin/pg_test_fsync -s 1 -f "$probe/test" | tee "$out/fsync-after.txt"
/usr/bin/python3 bench/report_replicas.py --json "$out/replica.json" --fsync "$out/fsync.txt" \
  --fsync-after "$out/fsync-after.txt" --out "$results" \
  --load-note "${TENANTRY_BENCH_LOAD_NOTE:-}"

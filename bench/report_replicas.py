#!/usr/bin/env python3
"""Writes the "Replicas (section 13)" section of bench/RESULTS.md from one run of replica_bench.

Inputs: the Google Benchmark JSON of ``bench/replica_bench`` (run with
repetitions; the medians are used) and what ``pg_test_fsync`` printed in
the same session (the disk's flush time, which every durable commit pays).
Each row of the brief for section 13 (docs/rules.md) is put against its
target, beside a plain Engine and SQLite where the question applies to
them. ``bench/REPLICA_NOTES.md`` (written by hand: what dominates each row,
from the parts rows and profiles) is included after the tables.

The section goes between the markers ``<!-- replicas:begin -->`` and
``<!-- replicas:end -->`` of ``--out`` (when the file has none: before its
"Shortfalls and profiles", else at its end; the file is made when
missing); the rest of the file is scale_bench's
(bench/report.py), left as it is. bench/report.py keeps the section when
it rewrites the file.

    python3 bench/report_replicas.py --json R.json --fsync F.txt --out bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
from typing import Dict, List, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report as base  # noqa: E402  (bench/report.py: loading and formatting)

Json = base.Json
BEGIN, END = "<!-- replicas:begin -->", "<!-- replicas:end -->"


SUFFIXES = ("min_time", "real_time", "manual_time", "iterations", "threads", "repeats")


def find_all(runs: Dict[str, Json], key: str) -> List[Json]:
    """The runs named `key`, or `key` followed by Google Benchmark's own suffixes."""
    exact = [b for name, b in runs.items() if name == key]
    if exact:
        return exact
    return [b for name, b in runs.items()
            if name.startswith(key + "/") and name[len(key) + 1:].startswith(SUFFIXES)]


def need(runs: Dict[str, Json], key: str) -> Json:
    found = find_all(runs, key)
    if not found:
        raise SystemExit(f"report_replicas: no benchmark named {key!r} in the run")
    return found[0]


def fmt_rate(x: float) -> str:
    """Per second: exact below 100,000 (the log's rows are in the thousands)."""
    return f"{x:,.0f} /s" if x < 1e5 else base.fmt_rate(x)


def mark(ok: bool) -> str:
    return "pass" if ok else "**miss**"


def fmt_ms(x: float) -> str:
    return f"{x:.2f} ms" if x < 10 else f"{x:.1f} ms"


def fsync_line(path: Optional[str]) -> str:
    """pg_test_fsync's one-write fdatasync (PostgreSQL's wal_sync_method on Linux)."""
    if not path or not os.path.exists(path):
        return "not measured"
    with open(path) as f:
        text = f.read()
    found = []
    for method in ("fdatasync", "fsync", "open_datasync"):
        m = re.search(rf"^\s+{method}\s+([\d.]+) ops/sec\s+(\d+) usecs/op", text, re.M)
        if m:
            found.append(f"{method} {float(m.group(1)):,.0f} ops/s ({int(m.group(2)):,} µs each)")
    return ", ".join(found[:2]) if found else "not parsed"


def section(args: argparse.Namespace) -> List[str]:
    context, runs = base.load_scale(args.json)
    catchup = need(runs, "Replica/catchup")
    lag = need(runs, "Replica/lag")
    changes = find_all(runs, "Replica/change")
    one = next(b for b in changes if b.get("threads") == 1)
    four = next(b for b in changes if b.get("threads") == 4)
    e_change = need(runs, "Engine/change")
    s_change_mem, s_change_disk = need(runs, "Sqlite/change/memory"), need(runs, "Sqlite/change/disk")
    batch, e_batch = need(runs, "Replica/batch"), need(runs, "Engine/batch")
    s_batch_mem, s_batch_disk = need(runs, "Sqlite/batch/memory"), need(runs, "Sqlite/batch/disk")
    lease, e_consume = need(runs, "Replica/consume/lease"), need(runs, "Engine/consume")
    settle = {n: need(runs, f"Replica/settle/leases:{n}") for n in (1, 100, 1000)}
    parts = {k: need(runs, k) for k in (
        "Log/roundtrip", "Log/read_tail", "Log/read_tail/prepared", "Log/read_tail/after_batch", "Log/read_1000",
        "Log/read_1000/head_unanalyzed", "Log/append/fsync", "Log/append/no_fsync",
        "Log/append/batch_record", "Log/append/stale_plan")}

    out: List[str] = []
    w = out.append
    w(BEGIN)
    w("## Replicas (section 13)")
    w("")
    w("Written by `scripts/bench_replicas.sh` (`bench/replica_bench.cc`, `bench/report_replicas.py`);"
      " do not edit by hand. What dominates each row is `bench/REPLICA_NOTES.md`, included below"
      " the tables.")
    w("")
    w("To run it: `scripts/bench_replicas.sh` (about 8 minutes; it rewrites this section) or"
      " `scripts/bench_replicas.sh --quick` (a smoke test of a minute or two, written to"
      " `build/bench-results/RESULTS-replicas.md`). Either builds `replica_bench` with the `bench`"
      " preset and needs PostgreSQL 15 (`scripts/deps.sh` installs it); the benchmark starts and"
      " stops its own server. `build/bench/bench/replica_bench --help` lists Google Benchmark's"
      " flags; its own are `--quick`, `--catchup_memberships=N` and `--lag_samples=N`.")
    w("")
    w(f"- **Date**: {context.get('date', '?')}; commit `{base.git('rev-parse', '--short', 'HEAD')}`"
      f"{' (with local changes)' if base.git('status', '--porcelain', '--untracked-files=no') else ''}.")
    w(f"- **Machine**: {base.cpu_model()}, {context.get('num_cpus', '?')} vCPUs at "
      f"{context.get('mhz_per_cpu', '?')} MHz, {platform.system()} {platform.release()}; `bench` preset"
      " (-O3). PostgreSQL 15 on the same machine and disk (`scripts/pg_cluster.sh`: a Unix socket,"
      " fsync on, shared_buffers 32 MB, otherwise defaults), started by the benchmark.")
    w(f"- **Disk**: `pg_test_fsync` (one 8 kB write and its flush, what every durable commit,"
      f" PostgreSQL's or SQLite's on disk, waits for) just before the run: {fsync_line(args.fsync)};"
      f" just after: {fsync_line(args.fsync_after)}. During the run an autocommitted append took"
      f" {fmt_ms(parts['Log/append/fsync']['append_p50_ms'])} at the median (below).")
    w(f"- **Load average** when the run started: {context.get('load_avg', ['?'])[0]}"
      f"{'; ' + args.load_note if args.load_note else ''}.")
    w("- **Data set**: `bench/scale_data.h`'s small shape, 2,000 workspaces, 20,000 users, 100,000"
      " memberships, built through replica A's log in batches; the plain Engine and SQLite (in memory,"
      " and in a file in WAL mode with synchronous=FULL) hold the same data. Single changes: spare"
      " users join a workspace and leave it in turn; batches: 10,000 `add_member` in one `apply`"
      " (one record), removed again untimed; consumes: 1 unit on one of the 1,000 workspaces the"
      " replica holds leases on, drawn at random.")
    reps = lag.get("repetitions", 1)
    w(f"- **Method**: Google Benchmark, {reps} repetitions interleaved at random, median shown."
      " Every replica is an engine in the benchmark's process: besides the writer, replica B (and"
      " the lessee E once made) follow every record on the same 2 vCPUs, as do the PostgreSQL"
      " backends serving them.")
    w("")
    w("| # | what | target | measured | verdict | plain Engine | SQLite in memory | SQLite on disk |")
    w("| --- | --- | --- | --- | --- | --- | --- | --- |")

    def row(n: str, what: str, target: str, measured: str, ok: Optional[bool], engine: str = "—",
            mem: str = "—", disk: str = "—") -> None:
        verdict = "—" if ok is None else mark(ok)
        w(f"| {n} | {what} | {target} | {measured} | {verdict} | {engine} | {mem} | {disk} |")

    rate = catchup["records_per_s"]
    row("1", f"follower catch-up: a new replica opens a group whose log holds "
        f"{catchup['records']:,.0f} records, one change each ({catchup['memberships']:,.0f}"
        " memberships), no snapshot", "≥ 300,000 records/s",
        f"{rate / 1e3:,.0f} k records/s (open {catchup['open_s'] * 1e3:,.0f} ms; less the"
        f" {catchup['empty_open_s'] * 1e3:,.0f} ms an open costs with nothing to apply:"
        f" {catchup['apply_records_per_s'] / 1e3:,.0f} k/s)", rate >= 300000)
    row("2", "commit-to-applied lag: A's change returned → B's `wait_for` returns", "p99 ≤ 5 ms",
        f"p50 {fmt_ms(lag['lag_p50_ms'])}, p99 {fmt_ms(lag['lag_p99_ms'])} (max"
        f" {fmt_ms(lag['lag_max_ms'])}; A's change itself p50 {fmt_ms(lag['change_p50_ms'])})",
        lag["lag_p99_ms"] <= 5)
    row("3", "single change through the log, 1 writer", "≥ 1,500 /s",
        f"{one['items_per_second']:,.0f} /s (p50 {fmt_ms(one['change_p50_ms'])}, p99"
        f" {fmt_ms(one['change_p99_ms'])})", one["items_per_second"] >= 1500,
        fmt_rate(e_change["items_per_second"]), fmt_rate(s_change_mem["items_per_second"]),
        f"{s_change_disk['items_per_second']:,.0f} /s (p50 {fmt_ms(s_change_disk['change_p50_ms'])})")
    row("3", "the same, 4 writers (4 replicas, one thread each)", "—",
        f"{four['items_per_second']:,.0f} /s in all (p50 {fmt_ms(four['change_p50_ms'])}, p99"
        f" {fmt_ms(four['change_p99_ms'])}; {four['refused_appends_per_change']:.2f} appends refused"
        " per change: the head had moved, the change ran again)", None)
    row("4", "a batch through the log (10,000 `add_member`, one record)", "≥ 200,000 memberships/s",
        fmt_rate(batch["items_per_second"]) + f" ({base.fmt_ns(base.ns(batch))} a batch)",
        batch["items_per_second"] >= 200000, fmt_rate(e_batch["items_per_second"]),
        fmt_rate(s_batch_mem["items_per_second"]), fmt_rate(s_batch_disk["items_per_second"]))
    lease_ns, lease_cpu = base.ns(lease), lease["cpu_time"] * base.ns(lease) / lease["real_time"]
    e_ns, e_cpu = base.ns(e_consume), e_consume["cpu_time"] * base.ns(e_consume) / e_consume["real_time"]
    row("5", "consume on a lease, one thread, random leased workspaces", "≤ 40 ns",
        f"{base.fmt_ns(lease_ns)} ({base.fmt_ns(lease_cpu)} of CPU); records appended:"
        f" {lease['log_records']:.0f}", lease_ns <= 40,
        f"{base.fmt_ns(e_ns)} ({base.fmt_ns(e_cpu)} of CPU)")
    row("6", "settlement: one record covering 1 / 100 / 1,000 leases", "—",
        " / ".join(fmt_ms(base.ns(settle[n]) / 1e6) for n in (1, 100, 1000)), None)
    w("")
    w("The parts of a change through the log, timed with libpq alone (`Log/` rows): a change reads"
      " the log from its position (`read_tail`), then appends with `append_if_head`, autocommitted,"
      " and waits for PostgreSQL's commit, which waits for the disk's flush.")
    w("")
    w("| part | time (mean) |")
    w("| --- | --- |")
    labels = {
        "Log/roundtrip": "a round trip (`SELECT 1`)",
        "Log/read_tail": "`PgLog::Read`'s query from the replica's position (one record back)",
        "Log/read_tail/prepared": "the same query prepared once (PgLog parses and plans it each call)",
        "Log/read_tail/after_batch": "the same when the record at the position is a batch's (sent again whole)",
        "Log/append/fsync": "`append_if_head` of a 60-byte record, autocommitted (the commit's flush)",
        "Log/append/no_fsync": "the same with `synchronous_commit = off` (no flush)",
        "Log/append/batch_record": "`append_if_head` of the record a batch of 10,000 `add_member` makes",
        "Log/read_1000": "a catch-up read of 1,000 records",
        "Log/read_1000/head_unanalyzed": "the same, `head` never analyzed (a new group: JIT-compiled)",
        "Log/append/stale_plan": "an append whose PL/pgSQL plan dates from a one-row `records` (60,000 now)",
    }
    for key, label in labels.items():
        b = parts[key]
        extra = (f" (p50 {fmt_ms(b['append_p50_ms'])}, p99 {fmt_ms(b['append_p99_ms'])})"
                 if "append_p50_ms" in b else "")
        if "record_bytes" in b:
            extra += f" ({b['record_bytes'] / 1e3:,.0f} kB)"
        w(f"| {label} | {base.fmt_ns(base.ns(b))}{extra} |")
    w("")
    w("### Every replica benchmark (medians)")
    w("")
    w("| benchmark | time | CPU | throughput | counters |")
    w("| --- | --- | --- | --- | --- |")
    skip = {"items_per_second", "real_time", "cpu_time", "iterations", "repetitions", "threads",
            "repetition_index", "family_index", "per_family_instance_index", "time_unit"}
    groups = ["Replica/", "Engine/", "Sqlite/", "Log/"]

    def order(name: str) -> tuple:
        group = next((i for i, g in enumerate(groups) if name.startswith(g)), len(groups))
        return (group, name)

    for name in sorted(runs, key=order):
        b = runs[name]
        counters = {k: v for k, v in b.items() if isinstance(v, (int, float)) and k not in skip}
        text = ", ".join(f"{k} {v:,.3g}" for k, v in sorted(counters.items()))
        cpu = b["cpu_time"] * base.ns(b) / b["real_time"] if b.get("real_time") else 0
        tput = fmt_rate(b["items_per_second"]) if "items_per_second" in b else ""
        w(f"| `{name}` | {base.fmt_ns(base.ns(b))} | {base.fmt_ns(cpu)} | {tput} | {text} |")
    w("")
    if os.path.exists(args.notes):
        with open(args.notes) as f:
            w(f.read().rstrip())
        w("")
    w(END)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", required=True, help="replica_bench's --benchmark_out (JSON)")
    parser.add_argument("--fsync", help="what pg_test_fsync printed before the run")
    parser.add_argument("--fsync-after", help="what pg_test_fsync printed after the run")
    parser.add_argument("--out", required=True, help="the results file to write the section into")
    parser.add_argument("--notes", default=os.path.join(os.path.dirname(__file__), "REPLICA_NOTES.md"))
    parser.add_argument("--load-note", default="", help="what else ran on the machine")
    args = parser.parse_args()

    block = "\n".join(section(args))
    text = ""
    if os.path.exists(args.out):
        with open(args.out) as f:
            text = f.read()
    if BEGIN in text and END in text:
        start, end = text.index(BEGIN), text.index(END) + len(END)
        text = text[:start] + block + text[end:]
    elif "\n## Shortfalls and profiles" in text:  # scale_bench's results: before its shortfalls
        at = text.index("\n## Shortfalls and profiles") + 1
        text = text[:at] + block + "\n\n" + text[at:]
    else:
        text = (text.rstrip() + "\n\n" if text else "") + block + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(f"report_replicas: wrote the replicas' section of {args.out}")


if __name__ == "__main__":
    main()

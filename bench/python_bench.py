#!/usr/bin/env python3
"""Python benchmark of tenantry: the cost of a check seen from Python.

What it measures (docs/rules.md section 12, the two Python rows):

* ``engine.check(u, w, p)`` called in a Python loop, against the floor the
  target (docs/rules.md §12) names: a no-op C callable taking the same three ints through
  CPython's fast-call convention, measured in the same run. There are two
  floors. ``engine._noop_check(u, w, p)`` is a no-op C *method* of the engine
  with exactly check's call shape (attribute lookup on the instance, method
  descriptor, METH_FASTCALL|METH_KEYWORDS); ``tenantry._core._noop(u, w, p)``
  is a no-op module-level METH_FASTCALL function bound to a local. The
  method floor is the like-for-like comparison and the one the target is
  judged against; the function floor is reported too.
* Around it: check with the permission as a name string, the bound-method
  form ``c = engine.check; c(u, w, p)``, the same check through pybind11's
  generic dispatch (``engine._check_pybind11``), a plain dict lookup of
  precomputed answers ``d[(u, w, p)]``, SQLite answering the same question
  with one indexed query per check, ``engine.consume(ws, 1)`` on a workspace
  with a huge balance, and ``engine.check_many`` on NumPy uint64 arrays of
  1,000 and 100,000 items (ns per item; target <= 40 ns): the 1,000-item
  calls cycle through 100 consecutive slices of the random sample (new
  questions every call), a last row asks the same 1,000 every call (warm),
  and ``engine._check_many`` (the compiled call, without the Python
  wrapper's argument normalisation) shows what the wrapper costs.

How:

* Every per-call row runs the same loop shape, generated as a function so
  every name is a local: ``for u, w, p in triples: <call>``, repeated over
  a pre-built list of 100,000 triples until the call count is reached.
  "warm" lists repeat one triple (an agency member asking about a client
  sub-workspace, allowed through inheritance, so the walk reads two
  levels; one row repeats a triple allowed by a direct role instead);
  "random" lists hold pre-generated random triples, cycled through: 40% a
  user and a workspace they hold a role in (staff: one of their account's),
  40% a user and any workspace of their home account, 20% any user and any
  workspace, the permission drawn from SAMPLED_PERMISSIONS (about 19%
  allow). The loop's own cost (the "empty loop" rows) is in every row,
  floors included, so the ratios compare like with like; it is also
  printed subtracted. The garbage collector is off while timing. After one
  warm-up repeat, each repeat runs every row once, in turn, so slow drift
  of the machine spreads over all rows; the table gives the median and the
  minimum of the repeats, in ns per call. The run prints how much CPU other
  processes used while it timed (from /proc/stat). On the 2-vCPU VM of
  bench/RESULTS.md the warm rows repeat within about 7% between runs;
  the random rows, bound by the engine's cache misses, vary by up to 1.5x
  between runs even on a quiet machine, so compare several runs.
* The data set (default 2,000 workspaces, 20,000 users, about 100,000
  memberships) is built through ``tenantry.Batch`` and ``Engine.apply``:
  accounts on the enterprise plan, each with 20 workspaces (2 agency
  workspaces, each owning 9 client sub-workspaces); the account owner owns
  every workspace; per account 2 staff admins and 5 staff members (2 with
  scope "all", 3 with listed workspaces, agencies and clients); every
  other user is a member of about 5 workspaces, mostly of one home account,
  with built-in roles (admin, manager, member, viewer, and client, mostly in
  client sub-workspaces). The full scale of the targets (100,000 workspaces,
  1,000,000 users, 5,000,000 memberships) is built by bench/scale_bench,
  not here; ``--snapshot`` runs these rows on it (below).
* The same data goes into SQLite (``:memory:``, indexed tables
  ``workspaces(id, account, parent)``, ``memberships(user, workspace,
  role)`` with a unique index on (user, workspace), ``staff(account, user,
  role, scope)``, ``staff_scope(account, user, workspace)``,
  ``role_permissions(role, permission)``). One SQL query per check answers:
  a direct role; a non-client role held in the parent (agency) workspace
  (A3, one level: this data set is two levels deep); a staff grant when the
  workspace or its parent is in the staff scope (M2, M8). It does not model
  teams, inactive workspaces, custom roles or deeper graphs, none of which
  this data set holds. Role contents come from the engine
  (``Engine.role_permissions``; the staff roles add ``account.*`` and
  ``credits.transfer`` as M8 says), so the SQL checks the graph rules, not
  the role table. Before anything is timed, SQLite's answer must equal
  tenantry's for every sampled triple (and ``check_many``, pybind11's
  check and the name form must equal ``check``); otherwise the benchmark
  stops without reporting.

The snapshot mode (``--snapshot PATH --questions PATH``) runs the same
rows on the data set bench/scale_bench builds (the targets' full scale by
default; see bench/scale_data.h for its shape, which adds teams and two
custom roles to the one above) and keeps with ``--files=DIR``:

* The engine is ``tenantry.Engine.load(DIR/scale.tny)``; the load is timed
  and reported in memberships per second (``Engine.stats()``).
* The questions are DIR/scale.q, scale_bench's 24-byte little-endian
  records (u64 user, u64 workspace, u32 permission id, u32 answer; the ids
  are the loaded engine's), read with NumPy. Record 0 is the warm triple
  (an agency manager asking ``contacts.view`` about a client
  sub-workspace, allowed through inheritance); the first ``--sample``
  records after it are the random triples (drawn as above, the permission
  from scale_bench's list, which adds ``contacts.export``). The
  direct-role triple is the first random one ``explain`` says is allowed
  by a direct role; consume's workspace is the warm triple's.
* Before anything is timed, ``check`` (with the id, the name, and through
  pybind11) must give the recorded answer for every sampled triple and the
  warm one, ``check_many`` with each item's own permission must give the
  recorded answers, and ``check_many`` with ``contacts.view`` (the
  permission its rows time) must equal ``check``; otherwise the benchmark
  stops without reporting. scale_bench checked its answers against SQLite
  (the first 200,000 questions) before writing them.
* There is no SQLite in Python in this mode, and so no SQLite or dict rows
  and no SQLite / check or dict / check ratios (the run says so);
  scale_bench reports SQLite / check on the same data. ``--quick`` and the
  data set options do not apply.

``--json PATH`` also writes the result, in any mode, as JSON: ``machine``,
``date`` (ISO 8601), ``mode`` (``quick``, ``default`` or ``snapshot``),
``data`` (``workspaces``, ``users``, ``memberships``, and ``build_s``, the
tenantry build, or ``load_s``, the snapshot load), ``rows`` (``label``,
``median_ns``, ``min_ns``, ``per``: the markdown table's rows),
``ratios`` (``check_over_method_floor``, ``check_over_function_floor``,
``pybind11_over_method_floor`` and, except in snapshot mode,
``sqlite_over_check``; each ``{"warm": ..., "random": ...}``, ratios of
medians), ``check_many_ns_per_item`` (medians of the ``check_many`` rows:
``1000_cycled``, ``100000`` and ``1000_warm``, keyed by the actual sizes,
so ``--quick``'s 10,000-item sample gives ``10000``), ``others_cpu`` (CPUs
other processes used while timing) and ``steal`` (CPUs the hypervisor
stole). The markdown report is printed as before.

Run (after ``cmake --preset python && cmake --build --preset python``)::

    PYTHONPATH=build/python/python /usr/bin/python3 bench/python_bench.py
    PYTHONPATH=build/python/python /usr/bin/python3 bench/python_bench.py --quick
    build/bench/bench/scale_bench --files=DIR    # writes DIR/scale.tny, DIR/scale.q
    PYTHONPATH=build/python/python /usr/bin/python3 bench/python_bench.py --snapshot DIR/scale.tny --questions DIR/scale.q
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

import tenantry
from tenantry import _core

Triple = Tuple[int, int, Any]
Ids = np.ndarray[Any, np.dtype[np.uint64]]  # arrays of ids

# The permissions the random triples ask about: some every role holds, some
# only the upper roles, the client's own, and the account-level ones only
# staff owners and admins hold.
SAMPLED_PERMISSIONS = (
    "workspace.view",
    "contacts.view",
    "analytics.view",
    "campaigns.run",
    "contacts.edit",
    "runs.trigger",
    "workflows.deploy",
    "members.invite",
    "billing.manage",
    "workspace.delete",
    "account.manage_staff",
    "credits.transfer",
)
WORKSPACE_ROLES = ("owner", "admin", "manager", "member", "viewer", "client")
STAFF_EXTRA = ("account.create_workspace", "account.manage_staff", "account.manage_plan", "credits.transfer")
AGENCY_ROLES = (("admin", 10), ("manager", 20), ("member", 35), ("viewer", 30), ("client", 5))
CLIENT_ROLES = (("client", 40), ("viewer", 25), ("member", 25), ("manager", 10))
WORKSPACES_PER_ACCOUNT = 20
AGENCIES_PER_ACCOUNT = 2
STAFF_ADMINS = 2
STAFF_MEMBERS = 5


def weighted(rng: random.Random, table: Sequence[Tuple[str, int]]) -> str:
    return rng.choices([r for r, _ in table], weights=[w for _, w in table])[0]


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------


class DataSet:
    """The graph as plain Python data, filled in as tenantry returns ids."""

    def __init__(self) -> None:
        self.users: List[int] = []
        self.accounts: List[int] = []
        self.account_owner: Dict[int, int] = {}
        self.workspaces: List[Tuple[int, int, int]] = []  # (id, account, parent or 0)
        self.account_workspaces: Dict[int, List[int]] = {}
        self.memberships: List[Tuple[int, int, str]] = []  # (user, workspace, role)
        self.staff: List[Tuple[int, int, str, Any]] = []  # (account, user, role, scope)
        self.home: Dict[int, int] = {}  # user -> account (staff: their account)


def build_tenantry(
    args: argparse.Namespace, rng: random.Random
) -> Tuple[tenantry.Engine, DataSet, Dict[str, float]]:
    SYSTEM = tenantry.SYSTEM
    engine = tenantry.Engine()
    data = DataSet()
    timing = {"python": 0.0, "apply": 0.0}

    def apply(batch: tenantry.Batch, started: float) -> List[int]:
        t = time.perf_counter()
        timing["python"] += t - started
        ids = engine.apply(batch)
        timing["apply"] += time.perf_counter() - t
        return list(ids)

    account_count = max(1, args.workspaces // WORKSPACES_PER_ACCOUNT)
    staff_per_account = 1 + STAFF_ADMINS + STAFF_MEMBERS
    if args.users < account_count * (staff_per_account + 10):
        raise SystemExit(f"--users must be at least {account_count * (staff_per_account + 10)}")

    # Users.
    t = time.perf_counter()
    batch = tenantry.Batch()
    for i in range(args.users):
        batch.create_user(f"user{i}@bench.example")
    data.users = apply(batch, t)

    # Accounts: the first users own them.
    t = time.perf_counter()
    batch = tenantry.Batch()
    owners = data.users[:account_count]
    for a, owner in enumerate(owners):
        batch.create_account(f"Agency {a}", owner, plan="enterprise")
    data.accounts = apply(batch, t)
    for account, owner in zip(data.accounts, owners):
        data.account_owner[account] = owner
        data.home[owner] = account
        data.staff.append((account, owner, "owner", "all"))

    # Agency workspaces, then their client sub-workspaces.
    t = time.perf_counter()
    batch = tenantry.Batch()
    for a, account in enumerate(data.accounts):
        for g in range(AGENCIES_PER_ACCOUNT):
            batch.create_workspace(SYSTEM, account, f"Agency {a} office {g}", type="agency")
    agency_ids = apply(batch, t)
    agencies: Dict[int, List[int]] = {}
    for i, ws in enumerate(agency_ids):
        account = data.accounts[i // AGENCIES_PER_ACCOUNT]
        agencies.setdefault(account, []).append(ws)
        data.workspaces.append((ws, account, 0))
    clients_per_agency = (WORKSPACES_PER_ACCOUNT - AGENCIES_PER_ACCOUNT) // AGENCIES_PER_ACCOUNT
    t = time.perf_counter()
    batch = tenantry.Batch()
    order: List[Tuple[int, int]] = []
    for a, account in enumerate(data.accounts):
        for g, agency in enumerate(agencies[account]):
            for c in range(clients_per_agency):
                batch.create_workspace(SYSTEM, account, f"Client {a}-{g}-{c}", parent=agency)
                order.append((account, agency))
    for ws, (account, agency) in zip(apply(batch, t), order):
        data.workspaces.append((ws, account, agency))
    for ws, account, _ in data.workspaces:
        data.account_workspaces.setdefault(account, []).append(ws)
        # The owner defaults to the account's owner for SYSTEM-made workspaces.
        data.memberships.append((data.account_owner[account], ws, "owner"))

    # Staff and memberships, in one batch.
    t = time.perf_counter()
    batch = tenantry.Batch()
    next_user = account_count
    for account in data.accounts:
        spaces = data.account_workspaces[account]
        a_ids = agencies[account]
        client_ids = [w for w in spaces if w not in a_ids]
        for _ in range(STAFF_ADMINS):
            user = data.users[next_user]
            next_user += 1
            batch.add_staff(SYSTEM, account, user, "admin", scope="all")
            data.staff.append((account, user, "admin", "all"))
            data.home[user] = account
        scopes: List[Any] = [
            "all",
            "all",
            [a_ids[0]],  # an agency: covers its clients too (M2 + A3)
            rng.sample(client_ids, 2),
            [a_ids[1], rng.choice(client_ids[:clients_per_agency])],
        ]
        for scope in scopes[:STAFF_MEMBERS]:
            user = data.users[next_user]
            next_user += 1
            batch.add_staff(SYSTEM, account, user, "member", scope=scope)
            data.staff.append((account, user, "member", scope))
            data.home[user] = account
    people = data.users[next_user:]
    remaining = max(0, args.memberships - len(data.memberships))
    base, extra = divmod(remaining, len(people))
    agency_set = set(agency_ids)
    for i, user in enumerate(people):
        home = data.accounts[rng.randrange(account_count)]
        data.home[user] = home
        want = min(base + (1 if i < extra else 0), WORKSPACES_PER_ACCOUNT)
        chosen: Set[int] = set()
        while len(chosen) < want:
            account = home if rng.random() < 0.9 else data.accounts[rng.randrange(account_count)]
            chosen.add(rng.choice(data.account_workspaces[account]))
        for ws in chosen:
            role = weighted(rng, AGENCY_ROLES if ws in agency_set else CLIENT_ROLES)
            batch.add_member(SYSTEM, ws, user, role)
            data.memberships.append((user, ws, role))
    apply(batch, t)
    return engine, data, timing


def build_sqlite(engine: tenantry.Engine, data: DataSet) -> Tuple[sqlite3.Connection, float]:
    started = time.perf_counter()
    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE workspaces(id INTEGER PRIMARY KEY, account INTEGER NOT NULL, parent INTEGER);
        CREATE TABLE memberships(user INTEGER NOT NULL, workspace INTEGER NOT NULL, role TEXT NOT NULL);
        CREATE UNIQUE INDEX memberships_user_workspace ON memberships(user, workspace);
        CREATE TABLE staff(account INTEGER NOT NULL, user INTEGER NOT NULL, role TEXT NOT NULL,
                           scope TEXT NOT NULL, PRIMARY KEY(user, account)) WITHOUT ROWID;
        CREATE TABLE staff_scope(account INTEGER NOT NULL, user INTEGER NOT NULL,
                                 workspace INTEGER NOT NULL,
                                 PRIMARY KEY(user, account, workspace)) WITHOUT ROWID;
        CREATE TABLE role_permissions(role TEXT NOT NULL, permission INTEGER NOT NULL,
                                      PRIMARY KEY(role, permission)) WITHOUT ROWID;
        """
    )
    for ws, _, parent in data.workspaces:
        assert 0 < ws < 2**63 and parent < 2**63
    db.executemany(
        "INSERT INTO workspaces VALUES (?, ?, ?)",
        [(ws, account, parent or None) for ws, account, parent in data.workspaces],
    )
    db.executemany("INSERT INTO memberships VALUES (?, ?, ?)", data.memberships)
    db.executemany(
        "INSERT INTO staff VALUES (?, ?, ?, ?)",
        [(account, user, role, "all" if scope == "all" else "listed")
         for account, user, role, scope in data.staff],
    )
    db.executemany(
        "INSERT INTO staff_scope VALUES (?, ?, ?)",
        [(account, user, ws) for account, user, _, scope in data.staff if scope != "all" for ws in scope],
    )
    # Role contents from the engine's catalog (M8); staff roles as M8 gives them:
    # account owner = workspace owner + account.* + credits.transfer, admin
    # likewise, member = the account's staff_member_role (default "admin").
    any_account = data.accounts[0]
    perms = {role: set(engine.role_permissions(any_account, role)) for role in WORKSPACE_ROLES}
    perms["account.owner"] = perms["owner"] | set(STAFF_EXTRA)
    perms["account.admin"] = perms["admin"] | set(STAFF_EXTRA)
    perms["account.member"] = set(perms["admin"])
    db.executemany(
        "INSERT INTO role_permissions VALUES (?, ?)",
        [(role, engine.permission(name)) for role, names in perms.items() for name in sorted(names)],
    )
    db.execute("ANALYZE")
    db.commit()
    return db, time.perf_counter() - started


# One query per check: direct role, a non-client role in the parent (A3),
# or staff with the workspace or its parent in scope (M2).
CHECK_SQL = """
SELECT EXISTS (
  SELECT 1 FROM memberships m
    JOIN role_permissions rp ON rp.role = m.role AND rp.permission = ?3
   WHERE m.user = ?1 AND m.workspace = ?2
  UNION ALL
  SELECT 1 FROM workspaces w
    JOIN memberships m ON m.user = ?1 AND m.workspace = w.parent
    JOIN role_permissions rp ON rp.role = m.role AND rp.permission = ?3
   WHERE w.id = ?2 AND m.role <> 'client'
  UNION ALL
  SELECT 1 FROM workspaces w
    JOIN staff s ON s.user = ?1 AND s.account = w.account
    JOIN role_permissions rp ON rp.role = 'account.' || s.role AND rp.permission = ?3
   WHERE w.id = ?2
     AND (s.scope = 'all' OR EXISTS (
           SELECT 1 FROM staff_scope sc
            WHERE sc.user = s.user AND sc.account = s.account AND sc.workspace IN (w.id, w.parent)))
)
"""


# ---------------------------------------------------------------------------
# The sampled questions
# ---------------------------------------------------------------------------


def sample_triples(data: DataSet, perm_ids: Sequence[int], count: int, rng: random.Random) -> List[Triple]:
    """40% a user and a workspace they hold a role in (or, for staff, one
    of their account's), 40% a user and any workspace of their home account
    (inheritance, staff scope, or nothing), 20% any user and any workspace
    (mostly other accounts: isolation)."""
    held: Dict[int, List[int]] = {}
    for user, ws, _ in data.memberships:
        held.setdefault(user, []).append(ws)
    for account, user, _, _ in data.staff:
        held.setdefault(user, []).extend(data.account_workspaces[account])
    users = data.users
    all_ws = [ws for ws, _, _ in data.workspaces]
    triples = []
    for _ in range(count):
        r = rng.random()
        user = users[rng.randrange(len(users))]
        if r < 0.4 and user in held:
            ws = rng.choice(held[user])
        elif r < 0.8:
            ws = rng.choice(data.account_workspaces[data.home[user]])
        else:
            ws = all_ws[rng.randrange(len(all_ws))]
        triples.append((user, ws, perm_ids[rng.randrange(len(perm_ids))]))
    return triples


def verify(engine: tenantry.Engine, db: sqlite3.Connection, triples: Sequence[Triple],
           names: Dict[int, str], many: Tuple[Ids, Ids, int]) -> int:
    """Refuses to go on unless SQLite and every face of tenantry agree."""
    cur = db.cursor()
    check, pyb = engine.check, engine._check_pybind11
    mismatches = []
    for u, w, p in triples:
        answer = check(u, w, p)
        sql = bool(cur.execute(CHECK_SQL, (u, w, p)).fetchone()[0])
        if sql != answer or pyb(u, w, p) != answer or check(u, w, names[p]) != answer:
            mismatches.append((u, w, names[p], answer, sql))
    users, workspaces, p = many
    got = engine.check_many(users, workspaces, p)
    for i, (u, w) in enumerate(zip(users.tolist(), workspaces.tolist())):
        answer = check(u, w, p)
        sql = bool(cur.execute(CHECK_SQL, (u, w, p)).fetchone()[0])
        if bool(got[i]) != answer or sql != answer:
            mismatches.append((u, w, names[p], answer, sql))
    if mismatches:
        for u, w, p, answer, sql in mismatches[:20]:
            print(f"MISMATCH user={u} workspace={w} permission={p}: tenantry={answer} sqlite={sql}",
                  file=sys.stderr)
            print(f"  explain: {engine.explain(u, w, p)}", file=sys.stderr)
        raise SystemExit(f"{len(mismatches)} answers differ between tenantry and SQLite (or between "
                         "tenantry's faces): refusing to report")
    return len(triples) + len(users)


# ---------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------

_LOOP = """
def run(triples, rounds, {names}):
    t0 = perf_counter_ns()
    for _ in range(rounds):
        for u, w, p in triples:
            {call}
    return perf_counter_ns() - t0
"""


def make_loop(call: str, names: Sequence[str]) -> Callable[..., int]:
    namespace: Dict[str, Any] = {"perf_counter_ns": time.perf_counter_ns}
    exec(_LOOP.format(names=", ".join(names) or "_unused=None", call=call), namespace)
    run: Callable[..., int] = namespace["run"]
    return run


class Row:
    def __init__(self, label: str, call: str, env: Dict[str, Any], triples: List[Any], calls: int,
                 per: str = "call") -> None:
        self.label, self.call, self.per = label, call, per
        self.env = env
        self.triples = triples
        self.rounds = max(1, calls // len(triples))
        self.count = self.rounds * len(triples)
        self.loop = make_loop(call, list(env))
        self.samples: List[float] = []

    def run(self) -> None:
        self.samples.append(self.loop(self.triples, self.rounds, **self.env) / self.count)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)


class BatchRow(Row):
    """check_many: ns per item. The arrays are split into slices of `size`
    items (consecutive slices of the random sample, so every call asks new
    questions), and the calls cycle through the slices until `items` items
    are done; `slices=1` asks the same `size` items every call (warm)."""

    def __init__(self, label: str, engine: tenantry.Engine, users: Ids, workspaces: Ids, p: int, size: int,
                 items: int, *, slices: int = 0, method: str = "check_many") -> None:
        self.label, self.per = label, "item"
        self.call = f"engine.{method}(users, workspaces, p)"
        self.fn = getattr(engine, method)
        size = min(size, users.size)
        count = slices or users.size // size
        perm: Any = p if method == "check_many" else np.full(size, p, dtype=np.uint32)
        self.args = [(users[i * size:(i + 1) * size], workspaces[i * size:(i + 1) * size], perm)
                     for i in range(count)]
        self.rounds = max(1, items // (size * count))
        self.count = self.rounds * size * count
        self.samples = []

    def run(self) -> None:
        fn, args = self.fn, self.args
        t0 = time.perf_counter_ns()
        for _ in range(self.rounds):
            for users, workspaces, p in args:
                fn(users, workspaces, p)
        self.samples.append((time.perf_counter_ns() - t0) / self.count)


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs; Python {platform.python_version()} "
            f"({sys.executable}); NumPy {np.__version__}; SQLite {sqlite3.sqlite_version}")


def busy_seconds() -> Tuple[float, float]:
    """CPU seconds all CPUs spent busy, and stolen by the hypervisor, so far."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick


def fmt(ns: float) -> str:
    return f"{ns:,.0f}" if ns >= 1000 else f"{ns:.1f}"


def write_json(path: str, result: Dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------------------
# The two ways to a loaded engine: build the data set here, or load scale_bench's
# ---------------------------------------------------------------------------


@dataclass
class Setup:
    """What the timed rows need, whichever way the engine was made."""

    mode: str  # "quick", "default" or "snapshot"
    engine: tenantry.Engine
    data: Dict[str, Any]  # for --json: workspaces, users, memberships, build_s or load_s
    triples: List[Triple]  # the random sample, permissions as int ids
    warm: Triple
    direct: Triple
    names: Dict[int, str]  # permission id -> name, for every id in the triples
    arrays: Tuple[Ids, Ids]  # users and workspaces of the random sample, for check_many
    view: int  # contacts.view: check_many's one permission
    funded: int  # consume's workspace
    db: Optional[sqlite3.Connection] = None  # None: no SQLite (and no dict) rows
    answers: Optional[Dict[Triple, bool]] = None


def fund(engine: tenantry.Engine, account: int, workspace: int) -> None:
    """A huge balance for consume, never topped up while timed."""
    huge = (1 << 42) - 1
    engine.grant(tenantry.SYSTEM, account, huge)
    engine.transfer(tenantry.SYSTEM, account, workspace, huge)


def print_paths(engine: tenantry.Engine, triples: Sequence[Triple]) -> None:
    paths: Dict[str, int] = {}
    for u, w, p in triples:
        path = engine.explain(u, w, p).path
        paths[path] = paths.get(path, 0) + 1
    allowed = len(triples) - paths.get("none", 0)
    print(f"random sample: {allowed / len(triples):.1%} allowed; path by explain: "
          + ", ".join(f"{k} {v / len(triples):.1%}" for k, v in sorted(paths.items())))


def prepare_built(args: argparse.Namespace, rng: random.Random) -> Setup:
    """The default and --quick modes: the data set built here, and SQLite beside it."""
    t = time.perf_counter()
    engine, data, timing = build_tenantry(args, rng)
    build_s = time.perf_counter() - t
    stats = engine.stats()
    print(f"tenantry data set: {stats['accounts']:,} accounts, {stats['workspaces']:,} workspaces, "
          f"{stats['users']:,} users, {stats['memberships']:,} memberships, {len(data.staff):,} staff")
    print(f"tenantry build: {build_s:.2f} s ({timing['python']:.2f} s building Batches in Python, "
          f"{timing['apply']:.2f} s in Engine.apply: "
          f"{len(data.memberships) / timing['apply'] / 1e6:.2f} M memberships/s over all applies)")
    db, sqlite_s = build_sqlite(engine, data)
    print(f"SQLite build: {sqlite_s:.2f} s")

    names = {engine.permission(n): n for n in SAMPLED_PERMISSIONS}
    perm_ids = list(names)
    triples = sample_triples(data, perm_ids, args.sample, rng)
    # The warm triple: an agency member asking about a client sub-workspace
    # (allowed through inheritance: the walk reads two levels).
    warm = next((u, w, p) for (u, w, p) in triples if engine.explain(u, w, p).path == "inherited")
    # And one allowed by a role held directly in the workspace, for comparison.
    direct = next((u, w, p) for (u, w, p) in triples if engine.explain(u, w, p).path == "direct")
    view = engine.permission("contacts.view")
    arrays = (np.array([u for u, _, _ in triples], dtype=np.uint64),
              np.array([w for _, w, _ in triples], dtype=np.uint64))
    verified = verify(engine, db, triples + [warm, direct], names, (arrays[0], arrays[1], view))
    print(f"verified: SQLite's answer equals tenantry's on all {verified:,} sampled questions "
          f"({len(triples):,} random triples, the 2 warm ones, {arrays[0].size:,} check_many items)")
    print_paths(engine, triples)
    print(f"warm triple: user {warm[0]}, workspace {warm[1]}, {names[warm[2]]} (inherited, allowed); "
          f"direct-role triple: user {direct[0]}, workspace {direct[1]}, {names[direct[2]]}")
    plan = db.execute("EXPLAIN QUERY PLAN " + CHECK_SQL, warm).fetchall()
    print("SQLite plan: " + "; ".join(row[-1] for row in plan))

    funded, account = data.workspaces[0][0], data.workspaces[0][1]
    fund(engine, account, funded)
    answers = {t: engine.check(*t) for t in triples}
    answers[warm] = engine.check(*warm)
    return Setup(
        mode="quick" if args.quick else "default", engine=engine,
        data={"workspaces": stats["workspaces"], "users": stats["users"],
              "memberships": stats["memberships"], "build_s": build_s},
        triples=triples, warm=warm, direct=direct, names=names, arrays=arrays, view=view,
        funded=funded, db=db, answers=answers)


# scale_bench's question records (bench/scale_data.h, WriteQuestions).
QUESTION = np.dtype([("user", "<u8"), ("workspace", "<u8"), ("permission", "<u4"), ("answer", "<u4")])


def verify_recorded(engine: tenantry.Engine, triples: Sequence[Triple], recorded: Sequence[int],
                    names: Dict[int, str], many: Tuple[Ids, Ids, int],
                    many_permissions: np.ndarray[Any, np.dtype[np.uint32]],
                    many_answers: np.ndarray[Any, np.dtype[np.uint32]]) -> int:
    """Refuses to go on unless the loaded engine gives the answers scale_bench
    recorded, and every face of tenantry agrees with check."""
    check, pyb = engine.check, engine._check_pybind11
    mismatches: List[Tuple[int, int, str, Any, Any]] = []  # (user, workspace, permission, got, want)
    for (u, w, p), want in zip(triples, recorded):
        answer = check(u, w, p)
        if answer != bool(want) or pyb(u, w, p) != answer or check(u, w, names[p]) != answer:
            mismatches.append((u, w, names[p], answer, bool(want)))
    users, workspaces, view = many
    # check_many with each item's own permission, against the recorded answers...
    got = engine.check_many(users, workspaces, many_permissions)
    for i in np.flatnonzero(got != (many_answers != 0)).tolist():
        p = int(many_permissions[i])
        mismatches.append((int(users[i]), int(workspaces[i]), names[p], bool(got[i]), bool(many_answers[i])))
    # ... and with the one permission the check_many rows time, against check.
    got = engine.check_many(users, workspaces, view)
    for i, (u, w) in enumerate(zip(users.tolist(), workspaces.tolist())):
        if bool(got[i]) != check(u, w, view):
            mismatches.append((u, w, names[view], bool(got[i]), check(u, w, view)))
    if mismatches:
        for u, w, name, answer, want in mismatches[:20]:
            print(f"MISMATCH user={u} workspace={w} permission={name}: tenantry={answer} expected={want}",
                  file=sys.stderr)
            print(f"  explain: {engine.explain(u, w, name)}", file=sys.stderr)
        raise SystemExit(f"{len(mismatches)} answers differ from the recorded ones (or between "
                         "tenantry's faces): refusing to report")
    return len(triples) + 2 * users.size


def prepare_snapshot(args: argparse.Namespace) -> Setup:
    """The --snapshot mode: scale_bench's engine and questions; no SQLite here."""
    t = time.perf_counter()
    engine = tenantry.Engine.load(args.snapshot)
    load_s = time.perf_counter() - t
    stats = engine.stats()
    print(f"tenantry data set: {args.snapshot} ({os.path.getsize(args.snapshot) / 1e6:,.1f} MB): "
          f"{stats['accounts']:,} accounts, {stats['workspaces']:,} workspaces, {stats['users']:,} users, "
          f"{stats['memberships']:,} memberships")
    print(f"tenantry load: {load_s:.2f} s (Engine.load: "
          f"{stats['memberships'] / load_s / 1e6:.2f} M memberships/s)")

    size = os.path.getsize(args.questions)
    if size % QUESTION.itemsize != 0 or size < 2 * QUESTION.itemsize:
        raise SystemExit(f"{args.questions}: {size} bytes is not a warm record and random records of "
                         f"{QUESTION.itemsize} bytes each")
    records = np.fromfile(args.questions, dtype=QUESTION,
                          count=min(args.sample + 1, size // QUESTION.itemsize))
    sample = records[1:]
    users = np.ascontiguousarray(sample["user"], dtype=np.uint64)
    workspaces = np.ascontiguousarray(sample["workspace"], dtype=np.uint64)
    permissions = np.ascontiguousarray(sample["permission"], dtype=np.uint32)
    recorded = np.ascontiguousarray(sample["answer"], dtype=np.uint32)
    triples: List[Triple] = list(zip(users.tolist(), workspaces.tolist(), permissions.tolist()))
    warm_record = records[0]
    warm: Triple = (int(warm_record["user"]), int(warm_record["workspace"]), int(warm_record["permission"]))
    view = engine.permission("contacts.view")
    names = {p: engine.permission_name(p) for p in {p for _, _, p in triples} | {warm[2], view}}
    verified = verify_recorded(engine, [warm] + triples, [int(warm_record["answer"])] + recorded.tolist(),
                               names, (users, workspaces, view), permissions, recorded)
    print(f"verified: tenantry's answer equals the one scale_bench recorded on all {verified:,} sampled "
          f"questions ({len(triples):,} of the {size // QUESTION.itemsize - 1:,} random questions, the warm "
          f"one, {users.size:,} check_many items with their own permissions and as many with "
          f"contacts.view; scale_bench checked its first 200,000 questions against SQLite)")
    print_paths(engine, triples)
    # One allowed by a role held directly in the workspace, for comparison.
    direct = next((u, w, p) for (u, w, p) in triples if engine.explain(u, w, p).path == "direct")
    warm_path = engine.explain(*warm).path
    print(f"warm triple: user {warm[0]}, workspace {warm[1]}, {names[warm[2]]} ({warm_path}, "
          f"{'allowed' if engine.check(*warm) else 'denied'}); "
          f"direct-role triple: user {direct[0]}, workspace {direct[1]}, {names[direct[2]]}")
    print("snapshot mode: no SQLite in Python, so the SQLite and dict rows (and their ratios) are "
          "skipped; bench/scale_bench reports SQLite / check on the same data")

    funded = warm[1]
    fund(engine, engine.workspace(funded).account, funded)
    return Setup(
        mode="snapshot", engine=engine,
        data={"workspaces": stats["workspaces"], "users": stats["users"],
              "memberships": stats["memberships"], "load_s": load_s},
        triples=triples, warm=warm, direct=direct, names=names, arrays=(users, workspaces), view=view,
        funded=funded)


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="a small smoke run: 200 workspaces, 2,000 users, few calls, 3 repeats")
    parser.add_argument("--workspaces", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--memberships", type=int, default=100000,
                        help="direct memberships in all, the workspace owners' included")
    parser.add_argument("--snapshot", metavar="PATH",
                        help="load the engine from this snapshot (scale_bench --files=DIR: DIR/scale.tny) "
                             "instead of building a data set; needs --questions")
    parser.add_argument("--questions", metavar="PATH",
                        help="scale_bench's questions for --snapshot (DIR/scale.q)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--repeat", type=int, default=7, help="repeats of every row (median, min)")
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls per repeat of a fast row")
    parser.add_argument("--sqlite-calls", type=int, default=50_000, help="calls per repeat of a SQLite row")
    parser.add_argument("--sample", type=int, default=100_000,
                        help="random triples pre-generated (and verified against SQLite), or, with "
                             "--snapshot, read from --questions (and verified against their answers)")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    if (args.snapshot is None) != (args.questions is None):
        parser.error("--snapshot and --questions go together")
    if args.snapshot is not None and args.quick:
        parser.error("--quick builds its own small data set; it does not combine with --snapshot")
    if args.sample < 1:
        parser.error("--sample must be at least 1")
    if args.quick:
        args.workspaces, args.users, args.memberships = 200, 2000, 10000
        args.repeat, args.calls, args.sqlite_calls, args.sample = 3, 100_000, 5_000, 10_000

    rng = random.Random(args.seed)
    machine_line = machine()
    print(f"machine: {machine_line}")
    core_path = _core.__file__
    built = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(core_path)))
    print(f"tenantry._core: {core_path} (built {built})")
    print(f"load average before: {os.getloadavg()[0]:.2f}")

    s = prepare_snapshot(args) if args.snapshot is not None else prepare_built(args, rng)
    engine, triples, warm, direct, names = s.engine, s.triples, s.warm, s.direct, s.names
    arrays, view = s.arrays, s.view

    n = len(triples)
    warm_ids = [warm] * n
    warm_names = [(warm[0], warm[1], names[warm[2]])] * n
    random_names = [(u, w, names[p]) for u, w, p in triples]
    warm_direct = [direct] * n
    consume_args = [(0, s.funded, 0)] * n
    env = {"engine": engine}
    rows: List[Row] = []
    check_call, calls = "engine.check(u, w, p)", args.calls
    sql_env = {"cur": s.db.cursor(), "sql": CHECK_SQL} if s.db is not None else None
    for kind, ids, named in (("warm", warm_ids, warm_names), ("random", triples, random_names)):
        rows += [
            Row(f"empty loop (`pass`), {kind}", "pass", {}, ids, calls),
            Row(f"`engine.check(u, w, p)`, p an int id, {kind}", check_call, env, ids, calls),
            Row(f"`engine.check(u, w, p)`, p a name, {kind}", check_call, env, named, calls),
            Row(f"`c(u, w, p)`, c = engine.check, {kind}", "c(u, w, p)", {"c": engine.check}, ids, calls),
            Row(f"floor: `engine._noop_check(u, w, p)`, {kind}", "engine._noop_check(u, w, p)", env, ids,
                calls),
            Row(f"floor: `n(u, w, p)`, n = tenantry._core._noop, {kind}", "n(u, w, p)", {"n": _core._noop},
                ids, calls),
            Row(f"`engine._check_pybind11(u, w, p)`, {kind}", "engine._check_pybind11(u, w, p)", env, ids,
                calls),
        ]
        if s.answers is not None:
            rows.append(Row(f"dict `d[(u, w, p)]`, {kind}", "d[(u, w, p)]", {"d": s.answers}, ids, calls))
        if sql_env is not None:
            rows.append(Row(f"SQLite, one query per check, {kind}", "cur.execute(sql, (u, w, p)).fetchone()",
                            sql_env, ids, args.sqlite_calls))
    rows.insert(2, Row("`engine.check(u, w, p)`, p an int id, warm, a direct-role triple", check_call, env,
                       warm_direct, calls))
    rows.append(Row("`engine.consume(ws, 1)`", "engine.consume(w, 1)", env, consume_args, calls))
    small, large = min(1000, n), n
    cycled = f", {n // small} slices cycled"
    many = "`engine.check_many(users, workspaces, p)`, {:,} items{}"
    raw = "`engine._check_many` (no argument normalisation), {:,} items{}"
    many_rows = {
        f"{small}_cycled": BatchRow(many.format(small, cycled), engine, *arrays, view, small, calls),
        f"{large}": BatchRow(many.format(large, ""), engine, *arrays, view, large, calls),
        f"{small}_warm": BatchRow(many.format(small, ", the same slice every call (warm)"), engine, *arrays,
                                  view, small, calls, slices=1),
    }
    rows += [
        many_rows[f"{small}_cycled"],
        BatchRow(raw.format(small, cycled), engine, *arrays, view, small, calls, method="_check_many"),
        many_rows[f"{large}"],
        BatchRow(raw.format(large, ""), engine, *arrays, view, large, calls, method="_check_many"),
        many_rows[f"{small}_warm"],
    ]

    print(f"timing: {len(rows)} rows x {args.repeat} repeats, after one warm-up repeat ...")
    gc.collect()
    gc.disable()
    try:
        for row in rows:  # warm-up: caches, branch predictors, CPU frequency
            row.run()
            row.samples.clear()
        busy0, steal0 = busy_seconds()
        own0, wall0 = time.process_time(), time.perf_counter()
        for r in range(args.repeat):
            for row in rows:
                row.run()
            print(f"  repeat {r + 1}/{args.repeat} done", file=sys.stderr)
        busy1, steal1 = busy_seconds()
        own1, wall1 = time.process_time(), time.perf_counter()
    finally:
        gc.enable()
    wall = wall1 - wall0
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / wall
    steal = (steal1 - steal0) / wall
    print(f"timed section: {wall:.1f} s; other processes used {others:.2f} CPUs of {os.cpu_count()} "
          f"meanwhile, the hypervisor stole {steal:.2f}; "
          f"load average after: {os.getloadavg()[0]:.2f}")

    print()
    print("| what | median | min | per |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row.label} | {fmt(row.median)} ns | {fmt(row.best)} ns | {row.per} |")

    by = {row.label: row for row in rows}

    def ratio(a: str, b: str, kind: str) -> Tuple[float, float]:
        x, y = by[a.format(kind=kind)], by[b.format(kind=kind)]
        return x.median / y.median, x.best / y.best

    check = "`engine.check(u, w, p)`, p an int id, {kind}"
    method = "floor: `engine._noop_check(u, w, p)`, {kind}"
    function = "floor: `n(u, w, p)`, n = tenantry._core._noop, {kind}"
    pyb = "`engine._check_pybind11(u, w, p)`, {kind}"
    sql = "SQLite, one query per check, {kind}"
    dct = "dict `d[(u, w, p)]`, {kind}"
    empty = "empty loop (`pass`), {kind}"
    ratios: Dict[str, Dict[str, float]] = {}
    print()
    print("| ratio (medians; mins in brackets) | warm | random | target |")
    print("| --- | --- | --- | --- |")
    for label, key, a, b, target in (  # key: the ratio's name in the JSON result
        ("check / method floor", "check_over_method_floor", check, method, 1.5),
        ("check / function floor", "check_over_function_floor", check, function, 1.5),
        ("pybind11 / method floor", "pybind11_over_method_floor", pyb, method, None),
        ("SQLite / check", "sqlite_over_check", sql, check, None),
        ("dict / check", None, dct, check, None),
    ):
        if a.format(kind="warm") not in by:  # no SQLite (or dict) rows in this mode
            continue
        cells = []
        verdicts = []
        for kind in ("warm", "random"):
            med, best = ratio(a, b, kind)
            if key is not None:
                ratios.setdefault(key, {})[kind] = med
            cells.append(f"{med:.2f}× ({best:.2f}×)")
            if target is not None:
                verdicts.append(f"{kind} {'met' if med <= target else 'NOT met'}")
        goal = f"≤ {target}×: " + ", ".join(verdicts) if target is not None else "—"
        print(f"| {label} | {cells[0]} | {cells[1]} | {goal} |")
    print()
    if s.db is None:
        print("SQLite / check and dict / check: not measured in snapshot mode (no SQLite in Python; "
              "bench/scale_bench reports SQLite / check on the same data)")
    for kind in ("warm", "random"):
        loop = by[empty.format(kind=kind)].median
        c = by[check.format(kind=kind)].median - loop
        m = by[method.format(kind=kind)].median - loop
        f = by[function.format(kind=kind)].median - loop
        print(f"without the loop's own {loop:.1f} ns ({kind}): check {c:.1f} ns, method floor {m:.1f} ns "
              f"({c / m:.2f}×), function floor {f:.1f} ns ({c / f:.2f}×)")
    # Where a warm Python check's time goes: the floor (the call itself), the
    # engine's own check of the same question (a C++ loop, no Python), and
    # what the binding adds (argument parsing, the handle, the result).
    floor = by[method.format(kind="warm")].median
    for label, triple in (("warm (inherited) triple", warm), ("direct-role triple", direct)):
        python_ns = by["`engine.check(u, w, p)`, p an int id, warm" +
                       (", a direct-role triple" if triple is direct else "")].median
        engine_ns = engine_check_ns(engine, triple)
        print(f"breakdown, {label}: Python check {python_ns:.1f} ns = method floor {floor:.1f} ns "
              f"+ the engine's own check {engine_ns:.1f} ns + binding {python_ns - floor - engine_ns:.1f} ns; "
              f"check / floor {python_ns / floor:.2f}×, and {(floor + engine_ns) / floor:.2f}× "
              f"with a binding that cost nothing")
    for row in rows:
        if isinstance(row, BatchRow) and row.label.startswith("`engine.check_many"):
            print(f"{row.label}: {row.median:.1f} ns per item (median): target ≤ 40 ns "
                  f"{'met' if row.median <= 40 else 'NOT met'}")

    if args.json is not None:
        write_json(args.json, {
            "machine": machine_line,
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "mode": s.mode,
            "data": s.data,
            "rows": [{"label": row.label, "median_ns": row.median, "min_ns": row.best, "per": row.per}
                     for row in rows],
            "ratios": ratios,
            "check_many_ns_per_item": {key: row.median for key, row in many_rows.items()},
            "others_cpu": others,
            "steal": steal,
        })
        print(f"\nJSON result: {args.json}")


def engine_check_ns(engine: tenantry.Engine, triple: Tuple[int, int, int], times: int = 2_000_000) -> float:
    """The engine's own cost of one warm check of ``triple``: a loop in C++ (median of 7)."""
    samples = []
    for _ in range(7):
        start = time.perf_counter_ns()
        engine._check_repeat(*triple, times)
        samples.append((time.perf_counter_ns() - start) / times)
    return statistics.median(samples)


if __name__ == "__main__":
    main()

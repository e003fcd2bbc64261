"""The seed scenario in Python (quick-start command 1 runs this).

An agency account with client workspaces, staff with scope `all` and with
specific workspaces, a client, checks with their explanations, invitations,
a custom role through a team, credits moving from the account's pool to the
clients and being consumed, deletion, the ledger, and the measured per-call
latency of `check` from Python next to the SQLite way of answering the same
question (indexed tables, one query per check).
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import tempfile
import timeit
from typing import Any, Callable, Dict, List

import numpy as np

import tenantry
from tenantry import SYSTEM


def show(engine: tenantry.Engine, who: str, user: int, where: str, workspace: int, permission: str) -> None:
    d = engine.explain(user, workspace, permission)
    print(f"  {'ALLOW' if d.allowed else 'deny':5} {who:8} {permission:22} in {where:14}  {d.reason}")


def refused(call: Callable[[], object]) -> str:
    try:
        call()
    except tenantry.Error as error:
        return f"{type(error).__name__} ({error.rule}): {error}"
    return "OK"


def per_call_ns(statements: Dict[str, str], names: Dict[str, Any], loops: int, rounds: int = 15) -> Dict[str, float]:
    """Median over `rounds` of the mean time of each statement run `loops` times, in ns.
    timeit runs the statement in a bare loop; the setup copies every name into a local
    (as a service's code would hold them), and the statements take turns each round so
    that the machine's drift spreads over all of them."""
    setup = "; ".join(f"{name} = _names[{name!r}]" for name in names)
    timers = {label: timeit.Timer(statement, setup=setup, globals={"_names": names})
              for label, statement in statements.items()}
    samples: Dict[str, List[float]] = {label: [] for label in statements}
    for _ in range(rounds):
        for label, timer in timers.items():
            samples[label].append(timer.timeit(number=loops) / loops * 1e9)
    return {label: statistics.median(values) for label, values in samples.items()}


def sqlite_of(engine: tenantry.Engine, account: int, users: List[int], workspaces: List[int]) -> sqlite3.Connection:
    """The scenario's memberships, staff and roles in indexed SQLite tables."""
    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE workspaces (id INTEGER PRIMARY KEY, account INTEGER, parent INTEGER);
        CREATE TABLE members (user INTEGER, workspace INTEGER, role TEXT, PRIMARY KEY (user, workspace));
        CREATE TABLE staff (user INTEGER, account INTEGER, role TEXT, scope_all INTEGER,
                            PRIMARY KEY (user, account));
        CREATE TABLE staff_scope (user INTEGER, workspace INTEGER, PRIMARY KEY (user, workspace));
        CREATE TABLE grants (role TEXT, permission TEXT, PRIMARY KEY (role, permission));
        """
    )
    roles = set()
    for ws in workspaces:
        info = engine.workspace(ws)
        db.execute("INSERT INTO workspaces VALUES (?, ?, ?)", (ws, info.account, info.parent))
        for user, role in engine.members(ws):
            db.execute("INSERT INTO members VALUES (?, ?, ?)", (user, ws, role))
            roles.add(role)
    for user in users:
        try:
            role, scope = engine.staff(account, user)
        except tenantry.NotFound:
            continue
        # The workspace role an account role grants in its scope (M8): admin -> owner-like admin.
        granted = engine.explain(user, workspaces[0], "workspace.view").role if scope == "all" else None
        workspace_role = granted or ("admin" if role == "member" else role)
        db.execute("INSERT INTO staff VALUES (?, ?, ?, ?)", (user, account, workspace_role, scope == "all"))
        roles.add(workspace_role)
        if scope != "all":
            db.executemany("INSERT INTO staff_scope VALUES (?, ?)", [(user, ws) for ws in scope])
    for role in roles:
        db.executemany("INSERT INTO grants VALUES (?, ?)",
                       [(role, p) for p in engine.role_permissions(account, role)])
    return db


# One query per check: a direct role, a role held in the agency parent (A3),
# or an account role whose scope covers the workspace (M2).
CHECK_SQL = """
SELECT EXISTS (
  SELECT 1 FROM members m JOIN grants g ON g.role = m.role AND g.permission = ?3
   WHERE m.user = ?1 AND (m.workspace = ?2
                          OR m.workspace = (SELECT parent FROM workspaces WHERE id = ?2))
  UNION ALL
  SELECT 1 FROM staff s JOIN workspaces w ON w.id = ?2 AND w.account = s.account
                        JOIN grants g ON g.role = s.role AND g.permission = ?3
   WHERE s.user = ?1 AND (s.scope_all OR EXISTS (
         SELECT 1 FROM staff_scope c WHERE c.user = ?1 AND c.workspace = ?2)))
"""


def main() -> None:
    clock = tenantry.ManualClock()  # so that an invitation can be shown expiring
    engine = tenantry.Engine(clock=clock)
    print("tenantry demo (Python): the agency scenario from the help-centre seeds\n")

    owner = engine.create_user("olivia@northwind.agency")
    admin = engine.create_user("adam@northwind.agency")
    sam = engine.create_user("sam@northwind.agency")
    sofia = engine.create_user("sofia@northwind.agency")
    carla = engine.create_user("carla@acme.example")

    account = engine.create_account("Northwind Agency", owner, plan="enterprise")
    engine.add_staff(owner, account, admin, "admin")
    agency = engine.create_workspace(owner, account, "Northwind HQ", type="agency")
    acme = engine.create_workspace(admin, account, "Acme Inc.", parent=agency)
    globex = engine.create_workspace(admin, account, "Globex", parent=agency)
    engine.add_staff(admin, account, sam, "member", scope="all")
    engine.add_staff(admin, account, sofia, "member", scope=[acme])
    engine.add_member(admin, acme, carla, "client")
    print(engine.account(account))
    print(engine.workspace(acme), "\n")

    print("decisions (explain):")
    show(engine, "owner", owner, "Globex", globex, "billing.manage")
    show(engine, "sam", sam, "Globex", globex, "contacts.edit")
    show(engine, "sofia", sofia, "Acme", acme, "campaigns.create")
    show(engine, "sofia", sofia, "Globex", globex, "workspace.view")
    show(engine, "carla", carla, "Acme", acme, "runs.trigger")
    show(engine, "carla", carla, "Acme", acme, "contacts.view")
    show(engine, "carla", carla, "Globex", globex, "workspace.view")

    print("\nadd carla as staff ->", refused(lambda: engine.add_staff(owner, account, carla, "member")))
    print("workspaces_for(sofia):", [engine.workspace(w).name for w in engine.workspaces_for(sofia)])
    engine.switch_workspace(carla, acme)
    print("carla switched into Acme; active workspace", engine.active_workspace(carla))

    dana = engine.create_user("dana@acme.example")
    invitation = engine.invite(admin, acme, "Dana@Acme.example")
    print(f"\ninvited dana to Acme: {invitation!r} (the token is not in the repr; only its hash is kept)")
    engine.accept(invitation.token, dana)
    print("dana accepted: runs.view in Acme ->", engine.check(dana, acme, "runs.view"))
    erin = engine.create_user("erin@globex.example")
    late = engine.invite(admin, globex, "erin@globex.example")
    clock.advance_s(8 * 24 * 3600)  # eight days later
    print("erin accepts 8 days later ->", refused(lambda: engine.accept(late.token, erin)))

    engine.define_role(owner, account, "campaign-lead", ["campaigns.run", "campaigns.edit"], inherits="viewer")
    team = engine.create_team(admin, globex, "Campaign team", "campaign-lead")
    engine.add_team_member(admin, team, erin)
    show(engine, "erin", erin, "Globex", globex, "campaigns.edit")
    engine.define_role(owner, account, "campaign-lead", ["campaigns.run"], inherits="viewer")
    show(engine, "erin", erin, "Globex", globex, "campaigns.edit")

    engine.grant(SYSTEM, account, 1000)
    engine.grant(SYSTEM, account, 200, bucket="extra")
    taken = engine.transfer(admin, account, acme, 1100)
    print(f"\ncredits: billing granted 1000 regular + 200 extra; transfer of 1100 to Acme took {taken}")
    engine.transfer(admin, account, globex, 60)
    left = engine.consume(acme, 30)
    first = engine.consume(acme, 25, key="run-42")
    retry = engine.consume(acme, 25, key="run-42")
    print(f"Acme consumes 30 -> {left} left; 25 with key run-42 -> {first}, its retry -> {retry}")
    hold = engine.reserve(acme, 100)
    print(f"a call reserves 100: {engine.balance(acme)}; {engine.reservation(hold)!r}")
    engine.commit(hold, 60)
    print(f"commits 60 -> {engine.balance(acme)}, consumed {engine.consumed(acme)}")
    print("consume 5000 in Acme ->", refused(lambda: engine.consume(acme, 5000)))
    print("authorize_and_consume carla runs.trigger 5 ->", engine.authorize_and_consume(carla, acme, "runs.trigger", 5),
          "; contacts.edit 5 ->", engine.authorize_and_consume(carla, acme, "contacts.edit", 5))

    print("\ndelete Globex confirming 'globex' ->", refused(lambda: engine.delete_workspace(owner, globex, confirm="globex")))
    engine.delete_workspace(owner, globex, confirm="Globex")
    print("delete Globex confirming 'Globex' -> OK; erin may campaigns.run:", engine.check(erin, globex, "campaigns.run"))
    print("Globex's credits went back to the pool:", engine.account_balance(account))
    print("ledger (C7):")
    for entry in engine.ledger():
        print(f"  #{entry.sequence} rev {entry.revision:<3} {entry.kind:16} workspace {entry.workspace or '-':<3} "
              f"{entry.amounts}" + (f" returned {entry.returned}" if entry.kind == "commit" else ""))
    print("last change:", engine.changes_since(engine.revision - 1)[0])

    # Measured latency per call from Python, and the SQLite way of asking.
    people = [owner, admin, sam, sofia, carla, dana, erin]
    places = [agency, acme]
    db = sqlite_of(engine, account, people, places)
    cursor = db.cursor()
    questions = [(u, w, p) for u in people for w in places
                 for p in ("contacts.view", "runs.trigger", "billing.manage", "workspace.view")]
    for u, w, p in questions:  # the baseline must give the same answers
        assert bool(cursor.execute(CHECK_SQL, (u, w, p)).fetchone()[0]) == engine.check(u, w, p), (u, w, p)
    names = {
        "engine": engine, "u": sam, "w": acme, "p": engine.permission("contacts.view"),
        "cursor": cursor, "sql": CHECK_SQL, "args": (sam, acme, "contacts.view"),
        "users": np.full(100_000, sam, dtype=np.uint64), "spaces": np.full(100_000, acme, dtype=np.uint64),
    }
    calls = per_call_ns({"check": "engine.check(u, w, p)", "noop": "engine._noop_check(u, w, p)"},
                        names, loops=200_000)
    check_ns, noop_ns = calls["check"], calls["noop"]
    sqlite_ns = per_call_ns({"sqlite": "cursor.execute(sql, args).fetchone()"}, names, loops=2000)["sqlite"]
    many_ns = per_call_ns({"many": "engine.check_many(users, spaces, p)"}, names, loops=1)["many"] / 100_000
    print(f"\nPython per call (median of 15 timeit runs): check {check_ns:.0f} ns "
          f"({check_ns / noop_ns:.2f}x a no-op C method with the same arguments, {noop_ns:.0f} ns); "
          f"SQLite, one indexed query: {sqlite_ns:.0f} ns ({sqlite_ns / check_ns:.0f}x check); "
          f"check_many: {many_ns:.1f} ns per item")
    print(f"(same {len(questions)} answers from SQLite and tenantry; see bench/RESULTS.md for the benchmark)")
    engine.verify()
    print(f"revision {engine.revision}; verify: OK")

    # Snapshot round trip (P1, P2): save while the engine is live, load it back.
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "agency.tny")
        engine.save(path)
        path_ok = os.path.join(directory, "agency-copy.tny")
        engine.save(path_ok)
        restored = tenantry.Engine.load(path, clock=clock)
        same = all(restored.check(u, w, p) == engine.check(u, w, p) for u, w, p in questions)
        assert same and restored.balance(acme) == engine.balance(acme)
        assert restored.ledger() == engine.ledger() and restored.revision == engine.revision
        print(f"snapshot: {os.path.getsize(path)} bytes; loaded back at revision {restored.revision}, "
              f"the same {len(questions)} answers, balances and ledger")
        with open(path, "r+b") as damaged:
            damaged.seek(os.path.getsize(path) // 2)
            damaged.write(b"\xff\xff")
        print("a damaged copy ->", refused(lambda: tenantry.Engine.load(path)))

        # The journal (P3): every change is in it before the call returns.
        # Continue from the snapshot with a journal, change things, "crash"
        # (drop the engine without saving), recover = snapshot + journal.
        journal = os.path.join(directory, "journal")
        snapshot = os.path.join(directory, "journaled.tny")
        live = tenantry.Engine.load(path_ok, clock=clock, journal=journal, durability="group")
        live.save(snapshot)                          # truncates the journal
        live.consume(acme, 25, key="run-43")
        live.add_member(owner, acme, live.create_user("newhire@acme.example"), "viewer")
        expected = (live.balance(acme), live.revision, live.ledger())
        del live
        recovered = tenantry.Engine.load(snapshot, clock=clock, journal=journal)
        assert (recovered.balance(acme), recovered.revision, recovered.ledger()) == expected
        recovered.verify()
        print(f"journal: recovered snapshot + tail at revision {recovered.revision}, "
              f"balance {recovered.balance(acme)['regular']} as before the crash")


if __name__ == "__main__":
    main()

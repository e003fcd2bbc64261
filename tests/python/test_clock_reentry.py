"""I4: a Python clock calling back into the engine.

The engine calls its clock while holding its writer lock. From inside a
clock, every change (and every read that may wait for that lock or calls
the clock itself) is refused with RuntimeError, with or without a journal:
it must never deadlock, and never run. Lock-free reads answer as anywhere
else. Each entry point is called from inside the clock of a change, in a
child interpreter (a deadlock fails the test, with the stacks, instead of
hanging the run), and the engine's visible state is compared around the call.
"""

from __future__ import annotations

import pytest

# name -> the call, on the seeded engine `e` (see SETUP). Each would succeed
# outside a clock (the test checks that too, after the refusals).
CHANGES = {
    "create_user": "e.create_user('new@x.test')",
    "create_account": "e.create_account('B', owner)",
    "set_plan": "e.set_plan(tenantry.SYSTEM, account, 'growth')",
    "add_staff": "e.add_staff(owner, account, spare, 'member')",
    "set_staff_scope": "e.set_staff_scope(owner, account, staff, [ws])",
    "remove_staff": "e.remove_staff(owner, account, staff)",
    "create_workspace": "e.create_workspace(owner, account, 'New')",
    "rename_workspace": "e.rename_workspace(owner, ws, 'Renamed')",
    "set_status": "e.set_status(owner, other_ws, 'inactive')",
    "set_setting": "e.set_setting(owner, ws, 'beta_opt_in', True)",
    "delete_workspace": "e.delete_workspace(owner, other_ws, confirm=e.workspace(other_ws).name)",
    "add_member": "e.add_member(owner, ws, spare, 'viewer')",
    "set_role": "e.set_role(owner, ws, member, 'admin')",
    "remove_member": "e.remove_member(owner, ws, member)",
    "transfer_ownership": "e.transfer_ownership(owner, ws, member)",
    "define_role": "e.define_role(owner, account, 'auditor', ['workspace.view'])",
    "create_team": "e.create_team(owner, ws, 'Team 2', 'viewer')",
    "add_team_member": "e.add_team_member(owner, team, spare)",
    "remove_team_member": "e.remove_team_member(owner, team, member)",
    "set_team_role": "e.set_team_role(owner, team, 'admin')",
    "delete_team": "e.delete_team(owner, team)",
    "invite": "e.invite(owner, ws, 'guest@x.test')",
    "invite_staff": "e.invite_staff(owner, account, 'staff2@x.test', 'member')",
    "accept": "e.accept(token, spare)",
    "resend": "e.resend(owner, invitation)",
    "revoke_invitation": "e.revoke_invitation(owner, invitation)",
    "switch_workspace": "e.switch_workspace(owner, ws)",
    "touch_session": "e.touch_session(member)",
    "expire_sessions": "e.expire_sessions()",
    "register_permission": "e.register_permission('reports.view')",
    "define_meter": "e.define_meter('sms', ['regular', 'extra'])",
    "grant": "e.grant(tenantry.SYSTEM, account, 5)",
    "transfer": "e.transfer(owner, account, ws, 5)",
    "revoke": "e.revoke(owner, ws, 1)",
    "consume": "e.consume(ws, 1)",
    "consume_keyed": "e.consume(ws, 1, key='k1')",
    "authorize_and_consume": "e.authorize_and_consume(owner, ws, 'credits.consume', 1)",
    "reserve": "e.reserve(ws, 1)",
    "commit": "e.commit(reservation, 1)",
    "release": "e.release(reservation)",
    "expire_reservations": "e.expire_reservations()",
    "apply": "e.apply(tenantry.Batch().create_user('batch@x.test'))",
    "apply_with_change_id": "e.apply(tenantry.Batch().create_user('batch2@x.test'), change_id='c-1')",
    "follow": "e.follow()",
    "save": "e.save(os.path.join(DIR, 'inside.tny'))",
    "new_engine": "tenantry.Engine()",
    "load": "tenantry.Engine.load(SNAPSHOT)",
    # Closing waits for the calls inside the engine, this one included.
    "close": "e.close()",
    # Another engine's change: the refusal is per thread (any engine's
    # writer lock may be held), so it is refused too.
    "other_engine_change": "other.create_user('o2@x.test')",
}

# Reads that may wait for the writer lock or call the clock themselves: refused too.
WAITING_READS = {
    "verify": "e.verify()",
    "ledger": "e.ledger()",
    "changes_since": "e.changes_since(0)",
    "invitation": "e.invitation(invitation)",
    "invitations": "e.invitations(ws)",
    "active_workspace": "e.active_workspace(owner)",
    "check_many": "e.check_many([owner], [ws], 'workspace.view')",
    # R4: waiting for a log position (even on an engine that is no replica).
    "wait_for": "e.wait_for(0)",
    "check_at_least": "e.check(owner, ws, 'workspace.view', at_least=0)",
    "members_at_least": "e.members(ws, at_least=0)",
}

# Lock-free reads: they answer inside the clock as outside it.
FREE_READS = {
    "check": "e.check(owner, ws, 'workspace.view')",
    "explain": "e.explain(owner, ws, 'workspace.view')",
    "who_can": "e.who_can(ws, 'workspace.view')",
    "accessible": "e.accessible(owner, 'workspace.view')",
    "members": "e.members(ws)",
    "workspaces_for": "e.workspaces_for(owner)",
    "workspace": "e.workspace(ws)",
    "account": "e.account(account)",
    "staff": "e.staff(account, staff)",
    "user": "e.user('owner@x.test')",
    "slug_available": "e.slug_available(account, 'free-slug')",
    "settings": "e.settings(ws)",
    "team": "e.team(team)",
    "teams": "e.teams(ws)",
    "role_permissions": "e.role_permissions(account, 'viewer')",
    "balance": "e.balance(ws)",
    "consumed": "e.consumed(ws)",
    "account_balance": "e.account_balance(account)",
    "meter": "e.meter('credits')",
    "reservation": "e.reservation(reservation)",
    "stats": "e.stats()",
    "revision": "e.revision",
    "permission": "e.permission('workspace.view')",
    "permission_name": "e.permission_name(0)",
    "is_replica": "e.is_replica",
    "position": "e.position",
    "last_change_position": "e.last_change_position",
}

CHILD = r"""
import faulthandler, os, sys, tempfile
faulthandler.dump_traceback_later(60, exit=True)  # a deadlock: the stacks, then exit

CHANGES = {changes!r}
WAITING_READS = {waiting!r}
FREE_READS = {free!r}
JOURNAL = {journal!r}
DIR = tempfile.mkdtemp()
SNAPSHOT = os.path.join(DIR, "s.tny")
tenantry.Engine().save(SNAPSHOT)

class Clock:
    # The engine's clock; when armed, it runs `inner` once (from inside the
    # engine's call to it, under the writer lock) and records the outcome.
    def __init__(self):
        self.now = 1_700_000_000_000_000_000
        self.inner = None
        self.outcome = None
    def __call__(self):
        self.now += 1
        inner, self.inner = self.inner, None
        if inner is not None:
            before = visible()
            try:
                value = eval(inner, globals())
                self.outcome = ("returned", repr(value)[:80])
            except BaseException as error:
                self.outcome = (type(error).__name__, str(error)[:200])
            after = visible()
            if after != before:
                self.outcome = ("CHANGED", inner)
        return self.now

def visible():
    # What a caller can see, read without any lock (allowed in a clock).
    return (e.revision, e.stats(), e.balance(ws), e.consumed(ws), e.account_balance(account),
            e.members(ws), e.teams(ws), e.workspaces_for(owner), e.workspace(ws), e.account(account))

def seed():
    # A seeded engine, its clock and the ids the calls use.
    clock = Clock()
    journal = tempfile.mkdtemp(dir=DIR) if JOURNAL else None
    e = tenantry.Engine(clock=clock, journal=journal)
    owner = e.create_user("owner@x.test")
    member, spare, staff = (e.create_user(f"{{n}}@x.test") for n in ("member", "spare", "staff"))
    account = e.create_account("A", owner, plan="enterprise")
    e.add_staff(owner, account, staff, "member")
    ws = e.create_workspace(owner, account, "Work")
    other_ws = e.create_workspace(owner, account, "Other")
    e.add_member(owner, ws, member, "member")
    e.switch_workspace(member, ws)
    team = e.create_team(owner, ws, "Team", "viewer")
    e.add_team_member(owner, team, member)
    invited = e.invite(owner, ws, "spare@x.test")
    e.grant(tenantry.SYSTEM, account, 100)
    e.transfer(owner, account, ws, 50)
    reservation = e.reserve(ws, 5)
    return dict(clock=clock, e=e, owner=owner, member=member, spare=spare, staff=staff, account=account,
                ws=ws, other_ws=other_ws, team=team, invitation=invited.id, token=invited.token,
                reservation=reservation)

other = tenantry.Engine()
globals().update(seed())

trigger = [0]
def inside_a_change(call):
    clock.inner = call
    trigger[0] += 1
    e.rename_workspace(owner, other_ws, f"Trigger {{trigger[0]}}")  # calls the clock under the lock
    assert clock.inner is None, "the clock was not called"
    return clock.outcome

for kind, calls in (("change", CHANGES), ("waiting", WAITING_READS), ("free", FREE_READS)):
    for name, call in calls.items():
        outside = None
        if kind == "free":
            outside = repr(eval(call))[:80]
        outcome = inside_a_change(call)
        print("OUTCOME", kind, name, outcome[0], "same" if outcome[1] == outside else "", outcome[1], flush=True)

# Outside a clock, each change runs on a freshly seeded engine: the calls
# were valid, and the refusals came from the clock alone.
for name, call in CHANGES.items():
    fresh = seed()
    fresh.update(tenantry=tenantry, os=os, DIR=DIR, SNAPSHOT=SNAPSHOT, other=other)
    eval(call, fresh)
    if not fresh["e"].closed:
        fresh["e"].verify()
e.verify()
print("done", flush=True)
"""


def _outcomes(stdout: str):
    rows = {}
    for line in stdout.splitlines():
        if line.startswith("OUTCOME "):
            _, kind, name, outcome, rest = (line.split(" ", 4) + [""])[:5]
            rows[name] = (kind, outcome, rest)
    return rows


@pytest.mark.parametrize("journal", [False, True], ids=["no_journal", "journal"])
def test_I4_from_inside_a_clock_changes_are_refused_and_lock_free_reads_answer(run_isolated, journal):
    result = run_isolated(
        CHILD.format(changes=CHANGES, waiting=WAITING_READS, free=FREE_READS, journal=journal), timeout=120)
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-3000:]}"
    assert "done" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    rows = _outcomes(result.stdout)
    assert set(rows) == set(CHANGES) | set(WAITING_READS) | set(FREE_READS)
    wrong = []
    for name, (kind, outcome, rest) in sorted(rows.items()):
        if kind in ("change", "waiting"):
            if outcome != "RuntimeError" or "tenantry clock must not call back" not in rest:
                wrong.append(f"{name}: {outcome} {rest}")
        elif outcome != "returned" or not rest.startswith("same"):
            wrong.append(f"{name}: {outcome} {rest}")
    assert not wrong, "\n".join(wrong)


def test_A7_authorize_and_consume_inside_a_clock_is_refused_without_a_journal(run_isolated):
    """It used to debit (no journal: it ran with the GIL, never asking),
    while docs/python.md said it raises RuntimeError."""
    result = run_isolated(
        """
        import sys
        seen = []
        class Clock:
            armed = False
            def __call__(self):
                if self.armed:
                    self.armed = False
                    try:
                        e.authorize_and_consume(owner, ws, "credits.consume", 7)
                        seen.append("debited")
                    except RuntimeError as error:
                        seen.append("RuntimeError")
                return 1_700_000_000_000_000_000
        clock = Clock()
        e = tenantry.Engine(clock=clock)
        owner = e.create_user("o@x.test")
        account = e.create_account("A", owner)
        ws = e.create_workspace(owner, account, "Work")
        e.grant(tenantry.SYSTEM, account, 10)
        e.transfer(owner, account, ws, 10)
        clock.armed = True
        e.rename_workspace(owner, ws, "Work 2")
        print(seen, e.balance(ws)["regular"], e.consumed(ws), flush=True)
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "['RuntimeError'] 10 0", result.stdout

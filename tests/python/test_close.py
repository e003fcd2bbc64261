"""Engine.close() and the context manager (docs/python.md, "Closing an engine").

Closing flushes the journal whatever the durability, releases its directory
lock (another engine may open it at once, in the same process) and frees
the engine. It is idempotent. Every use afterwards raises FailedPrecondition
"engine is closed", naming no rule. A close waits for the calls in flight on
other threads; calls made after it began raise. The threaded cases run in a
child interpreter, so that a crash or a deadlock fails one test.
"""

from __future__ import annotations

import os
import pathlib
import struct
from typing import Any, Callable, Dict

import pytest

import tenantry
from tenantry import SYSTEM

from conftest import build_world, engine_state

# The flushed mark of a journal segment: the lsn through which every record
# had been flushed, at bytes 116..124 of its header (core/src/journal.cc).
MARK_AT = 116

# Every public method and property of tenantry.Engine, used on a closed engine.
AFTER_CLOSE: Dict[str, Callable[[tenantry.Engine], Any]] = {
    "create_account": lambda e: e.create_account("B", 1),
    "account": lambda e: e.account(1),
    "set_plan": lambda e: e.set_plan(SYSTEM, 1, "growth"),
    "create_user": lambda e: e.create_user("new@x.test"),
    "user": lambda e: e.user("owner@x.test"),
    "add_staff": lambda e: e.add_staff(SYSTEM, 1, 2, "member"),
    "set_staff_scope": lambda e: e.set_staff_scope(SYSTEM, 1, 2, "all"),
    "remove_staff": lambda e: e.remove_staff(SYSTEM, 1, 2),
    "staff": lambda e: e.staff(1, 2),
    "create_workspace": lambda e: e.create_workspace(SYSTEM, 1, "New"),
    "slug_available": lambda e: e.slug_available(1, "new"),
    "workspace": lambda e: e.workspace(1),
    "rename_workspace": lambda e: e.rename_workspace(SYSTEM, 1, "Renamed"),
    "set_status": lambda e: e.set_status(SYSTEM, 1, "inactive"),
    "set_setting": lambda e: e.set_setting(SYSTEM, 1, "beta_opt_in", True),
    "settings": lambda e: e.settings(1),
    "delete_workspace": lambda e: e.delete_workspace(SYSTEM, 1, confirm="Work"),
    "add_member": lambda e: e.add_member(SYSTEM, 1, 2, "viewer"),
    "set_role": lambda e: e.set_role(SYSTEM, 1, 2, "admin"),
    "remove_member": lambda e: e.remove_member(SYSTEM, 1, 2),
    "transfer_ownership": lambda e: e.transfer_ownership(SYSTEM, 1, 2),
    "define_role": lambda e: e.define_role(SYSTEM, 1, "auditor", ["workspace.view"]),
    "role_permissions": lambda e: e.role_permissions(1, "viewer"),
    "create_team": lambda e: e.create_team(SYSTEM, 1, "Team", "viewer"),
    "add_team_member": lambda e: e.add_team_member(SYSTEM, 1, 2),
    "remove_team_member": lambda e: e.remove_team_member(SYSTEM, 1, 2),
    "set_team_role": lambda e: e.set_team_role(SYSTEM, 1, "admin"),
    "delete_team": lambda e: e.delete_team(SYSTEM, 1),
    "team": lambda e: e.team(1),
    "teams": lambda e: e.teams(1),
    "invite": lambda e: e.invite(SYSTEM, 1, "guest@x.test"),
    "invite_staff": lambda e: e.invite_staff(SYSTEM, 1, "staff@x.test", "member"),
    "accept": lambda e: e.accept("token", 2),
    "resend": lambda e: e.resend(SYSTEM, 1),
    "revoke_invitation": lambda e: e.revoke_invitation(SYSTEM, 1),
    "invitation": lambda e: e.invitation(1),
    "invitations": lambda e: e.invitations(1),
    "switch_workspace": lambda e: e.switch_workspace(1, 1),
    "active_workspace": lambda e: e.active_workspace(1),
    "touch_session": lambda e: e.touch_session(1),
    "expire_sessions": lambda e: e.expire_sessions(),
    "check": lambda e: e.check(1, 1, 0),
    "check_many": lambda e: e.check_many([1], [1], 0),
    "explain": lambda e: e.explain(1, 1, "workspace.view"),
    "workspaces_for": lambda e: e.workspaces_for(1),
    "members": lambda e: e.members(1),
    "who_can": lambda e: e.who_can(1, 0),
    "accessible": lambda e: e.accessible(1, 0),
    "authorize_and_consume": lambda e: e.authorize_and_consume(1, 1, 0, 1),
    "permission": lambda e: e.permission("workspace.view"),
    "register_permission": lambda e: e.register_permission("reports.view"),
    "permission_name": lambda e: e.permission_name(0),
    "define_meter": lambda e: e.define_meter("sms", ["regular", "extra"]),
    "meter": lambda e: e.meter("credits"),
    "grant": lambda e: e.grant(SYSTEM, 1, 5),
    "transfer": lambda e: e.transfer(SYSTEM, 1, 1, 5),
    "revoke": lambda e: e.revoke(SYSTEM, 1, 1),
    "consume": lambda e: e.consume(1, 1),
    "reserve": lambda e: e.reserve(1, 1),
    "commit": lambda e: e.commit(1, 1),
    "release": lambda e: e.release(1),
    "expire_reservations": lambda e: e.expire_reservations(),
    "reservation": lambda e: e.reservation(1),
    "balance": lambda e: e.balance(1),
    "consumed": lambda e: e.consumed(1),
    "account_balance": lambda e: e.account_balance(1),
    "ledger": lambda e: e.ledger(),
    "changes_since": lambda e: e.changes_since(0),
    "apply": lambda e: e.apply(tenantry.Batch().create_user("batch@x.test")),
    "verify": lambda e: e.verify(),
    "stats": lambda e: e.stats(),
    "save": lambda e: e.save(os.path.join(os.devnull, "never-written.tny")),
    "revision": lambda e: e.revision,
    "journal_recovery": lambda e: e.journal_recovery,
    # Replicas (R1-R8): on an engine that is no replica they answer, so closed is what refuses.
    "is_replica": lambda e: e.is_replica,
    "position": lambda e: e.position,
    "last_change_position": lambda e: e.last_change_position,
    "wait_for": lambda e: e.wait_for(0),
    "follow": lambda e: e.follow(),
    "prepare": lambda e: e.prepare(tenantry.Batch().create_user("prepared@x.test")),
    "snapshot_to_log": lambda e: e.snapshot_to_log(),
    "truncate_log": lambda e: e.truncate_log(),
}
# The same entry points in other forms: names, keys, meters, the fast-call
# methods' keyword paths, the raw core methods, the context manager.
OTHER_FORMS: Dict[str, Callable[[tenantry.Engine], Any]] = {
    "check_by_name": lambda e: e.check(1, 1, "workspace.view"),
    "check_by_keyword": lambda e: e.check(user=1, workspace=1, permission=0),
    "check_many_by_name": lambda e: e.check_many([1], [1], "workspace.view"),
    "consume_keyed": lambda e: e.consume(1, 1, key="k"),
    "consume_by_meter_name": lambda e: e.consume(1, 1, meter="credits"),
    "_check_pybind11": lambda e: e._check_pybind11(1, 1, 0),
    "_check_repeat": lambda e: e._check_repeat(1, 1, 0, 3),
    "_journal_recovery": lambda e: e._journal_recovery,
    "_changes_since": lambda e: e._changes_since(0),
    "__enter__": lambda e: e.__enter__(),
    "check_at_least": lambda e: e.check(1, 1, 0, at_least=0),
    "members_at_least": lambda e: e.members(1, at_least=0),
    "explain_at_least": lambda e: e.explain(1, 1, 0, at_least=0),
    "apply_with_change_id": lambda e: e.apply(tenantry.Batch().create_user("id@x.test"), change_id="c-1"),
    "_at_least": lambda e: e._at_least(0),
}


def mark(journal: pathlib.Path) -> int:
    (segment,) = [journal / p for p in os.listdir(journal) if p.startswith("seg-")]
    value: int = struct.unpack_from("<Q", segment.read_bytes(), MARK_AT)[0]
    return value


def test_every_public_name_is_tried_after_close() -> None:
    public = {n for n in dir(tenantry.Engine) if not n.startswith("_")}
    assert public - {"close", "closed", "load"} == set(AFTER_CLOSE)


@pytest.mark.parametrize("name", sorted(AFTER_CLOSE) + sorted(OTHER_FORMS))
def test_any_use_after_close_raises_failed_precondition(name: str, tmp_path: pathlib.Path) -> None:
    clock = tenantry.ManualClock()
    e = tenantry.Engine(clock=clock, journal=tmp_path / "journal")
    build_world(e, clock)
    e.close()
    call = AFTER_CLOSE.get(name) or OTHER_FORMS[name]
    with pytest.raises(tenantry.FailedPrecondition) as caught:
        call(e)
    assert str(caught.value) == "engine is closed"
    assert caught.value.code == "failed_precondition"
    assert caught.value.rule is None
    assert e.closed


def test_close_releases_the_journal_to_another_engine_at_once(tmp_path: pathlib.Path) -> None:
    clock = tenantry.ManualClock()
    e = tenantry.Engine(clock=clock, journal=tmp_path / "journal")
    build_world(e, clock)
    before = engine_state(e)
    with pytest.raises(tenantry.FailedPrecondition, match="in use by another engine"):
        tenantry.Engine(journal=tmp_path / "journal")
    assert not e.closed
    e.close()
    assert e.closed
    again = tenantry.Engine(clock=clock, journal=tmp_path / "journal")
    assert engine_state(again) == before
    again.verify()


def test_close_is_idempotent_and_repr_says_closed() -> None:
    e = tenantry.Engine()
    e.create_user("a@x.test")
    assert repr(e).startswith("<tenantry.Engine revision=1 ")
    e.close()
    e.close()
    assert e.closed
    assert repr(e) == "<tenantry.Engine closed>"


def test_close_without_a_journal_frees_the_engine() -> None:
    e = tenantry.Engine()
    user = e.create_user("a@x.test")
    e.close()
    with pytest.raises(tenantry.FailedPrecondition, match="^engine is closed$"):
        e.user("a@x.test")
    assert user == 1


def test_with_closes_the_engine_and_returns_it(tmp_path: pathlib.Path) -> None:
    with tenantry.Engine(journal=tmp_path / "journal") as e:
        assert isinstance(e, tenantry.Engine)
        user = e.create_user("a@x.test")
    assert e.closed
    with tenantry.Engine(journal=tmp_path / "journal") as again:
        assert again.user("a@x.test") == user


def test_with_closes_on_an_exception_and_lets_it_through(tmp_path: pathlib.Path) -> None:
    with pytest.raises(KeyError):
        with tenantry.Engine(journal=tmp_path / "journal") as e:
            e.create_user("a@x.test")
            raise KeyError("boom")
    assert e.closed
    with tenantry.Engine(journal=tmp_path / "journal") as again:
        assert again.user("a@x.test") == 1


def test_with_on_load_recovers_snapshot_and_journal(tmp_path: pathlib.Path) -> None:
    snapshot, journal = tmp_path / "s.tny", tmp_path / "journal"
    with tenantry.Engine(journal=journal, durability="group") as e:
        e.create_user("a@x.test")
        e.save(snapshot)
        e.create_user("b@x.test")  # in the journal only
    with tenantry.Engine.load(snapshot, journal=journal) as recovered:
        assert recovered.user("b@x.test") == 2
        recovered.create_user("c@x.test")
    with tenantry.Engine.load(snapshot, journal=journal) as again:
        assert again.user("c@x.test") == 3


def test_entering_a_closed_engine_raises() -> None:
    e = tenantry.Engine()
    e.close()
    with pytest.raises(tenantry.FailedPrecondition, match="^engine is closed$"):
        with e:
            pass


@pytest.mark.parametrize("durability", ["group", "none"])
def test_close_flushes_pending_writes_whatever_the_durability(tmp_path: pathlib.Path, durability: str) -> None:
    journal = tmp_path / "journal"
    # A minute between group flushes: nothing but the close flushes here.
    e = tenantry.Engine(journal=journal, durability=durability, group_commit_ms=60_000)
    for i in range(10):
        e.create_user(f"u{i}@x.test")
    assert mark(journal) == 0  # nothing vouched for on disk yet
    e.close()
    assert mark(journal) == 10  # every record flushed
    reopened = tenantry.Engine(journal=journal)
    assert [reopened.user(f"u{i}@x.test") for i in range(10)] == list(range(1, 11))
    assert reopened.journal_recovery.records == 10


@pytest.mark.parametrize("how", ["check", "consume", "pybind11"])
def test_a_conversion_that_closes_the_engine_before_the_call_is_refused(how: str) -> None:
    # An argument's __index__ runs before the call holds the engine: the
    # close goes through, and the call then finds the engine closed.
    e = tenantry.Engine()
    user = e.create_user("a@x.test")

    class Closing:
        def __index__(self) -> int:
            e.close()
            return user

    calls = {
        "check": lambda: e.check(user, 1, Closing()),  # type: ignore[arg-type]
        "consume": lambda: e.consume(Closing(), 1),  # type: ignore[arg-type]
        "pybind11": lambda: e.workspaces_for(Closing()),  # type: ignore[arg-type]
    }
    with pytest.raises(tenantry.FailedPrecondition, match="^engine is closed$"):
        calls[how]()
    assert e.closed


def test_close_from_inside_a_call_on_the_same_thread_is_refused() -> None:
    # A meter is converted inside the method, while it holds the engine:
    # closing there would wait for itself. The engine stays open and whole.
    e = tenantry.Engine()
    owner = e.create_user("a@x.test")
    account = e.create_account("A", owner)

    class Closing:
        def __index__(self) -> int:
            e.close()
            return 0

    with pytest.raises(RuntimeError, match="must not be called from inside another call"):
        e.grant(SYSTEM, account, 5, meter=Closing())
    assert not e.closed
    e.grant(SYSTEM, account, 5)
    e.verify()


def test_close_waits_for_a_call_in_flight_then_releases_the_journal(run_isolated: Any, tmp_path: pathlib.Path) -> None:
    # A change is held inside the engine (its Python clock waits, under the
    # writer lock, without the GIL). A close on another thread waits for it;
    # meanwhile every new call raises; the change then completes, and the
    # journal is free the moment close returns.
    result = run_isolated(
        f"""
        import faulthandler, threading, time
        faulthandler.dump_traceback_later(60, exit=True)
        JOURNAL = {str(tmp_path / "journal")!r}
        inside, release = threading.Event(), threading.Event()
        class Clock:
            hold = False
            def __call__(self):
                if self.hold:
                    self.hold = False
                    inside.set()
                    release.wait()
                return 1_700_000_000_000_000_000
        clock = Clock()
        e = tenantry.Engine(clock=clock, journal=JOURNAL, durability="group", group_commit_ms=60_000)
        e.create_user("first@x.test")
        clock.hold = True
        made = []
        change = threading.Thread(target=lambda: made.append(e.create_user("held@x.test")))
        change.start()
        inside.wait()
        closers = [threading.Thread(target=e.close) for _ in range(2)]
        for closer in closers:
            closer.start()
        time.sleep(0.3)
        print("closing", e.closed, all(c.is_alive() for c in closers), flush=True)
        for call in (lambda: e.check(1, 1, 0), lambda: e.consume(1, 1), lambda: e.stats()):
            try:
                call()
            except tenantry.FailedPrecondition as error:
                print("refused", error, flush=True)
        release.set()
        change.join()
        for closer in closers:
            closer.join()
        print("made", made, flush=True)
        again = tenantry.Engine(journal=JOURNAL)
        print("reopened", again.user("held@x.test"), flush=True)
        """,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0] == "closing True True"
    assert lines[1:4] == ["refused engine is closed"] * 3
    assert lines[4:] == ["made [2]", "reopened 2"]


def test_close_while_threads_hammer_the_engine(run_isolated: Any, tmp_path: pathlib.Path) -> None:
    # Every call either answers or raises "engine is closed"; nothing
    # crashes, and the journal then opens again with everything acknowledged.
    result = run_isolated(
        f"""
        import faulthandler, threading, time
        import numpy as np
        faulthandler.dump_traceback_later(60, exit=True)
        JOURNAL = {str(tmp_path / "journal")!r}
        for round in range(20):
            e = tenantry.Engine(journal=JOURNAL, durability="none")
            if round == 0:
                owner = e.create_user("o@x.test")
                account = e.create_account("A", owner)
                ws = e.create_workspace(owner, account, "Work")
                e.grant(tenantry.SYSTEM, account, 10**9)
                e.transfer(owner, account, ws, 10**9)
            users = np.arange(1, 200, dtype=np.uint64)
            start = threading.Barrier(6)
            bad, made, done = [], [], [0] * 5
            def run(index, call):
                start.wait()
                for _ in range(20000):
                    done[index] += 1
                    try:
                        call()
                    except tenantry.FailedPrecondition as error:
                        if str(error) != "engine is closed":
                            bad.append(repr(error))
                        return
                    except BaseException as error:
                        bad.append(repr(error))
                        return
            calls = [
                lambda: e.check(owner, ws, "workspace.view"),
                lambda: e.consume(ws, 1),
                lambda: e.balance(ws),
                lambda: e.check_many(users, users, 0),
                lambda: made.append(e.create_user(f"u{{len(made)}}-{{round}}@x.test")),
            ]
            threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
            for t in threads:
                t.start()
            start.wait()
            while min(done) < 20:  # every kind of call is under way
                time.sleep(0.001)
            e.close()
            for t in threads:
                t.join()
            assert not bad, bad
        again = tenantry.Engine(journal=JOURNAL)
        again.verify()
        print("ok", again.stats()["users"] > 19 * 20, flush=True)
        """,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok True"

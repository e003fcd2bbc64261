"""Regression tests for what a review of the binding found: each of these
crashed, hung or leaked before it was fixed (see docs/python.md)."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import tenantry


def _world() -> "tuple[tenantry.Engine, int, int, int]":
    e = tenantry.Engine(clock=tenantry.ManualClock())
    owner = e.create_user("o@x.test")
    account = e.create_account("A", owner, plan="enterprise")
    ws = e.create_workspace(owner, account, "Work")
    return e, owner, account, ws


@pytest.mark.parametrize("clock", ["None", "time.time_ns"])
def test_daemon_threads_inside_changes_at_exit_end_cleanly(run_isolated, clock):
    # CPython ends daemon threads at exit when they take the GIL back; that
    # must not happen inside a noexcept destructor (std::terminate).
    result = run_isolated(
        f"""
        import threading, time
        e = tenantry.Engine(clock={clock})
        o = e.create_user("o@x.test"); a = e.create_account("A", o); w = e.create_workspace(o, a, "Work")
        def spin():
            i = 0
            while True:
                e.rename_workspace(o, w, f"Work {{i % 7}}"); i += 1
        for _ in range(4):
            threading.Thread(target=spin, daemon=True).start()
        time.sleep(0.3)
        print("exiting", flush=True)
        """
    )
    assert result.returncode == 0, result.stderr[-400:]
    assert "exiting" in result.stdout


def test_a_batch_grown_while_it_is_applied_never_crashes(run_isolated):
    result = run_isolated(
        """
        import threading
        e = tenantry.Engine()
        o = e.create_user("o@x.test"); a = e.create_account("A", o); w = e.create_workspace(o, a, "Work")
        b = tenantry.Batch()
        for i in range(20000):
            b.rename_workspace(o, w, f"Work {i % 9}")
        done = threading.Event()
        def grow():
            while not done.is_set():
                b.rename_workspace(o, w, "Work x")
        t = threading.Thread(target=grow); t.start()
        for _ in range(5):
            e.apply(b)
        done.set(); t.join()
        e.verify()
        print("ok", flush=True)
        """
    )
    assert result.returncode == 0, result.stderr[-400:]
    assert "ok" in result.stdout


def test_a_clock_calling_back_into_a_change_is_refused_not_deadlocked(run_isolated):
    result = run_isolated(
        """
        import sys
        calls = []
        def clock():
            calls.append(1)
            if len(calls) == 3:
                e.create_user("inner@x.test")   # under the engine's writer lock
            return 1_700_000_000_000_000_000 + len(calls)
        seen = []
        sys.unraisablehook = lambda u: seen.append(type(u.exc_value).__name__)
        e = tenantry.Engine(clock=clock)
        for i in range(5):
            e.create_user(f"u{i}@x.test")
        print("seen", seen, "users", e.stats()["users"], flush=True)
        """,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-400:]
    assert "seen ['RuntimeError'] users 5" in result.stdout


def test_engine_and_batch_multiple_inheritance_finds_the_engine():
    class Both(tenantry.Engine, tenantry.Batch):
        def __init__(self) -> None:
            tenantry.Batch.__init__(self)  # Batch first in pybind11's own search order
            tenantry.Engine.__init__(self)

    e = Both()
    owner = e.create_user("o@x.test")
    account = e.create_account("A", owner)
    ws = e.create_workspace(owner, account, "Work")
    assert e.check(owner, ws, "workspace.delete") is True
    with pytest.raises(tenantry.ResourceExhausted):
        e.consume(ws, 1)


def test_an_engine_whose_init_never_ran_raises_everywhere():
    e = tenantry.Engine.__new__(tenantry.Engine)
    for call in (lambda: e.check(1, 1, 1), lambda: e.create_user("a@b.c"), lambda: e.revision,
                 lambda: e.stats(), lambda: e.verify(), lambda: e.consume(1, 1)):
        with pytest.raises(RuntimeError, match="__init__ was not called"):
            call()


@pytest.mark.parametrize("huge", [10**5000, -(10**5000)], ids=["positive", "negative"])
def test_ints_too_large_to_print_are_invalid_argument(huge):
    e, owner, account, ws = _world()
    for call in (lambda: e.check(huge, ws, 0), lambda: e.check(owner, ws, huge), lambda: e.consume(ws, huge),
                 lambda: e.workspace(huge), lambda: e.grant(tenantry.SYSTEM, account, huge)):
        with pytest.raises(tenantry.InvalidArgument, match="bits"):
            call()


def test_a_python_clock_cycle_is_collected():
    class App:
        def __init__(self) -> None:
            self.engine = tenantry.Engine(clock=self.now)

        def now(self) -> int:
            return 1_700_000_000_000_000_000

    app = App()
    app_ref, engine_ref = weakref.ref(app), weakref.ref(app.engine)
    del app
    gc.collect()
    assert app_ref() is None and engine_ref() is None


def test_numpy_integer_scalars_are_ids_permissions_and_amounts():
    e, owner, account, ws = _world()
    e.grant(tenantry.SYSTEM, account, np.int64(10))
    e.transfer(owner, account, np.uint64(ws), np.int32(10))
    assert e.check(np.int64(owner), np.uint32(ws), np.uint16(e.permission("workspace.view"))) is True
    assert e.consume(np.int64(ws), np.int8(3)) == 7
    with pytest.raises(TypeError):
        e.check(np.bool_(True), ws, 0)
    with pytest.raises(tenantry.InvalidArgument):
        e.check(np.int64(-1), ws, 0)


def test_a_manual_clock_never_wraps():
    clock = tenantry.ManualClock(2**63 - 10)
    with pytest.raises(tenantry.InvalidArgument, match="I4"):
        clock.advance_ns(11)
    with pytest.raises(tenantry.InvalidArgument, match="I4"):
        clock.advance_s(2**62)
    assert clock.now_ns() == 2**63 - 10

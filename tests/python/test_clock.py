"""Time comes from a clock the application can replace (I4): the
ManualClock, plain Python callables, and what the engine does with clocks
that misbehave."""

import itertools
import sys

import pytest

import tenantry
from conftest import DAY_S, NS, build_world

START = 1_700_000_000_000_000_000


def test_I4_manual_clock_moves_only_when_told():
    clock = tenantry.ManualClock()
    assert clock.now_ns() == START and clock() == START
    assert repr(clock) == f"ManualClock(start_ns={START})"
    clock.advance_ns(5)
    assert clock.now_ns() == START + 5
    clock.advance_s(2)
    assert clock() == START + 5 + 2 * NS
    clock.advance_ns(-5)
    clock.advance_s(-2)
    assert clock() == START
    clock.set_ns(42)
    assert clock.now_ns() == 42 and repr(clock) == "ManualClock(start_ns=42)"
    clock.set_ns(-1)  # before the epoch is allowed
    assert clock() == -1
    assert tenantry.ManualClock(7).now_ns() == 7
    assert tenantry.ManualClock(start_ns=9)() == 9
    assert callable(clock)


def test_I4_manual_clock_arguments_are_checked():
    clock = tenantry.ManualClock(0)
    # A time is an int: a float, a str, None or a bool (once taken as 0 or 1)
    # is a TypeError naming the argument; an int outside int64 is
    # InvalidArgument, as for every tenantry amount.
    for bad in [1.5, "1", None, True, False]:
        with pytest.raises(TypeError, match="now_ns"):
            clock.set_ns(bad)
        with pytest.raises(TypeError, match="delta_ns"):
            clock.advance_ns(bad)
        with pytest.raises(TypeError, match="delta_s"):
            clock.advance_s(bad)
        with pytest.raises(TypeError, match="start_ns"):
            tenantry.ManualClock(bad)
    for bad in [2**63, -(2**63) - 1]:
        with pytest.raises(tenantry.InvalidArgument, match="now_ns"):
            clock.set_ns(bad)
        with pytest.raises(tenantry.InvalidArgument, match="delta_ns"):
            clock.advance_ns(bad)
        with pytest.raises(tenantry.InvalidArgument, match="start_ns"):
            tenantry.ManualClock(bad)
    assert clock() == 0


def test_I4_the_engine_reads_the_manual_clock(clock, engine):
    user = engine.create_user("a@x.test")
    clock.advance_s(10)
    account = engine.create_account("Acme", user, plan="enterprise")
    feed = engine.changes_since(0)
    assert [c.time_ns for c in feed] == [START, START + 10 * NS]
    clock.set_ns(5)
    engine.create_workspace(user, account, "Main")
    assert engine.changes_since(2)[0].time_ns == 5


def test_I2_an_invitation_expires_when_the_manual_clock_passes_its_ttl(world, refused):
    e, clock = world.engine, world.clock
    invitee = e.create_user("invitee@x.test")
    late = e.create_user("late@x.test")
    ok = e.invite(world.ws_admin, world.agency, "invitee@x.test")
    expiring = e.invite(world.ws_admin, world.agency, "late@x.test")
    assert expiring.expires_at_ns == clock.now_ns() + 7 * DAY_S * NS
    clock.advance_ns(7 * DAY_S * NS - 1)
    assert e.invitation(expiring.id).state == "pending"
    e.accept(ok.token, invitee)
    clock.advance_ns(1)
    assert e.invitation(expiring.id).state == "expired"
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, expiring.token, late)
    clock.set_ns(START)  # a clock moved back makes it pending again
    assert e.invitation(expiring.id).state == "pending"
    e.accept(expiring.token, late)


def test_I4_a_plain_callable_clock():
    ticks = itertools.count(1_000)
    e = tenantry.Engine(clock=lambda: next(ticks))
    e.create_user("a@x.test")
    e.create_user("b@x.test")
    times = [c.time_ns for c in e.changes_since(0)]
    assert times == sorted(times) and len(set(times)) == 2 and times[0] >= 1_000
    fixed = tenantry.Engine(clock=lambda: 123)
    fixed.create_user("a@x.test")
    assert fixed.changes_since(0)[0].time_ns == 123
    manual = tenantry.ManualClock(77)
    as_callable = tenantry.Engine(clock=lambda: manual())  # a ManualClock behind a lambda
    as_callable.create_user("a@x.test")
    manual.advance_ns(1)
    as_callable.create_user("b@x.test")
    assert [c.time_ns for c in as_callable.changes_since(0)] == [77, 78]


def test_I4_a_bound_method_and_the_system_clock():
    import time

    before = time.time_ns()
    e = tenantry.Engine(clock=time.time_ns)
    e.create_user("a@x.test")
    wall = tenantry.Engine()  # the system clock
    wall.create_user("a@x.test")
    after = time.time_ns()
    assert before <= e.changes_since(0)[0].time_ns <= after
    assert before <= wall.changes_since(0)[0].time_ns <= after


@pytest.mark.parametrize("clock", [5, "clock", object(), 1.5])
def test_I4_a_clock_that_is_not_callable_is_a_type_error(clock):
    with pytest.raises(TypeError):
        tenantry.Engine(clock=clock)


@pytest.mark.parametrize("value", [1.5, "1", None, True, b"1", [1]])
def test_I4_a_clock_returning_a_non_int_at_construction_is_a_type_error(value):
    with pytest.raises(TypeError):
        tenantry.Engine(clock=lambda: value)


def test_I4_a_clock_raising_at_construction_propagates():
    def broken():
        raise RuntimeError("no time")

    with pytest.raises(RuntimeError, match="no time"):
        tenantry.Engine(clock=broken)


def test_I4_a_clock_that_fails_later_is_reported_and_the_last_good_time_used():
    calls = itertools.count()

    def flaky():
        n = next(calls)
        if n >= 2 and n % 2 == 0:
            raise RuntimeError("clock broke")
        if n >= 2:
            return "not an int"
        return 5_000 + n

    reported = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: reported.append(unraisable.exc_type)
    try:
        e = tenantry.Engine(clock=flaky)
        for i in range(4):
            e.create_user(f"u{i}@x.test")
    finally:
        sys.unraisablehook = old_hook
    times = [c.time_ns for c in e.changes_since(0)]
    assert len(times) == 4
    assert set(times) <= {5_000, 5_001}  # never a garbage time
    assert RuntimeError in reported and TypeError in reported
    e.verify()


def test_I4_a_clock_returning_an_int_past_int64_is_refused_cleanly():
    with pytest.raises((TypeError, ValueError)):
        tenantry.Engine(clock=lambda: 2**70)


def test_I4_manual_clock_never_wraps():
    clock = tenantry.ManualClock(0)
    try:
        clock.advance_s(10**10)  # 1e19 ns: past int64
    except (OverflowError, ValueError, TypeError):
        return
    assert clock.now_ns() >= 0


def test_I4_one_clock_may_serve_several_engines(clock):
    engines = [tenantry.Engine(clock=clock) for _ in range(2)]
    worlds = [build_world(e, clock) for e in engines]
    clock.advance_s(100)
    for w in worlds:
        inv = w.engine.invite(w.ws_admin, w.agency, "x@y.test")
        assert inv.expires_at_ns == START + 100 * NS + 7 * DAY_S * NS

"""Several Python threads at once (X1, X3, X5): check, consume, check_many,
reads and changes from threads the engine never saw before; conservation
holds afterwards (C8) and verify() passes; a Python callable clock used
while threads make changes does not deadlock (bounded by join timeouts in a
child interpreter, so a deadlock fails the test instead of hanging the run)."""

import os
import threading

import numpy as np

import tenantry

S = tenantry.SYSTEM
JOIN_TIMEOUT_S = 60
THREADS = 4
ITERATIONS = 3000


def run_threads(targets):
    errors = []

    def guarded(target, i):
        try:
            target(i)
        except BaseException as error:  # noqa: B902 - reported below
            errors.append((i, repr(error)))

    threads = [threading.Thread(target=guarded, args=(t, i), daemon=True) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    assert errors == []


def test_X1_X5_concurrent_consumes_conserve_credits(world):
    e = world.engine
    e.grant(S, world.account, 60_000)
    e.grant(S, world.account, 20_000, bucket="extra")
    e.transfer(S, world.account, world.ops, 50_000)  # 50,000 regular
    e.transfer(S, world.account, world.agency, 30_000)  # 10,000 regular + 20,000 extra
    debited = [0] * THREADS
    refused = [0] * THREADS

    def consumer(i):
        ws = world.ops if i % 2 == 0 else world.agency
        for n in range(ITERATIONS):
            amount = 1 + (n * 7 + i) % 9
            try:
                if n % 5 == 0:
                    left = e.consume(ws, amount, key=f"t{i}-{n}")
                    assert e.consume(ws, amount, key=f"t{i}-{n}") == left  # a replay: no second debit
                else:
                    left = e.consume(ws, amount)
                assert left >= 0
                debited[i] += amount
            except tenantry.ResourceExhausted:
                refused[i] += 1

    run_threads([consumer] * THREADS)
    total = sum(debited)
    assert total > 0
    assert e.consumed(world.ops) + e.consumed(world.agency) == total
    for ws, funded in [(world.ops, 50_000), (world.agency, 30_000)]:
        balance = e.balance(ws)
        assert balance["regular"] + balance["extra"] + balance["held"] + e.consumed(ws) == funded
    pool = e.account_balance(world.account)
    assert pool["granted"] == 80_000 and pool["regular"] + pool["extra"] == 0
    e.verify()


def test_X1_X3_checks_consumes_check_many_and_changes_at_once(world):
    e = world.engine
    e.grant(S, world.account, 1_000_000)
    e.transfer(S, world.account, world.ops, 100_000)
    viewer_id = e.permission("workspace.view")
    debited = [0]
    lock = threading.Lock()
    stop = threading.Event()

    def checker(i):
        users = np.array([world.owner, world.outsider, world.viewer, world.client] * 50, np.uint64)
        wss = np.array([world.ops, world.agency, world.agency, world.client_a] * 50, np.uint64)
        expected = np.array([True, False, True, True] * 50)
        for _ in range(ITERATIONS):
            # These grants never change during the run.
            assert e.check(world.owner, world.ops, viewer_id) is True
            assert e.check(world.outsider, world.agency, "workspace.view") is False
            np.testing.assert_array_equal(e.check_many(users, wss, viewer_id), expected)
            assert e.explain(world.client, world.client_a, viewer_id).allowed is True

    def consumer(i):
        mine = 0
        for n in range(ITERATIONS):
            if e.authorize_and_consume(world.owner, world.ops, "credits.consume", 2):
                mine += 2
            mine += 1 if e.consume(world.ops, 1) >= 0 else 0
        with lock:
            debited[0] += mine

    def writer(i):
        for n in range(ITERATIONS // 10):
            user = e.create_user(f"w{n}@x.test")
            e.add_member(world.ws_admin, world.client_b, user, "viewer")
            assert e.check(user, world.client_b, "workspace.view") is True
            e.set_role(world.ws_admin, world.client_b, user, "manager")
            if n % 2:
                e.remove_member(world.ws_admin, world.client_b, user)
            e.set_setting(world.ws_admin, world.client_b, "approval_timeout_s", 60 + n)
            r = e.reserve(world.ops, 3)
            e.commit(r, 1)
            with lock:
                debited[0] += 1
            e.changes_since(e.revision - 1)
        stop.set()

    run_threads([checker, consumer, consumer, writer])
    assert stop.is_set()
    assert e.consumed(world.ops) == debited[0]
    balance = e.balance(world.ops)
    assert balance["regular"] + balance["held"] + e.consumed(world.ops) == 100_000
    assert len(e.members(world.client_b)) == 1 + ITERATIONS // 20
    e.verify()


def test_X3_concurrent_writers_keep_the_cross_entity_rules(world):
    """M5 and T3 uniqueness under racing writers: each slug is taken once,
    and nobody ends up both staff and client."""
    e = world.engine
    contested = [e.create_user(f"contested{i}@x.test") for i in range(50)]
    won_slugs = [[] for _ in range(THREADS)]

    def racer(i):
        for n, user in enumerate(contested):
            try:
                if i % 2:
                    e.add_staff(S, world.account, user, "member")
                else:
                    e.add_member(S, world.client_b, user, "client")
            except (tenantry.FailedPrecondition, tenantry.AlreadyExists):
                pass
            try:
                e.create_workspace(S, world.account, f"Race {n}")
                won_slugs[i].append(n)
            except tenantry.AlreadyExists:
                pass

    run_threads([racer] * THREADS)
    assert sorted(n for won in won_slugs for n in won) == list(range(50))
    clients = {u for u, role in e.members(world.client_b) if role == "client"}
    for user in contested:
        try:
            e.staff(world.account, user)
            is_staff = True
        except tenantry.NotFound:
            is_staff = False
        assert is_staff != (user in clients)
    feed = e.changes_since(0)
    assert [c.revision for c in feed] == list(range(1, e.revision + 1))
    e.verify()


def test_X5_a_python_clock_under_threads_does_not_deadlock(run_isolated):
    result = run_isolated(
        f"""
        import faulthandler, itertools, os, threading
        faulthandler.dump_traceback_later({JOIN_TIMEOUT_S * 2}, exit=True)
        ticks = itertools.count(1_700_000_000_000_000_000, 1000)
        guard = threading.Lock()

        def clock():
            with guard:
                return next(ticks)

        S = tenantry.SYSTEM
        e = tenantry.Engine(clock=clock)
        owner = e.create_user("o@x.test")
        account = e.create_account("A", owner, plan="enterprise")
        wss = [e.create_workspace(owner, account, f"Work {{i}}") for i in range(4)]
        e.grant(S, account, 10**9)
        for w in wss:
            e.transfer(S, account, w, 10**6)
        errors = []

        def work(i):
            try:
                for j in range(400):
                    u = e.create_user(f"u{{i}}-{{j}}@x.test")
                    e.add_member(owner, wss[i], u, "viewer")
                    inv = e.invite(owner, wss[i], f"inv{{i}}-{{j}}@x.test")
                    assert e.invitation(inv.id).state == "pending"
                    e.invitations(wss[i])
                    e.switch_workspace(owner, wss[i])
                    e.active_workspace(owner)
                    e.touch_session(u) if e.active_workspace(u) else None
                    e.consume(wss[i], 1, key=f"k{{i}}-{{j}}")
                    e.consume(wss[i], 1)
                    r = e.reserve(wss[i], 2)
                    e.reservation(r)
                    e.commit(r, 1)
                    e.expire_reservations()
                    e.expire_sessions()
                    e.explain(u, wss[i], "workspace.view")
                    e.workspaces_for(u)
                    e.members(wss[i])
                    e.who_can(wss[i], 0)
                    e.check_many([u], [wss[i]], 0)
                    e.authorize_and_consume(owner, wss[i], "credits.consume", 1)
                    e.account(account)
                    e.stats()
                    if j % 50 == 0:
                        e.changes_since(max(0, e.revision - 5))
                        e.ledger(after_sequence=0, workspace=wss[i])
            except BaseException as error:
                errors.append(repr(error))

        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join({JOIN_TIMEOUT_S})
        if any(t.is_alive() for t in threads):
            print("DEADLOCK", flush=True)
            os._exit(2)
        assert errors == [], errors[:3]
        e.verify()
        times = [c.time_ns for c in e.changes_since(0)]
        assert times == sorted(times)
        print("ok", e.revision)
        """,
        timeout=JOIN_TIMEOUT_S * 3,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout[-200:]} {result.stderr[-800:]}"
    assert result.stdout.startswith("ok ")
    assert int(result.stdout.split()[1]) > 4 * 400 * 3


def _rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_X5_threads_created_and_joined_continuously():
    """Thousands of Python threads, each new to the engine, call check,
    check_many, explain and workspaces_for with no registration while a
    writer changes another user's role; every answer is right. Each thread's
    engine state (its epoch slot) is given back when it exits: Python cannot
    see the slot count (the C++ test X5_RawPthreadsComeAndGoWithoutRegistration
    asserts it), so this asserts what Python can see: the threads are bounded
    (at most AT_ONCE alive) and the process's resident memory does not grow
    with their number (a per-thread leak of 1 KB or more would show). The
    feed keeps a short tail, so that the writer's changes do not grow it."""
    e = tenantry.Engine(feed_retention=256, ledger_retention=256)
    owner = e.create_user("owner@x.test")
    viewer = e.create_user("viewer@x.test")
    outsider = e.create_user("outsider@x.test")
    churn = e.create_user("churn@x.test")
    account = e.create_account("Acme", owner, plan="enterprise")
    ws = e.create_workspace(owner, account, "Work")
    e.add_member(owner, ws, viewer, "viewer")
    e.add_member(owner, ws, churn, "viewer")
    view = e.permission("workspace.view")
    invite = e.permission("members.invite")
    users = np.array([owner, viewer, outsider], np.uint64)
    spaces = np.array([ws, ws, ws], np.uint64)
    perms = np.array([invite, view, view], np.uint32)
    expected_many = np.array([True, True, False])
    waves, at_once = 600, 8  # 4,800 threads
    errors = []
    stop = threading.Event()
    changes = [0]

    def writer():
        while not stop.is_set():
            e.set_role(S, ws, churn, "member" if changes[0] % 2 else "viewer")
            changes[0] += 1

    def call_in(results, i):
        try:
            results[i] = (
                e.check(viewer, ws, view) is True
                and e.check(outsider, ws, "workspace.view") is False
                and e.check(viewer, ws, invite) is False
                and bool((e.check_many(users, spaces, perms) == expected_many).all())
                and e.explain(viewer, ws, view).allowed is True
                and e.workspaces_for(viewer) == [ws]
            )
        except BaseException as error:  # noqa: B902 - reported below
            errors.append(repr(error))

    def wave():
        results = [False] * at_once
        threads = [threading.Thread(target=call_in, args=(results, i)) for i in range(at_once)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(JOIN_TIMEOUT_S)
        assert not any(t.is_alive() for t in threads), "a thread did not finish"
        return sum(results)

    writing = threading.Thread(target=writer, daemon=True)
    writing.start()
    try:
        for _ in range(20):  # warm up: thread stacks, allocator arenas, the feed's tail
            assert wave() == at_once
        threads_before = threading.active_count()
        rss_before = _rss_bytes()
        right = sum(wave() for _ in range(waves))
        rss_growth = _rss_bytes() - rss_before
        threads_after = threading.active_count()
    finally:
        stop.set()
        writing.join(JOIN_TIMEOUT_S)
    assert errors == []
    assert right == waves * at_once
    assert changes[0] > 0
    assert threads_after == threads_before
    assert rss_growth < 2 * 1024 * 1024, f"resident memory grew by {rss_growth} bytes"
    e.verify()


def test_X5_fork_while_threads_change_an_engine_with_a_python_clock(run_isolated):
    """os.fork() while other threads make changes, with a Python callable
    clock: the engine calls the clock with its writer lock held, and the
    clock needs the GIL, which the forking thread holds. The fork must wait
    for the change in progress without deadlocking, and the child must get
    an engine it can check, change, consume from and verify. A deadlock
    fails the test (faulthandler ends the child interpreter)."""
    result = run_isolated(
        f"""
        import faulthandler, itertools, os, threading, time
        faulthandler.dump_traceback_later({JOIN_TIMEOUT_S * 2}, exit=True)
        ticks = itertools.count(1_700_000_000_000_000_000, 1000)
        guard = threading.Lock()

        def clock():
            with guard:
                return next(ticks)

        S = tenantry.SYSTEM
        e = tenantry.Engine(clock=clock)
        owner = e.create_user("o@x.test")
        outsider = e.create_user("out@x.test")
        account = e.create_account("A", owner, plan="enterprise")
        ws = e.create_workspace(owner, account, "Work")
        e.grant(S, account, 10**9)
        e.transfer(S, account, ws, 10**8)
        churn = e.create_user("churn@x.test")
        e.add_member(owner, ws, churn, "viewer")
        stop = threading.Event()
        errors = []
        changes = [0]

        def writer():
            try:
                n = 0
                while not stop.is_set():
                    e.set_role(owner, ws, churn, "member" if n % 2 else "viewer")
                    e.apply(tenantry.Batch().set_setting(owner, ws, "approval_timeout_s", 60 + n % 50))
                    n += 1
                    changes[0] = n
            except BaseException as error:
                errors.append(repr(error))

        def child(i):
            try:
                assert e.check(owner, ws, "workspace.view") is True
                assert e.check(outsider, ws, "workspace.view") is False
                kid = e.create_user(f"kid{{i}}@x.test")
                e.add_member(owner, ws, kid, "viewer")
                assert e.check(kid, ws, "workspace.view") is True
                e.set_role(owner, ws, churn, "manager")
                e.consume(ws, 3)
                e.verify()
                return 0
            except BaseException as error:
                os.write(2, repr(error).encode())
                return 1

        threads = [threading.Thread(target=writer, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        forks = 0
        for i in range(20):
            while changes[0] < 5 * (i + 1):
                time.sleep(0.001)
            pid = os.fork()
            if pid == 0:
                os._exit(child(i))
            deadline = time.monotonic() + {JOIN_TIMEOUT_S}
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    print("CHILD HUNG", flush=True)
                    os._exit(3)
                time.sleep(0.001)
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
            forks += 1
        stop.set()
        for t in threads:
            t.join({JOIN_TIMEOUT_S})
        assert errors == [], errors[:3]
        assert not any(t.is_alive() for t in threads)
        e.verify()
        try:
            e.user("kid0@x.test")
            raise AssertionError("a child's change reached the parent")
        except tenantry.NotFound:
            pass
        print("ok", forks, changes[0])
        """,
        timeout=JOIN_TIMEOUT_S * 3,
    )
    assert result.returncode == 0, f"exit {result.returncode}: {result.stdout[-300:]} {result.stderr[-1500:]}"
    assert result.stdout.startswith("ok 20 ")

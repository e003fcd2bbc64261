"""Replicas from Python (docs/rules.md section 13, R1-R8; docs/python.md, "Replicas").

Engines in this process (and a forked child), each a replica of a group
whose log is in the throwaway PostgreSQL of the ``pg_cluster`` fixture
(conftest.py). Every test works in a group (schema) of its own. Every loop
is bounded in count and in time.
"""

from __future__ import annotations

import os
import select
import threading
import time
import warnings
from typing import Any, Iterator, List, Tuple

import psycopg2
import pytest

import tenantry
from conftest import PgCluster, assert_rules_carried
from tenantry import SYSTEM
from tenantry._replica import _format_style

UNREACHABLE = "host=/nonexistent port=1 connect_timeout=1"


def _group(request: pytest.FixtureRequest) -> str:
    """A group (schema) of the test's own, named after it."""
    return "py_" + request.node.name.lower()[:55]


@pytest.fixture
def open_replica(pg_cluster: PgCluster, request: pytest.FixtureRequest) -> Iterator[Any]:
    """Opens replicas of the test's group (or of `group`); closes them after the test."""
    opened: List[tenantry.Engine] = []

    def open_(group: str = "", **options: Any) -> tenantry.Engine:
        options.setdefault("log_lock_timeout_ms", 5000)
        options.setdefault("log_poll_ms", 20)
        engine = tenantry.Engine(log=pg_cluster.conninfo, group=group or _group(request), **options)
        opened.append(engine)
        return engine

    yield open_
    for engine in opened:
        engine.close()


def seed(e: tenantry.Engine) -> Tuple[int, int, int, int]:
    """An account with a workspace and a client in it: (owner, client, account, workspace)."""
    owner = e.create_user("owner@replica.test")
    client = e.create_user("client@replica.test")
    account = e.create_account("Replicated", owner, plan="enterprise")
    ws = e.create_workspace(owner, account, "Main")
    e.add_member(owner, ws, client, "client")
    return owner, client, account, ws


# ---------------------------------------------------------------- without a database


def test_R1_options_a_replica_needs_and_refuses(tmp_path: Any) -> None:
    with pytest.raises(tenantry.InvalidArgument) as caught:
        tenantry.Engine(group="g")  # a group without a log
    assert caught.value.rules == ("R1",)
    assert_rules_carried(caught.value)
    with pytest.raises(tenantry.InvalidArgument, match="replica_id"):
        tenantry.Engine(replica_id="r1")
    with pytest.raises(tenantry.InvalidArgument) as caught:
        tenantry.Engine(log="", group="g")
    assert caught.value.rules == ("R1",)
    with pytest.raises(tenantry.InvalidArgument) as caught:
        tenantry.Engine(log=UNREACHABLE)  # a log without a group
    assert caught.value.rules == ("R1",)
    with pytest.raises(tenantry.InvalidArgument, match="journal") as caught:
        tenantry.Engine(log=UNREACHABLE, group="g", journal=tmp_path / "journal")
    assert caught.value.rules == ("R1",)
    with pytest.raises(tenantry.InvalidArgument, match="log_poll_ms"):
        tenantry.Engine(log=UNREACHABLE, group="g", log_poll_ms=0)
    with pytest.raises(tenantry.InvalidArgument, match="wait_timeout_ms") as caught:
        tenantry.Engine(wait_timeout_ms=-1)
    assert caught.value.rules == ("R4",)
    # R5: a replica starts from its group's database, never from a file.
    snapshot = tmp_path / "s.tny"
    tenantry.Engine().save(snapshot)
    with pytest.raises(tenantry.InvalidArgument) as caught:
        tenantry.Engine.load(snapshot, log=UNREACHABLE, group="g")
    assert caught.value.rules == ("R5",)
    # R7: a database that cannot be reached.
    with pytest.raises(tenantry.Unavailable) as unreachable:
        tenantry.Engine(log=UNREACHABLE, group="g")
    assert unreachable.value.code == "unavailable"
    assert isinstance(unreachable.value, tenantry.Error)


def test_R4_an_engine_that_is_no_replica(world: Any) -> None:
    e = world.engine
    assert e.is_replica is False
    assert e.position == 0 and e.last_change_position == 0
    e.wait_for(0)
    e.wait_for(0, timeout_ms=0)
    assert e.check(world.owner, world.ops, "workspace.view", at_least=0) is True
    with pytest.raises(tenantry.FailedPrecondition) as caught:
        e.wait_for(1)
    assert caught.value.rules == ("R4",)
    assert_rules_carried(caught.value)
    with pytest.raises(tenantry.FailedPrecondition, match="no replica"):
        e.members(world.ops, at_least=1)
    with pytest.raises(tenantry.InvalidArgument, match="timeout_ms"):
        e.wait_for(0, timeout_ms=-1)
    batch = tenantry.Batch().create_user("plain@x.test")
    with pytest.raises(tenantry.FailedPrecondition) as caught:
        e.prepare(batch)
    assert caught.value.rules == ("R8",)
    for call in (e.snapshot_to_log, e.truncate_log):
        with pytest.raises(tenantry.FailedPrecondition) as caught:
            call()
        assert caught.value.rules == ("R5",)
    e.follow()  # nothing to do
    # The change id is ignored without a log to find it in.
    (user,) = e.apply(batch, change_id="import-1")
    assert e.user("plain@x.test") == user
    assert "position" not in repr(e)


def test_R7_the_exception_classes() -> None:
    assert issubclass(tenantry.Unavailable, tenantry.Error)
    assert tenantry.Unavailable.code == "unavailable"
    assert tenantry.Unavailable.change_id is None  # an application's own raise carries none
    assert issubclass(tenantry.DeadlineExceeded, tenantry.Error)
    assert issubclass(tenantry.DeadlineExceeded, TimeoutError)
    assert tenantry.DeadlineExceeded.code == "deadline_exceeded"


def test_R8_format_style_replaces_only_placeholders_outside_quotes() -> None:
    sql = 'SELECT "g$1 %x"".y".append_if_head($1::bigint, $2::text, $3::bytea, $4::integer) -- 5%'
    converted, order = _format_style(sql)
    assert converted == ('SELECT "g$1 %%x"".y".append_if_head(%s::bigint, %s::text, %s::bytea, %s::integer)'
                         ' -- 5%%')
    assert order == [0, 1, 2, 3]
    assert _format_style("SELECT '$2', $2, $1") == ("SELECT '$2', %s, %s", [1, 0])


# ---------------------------------------------------------------- replicas


def test_R2_R4_two_replicas_see_each_others_changes_after_wait_for(open_replica: Any) -> None:
    a, b = open_replica(), open_replica()
    assert a.is_replica and b.is_replica
    owner, client, account, ws = seed(a)
    at = a.last_change_position
    assert at == a.position and at > 1  # the group's first record, then the seed
    b.wait_for(at)
    assert b.position >= at
    assert b.check(client, ws, "runs.trigger") is True
    # A change on b comes back to a through the same log.
    b.remove_member(owner, ws, client)
    a.wait_for(b.last_change_position, timeout_ms=5000)
    assert a.check(client, ws, "runs.trigger") is False
    # R4: at the same position, the same revision and the same feed.
    assert a.position == b.position and a.revision == b.revision
    assert a.changes_since(0) == b.changes_since(0)
    assert f"position={a.position}" in repr(a)
    a.verify()
    b.verify()


def test_R4_at_least_on_reads_waits_for_the_position(open_replica: Any) -> None:
    a, b = open_replica(), open_replica(wait_timeout_ms=200)
    owner, client, account, ws = seed(a)
    a.grant(SYSTEM, account, 100)
    a.transfer(owner, account, ws, 40)
    team = a.create_team(owner, ws, "Ops", "viewer")
    at = a.last_change_position
    # Each read answers at or after `at`: the seed is there.
    assert b.check(client, ws, "runs.trigger", at_least=at) is True
    assert b.check(user=client, workspace=ws, permission="runs.trigger", at_least=at) is True
    assert b.explain(client, ws, "runs.trigger", at_least=at).allowed
    assert (client, "client") in b.members(ws, at_least=at)
    assert ws in b.workspaces_for(client, at_least=at)
    assert client in b.who_can(ws, "runs.trigger", at_least=at)
    assert ws in b.accessible(client, "runs.trigger", at_least=at)
    assert b.balance(ws, at_least=at)["regular"] == 40
    assert b.consumed(ws, at_least=at) == 0
    assert b.account_balance(account, at_least=at)["granted"] == 100
    assert b.user("client@replica.test", at_least=at) == client
    assert b.workspace(ws, at_least=at).name == "Main"
    assert b.account(account, at_least=at).name == "Replicated"
    assert b.team(team, at_least=at).name == "Ops"
    assert b.teams(ws, at_least=at) == [team]
    assert b.settings(ws, at_least=at) == a.settings(ws)
    assert b.staff(account, owner, at_least=at)[0] == "owner"
    assert b.role_permissions(account, "client", at_least=at)
    assert b.slug_available(account, "main", at_least=at) is False
    assert b.invitations(ws, at_least=at) == []
    assert b.active_workspace(client, at_least=at) is None
    assert b.meter("credits", at_least=at).name == "credits"
    assert len(b.ledger(account=account, at_least=at)) == 2
    assert b.check_many([client], [ws], "runs.trigger", at_least=at).tolist() == [True]
    assert b.changes_since(0, at_least=at) == a.changes_since(0)
    # A position not reached within wait_timeout_ms: DeadlineExceeded, after a wait.
    started = time.monotonic()
    with pytest.raises(tenantry.DeadlineExceeded) as caught:
        b.check(client, ws, "runs.trigger", at_least=at + 1000)
    assert time.monotonic() - started >= 0.15
    assert caught.value.rules == ("R4",)
    with pytest.raises(tenantry.DeadlineExceeded):
        b.members(ws, at_least=at + 1000)
    with pytest.raises(tenantry.DeadlineExceeded):
        b.explain(client, ws, "runs.trigger", at_least=at + 1000)


def test_R4_wait_for_names_both_positions(open_replica: Any) -> None:
    a = open_replica()
    at = a.position
    with pytest.raises(tenantry.DeadlineExceeded) as caught:
        a.wait_for(at + 100, timeout_ms=50)
    error = caught.value
    assert error.code == "deadline_exceeded"
    assert isinstance(error, TimeoutError)
    assert error.rules == ("R4",)
    assert_rules_carried(error)
    assert f"position {at + 100}" in str(error)
    assert f"at position {at}" in str(error)
    a.wait_for(at, timeout_ms=0)


def test_R7_unavailable_carries_the_change_id_and_a_retry_applies_once(
        open_replica: Any, pg_cluster: PgCluster) -> None:
    a = open_replica()
    a.create_user("before@replica.test")
    pg_cluster.stop()
    try:
        with pytest.raises(tenantry.Unavailable) as caught:
            a.create_user("while-down@replica.test")
        error = caught.value
        assert error.code == "unavailable"
        assert isinstance(error.change_id, str) and error.change_id
        assert error.change_id in str(error)
        assert_rules_carried(error)
        # Reads go on without the database.
        assert a.user("before@replica.test") > 0
    finally:
        pg_cluster.start()
    # The replica reconnects by itself; the retry with the same id applies once.
    batch = tenantry.Batch().create_user("while-down@replica.test")
    deadline = time.monotonic() + 10
    ids = None
    for _ in range(100):
        try:
            ids = a.apply(batch, change_id=error.change_id)
            break
        except tenantry.Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert ids is not None and len(ids) == 1
    assert a.apply(batch, change_id=error.change_id) == ids
    assert a.stats()["users"] == 2
    # The same id for another change is refused (R7).
    with pytest.raises(tenantry.InvalidArgument) as clash:
        a.apply(tenantry.Batch().create_user("gus@replica.test"), change_id=error.change_id)
    assert clash.value.rules == ("R7",)


def test_R7_a_retry_from_another_replica_is_answered_from_the_log(open_replica: Any) -> None:
    a, b = open_replica(), open_replica()
    batch = tenantry.Batch().create_user("eve@replica.test").create_user("finn@replica.test")
    ids = a.apply(batch, "import-7")
    at = a.position
    assert a.apply(batch, change_id="import-7") == ids
    assert a.position == at  # nothing appended
    assert b.apply(batch, change_id="import-7") == ids
    assert b.position == at


def test_R2_changes_and_waits_release_the_gil(open_replica: Any, pg_cluster: PgCluster,
                                              request: pytest.FixtureRequest) -> None:
    """A change that waits for the log's head lock, and a wait_for, let the
    other Python threads run."""
    a = open_replica()
    a.create_user("first@replica.test")
    holder = psycopg2.connect(pg_cluster.conninfo)
    ticks = [0]
    done = threading.Event()
    outcome: List[Any] = []

    def change() -> None:
        try:
            outcome.append(a.create_user("waited@replica.test"))
        except BaseException as error:  # reported below
            outcome.append(error)
        done.set()

    try:
        with holder.cursor() as cursor:  # a transaction holding the head lock
            cursor.execute(f'SELECT position FROM "{_group(request)}".head FOR UPDATE')
        thread = threading.Thread(target=change)
        thread.start()
        stop_at = time.monotonic() + 0.5
        while time.monotonic() < stop_at and not done.is_set():
            ticks[0] += 1
        assert not done.is_set(), outcome  # the change waited for the lock ...
        assert ticks[0] > 1000  # ... while this thread ran
    finally:
        holder.rollback()
        holder.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome[0], int), outcome
    # wait_for: another thread runs while one waits.
    waiter = threading.Thread(target=lambda: outcome.append(_raises(a.wait_for, a.position + 1000, 500)))
    ticks[0] = 0
    waiter.start()
    stop_at = time.monotonic() + 0.3
    while time.monotonic() < stop_at:
        ticks[0] += 1
    waiter.join(timeout=10)
    assert ticks[0] > 1000
    assert outcome[-1] is tenantry.DeadlineExceeded


def _raises(call: Any, *args: Any) -> Any:
    try:
        call(*args)
    except tenantry.Error as error:
        return type(error)
    return None


def test_R8_prepare_returns_a_typed_change(open_replica: Any) -> None:
    a = open_replica()
    prepared = a.prepare(tenantry.Batch().create_user("hana@replica.test"), change_id="signup-hana")
    assert isinstance(prepared, tenantry.PreparedChange)
    assert prepared.expected_position == a.position
    assert prepared.change_id == "signup-hana"
    assert isinstance(prepared.record, bytes) and prepared.record
    assert prepared.format_version >= 1
    assert "append_if_head" in prepared.sql
    assert "record" not in repr(prepared)  # binary: left out
    with pytest.raises(tenantry.NotFound):
        a.user("hana@replica.test")  # nothing applied by prepare
    fresh = a.prepare(tenantry.Batch().create_user("ivan@replica.test"))
    assert fresh.change_id and fresh.change_id != "signup-hana"  # a new id
    a.create_user("taken@replica.test")
    with pytest.raises(tenantry.AlreadyExists):  # refused as apply would
        a.prepare(tenantry.Batch().create_user("taken@replica.test"))


@pytest.mark.parametrize("group", ["py_r8_tx", 'py r8 "quoted" $1 %s'])
def test_R8_append_in_transaction_commits_or_rolls_back_with_the_application(
        open_replica: Any, pg_cluster: PgCluster, group: str) -> None:
    a = open_replica(group)
    app = psycopg2.connect(pg_cluster.conninfo)
    try:
        with app.cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS py_r8_app (name text)")
        app.commit()
        # Committed: the application's row and the user, together.
        with app.cursor() as cursor:
            cursor.execute("INSERT INTO py_r8_app VALUES (%s)", ("hana",))
            position = tenantry.append_in_transaction(
                cursor, a, tenantry.Batch().create_user("hana@replica.test"), change_id=f"hana-{len(group)}")
        with pytest.raises(tenantry.NotFound):
            a.user("hana@replica.test")  # not before the commit ...
        app.commit()
        a.wait_for(position)  # ... and on every replica after it
        assert a.user("hana@replica.test") > 0
        # Rolled back: neither.
        with app.cursor() as cursor:
            cursor.execute("INSERT INTO py_r8_app VALUES (%s)", ("ivan",))
            tenantry.append_in_transaction(cursor, a, tenantry.Batch().create_user("ivan@replica.test"))
        app.rollback()
        # Stale: another change came first; the database's error, TN001.
        stale = a.prepare(tenantry.Batch().create_user("ivan@replica.test"))
        a.create_user("jo@replica.test")
        with app.cursor() as cursor:
            sql, order = _format_style(stale.sql)
            values = (stale.expected_position, stale.change_id, psycopg2.Binary(stale.record),
                      stale.format_version)
            with pytest.raises(psycopg2.Error) as caught:
                cursor.execute(sql, tuple(values[i] for i in order))
            assert caught.value.pgcode == "TN001"  # the application's own driver error
        app.rollback()
        # The retry runs the transaction again: prepared anew, it goes through.
        with app.cursor() as cursor:
            position = tenantry.append_in_transaction(cursor, a, tenantry.Batch().create_user("ivan@replica.test"))
        app.commit()
        a.wait_for(position)
        with app.cursor() as cursor:
            cursor.execute("SELECT name FROM py_r8_app ORDER BY name")
            assert [row[0] for row in cursor.fetchall()].count("ivan") == 0
        assert a.user("ivan@replica.test") > 0
    finally:
        app.rollback()
        app.close()


def test_R5_a_forked_child_follows_after_follow(open_replica: Any) -> None:
    parent = open_replica()
    owner, client, account, ws = seed(parent)
    read_fd, write_fd = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12 warns about fork() in a process with threads (the followers').
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: reports through the pipe, never returns into pytest
        code = 1
        try:
            os.close(read_fd)
            code = 0
            try:
                parent.create_user("early@replica.test")
                code |= 2  # changes must wait for follow()
            except tenantry.FailedPrecondition as error:
                if error.rules != ("R5",):
                    code |= 4
            if not parent.check(client, ws, "runs.trigger"):
                code |= 8  # reads go on
            parent.follow()
            parent.create_user("child@replica.test")
            os.write(write_fd, str(parent.last_change_position).encode())
        except BaseException:
            code |= 16
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], 30)
        assert ready, "the child reported nothing within 30 s"
        report = os.read(read_fd, 64)
    finally:
        os.close(read_fd)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    child_at = int(report)
    parent.wait_for(child_at)
    assert parent.user("child@replica.test") > 0
    # The parent's own connections were not disturbed by the child's.
    parent.create_user("parent@replica.test")


def test_R5_close_stops_the_follower_and_wakes_its_waits(open_replica: Any) -> None:
    a, b = open_replica(), open_replica()
    a.create_user("first@replica.test")
    errors: List[Any] = []
    started = time.monotonic()
    waiter = threading.Thread(target=lambda: errors.append(_raises(b.wait_for, b.position + 1000, 30000)))
    waiter.start()
    time.sleep(0.2)
    b.close()  # stops the follower first: the wait returns now, not in 30 s
    waiter.join(timeout=10)
    assert not waiter.is_alive()
    assert time.monotonic() - started < 10
    assert errors and errors[0] is not None and issubclass(errors[0], tenantry.Error)
    assert b.closed
    with pytest.raises(tenantry.FailedPrecondition, match="engine is closed"):
        b.position
    with pytest.raises(tenantry.FailedPrecondition, match="engine is closed"):
        b.check(1, 1, 0, at_least=0)
    # The group goes on without it.
    a.create_user("second@replica.test")
    c = open_replica()
    assert c.position == a.position


def test_R5_snapshots_in_the_log_and_truncation(open_replica: Any) -> None:
    a = open_replica()
    a.create_user("first@replica.test")
    first = a.snapshot_to_log()
    assert first == a.position
    assert a.truncate_log() == 1  # one snapshot: nothing removed
    a.create_user("second@replica.test")
    second = a.snapshot_to_log()
    a.create_user("third@replica.test")
    third = a.snapshot_to_log()
    assert a.truncate_log() == second + 1
    # A new replica needs only the connection string: the newest snapshot, then the log.
    c = open_replica()
    assert c.position == a.position >= third
    assert c.user("third@replica.test") > 0
    c.verify()


def test_C5_keyed_consume_is_once_across_two_replicas(open_replica: Any) -> None:
    # Without leases every consume is a record, so the counts below are exact.
    a, b = open_replica(lease_credits=False), open_replica(lease_credits=False)
    owner, client, account, ws = seed(a)
    a.grant(SYSTEM, account, 1000)
    a.transfer(owner, account, ws, 100)
    assert a.consume(ws, 30, key="run-42") == 70
    b.wait_for(a.last_change_position)
    assert b.consume(ws, 30, key="run-42") == 70  # the first answer, no second debit
    with pytest.raises(tenantry.InvalidArgument) as other:
        b.consume(ws, 31, key="run-42")
    assert other.value.rules == ("C5",)
    assert b.balance(ws)["regular"] == 70
    assert a.balance(ws, at_least=b.position)["regular"] == 70
    # Unkeyed consumes go through the log too, from two threads of two replicas.
    refused = [0]
    lock = threading.Lock()

    def spend(e: tenantry.Engine) -> None:
        for _ in range(15):
            try:
                e.consume(ws, 3)
            except tenantry.ResourceExhausted:
                with lock:
                    refused[0] += 1

    threads = [threading.Thread(target=spend, args=(e,)) for e in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    a.wait_for(b.position)
    b.wait_for(a.position)
    assert a.balance(ws) == b.balance(ws)
    assert a.balance(ws)["regular"] == 70 - 3 * (30 - refused[0])
    a.verify()


def test_C6_reservation_made_on_one_replica_is_committed_on_another(open_replica: Any) -> None:
    a = open_replica()
    b = open_replica()
    owner, client, account, ws = seed(a)
    a.grant(SYSTEM, account, 1000)
    a.transfer(owner, account, ws, 100)
    hold = a.reserve(ws, 10)
    b.wait_for(a.last_change_position)
    assert b.reservation(hold).workspace == ws
    assert b.balance(ws)["held"] >= 10
    b.commit(hold, 4)
    with pytest.raises(tenantry.NotFound) as caught:
        a.commit(hold, 4)
    assert "C6" in caught.value.rules
    a.wait_for(b.last_change_position)
    assert a.balance(ws) == {"regular": 96, "extra": 0, "held": 0}


def test_R6_consume_on_a_lease_is_local_and_settled(open_replica: Any) -> None:
    a = open_replica(settle_interval_ms=50, lease_ttl_ms=2000)
    b = open_replica(settle_interval_ms=50, lease_ttl_ms=2000)
    owner, client, account, ws = seed(a)
    a.grant(SYSTEM, account, 10000)
    a.transfer(owner, account, ws, 1000)
    a.consume(ws, 1)  # through the log, with a lease
    at = a.position
    for _ in range(50):
        a.consume(ws, 1)  # on the lease: no record each
    assert a.position <= at + 1
    deadline = time.monotonic() + 5
    while b.consumed(ws, at_least=a.position) < 51 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert b.consumed(ws) == 51
    a.close()  # returns the lease
    c = open_replica()
    final = c.balance(ws)
    assert final == {"regular": 1000 - 51, "extra": 0, "held": 0}
    assert c.consumed(ws) == 51
    c.verify()


def test_R6_a_consume_the_group_covers_asks_other_leases_back(open_replica: Any) -> None:
    a = open_replica(settle_interval_ms=50, lease_ttl_ms=2000)
    b = open_replica(settle_interval_ms=50, lease_ttl_ms=2000)
    owner, client, account, ws = seed(a)
    a.grant(SYSTEM, account, 10000)
    a.transfer(owner, account, ws, 1000)
    b.wait_for(a.position, 5000)
    b.consume(ws, 1)  # through the log: b leases a quarter of the rest
    assert a.balance(ws, at_least=b.position)["held"] == 249
    # 800 > the 750 nobody holds: b's lease is asked back, then granted.
    assert a.consume(ws, 800) == 199
    with pytest.raises(tenantry.ResourceExhausted):
        a.consume(ws, 200)  # more than the group holds
    b.close()
    a.close()
    c = open_replica()
    assert c.balance(ws) == {"regular": 199, "extra": 0, "held": 0}
    assert c.consumed(ws) == 801
    c.verify()

"""The journal from Python (P3): ``Engine(journal=dir)`` appends every
change before the call returns; a new engine on the directory recovers it;
``Engine.load(snapshot, journal=dir)`` is the snapshot plus the journal's
tail; damage raises DataLoss; a process killed with SIGKILL loses nothing it
acknowledged."""

from __future__ import annotations

import gc
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import tenantry
from tenantry import SYSTEM

from conftest import build_world, engine_state


def journaled(tmp_path: pathlib.Path, clock: tenantry.ManualClock, **options: object) -> tenantry.Engine:
    return tenantry.Engine(clock=clock, journal=tmp_path / "journal", **options)  # type: ignore[arg-type]


def test_P3_a_new_engine_on_the_journal_recovers_everything(tmp_path: pathlib.Path) -> None:
    clock = tenantry.ManualClock()
    e = journaled(tmp_path, clock)
    world = build_world(e, clock)
    e.grant(SYSTEM, world.account, 1000)
    e.transfer(world.owner, world.account, world.client_a, 600)
    first = e.consume(world.client_a, 25, key="order-1")
    hold = e.reserve(world.client_a, 100)
    invitation = e.invite(world.ws_admin, world.client_b, "late@customer.test", role="viewer")
    before = engine_state(e)
    client_a, client_b = world.client_a, world.client_b
    del e, world
    gc.collect()
    recovered = journaled(tmp_path, clock)
    assert engine_state(recovered) == before
    recovered.verify()
    # It carries on with what was made before: keys, holds, tokens.
    balance = recovered.balance(client_a)
    assert recovered.consume(client_a, 25, key="order-1") == first  # remembered, not debited
    assert recovered.balance(client_a) == balance
    newcomer = recovered.create_user("late@customer.test")
    recovered.accept(invitation.token, newcomer)
    recovered.commit(hold, 10)
    assert recovered.check(newcomer, client_b, "contacts.view")


@pytest.mark.parametrize("durability", ["sync", "group", "none"])
def test_P3_every_durability_mode_recovers(tmp_path: pathlib.Path, durability: str) -> None:
    clock = tenantry.ManualClock()
    e = journaled(tmp_path, clock, durability=durability, group_commit_ms=5)
    users = [e.create_user(f"u{i}@x.test") for i in range(50)]
    del e
    gc.collect()
    recovered = journaled(tmp_path, clock, durability=durability)
    assert [recovered.user(f"u{i}@x.test") for i in range(50)] == users


def test_P3_bad_journal_options_name_the_rule(tmp_path: pathlib.Path) -> None:
    with pytest.raises(tenantry.InvalidArgument, match="durability"):
        tenantry.Engine(journal=str(tmp_path / "j"), durability="often")
    with pytest.raises(tenantry.InvalidArgument, match="group_commit_ms"):
        tenantry.Engine(journal=str(tmp_path / "j"), durability="group", group_commit_ms=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(tenantry.InvalidArgument, match="not a directory"):
        tenantry.Engine(journal=str(tmp_path / "file"))
    holder = tenantry.Engine(journal=str(tmp_path / "held"))
    with pytest.raises(tenantry.FailedPrecondition, match="in use"):
        tenantry.Engine(journal=str(tmp_path / "held"))
    del holder


def test_P3_save_truncates_and_load_replays_the_tail(tmp_path: pathlib.Path) -> None:
    clock = tenantry.ManualClock()
    journal = tmp_path / "journal"
    e = tenantry.Engine(clock=clock, journal=journal)
    world = build_world(e, clock)
    e.grant(SYSTEM, world.account, 500)
    e.transfer(world.owner, world.account, world.client_a, 300)
    e.save(tmp_path / "snap.tny")
    assert len([p for p in os.listdir(journal) if p.startswith("seg-")]) == 1
    e.consume(world.client_a, 7)
    e.rename_workspace(SYSTEM, world.client_a, "Client A, renamed")
    before = engine_state(e)
    del e, world
    gc.collect()
    with pytest.raises(tenantry.FailedPrecondition, match="LoadSnapshot"):
        tenantry.Engine(journal=journal)
    recovered = tenantry.Engine.load(tmp_path / "snap.tny", clock=clock, journal=journal)
    assert engine_state(recovered) == before
    recovered.verify()


def test_P3_damage_is_data_loss(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "journal"
    e = tenantry.Engine(journal=journal)
    for i in range(20):
        e.create_user(f"u{i}@x.test")
    del e
    gc.collect()
    (segment,) = [journal / p for p in os.listdir(journal) if p.startswith("seg-")]
    data = bytearray(segment.read_bytes())
    data[200] ^= 0x10
    segment.write_bytes(bytes(data))
    with pytest.raises(tenantry.DataLoss, match="P3"):
        tenantry.Engine(journal=journal)


CHILD = textwrap.dedent(
    """
    import sys, tenantry
    e = tenantry.Engine(journal=sys.argv[1], durability="none")
    start = int(sys.argv[2])
    i = start
    while True:
        try:
            e.create_user(f"u{i}@x.test")
        except tenantry.AlreadyExists:
            pass
        print(i, flush=True)
        i += 1
    """
)


def test_P3_killed_process_loses_nothing_acknowledged(tmp_path: pathlib.Path) -> None:
    journal = str(tmp_path / "journal")
    acked: list[int] = []
    for round_ in range(4):
        start = acked[-1] + 1 if acked else 0
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, journal, str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        deadline = time.monotonic() + 10
        seen = 0
        while seen < 50 + 40 * round_ and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked.append(int(line))
            seen += 1
        child.send_signal(signal.SIGKILL)
        rest, _ = child.communicate()
        acked.extend(int(x) for x in rest.split())
        assert child.returncode == -signal.SIGKILL
        recovered = tenantry.Engine(journal=journal, durability="none")
        for i in acked:
            recovered.user(f"u{i}@x.test")  # NotFound would fail the test
        recovered.verify()
        del recovered
        gc.collect()
    assert len(acked) >= 50


def test_P3_python_clock_and_journal_do_not_deadlock(tmp_path: pathlib.Path) -> None:
    # A journaled consume waits for the journal lock, whose holder (a
    # reserve) may be calling this Python clock: the consume must not hold
    # the GIL while it waits.
    import threading

    e = tenantry.Engine(clock=lambda: time.time_ns(), journal=tmp_path / "journal", durability="none")
    owner = e.create_user("o@x.test")
    account = e.create_account("A", owner, plan="enterprise")
    ws = e.create_workspace(owner, account, "Main")
    e.grant(SYSTEM, account, 10_000_000)
    e.transfer(owner, account, ws, 10_000_000)
    member = e.create_user("m@x.test")
    e.add_member(owner, ws, member, "member")
    done = [0, 0]

    def holds() -> None:
        for _ in range(3000):
            e.release(e.reserve(ws, 1))
        done[0] = 1

    def consumes() -> None:
        for i in range(3000):
            e.consume(ws, 1)
            e.authorize_and_consume(member, ws, "contacts.view", 1)
        done[1] = 1

    threads = [threading.Thread(target=holds, daemon=True), threading.Thread(target=consumes, daemon=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert done == [1, 1], "deadlock: a journaled consume held the GIL while waiting"
    e.verify()

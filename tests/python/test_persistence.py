"""Snapshots from Python (docs/rules.md section 9): ``Engine.save(path)`` and
``Engine.load(path, clock=...)``. P1 a round trip keeps every observable
fact; P2 a damaged or foreign file raises DataLoss and builds nothing; the
GIL is released while a file is written or read."""

from __future__ import annotations

import pathlib
import threading

import pytest

import tenantry
from tenantry import SYSTEM

from conftest import World, engine_state


def test_P1_round_trip_keeps_everything(world: World, tmp_path: pathlib.Path) -> None:
    e = world.engine
    e.grant(SYSTEM, world.account, 1000)
    e.transfer(world.owner, world.account, world.client_a, 600)
    first = e.consume(world.client_a, 25, key="order-1")
    hold = e.reserve(world.client_a, 100)
    invitation = e.invite(world.ws_admin, world.client_b, "late@customer.test", role="viewer")
    path = tmp_path / "engine.tny"
    e.save(path)
    loaded = tenantry.Engine.load(path, clock=world.clock)
    assert isinstance(loaded, tenantry.Engine)
    assert engine_state(loaded) == engine_state(e)
    # ... and carries on: tokens, keys and reservations made before the save.
    before = loaded.balance(world.client_a)
    assert loaded.consume(world.client_a, 25, key="order-1") == first  # replayed, not debited
    assert loaded.balance(world.client_a) == before
    loaded.commit(hold, 60)
    newcomer = loaded.create_user("late@customer.test")
    loaded.accept(invitation.token, newcomer)
    assert loaded.check(newcomer, world.client_b, "contacts.view")
    loaded.verify()


def test_P1_save_takes_str_or_pathlike_and_replaces(world: World, tmp_path: pathlib.Path) -> None:
    path = tmp_path / "engine.tny"
    world.engine.save(str(path))
    first = path.read_bytes()
    world.engine.create_user("more@acme.test")
    world.engine.save(path)
    assert path.read_bytes() != first
    assert tenantry.Engine.load(str(path)).revision == world.engine.revision
    assert [p.name for p in tmp_path.iterdir()] == ["engine.tny"]  # no temporary left


def test_P1_file_system_refusals(world: World, tmp_path: pathlib.Path) -> None:
    with pytest.raises(tenantry.NotFound) as missing:
        world.engine.save(tmp_path / "no-such-dir" / "engine.tny")
    assert missing.value.rule == "P1"
    with pytest.raises(tenantry.NotFound):
        tenantry.Engine.load(tmp_path / "absent.tny")
    with pytest.raises(TypeError):
        world.engine.save(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("damage", ["truncate", "flip", "identifier", "empty"])
def test_P2_damaged_file_is_data_loss(world: World, tmp_path: pathlib.Path, damage: str) -> None:
    path = tmp_path / "engine.tny"
    world.engine.save(path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip":
        data[len(data) // 2] ^= 0xFF
    elif damage == "identifier":
        data[4:8] = b"XXXX"
    else:
        data = bytearray()
    path.write_bytes(bytes(data))
    with pytest.raises(tenantry.DataLoss) as refused:
        tenantry.Engine.load(path)
    assert refused.value.code == "data_loss" and refused.value.rule == "P2"


def test_P1_save_runs_without_the_gil(world: World, tmp_path: pathlib.Path) -> None:
    """Checks from another Python thread go on while saves and loads run."""
    stop = threading.Event()
    answers = []

    def reader() -> None:
        while not stop.is_set():
            answers.append(world.engine.check(world.ws_admin, world.client_a, "contacts.view"))

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(20):
        world.engine.save(tmp_path / f"engine-{i}.tny")
        tenantry.Engine.load(tmp_path / f"engine-{i}.tny")
    stop.set()
    thread.join()
    assert answers and all(answers)

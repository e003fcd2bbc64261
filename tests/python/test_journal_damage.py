"""A journal damaged before its end (P3), from Python.

A torn tail (damage with nothing sound after it) is dropped and reported;
damage followed by a sound record is DataLoss in every durability mode and
changes nothing; ``on_damage="truncate"`` and ``tenantry.repair_journal`` cut
at the damage, keep the cut segments aside and report every lost position.
"""

from __future__ import annotations

import gc
import os
import pathlib
import signal
import struct
import subprocess
import sys
import textwrap

import pytest

import tenantry

CHILD = textwrap.dedent(
    """
    import os, signal, sys, tenantry
    e = tenantry.Engine(journal=sys.argv[1], durability=sys.argv[2])
    for i in range(int(sys.argv[3])):
        e.create_user(f"u{i}@damage.test")
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def journal_then_die(journal: pathlib.Path, durability: str, users: int) -> pathlib.Path:
    """A child journals ``users`` changes, then is killed; the segment's path."""
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(journal), durability, str(users)], timeout=60
    )
    assert child.returncode == -signal.SIGKILL
    (segment,) = [journal / p for p in os.listdir(journal) if p.startswith("seg-")]
    return segment


def record_offsets(data: bytes) -> list[int]:
    offsets, off = [], 128
    while True:
        (size,) = struct.unpack_from("<I", data, off)
        if size == 0:
            return offsets
        offsets.append(off)
        off += (16 + size + 7) & ~7


def flip(segment: pathlib.Path, at: int, mask: int = 0x10) -> bytes:
    data = bytearray(segment.read_bytes())
    data[at] ^= mask
    segment.write_bytes(bytes(data))
    return bytes(data)


@pytest.mark.parametrize("durability", ["none", "group", "sync"])
def test_P3_damage_followed_by_sound_records_is_data_loss(
    tmp_path: pathlib.Path, durability: str
) -> None:
    # The issue's own reproduction: 50 changes, killed, byte 196 (inside
    # record 2) flipped. Under "none" this used to open at revision 1.
    journal = tmp_path / "journal"
    segment = journal_then_die(journal, durability, 50)
    assert record_offsets(segment.read_bytes())[1] <= 196 < record_offsets(segment.read_bytes())[2]
    damaged = flip(segment, 196)
    with pytest.raises(tenantry.DataLoss) as error:
        tenantry.Engine(journal=journal, durability=durability)
    assert error.value.rule == "P3"
    assert "lsn 2 to 50" in str(error.value) and "tenantry journal repair" in str(error.value)
    assert segment.read_bytes() == damaged  # the refused open changed nothing
    assert not [p for p in os.listdir(journal) if p.startswith("lost-")]


def test_P3_truncate_keeps_what_precedes_the_damage_and_reports_the_rest(
    tmp_path: pathlib.Path,
) -> None:
    journal = tmp_path / "journal"
    segment = journal_then_die(journal, "none", 50)
    offsets = record_offsets(segment.read_bytes())
    damaged = flip(segment, offsets[9] + 20)  # record 10
    engine = tenantry.Engine(journal=journal, on_damage="truncate")
    report = engine.journal_recovery
    assert report.damaged and report.truncated
    assert (report.kept_through_lsn, report.lost_through_lsn) == (9, 50)
    assert report.segment == str(segment) and report.offset == offsets[9]
    assert [r.lsn for r in report.readable] == list(range(11, 51))
    assert {r.what for r in report.readable} == {"change: create_user"}
    assert (pathlib.Path(report.set_aside) / segment.name).read_bytes() == damaged
    assert engine.revision == 9
    engine.user("u8@damage.test")
    with pytest.raises(tenantry.NotFound):
        engine.user("u9@damage.test")
    engine.create_user("after@damage.test")
    del engine
    gc.collect()
    again = tenantry.Engine(journal=journal)
    assert not again.journal_recovery.damaged
    again.user("after@damage.test")


def test_P3_a_torn_tail_is_dropped_and_reported(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "journal"
    segment = journal_then_die(journal, "none", 20)
    flip(segment, record_offsets(segment.read_bytes())[-1] + 20)
    engine = tenantry.Engine(journal=journal, durability="none")
    assert engine.journal_recovery.torn_bytes > 0
    assert not engine.journal_recovery.damaged
    assert engine.journal_recovery.records == 19
    assert engine.revision == 19


def test_P3_repair_journal_checks_then_cuts(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "journal"
    segment = journal_then_die(journal, "group", 30)
    damaged = flip(segment, record_offsets(segment.read_bytes())[4] + 20)  # record 5
    dry = tenantry.repair_journal(journal, dry_run=True)
    assert dry.damaged and not dry.truncated and dry.set_aside == ""
    assert (dry.kept_through_lsn, dry.lost_through_lsn, len(dry.readable)) == (4, 30, 25)
    assert segment.read_bytes() == damaged
    done = tenantry.repair_journal(str(journal))
    assert done.truncated and os.path.isdir(done.set_aside)
    assert "lost lsn 30  change: create_user" in str(done)
    assert not tenantry.repair_journal(journal).damaged
    assert tenantry.Engine(journal=journal).revision == 4


def test_P3_repair_journal_refusals(tmp_path: pathlib.Path) -> None:
    with pytest.raises(tenantry.NotFound):
        tenantry.repair_journal(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(tenantry.NotFound, match="holds no journal"):
        tenantry.repair_journal(tmp_path / "empty")
    journal = tmp_path / "journal"
    holder = tenantry.Engine(journal=journal)
    holder.create_user("a@damage.test")
    with pytest.raises(tenantry.FailedPrecondition, match="in use"):
        tenantry.repair_journal(journal)
    with pytest.raises(TypeError):
        tenantry.repair_journal(journal, dry_run="yes")  # type: ignore[arg-type]
    with pytest.raises(tenantry.InvalidArgument, match="on_damage"):
        tenantry.Engine(journal=tmp_path / "other", on_damage="ignore")


def test_P3_load_with_a_damaged_journal_truncates_on_request(tmp_path: pathlib.Path) -> None:
    journal = tmp_path / "journal"
    snapshot = tmp_path / "base.tny"
    engine = tenantry.Engine(journal=journal)
    engine.create_user("before@damage.test")
    engine.save(snapshot)
    for i in range(10):
        engine.create_user(f"u{i}@damage.test")
    del engine
    gc.collect()
    (segment,) = [journal / p for p in os.listdir(journal) if p.startswith("seg-")]
    flip(segment, record_offsets(segment.read_bytes())[2] + 20)  # the third after the cut
    with pytest.raises(tenantry.DataLoss):
        tenantry.Engine.load(snapshot, journal=journal)
    loaded = tenantry.Engine.load(snapshot, journal=journal, on_damage="truncate")
    assert loaded.journal_recovery.truncated
    assert loaded.revision == 3
    loaded.user("u1@damage.test")
    with pytest.raises(tenantry.NotFound):
        loaded.user("u2@damage.test")

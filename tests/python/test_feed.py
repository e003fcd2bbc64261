"""docs/rules.md section 7, the audit trail and change feed (L1), the revision, and
verify() (C8); and the value type Change."""

import dataclasses

import pytest

import tenantry
from conftest import build_world

S = tenantry.SYSTEM


def test_L1_every_change_gets_a_strictly_increasing_revision_and_a_record(world):
    e = world.engine
    feed = e.changes_since(0)
    assert [c.revision for c in feed] == list(range(1, e.revision + 1))
    assert all(isinstance(c, tenantry.Change) for c in feed)
    first = feed[0]
    assert first == tenantry.Change(1, world.clock.now_ns(), S, None, None, first.what)
    assert first.what.startswith("create_user") and "owner@acme.test" in first.what
    creates = [c for c in feed if c.what.startswith("create_workspace")]
    assert [c.workspace for c in creates] == [world.agency, world.client_a, world.client_b, world.ops, world.elsewhere]
    assert [c.account for c in creates] == [world.account] * 4 + [world.other]
    adds = [c for c in feed if c.what.startswith("add_member")]
    assert [c.actor for c in adds] == [S, world.ws_admin, world.ws_admin, world.ws_admin, world.ws_owner]


def test_L1_change_value_type(world):
    change = world.engine.changes_since(world.engine.revision - 1)[0]
    assert [f.name for f in dataclasses.fields(change)] == ["revision", "time_ns", "actor", "account", "workspace", "what"]
    assert repr(change).startswith(f"Change(revision={change.revision}, time_ns=")
    with pytest.raises(dataclasses.FrozenInstanceError):
        change.what = "forged"
    assert change == world.engine.changes_since(world.engine.revision - 1)[0]


def test_L1_changes_since_returns_the_tail_in_order(world):
    e, clock = world.engine, world.clock
    start = e.revision
    clock.advance_s(5)
    e.rename_workspace(world.ws_owner, world.client_a, "Client Alpha")
    clock.advance_s(5)
    e.set_setting(world.ws_admin, world.agency, "beta_opt_in", False)
    tail = e.changes_since(start)
    assert [c.revision for c in tail] == [start + 1, start + 2]
    assert tail[0].time_ns + 5 * 10**9 == tail[1].time_ns == clock.now_ns()
    assert (tail[0].actor, tail[0].account, tail[0].workspace) == (world.ws_owner, world.account, world.client_a)
    assert "rename_workspace" in tail[0].what and "set_setting" in tail[1].what
    assert e.changes_since(e.revision) == []
    assert e.changes_since(e.revision + 1000) == []
    assert e.changes_since(2**64 - 1) == []


def test_L1_refused_changes_and_reads_make_no_record(world):
    e = world.engine
    revision = e.revision
    for call in [lambda: e.create_user("owner@acme.test"), lambda: e.set_status(world.viewer, world.ops, "inactive"),
                 lambda: e.delete_workspace(S, world.ops, confirm="nope")]:
        with pytest.raises(tenantry.Error):
            call()
    e.check(world.owner, world.ops, "workspace.view")
    e.explain(world.owner, world.ops, "workspace.view")
    e.members(world.ops)
    e.workspaces_for(world.owner)
    e.verify()
    assert e.revision == revision
    assert e.changes_since(revision) == []


def test_L1_feed_keeps_only_its_retention(clock, refused):
    e = tenantry.Engine(clock=clock, feed_retention=5)
    world = build_world(e, clock)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "L1", e.changes_since, 0)
    tail = e.changes_since(e.revision - 5)
    assert [c.revision for c in tail] == list(range(e.revision - 4, e.revision + 1))
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "L1", e.changes_since, e.revision - 6)
    assert world.engine is e


def test_L1_replaying_the_feed_is_how_a_follower_keeps_up(world):
    e = world.engine
    seen = e.revision
    log = []
    for i in range(5):
        e.add_member(S, world.ops, e.create_user(f"f{i}@x.test"), "viewer")
        batch = e.changes_since(seen)
        log.extend(batch)
        seen = batch[-1].revision
    assert [c.revision for c in log] == list(range(log[0].revision, e.revision + 1))
    assert sum("add_member" in c.what for c in log) == 5


def test_C8_verify_passes_on_a_consistent_engine(world):
    e = world.engine
    assert e.verify() is None
    e.grant(S, world.account, 50)
    e.transfer(S, world.account, world.ops, 50)
    e.consume(world.ops, 7)
    e.delete_workspace(world.owner, world.client_a, confirm="Client A")
    assert e.verify() is None
    assert tenantry.Engine().verify() is None


def test_L1_revision_is_a_read_only_int(engine):
    assert engine.revision == 0 and type(engine.revision) is int
    engine.create_user("a@x.test")
    assert engine.revision == 1
    with pytest.raises(AttributeError):
        engine.revision = 0
    with pytest.raises(AttributeError):
        del engine.revision

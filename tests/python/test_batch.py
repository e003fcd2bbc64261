"""tenantry.Batch and Engine.apply (X2): every change a Batch queues, all
visible together or none, each with its own revision; bad arguments fail
where they are written."""

import pytest

import tenantry
from conftest import ADMIN, MANAGER, VIEWER, build_world

S = tenantry.SYSTEM


def test_X2_batch_methods_chain_and_count():
    b = tenantry.Batch()
    assert len(b) == 0
    assert b.create_user("a@x.test") is b
    assert b.create_user("b@x.test").create_user("c@x.test") is b
    assert len(b) == 3


def test_X2_apply_returns_the_ids_in_order_and_each_change_gets_a_revision(world):
    e = world.engine
    next_user = e.stats()["users"] + 1
    b = (tenantry.Batch()
         .create_user("b1@x.test")
         .create_user("b2@x.test")
         .add_member(S, world.ops, next_user, "viewer")
         .create_workspace(S, world.account, "Batch WS", slug="batch-ws")
         .create_team(S, world.ops, "Batch team", "viewer")
         .create_account("Third", world.owner, plan="growth", key="third"))
    revision = e.revision
    ids = e.apply(b)
    assert e.revision == revision + 6
    assert ids[0] == next_user and ids[1] == next_user + 1
    assert ids[2] == 0  # add_member creates nothing
    assert e.workspace(ids[3]).slug == "batch-ws"
    assert e.team(ids[4]).name == "Batch team"
    assert e.account(ids[5]).key == "third"
    assert e.user("b1@x.test") == ids[0]
    assert e.members(world.ops)[-1] == (next_user, "viewer")
    assert [c.revision for c in e.changes_since(revision)] == list(range(revision + 1, revision + 7))
    assert e.apply(tenantry.Batch()) == []
    e.verify()


def test_X2_a_failed_batch_applies_nothing(world, refused):
    e = world.engine
    b = tenantry.Batch().rename_workspace(S, world.ops, "Ops 2").set_status(world.viewer, world.ops, "inactive")
    error = refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.apply, b)
    assert "change #1 (set_status)" in str(error) and "nothing was applied" in str(error)
    b = tenantry.Batch().create_user("ok@x.test").create_user("OK@x.test")
    refused(e, tenantry.AlreadyExists, "already_exists", "M1", e.apply, b)
    b = (tenantry.Batch().delete_workspace(world.owner, world.client_a, confirm="Client A")
         .delete_workspace(world.owner, world.ops, confirm="wrong"))
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T7", e.apply, b)
    # A batch applied once cannot be applied again (its users exist now).
    good = tenantry.Batch().create_user("once@x.test")
    e.apply(good)
    refused(e, tenantry.AlreadyExists, "already_exists", "M1", e.apply, good)


def test_X2_every_batch_change_kind(world):
    e = world.engine
    hire = e.create_user("hire@x.test")
    guest = e.create_user("guest@customer.test")
    inv = e.invite(world.ws_admin, world.agency, "guest@customer.test", role="viewer")
    other_inv = e.invite(world.ws_admin, world.agency, "nobody@x.test")
    next_team = max(e.teams(world.agency) + [0]) + 1
    b = (tenantry.Batch()
         .set_plan(S, world.account, tenantry.Plan("big", 100, True))
         .add_staff(S, world.account, hire, "member", scope=[world.ops])
         .set_staff_scope(S, world.account, hire, [world.ops, world.client_b])
         .remove_staff(S, world.account, world.scoped)
         .rename_workspace(S, world.client_b, "Client Beta")
         .set_setting(S, world.client_b, "approval_timeout_s", 600)
         .set_setting(S, world.client_b, "beta_opt_in", False)
         .add_member(S, world.ops, world.outsider, "viewer")
         .set_role(S, world.ops, world.outsider, "manager")
         .remove_member(S, world.agency, world.member)
         .transfer_ownership(world.ws_owner, world.client_a, world.ws_admin)
         .define_role(S, world.account, "support", ["contacts.edit"], inherits="viewer")
         .create_team(S, world.agency, "Crew", "viewer")
         .add_team_member(S, next_team, world.member)
         .set_team_role(S, next_team, "support")
         .accept(inv.token, guest)
         .revoke_invitation(world.ws_admin, other_inv.id)
         .switch_workspace(world.viewer, world.agency)
         .set_status(S, world.client_b, "inactive"))
    assert len(b) == 19
    ids = e.apply(b)
    assert len(ids) == 19 and ids[12] == next_team
    assert e.account(world.account).plan == tenantry.Plan("big", 100, True)
    assert e.staff(world.account, hire) == ("member", sorted([world.ops, world.client_b]))
    with pytest.raises(tenantry.NotFound):
        e.staff(world.account, world.scoped)
    assert e.workspace(world.client_b).name == "Client Beta"
    assert e.workspace(world.client_b).status == "inactive"
    assert e.settings(world.client_b) == {"beta_opt_in": False, "approval_timeout_s": 600, "inactivity_timeout_s": 0}
    assert (world.outsider, "manager") in e.members(world.ops)
    assert world.member not in dict(e.members(world.agency))
    assert e.workspace(world.client_a).owner == world.ws_admin
    assert e.team(next_team).members == (world.member,) and e.team(next_team).role == "support"
    assert world.perms(world.member, world.agency) == VIEWER | {"contacts.edit"}
    assert (guest, "viewer") in e.members(world.agency)
    assert e.invitation(inv.id).state == "accepted"
    assert e.invitation(other_inv.id).state == "revoked"
    assert e.active_workspace(world.viewer) == world.agency
    assert world.perms(hire, world.ops) == ADMIN
    e.verify()
    # The rest of the Batch's changes: delete_team, remove_team_member, delete_workspace.
    e.apply(tenantry.Batch()
            .remove_team_member(S, next_team, world.member)
            .delete_team(S, next_team)
            .delete_workspace(world.owner, world.client_b, confirm="Client Beta"))
    with pytest.raises(tenantry.NotFound):
        e.team(next_team)
    with pytest.raises(tenantry.NotFound):
        e.workspace(world.client_b)
    assert world.perms(world.manager, world.client_a) == MANAGER
    e.verify()


def test_X2_a_bad_argument_fails_where_it_is_written():
    b = tenantry.Batch()
    with pytest.raises(tenantry.InvalidArgument) as caught:
        b.set_status(S, 1, "paused")
    assert caught.value.rule == "T5"
    with pytest.raises(tenantry.InvalidArgument) as caught:
        b.create_workspace(S, 1, "X", type="weird")
    assert caught.value.rule == "T4"
    with pytest.raises(tenantry.InvalidArgument) as caught:
        b.add_staff(S, 1, 2, "member", scope="some")
    assert caught.value.rule == "M2"
    with pytest.raises(tenantry.InvalidArgument):
        b.add_member(-1, 1, 2, "viewer")
    with pytest.raises(tenantry.InvalidArgument):
        b.remove_member(S, 2**64, 2)
    with pytest.raises(TypeError):
        b.set_setting(S, 1, "beta_opt_in", "yes")
    with pytest.raises(TypeError):
        b.set_plan(S, 1, None)
    with pytest.raises(TypeError):
        b.create_user(None)
    with pytest.raises(TypeError):
        b.delete_workspace(S, 1, "positional confirm")
    with pytest.raises(TypeError):
        b.define_role(S, 1, "x", "calls.view")
    with pytest.raises(tenantry.InvalidArgument):
        b.create_account("X", 1, plan=tenantry.Plan("bad", 2**63))
    assert len(b) == 0  # nothing was queued


def test_X2_apply_takes_only_a_batch(engine):
    for bad in [None, [], "batch", object()]:
        with pytest.raises(TypeError):
            engine.apply(bad)
    assert engine.revision == 0


def test_X2_a_batch_may_be_applied_to_another_engine(clock):
    b = tenantry.Batch().create_user("x@y.test").create_user("z@y.test")
    first, second = tenantry.Engine(clock=clock), tenantry.Engine(clock=clock)
    assert first.apply(b) == [1, 2]
    assert second.apply(b) == [1, 2]
    assert first.user("z@y.test") == second.user("z@y.test") == 2
    world = build_world(tenantry.Engine(clock=clock), clock)
    assert world.engine.revision > 0

"""docs/rules.md section 4, the active workspace (S1), with the per-workspace user
inactivity timeout (T6) on a ManualClock (I4): switch_workspace,
active_workspace, touch_session, expire_sessions."""

import pytest

import tenantry

S = tenantry.SYSTEM


@pytest.fixture
def timed(world):
    """Ops gets an inactivity timeout of 60 s; the viewer, member and manager
    are admins there too."""
    e = world.engine
    e.set_setting(world.owner, world.ops, "inactivity_timeout_s", 60)
    for u in [world.viewer, world.member, world.manager]:
        e.add_member(world.owner, world.ops, u, "admin")
    return world


def test_S1_at_most_one_active_workspace(world):
    e = world.engine
    assert e.active_workspace(world.viewer) is None
    revision = e.revision
    e.switch_workspace(world.viewer, world.agency)
    assert e.revision == revision + 1
    assert e.active_workspace(world.viewer) == world.agency
    e.switch_workspace(world.viewer, world.client_b)  # inherited switch permission (A3)
    assert e.active_workspace(world.viewer) == world.client_b
    e.switch_workspace(world.client, world.client_a)
    assert (e.active_workspace(world.viewer), e.active_workspace(world.client)) == (world.client_b, world.client_a)
    assert e.active_workspace(999) is None  # an unknown user has none
    assert e.active_workspace(0) is None
    e.verify()


def test_S1_switch_refusals(world, refused):
    e = world.engine
    e.switch_workspace(world.viewer, world.agency)
    refused(e, tenantry.NotFound, "not_found", "S1", e.switch_workspace, world.viewer, 999)
    refused(e, tenantry.NotFound, "not_found", "S1", e.switch_workspace, 999, world.agency)
    refused(e, tenantry.NotFound, "not_found", "S1", e.switch_workspace, S, world.agency)
    refused(e, tenantry.PermissionDenied, "permission_denied", "S1", e.switch_workspace, world.outsider, world.agency)
    refused(e, tenantry.PermissionDenied, "permission_denied", "S1", e.switch_workspace, world.owner, world.elsewhere)
    refused(e, tenantry.PermissionDenied, "permission_denied", "S1", e.switch_workspace, world.client, world.client_b)
    refused(e, tenantry.PermissionDenied, "permission_denied", "S1", e.switch_workspace, world.scoped, world.ops)
    e.set_status(S, world.ops, "inactive")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T5, S1", e.switch_workspace, world.owner, world.ops)
    assert e.active_workspace(world.viewer) == world.agency


def test_S1_losing_access_clears_the_session_on_the_spot(world):
    e = world.engine
    e.switch_workspace(world.viewer, world.agency)
    e.switch_workspace(world.member, world.agency)
    e.switch_workspace(world.client, world.client_a)
    e.switch_workspace(world.staff, world.ops)
    e.remove_member(world.ws_admin, world.agency, world.viewer)
    assert e.active_workspace(world.viewer) is None
    assert e.active_workspace(world.member) == world.agency
    e.set_status(world.ws_owner, world.agency, "inactive")
    assert e.active_workspace(world.member) is None
    assert e.active_workspace(world.client) == world.client_a  # a child is not inactive
    e.set_staff_scope(S, world.account, world.staff, [world.agency])
    assert e.active_workspace(world.staff) is None
    e.delete_workspace(world.ws_owner, world.client_a, confirm="Client A")
    assert e.active_workspace(world.client) is None
    e.verify()


def test_S1_losing_switch_through_a_team_or_a_role_redefinition(world, refused):
    e = world.engine
    e.define_role(S, world.account, "desk", ["workspace.view", "workspace.switch"])
    team = e.create_team(S, world.ops, "Crew", "viewer")
    ann, bob = e.create_user("ann@acme.test"), e.create_user("bob@acme.test")
    e.add_team_member(S, team, ann)
    e.add_member(S, world.ops, bob, "desk")
    e.switch_workspace(ann, world.ops)
    e.switch_workspace(bob, world.ops)
    e.remove_team_member(S, team, ann)
    assert e.active_workspace(ann) is None
    e.define_role(S, world.account, "desk", ["workspace.view"])
    assert e.active_workspace(bob) is None
    refused(e, tenantry.PermissionDenied, "permission_denied", "S1", e.switch_workspace, bob, world.ops)


def test_S1_session_expires_after_the_inactivity_timeout(timed):
    e, clock = timed.engine, timed.clock
    e.switch_workspace(timed.viewer, timed.ops)
    clock.advance_s(59)
    assert e.active_workspace(timed.viewer) == timed.ops
    revision = e.revision
    clock.advance_s(2)
    assert e.active_workspace(timed.viewer) is None
    assert e.revision == revision  # expiry when read changes nothing
    e.verify()
    e.switch_workspace(timed.viewer, timed.ops)
    clock.advance_s(30)
    assert e.active_workspace(timed.viewer) == timed.ops


def test_S1_touch_keeps_the_session_alive(timed):
    e, clock = timed.engine, timed.clock
    e.switch_workspace(timed.viewer, timed.ops)
    for _ in range(10):
        clock.advance_s(50)
        revision = e.revision
        assert e.touch_session(timed.viewer) is None
        assert e.revision == revision + 1
    assert e.active_workspace(timed.viewer) == timed.ops
    clock.advance_s(61)
    assert e.active_workspace(timed.viewer) is None


def test_S1_touch_after_expiry_or_without_a_session_is_refused(timed, refused):
    e = timed.engine
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "S1", e.touch_session, timed.viewer)
    refused(e, tenantry.NotFound, "not_found", "S1", e.touch_session, 99999)
    e.switch_workspace(timed.viewer, timed.ops)
    timed.clock.advance_s(61)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "S1", e.touch_session, timed.viewer)
    assert e.active_workspace(timed.viewer) is None


def test_S1_expire_sessions_clears_expired_ones_and_counts_them(timed):
    e, clock = timed.engine, timed.clock
    e.switch_workspace(timed.viewer, timed.ops)
    e.switch_workspace(timed.member, timed.ops)
    e.switch_workspace(timed.manager, timed.agency)  # no timeout there
    clock.advance_s(40)
    e.touch_session(timed.member)
    assert e.expire_sessions() == 0
    clock.advance_s(30)  # viewer 70 s idle, member 30 s
    assert e.expire_sessions() == 1
    assert e.active_workspace(timed.viewer) is None
    assert e.active_workspace(timed.member) == timed.ops
    assert e.active_workspace(timed.manager) == timed.agency
    clock.advance_s(31)
    assert e.expire_sessions() == 1
    assert e.expire_sessions() == 0
    e.set_setting(timed.owner, timed.ops, "inactivity_timeout_s", 0)
    assert e.active_workspace(timed.viewer) is None  # swept sessions stay gone
    e.verify()


def test_T6_timeout_zero_never_expires(world):
    e = world.engine
    e.switch_workspace(world.viewer, world.agency)
    world.clock.advance_s(400 * 24 * 3600)
    assert e.active_workspace(world.viewer) == world.agency
    assert e.expire_sessions() == 0
    e.touch_session(world.viewer)


def test_T7_an_expired_session_does_not_block_deletion(timed, refused):
    e = timed.engine
    e.switch_workspace(timed.owner, timed.ops)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T7",
            e.delete_workspace, timed.owner, timed.ops, confirm="Ops")
    timed.clock.advance_s(61)
    assert e.active_workspace(timed.owner) is None
    e.delete_workspace(timed.owner, timed.ops, confirm="Ops")
    e.verify()

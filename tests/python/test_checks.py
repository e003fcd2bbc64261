"""docs/rules.md section 3, access checks, through the Python package: check (A1),
isolation (A2), agency inheritance (A3), explain and the Decision value type
(A4), the lists (A5) and authorize_and_consume (A7). check_many (A6) has
its own file."""

import dataclasses
import itertools

import pytest

import tenantry
from conftest import ADMIN, CLIENT, MANAGER, OWNER, VIEWER, permission_names

S = tenantry.SYSTEM


def test_A1_check_by_name_and_by_interned_id_agree(world):
    e = world.engine
    names = permission_names(e)
    for user, ws in itertools.product(world.users, world.acme_workspaces + [world.elsewhere]):
        by_name = [e.check(user, ws, n) for n in names]
        by_id = [e.check(user, ws, i) for i in range(len(names))]
        by_keyword = [e.check(user=user, workspace=ws, permission=i) for i in range(len(names))]
        assert by_name == by_id == by_keyword
        assert all(type(answer) is bool for answer in by_name)
        assert by_id == [e._check_pybind11(user, ws, i) for i in range(len(names))]


def test_A1_union_of_direct_team_and_staff_grants(world):
    e = world.engine
    assert world.perms(world.viewer, world.agency) == VIEWER
    team = e.create_team(S, world.agency, "Leads", "manager")
    e.add_team_member(S, team, world.viewer)
    assert world.perms(world.viewer, world.agency) == MANAGER  # direct viewer + team manager
    e.add_member(S, world.ops, world.staff, "viewer")
    assert world.perms(world.staff, world.ops) == ADMIN  # staff grant + direct viewer
    e.remove_team_member(S, team, world.viewer)
    assert world.perms(world.viewer, world.agency) == VIEWER


def test_A1_unknown_ids_deny_and_unknown_names_are_not_found(world, refused):
    e = world.engine
    for user, ws in [(999, world.agency), (world.owner, 999), (0, world.agency), (world.owner, 0),
                     (S, world.agency), (2**64 - 1, 2**64 - 1)]:
        assert e.check(user, ws, "workspace.view") is False
    assert e.check(world.owner, world.agency, 4095) is False  # an id past the catalog denies
    assert e.check(world.owner, world.agency, 2**32 - 1) is False
    refused(e, tenantry.NotFound, "not_found", "M7", e.check, world.owner, world.agency, "reports.fly")
    refused(e, tenantry.NotFound, "not_found", "M7", e.check, world.owner, world.agency, "")


def test_A2_isolation_between_accounts_and_siblings(world):
    e = world.engine
    for u in world.users:
        if u != world.other_owner:
            assert world.perms(u, world.elsewhere) == frozenset()
    for ws in world.acme_workspaces:
        assert world.perms(world.other_owner, ws) == frozenset()
    e.add_member(S, world.client_a, world.outsider, "admin")
    assert world.perms(world.outsider, world.client_a) == ADMIN
    assert world.perms(world.outsider, world.client_b) == frozenset()  # a sibling
    assert world.perms(world.outsider, world.agency) == frozenset()  # the parent


def test_A3_agency_roles_apply_in_client_sub_workspaces_except_client(world):
    e = world.engine
    for ws in [world.client_a, world.client_b]:
        assert world.perms(world.ws_admin, ws) == ADMIN
        assert world.perms(world.manager, ws) == MANAGER
        assert world.perms(world.viewer, ws) == VIEWER
    e.add_member(S, world.agency, world.outsider, "client")
    assert world.perms(world.outsider, world.agency) == CLIENT
    assert world.perms(world.outsider, world.client_a) == frozenset()
    assert world.perms(world.outsider, world.client_b) == frozenset()
    assert world.perms(world.manager, world.ops) == frozenset()


def test_A4_explain_and_the_decision_value_type(world):
    e = world.engine
    d = e.explain(world.ws_owner, world.agency, "workspace.delete")
    assert d == tenantry.Decision(True, "direct", "owner", world.agency, None, d.reason)
    assert d.reason.endswith("(A1)") and "owner" in d.reason
    assert bool(d) is True
    assert [f.name for f in dataclasses.fields(d)] == ["allowed", "path", "role", "via_workspace", "via_team", "reason"]
    assert repr(d).startswith("Decision(allowed=True, path='direct', role='owner'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.allowed = False

    inherited = e.explain(world.manager, world.client_a, "contacts.edit")
    assert (inherited.allowed, inherited.path, inherited.role, inherited.via_workspace) == (
        True, "inherited", "manager", world.agency)
    assert "(A3)" in inherited.reason

    staff = e.explain(world.staff, world.ops, "workspace.view")
    assert (staff.allowed, staff.path, staff.role, staff.via_team) == (True, "staff", "admin", None)
    assert "M2" in staff.reason

    team = e.create_team(S, world.ops, "Editors", "manager")
    e.add_team_member(S, team, world.outsider)
    by_team = e.explain(world.outsider, world.ops, "contacts.edit")
    assert (by_team.allowed, by_team.path, by_team.via_team, by_team.via_workspace, by_team.role) == (
        True, "team", team, world.ops, "manager")
    assert "(M9)" in by_team.reason

    for user, ws, perm, why in [
        (world.outsider, world.agency, "workspace.view", "A1"),
        (world.scoped, world.ops, "workspace.view", "M2"),
        (999, world.agency, "workspace.view", "A1"),
        (world.owner, 999, "workspace.view", "A1"),
        (world.viewer, world.agency, "billing.view", None),
    ]:
        denied = e.explain(user, ws, perm)
        assert (denied.allowed, denied.path, denied.role, denied.via_team) == (False, "none", None, None)
        assert bool(denied) is False and denied.reason
        if why:
            assert denied.reason.endswith(f"({why})")
    e.set_status(S, world.ops, "inactive")
    inactive = e.explain(world.owner, world.ops, "contacts.view")
    assert not inactive.allowed and inactive.reason.endswith("(T5)")


def test_A4_explain_agrees_with_check_everywhere(world):
    e = world.engine
    names = permission_names(e)
    for user, ws in itertools.product(world.users, world.acme_workspaces):
        for i, name in enumerate(names):
            d = e.explain(user, ws, i)
            assert d.allowed == e.check(user, ws, name)
            assert (d.path == "none") == (not d.allowed)


def test_A4_explain_refusals(world):
    e = world.engine
    with pytest.raises(tenantry.InvalidArgument) as caught:
        e.explain(world.owner, world.agency, 4000)
    assert caught.value.code == "invalid_argument" and caught.value.rule == "M7"
    with pytest.raises(tenantry.NotFound) as caught:
        e.explain(world.owner, world.agency, "reports.fly")
    assert caught.value.rule == "M7"


def test_A5_workspaces_for_is_the_switcher_ordered_by_name(world):
    e = world.engine
    assert e.workspaces_for(world.client) == [world.client_a]
    assert e.workspaces_for(world.viewer) == [world.agency, world.client_a, world.client_b]
    assert e.workspaces_for(world.owner) == [world.agency, world.client_a, world.client_b, world.ops]
    assert e.workspaces_for(world.scoped) == [world.client_b]
    assert e.workspaces_for(world.outsider) == []
    assert e.workspaces_for(999) == []
    e.rename_workspace(S, world.ops, "AAA first")
    assert e.workspaces_for(world.owner)[0] == world.ops
    e.set_status(S, world.client_a, "inactive")
    assert world.client_a not in e.workspaces_for(world.owner)


def test_A5_members_who_can_accessible(world, refused):
    e = world.engine
    assert e.members(world.agency) == [
        (world.ws_owner, "owner"), (world.ws_admin, "admin"), (world.manager, "manager"),
        (world.member, "member"), (world.viewer, "viewer")]
    assert e.members(world.client_a) == [(world.ws_owner, "owner"), (world.client, "client")]
    refused(e, tenantry.NotFound, "not_found", "A5", e.members, 999)
    who = e.who_can(world.client_a, "workspace.view")
    assert who == sorted(who)
    assert set(who) == {world.owner, world.admin, world.staff, world.ws_owner, world.ws_admin,
                        world.manager, world.member, world.viewer, world.client}
    assert e.who_can(world.client_a, e.permission("workspace.delete")) == [world.owner, world.ws_owner]
    assert e.who_can(999, "workspace.view") == []
    assert e.who_can(world.ops, 4000) == []
    assert e.accessible(world.manager, "contacts.edit") == [world.agency, world.client_a, world.client_b]
    assert e.accessible(world.client, "runs.trigger") == [world.client_a]
    assert e.accessible(999, "workspace.view") == []
    for call, args in [(e.who_can, (world.ops, "no.such")), (e.accessible, (world.owner, "no.such"))]:
        refused(e, tenantry.NotFound, "not_found", "M7", call, *args)


def test_A5_lists_agree_with_check(world):
    e = world.engine
    names = permission_names(e)
    for name in names[::7]:
        for ws in world.acme_workspaces:
            assert e.who_can(ws, name) == sorted(u for u in world.users if e.check(u, ws, name))
        for u in world.users:
            assert e.accessible(u, name) == sorted(ws for ws in world.acme_workspaces + [world.elsewhere]
                                                   if e.check(u, ws, name))


def test_A7_authorize_and_consume_both_or_neither(world, refused):
    e = world.engine
    e.grant(S, world.account, 100)
    e.transfer(S, world.account, world.agency, 100)
    revision = e.revision
    assert e.authorize_and_consume(world.member, world.agency, "credits.consume", 30) is True
    assert e.balance(world.agency)["regular"] == 70
    assert e.revision == revision  # a consume is no change (C5)
    # Denied: nothing debited, no error.
    for user in [world.viewer, world.outsider, world.other_owner, 999]:
        assert e.authorize_and_consume(user, world.agency, "credits.consume", 5) is False
    assert e.authorize_and_consume(world.member, world.agency, "billing.manage", 5) is False
    assert e.authorize_and_consume(world.member, 999, "credits.consume", 5) is False
    assert e.balance(world.agency)["regular"] == 70
    # Allowed but short: refused, nothing debited.
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5",
            e.authorize_and_consume, world.member, world.agency, "credits.consume", 71)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "C1",
            e.authorize_and_consume, world.member, world.agency, "credits.consume", 0)
    refused(e, tenantry.NotFound, "not_found", "M7",
            e.authorize_and_consume, world.member, world.agency, "credits.fly", 1)
    refused(e, tenantry.NotFound, "not_found", "C1",
            e.authorize_and_consume, world.member, world.agency, "credits.consume", 1, meter="nope")
    pid = e.permission("credits.consume")
    assert e.authorize_and_consume(world.member, world.agency, pid, 70, meter="credits") is True
    assert e.balance(world.agency) == {"regular": 0, "extra": 0, "held": 0}
    assert e.consumed(world.agency) == 100
    e.verify()


def test_M8_roles_in_the_world(world):
    assert world.perms(world.ws_owner, world.agency) == OWNER
    assert world.perms(world.client, world.client_a) == CLIENT

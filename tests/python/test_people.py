"""docs/rules.md section 2, people, through the Python package: users (M1), staff
(M2), the role hierarchy (M3), the one owner (M4), staff and clients (M5),
custom roles (M6), the permission catalog (M7), role contents (M8), teams
(M9) and authorized changes (M10); and the value type Team."""

import dataclasses

import pytest

import tenantry
from conftest import ACCOUNT_EXTRAS, ADMIN, CLIENT, MANAGER, MEMBER, OWNER, VIEWER, permission_names

S = tenantry.SYSTEM


# ---------------------------------------------------------------- M1


def test_M1_user_keys_are_unique_case_insensitively(engine, refused):
    ada = engine.create_user("A@x.com")
    assert ada > 0
    for key in ["a@x.com", "A@X.COM", " a@x.com "]:
        refused(engine, tenantry.AlreadyExists, "already_exists", "M1", engine.create_user, key)
    assert engine.user("A@X.COM") == ada
    assert engine.user("a@x.com") == ada
    assert engine.stats()["users"] == 1


def test_M1_distinct_keys_are_distinct_users(engine, refused):
    ada, bob, ada_y = (engine.create_user(k) for k in ["ada@x.com", "bob@x.com", "ada@y.com"])
    assert len({ada, bob, ada_y}) == 3
    assert engine.user("BOB@x.com") == bob
    error = refused(engine, tenantry.NotFound, "not_found", "M1", engine.user, "carol@x.com")
    assert isinstance(error, LookupError)


def test_M1_invalid_keys_refused(engine, refused):
    for key in ["", "   ", "a\x01@x.com", "a\x00b@x.com", "k" * 321, "k" * (1 << 20)]:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "M1", engine.create_user, key)
    assert engine.stats()["users"] == 0


# ---------------------------------------------------------------- M2


def test_M2_owner_and_admin_always_have_scope_all(world, refused):
    e = world.engine
    assert e.staff(world.account, world.owner) == ("owner", "all")
    assert e.staff(world.account, world.admin) == ("admin", "all")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2",
            e.add_staff, S, world.account, world.outsider, "admin", scope=[world.ops])
    for u in [world.owner, world.admin]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "M2",
                e.set_staff_scope, S, world.account, u, [world.ops])
        refused(e, tenantry.InvalidArgument, "invalid_argument", "M2",
                e.set_staff_scope, S, world.account, u, [])
    e.add_staff(S, world.account, world.outsider, "admin", scope="all")
    e.set_staff_scope(S, world.account, world.admin, "all")
    assert e.staff(world.account, world.outsider) == ("admin", "all")


def test_M2_member_scope_follows_member_default_scope(engine):
    owner, in_all, in_none, given = (engine.create_user(f"{n}@a.test") for n in ["owner", "all", "none", "given"])
    all_ = engine.create_account("All", owner, plan="enterprise", member_default_scope="all")
    none = engine.create_account("None", owner, plan="enterprise", member_default_scope="none")
    all_ws = engine.create_workspace(owner, all_, "Main")
    none_ws = engine.create_workspace(owner, none, "Main")
    engine.add_staff(owner, all_, in_all, "member")
    assert engine.staff(all_, in_all) == ("member", "all")
    assert engine.check(in_all, all_ws, "members.invite") is True
    engine.add_staff(owner, none, in_none, "member")
    assert engine.staff(none, in_none) == ("member", [])
    assert engine.check(in_none, none_ws, "workspace.view") is False
    engine.add_staff(owner, none, given, "member", scope="all")  # explicit beats the default
    assert engine.check(given, none_ws, "members.invite") is True
    # Admins get "all" even when members default to none.
    admin = engine.create_user("admin@a.test")
    engine.add_staff(owner, none, admin, "admin")
    assert engine.staff(none, admin) == ("admin", "all")


def test_M2_specific_scope_grants_only_listed_workspaces_and_their_clients(world):
    e = world.engine
    assert e.staff(world.account, world.scoped) == ("member", [world.client_b])
    assert [bool(world.perms(world.scoped, ws)) for ws in world.acme_workspaces] == [False, False, True, False]
    e.set_staff_scope(world.admin, world.account, world.staff, [world.agency])
    assert e.staff(world.account, world.staff) == ("member", [world.agency])
    for ws in [world.agency, world.client_a, world.client_b]:
        assert world.perms(world.staff, ws) == ADMIN
    assert world.perms(world.staff, world.ops) == frozenset()
    later = e.create_workspace(world.admin, world.account, "Client C", parent=world.agency)
    assert world.perms(world.staff, later) == ADMIN  # covered through its agency
    e.set_staff_scope(S, world.account, world.staff, "none")
    assert all(world.perms(world.staff, ws) == frozenset() for ws in world.acme_workspaces)
    e.set_staff_scope(S, world.account, world.staff, (ws for ws in [world.ops]))  # any iterable
    assert e.staff(world.account, world.staff) == ("member", [world.ops])
    e.set_staff_scope(S, world.account, world.staff, "all")
    assert all(world.perms(world.staff, ws) == ADMIN for ws in world.acme_workspaces)


def test_M2_staff_refusals(world, refused):
    e, a = world.engine, world.account
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2", e.add_staff, S, a, world.outsider, "manager")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M2", e.add_staff, S, a, world.outsider, "owner")
    refused(e, tenantry.AlreadyExists, "already_exists", "M2", e.add_staff, S, a, world.staff, "admin")
    refused(e, tenantry.NotFound, "not_found", "M2", e.add_staff, S, a, 999, "member")
    refused(e, tenantry.NotFound, "not_found", "M2", e.add_staff, S, 999, world.outsider, "member")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2, A2",
            e.add_staff, S, a, world.outsider, "member", scope=[world.elsewhere])
    refused(e, tenantry.NotFound, "not_found", "M2", e.add_staff, S, a, world.outsider, "member", scope=[999])
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2",
            e.add_staff, S, a, world.outsider, "member", scope="some")
    for actor in [world.staff, world.ws_owner, world.viewer, world.other_owner]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.add_staff, actor, a, world.outsider, "member")
    refused(e, tenantry.NotFound, "not_found", "M2", e.set_staff_scope, S, a, world.outsider, "all")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2, A2",
            e.set_staff_scope, S, a, world.staff, [world.ops, world.elsewhere])
    refused(e, tenantry.NotFound, "not_found", "M2", e.set_staff_scope, S, a, world.staff, [999])
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.set_staff_scope, world.staff, a, world.scoped, "all")
    with pytest.raises(TypeError):
        e.set_staff_scope(S, a, world.staff, None)
    with pytest.raises(TypeError):
        e.add_staff(S, a, world.outsider, "member", scope=5)
    with pytest.raises(TypeError):
        e.add_staff(S, a, world.outsider, "member", scope=["1"])
    refused(e, tenantry.NotFound, "not_found", "M2", e.staff, a, world.outsider)


def test_M2_remove_staff(world, refused):
    e = world.engine
    e.remove_staff(world.admin, world.account, world.staff)
    refused(e, tenantry.NotFound, "not_found", "M2", e.staff, world.account, world.staff)
    assert all(world.perms(world.staff, ws) == frozenset() for ws in world.acme_workspaces)
    refused(e, tenantry.NotFound, "not_found", "M2", e.remove_staff, S, world.account, world.staff)
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.remove_staff, world.viewer, world.account, world.scoped)
    e.remove_staff(world.owner, world.account, world.admin)
    assert world.perms(world.admin, world.ops) == frozenset()
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.create_workspace, world.admin, world.account, "After")


def test_M2_owner_cannot_be_removed(world, refused):
    for actor in [S, world.admin, world.owner]:
        refused(world.engine, tenantry.FailedPrecondition, "failed_precondition", "M2",
                world.engine.remove_staff, actor, world.account, world.owner)
    assert world.engine.staff(world.account, world.owner) == ("owner", "all")


# ---------------------------------------------------------------- M3


def test_M3_each_role_holds_every_permission_of_the_roles_below(world):
    ranks = [world.ws_owner, world.ws_admin, world.manager, world.member, world.viewer]
    held = [world.perms(u, world.agency) for u in ranks]
    for hi in range(len(ranks)):
        for lo in range(hi + 1, len(ranks)):
            assert held[lo] < held[hi]  # a strict subset
    assert ("owner", "admin", "manager", "member", "viewer") == tuple(
        dict(world.engine.members(world.agency))[u] for u in ranks)


def test_M3_client_stands_outside_the_hierarchy(world):
    client = world.perms(world.client, world.client_a)
    viewer = world.perms(world.viewer, world.client_a)
    assert not client <= viewer and not viewer <= client
    for name in client:
        assert name.endswith(".view") or name in {"workspace.switch", "runs.trigger", "connections.rotate_own"}


def test_M3_at_most_one_direct_role(world, refused):
    e = world.engine
    for role in ["viewer", "manager", "admin"]:
        refused(e, tenantry.AlreadyExists, "already_exists", "M3", e.add_member, S, world.agency, world.viewer, role)
    refused(e, tenantry.AlreadyExists, "already_exists", "M3",
            e.add_member, world.ws_admin, world.agency, world.manager, "viewer")
    refused(e, tenantry.AlreadyExists, "already_exists", "M3",
            e.add_member, S, world.agency, world.ws_owner, "viewer")
    users = [u for u, _ in e.members(world.agency)]
    assert len(users) == len(set(users))
    e.add_member(S, world.ops, world.viewer, "manager")  # another workspace is fine


def test_M3_set_role_replaces_the_direct_role(world):
    e = world.engine
    e.add_member(world.admin, world.ops, world.outsider, "viewer")
    assert world.perms(world.outsider, world.ops) == VIEWER
    e.set_role(world.admin, world.ops, world.outsider, "manager")
    assert world.perms(world.outsider, world.ops) == MANAGER
    e.set_role(world.owner, world.ops, world.outsider, "admin")
    assert world.perms(world.outsider, world.ops) == ADMIN
    e.set_role(S, world.ops, world.outsider, "client")
    assert world.perms(world.outsider, world.ops) == CLIENT
    assert e.members(world.ops) == [(world.owner, "owner"), (world.outsider, "client")]


def test_M3_role_changes_need_a_member_and_a_known_role(world, refused):
    e = world.engine
    refused(e, tenantry.NotFound, "not_found", "M3", e.set_role, S, world.ops, world.outsider, "viewer")
    refused(e, tenantry.NotFound, "not_found", "M3", e.remove_member, S, world.ops, world.outsider)
    refused(e, tenantry.NotFound, "not_found", "M3", e.add_member, S, world.ops, 999, "viewer")
    refused(e, tenantry.NotFound, "not_found", "M3", e.add_member, S, 999, world.outsider, "viewer")
    for role in ["superuser", "Admin", "", "staff"]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "M3", e.add_member, S, world.ops, world.outsider, role)
        refused(e, tenantry.InvalidArgument, "invalid_argument", "M3", e.set_role, S, world.agency, world.viewer, role)


def test_M3_remove_member_and_leave(world, refused):
    e = world.engine
    e.remove_member(world.ws_admin, world.agency, world.viewer)
    assert world.perms(world.viewer, world.agency) == frozenset()
    assert world.perms(world.viewer, world.client_a) == frozenset()
    e.remove_member(world.member, world.agency, world.member)  # anyone may leave
    assert e.members(world.agency) == [(world.ws_owner, "owner"), (world.ws_admin, "admin"), (world.manager, "manager")]
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.remove_member, world.manager, world.agency, world.ws_admin)


# ---------------------------------------------------------------- M4


def test_M4_every_workspace_has_exactly_one_owner(world):
    for ws in world.acme_workspaces + [world.elsewhere]:
        owners = [u for u, role in world.engine.members(ws) if role == "owner"]
        assert owners == [world.engine.workspace(ws).owner]


def test_M4_owner_defaults_to_the_actor(world, refused):
    e = world.engine
    by_admin = e.create_workspace(world.admin, world.account, "By admin")
    assert e.workspace(by_admin).owner == world.admin
    by_system = e.create_workspace(S, world.account, "By system")
    assert e.workspace(by_system).owner == world.owner
    given = e.create_workspace(world.admin, world.account, "For outsider", owner=world.outsider)
    assert e.members(given) == [(world.outsider, "owner")]
    refused(e, tenantry.NotFound, "not_found", "M4",
            e.create_workspace, world.admin, world.account, "For nobody", owner=999)


def test_M4_nobody_else_changes_or_removes_the_owner(world, refused):
    e = world.engine
    for actor in [world.ws_admin, world.admin, world.owner, S]:
        for role in ["admin", "viewer", "client"]:
            refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
                    e.set_role, actor, world.agency, world.ws_owner, role)
        refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
                e.remove_member, actor, world.agency, world.ws_owner)
        refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
                e.add_member, actor, world.agency, world.outsider, "owner")
        refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
                e.set_role, actor, world.agency, world.viewer, "owner")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
            e.remove_member, world.ws_owner, world.agency, world.ws_owner)


def test_M4_owner_transfers_ownership_and_becomes_admin(world, refused):
    e = world.engine
    revision = e.revision
    e.transfer_ownership(world.ws_owner, world.agency, world.ws_admin)
    assert e.revision == revision + 1
    assert e.workspace(world.agency).owner == world.ws_admin
    roles = dict(e.members(world.agency))
    assert (roles[world.ws_owner], roles[world.ws_admin]) == ("admin", "owner")
    assert list(roles.values()).count("owner") == 1
    assert world.perms(world.ws_owner, world.agency) == ADMIN
    assert world.perms(world.ws_admin, world.agency) == OWNER
    refused(e, tenantry.PermissionDenied, "permission_denied", "M4",
            e.transfer_ownership, world.ws_owner, world.agency, world.viewer)
    e.transfer_ownership(world.ws_admin, world.agency, world.outsider)  # to a non-member
    assert world.perms(world.outsider, world.agency) == OWNER
    e.transfer_ownership(S, world.agency, world.ws_owner)
    assert e.workspace(world.agency).owner == world.ws_owner


def test_M4_only_the_owner_transfers_ownership(world, refused):
    e = world.engine
    for actor in [world.ws_admin, world.admin, world.owner, world.viewer, world.outsider]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M4",
                e.transfer_ownership, actor, world.agency, actor)
        refused(e, tenantry.PermissionDenied, "permission_denied", "M4",
                e.transfer_ownership, actor, world.agency, world.manager)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
            e.transfer_ownership, world.ws_owner, world.agency, world.ws_owner)
    refused(e, tenantry.NotFound, "not_found", "M4", e.transfer_ownership, world.ws_owner, world.agency, 999)
    refused(e, tenantry.NotFound, "not_found", "M4", e.transfer_ownership, S, 999, world.viewer)


# ---------------------------------------------------------------- M5


def test_M5_staff_cannot_become_client(world, refused):
    e = world.engine
    for staff in [world.owner, world.admin, world.staff]:
        for actor in [S, world.ws_admin]:
            refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
                    e.add_member, actor, world.client_b, staff, "client")
    e.add_member(S, world.client_b, world.staff, "viewer")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.set_role, S, world.client_b, world.staff, "client")
    e.remove_staff(S, world.account, world.staff)
    e.set_role(S, world.client_b, world.staff, "client")
    assert world.perms(world.staff, world.client_b) == CLIENT


def test_M5_client_cannot_become_staff(world, refused):
    e = world.engine
    for role in ["member", "admin"]:
        for actor in [S, world.owner]:
            refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
                    e.add_staff, actor, world.account, world.client, role)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.add_staff, S, world.account, world.client, "member", scope=[world.ops])
    e.remove_member(S, world.client_a, world.client)
    e.add_staff(S, world.account, world.client, "member")
    assert e.staff(world.account, world.client) == ("member", "all")


def test_M5_only_within_one_account(world, refused):
    e = world.engine
    e.add_member(world.other_owner, world.elsewhere, world.staff, "client")
    assert world.perms(world.staff, world.elsewhere) == CLIENT
    e.add_staff(world.other_owner, world.other, world.client, "member")
    assert world.perms(world.client, world.elsewhere) == ADMIN
    assert world.perms(world.client, world.client_a) == CLIENT
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.add_staff, world.other_owner, world.other, world.staff, "member")


# ---------------------------------------------------------------- M6


def test_M6_custom_role_grants_exactly_its_permissions(world, refused):
    e = world.engine
    e.define_role(world.owner, world.account, "auditor", ["billing.view", "analytics.view", "workspace.view"])
    holder = e.create_user("auditor@acme.test")
    e.add_member(S, world.ops, holder, "auditor")
    assert world.perms(holder, world.ops) == {"analytics.view", "billing.view", "workspace.view"}
    assert e.role_permissions(world.account, "auditor") == ["analytics.view", "billing.view", "workspace.view"]
    assert (holder, "auditor") in e.members(world.ops)
    assert world.perms(holder, world.agency) == frozenset()
    refused(e, tenantry.PermissionDenied, "permission_denied", "S1", e.switch_workspace, holder, world.ops)


def test_M6_inherits_transitively_and_redefinition_reaches_every_holder(world):
    e = world.engine
    e.define_role(world.owner, world.account, "support", ["contacts.edit"], inherits="viewer")
    e.define_role(world.owner, world.account, "senior", ["contacts.delete"], inherits="support")
    senior = VIEWER | {"contacts.edit", "contacts.delete"}
    assert e.role_permissions(world.account, "senior") == sorted(senior)
    holder = e.create_user("senior@acme.test")
    e.add_member(S, world.agency, holder, "senior")
    assert world.perms(holder, world.agency) == senior
    assert world.perms(holder, world.client_b) == senior  # A3
    revision = e.revision
    e.define_role(world.owner, world.account, "support", ["contacts.export"], inherits="viewer")
    assert e.revision == revision + 1
    assert world.perms(holder, world.agency) == VIEWER | {"contacts.export", "contacts.delete"}
    assert e.role_permissions(world.account, "viewer") == sorted(VIEWER)  # built-ins untouched
    e.verify()


def test_M6_cycles_refused(world, refused):
    e = world.engine
    e.define_role(world.owner, world.account, "a", ["contacts.edit"], inherits="viewer")
    e.define_role(world.owner, world.account, "b", ["contacts.tag"], inherits="a")
    e.define_role(world.owner, world.account, "c", ["contacts.import"], inherits="b")
    snapshot = lambda: [e.role_permissions(world.account, r) for r in "abc"]  # noqa: E731
    before = snapshot()
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M6",
            e.define_role, world.owner, world.account, "a", [], inherits="a")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M6",
            e.define_role, world.owner, world.account, "a", [], inherits="b")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M6",
            e.define_role, S, world.account, "b", [], inherits="c")
    assert snapshot() == before
    e.define_role(world.owner, world.account, "a", ["contacts.edit"], inherits="member")


def test_M6_define_role_refusals(world, refused):
    e, a = world.engine, world.account
    for name in ["owner", "admin", "manager", "member", "viewer", "client", "", "Support", "two words", "a.b", "r" * 65]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "M6", e.define_role, S, a, name, ["calls.view"])
    refused(e, tenantry.NotFound, "not_found", "M7", e.define_role, S, a, "x", ["contacts.view", "contacts.fly"])
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M3", e.define_role, S, a, "x", [], inherits="ghost")
    refused(e, tenantry.NotFound, "not_found", "M6", e.define_role, S, 999, "x", [])
    for actor in [world.ws_owner, world.ws_admin, world.staff, world.viewer, world.client, world.other_owner, 0]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.define_role, actor, a, "support", ["contacts.edit"], inherits="viewer")
    for bad in ["calls.view", [1, 2], None]:
        with pytest.raises(TypeError):
            e.define_role(S, a, "x", bad)
    e.define_role(S, a, "r" * 64, ["calls.view"])
    e.define_role(world.admin, a, "night_shift-2", ["calls.view"])
    refused(e, tenantry.NotFound, "not_found", "M3, M6", e.role_permissions, a, "nobody")
    refused(e, tenantry.NotFound, "not_found", "M3, M6", e.role_permissions, world.other, "night_shift-2")


def test_M6_client_family_role_never_inherits_and_counts_as_client(world, refused):
    e = world.engine
    e.define_role(S, world.account, "portal", ["calls.view"], inherits="client")
    holder = e.create_user("portal@customer.test")
    e.add_member(S, world.agency, holder, "portal")
    assert world.perms(holder, world.agency) == CLIENT | {"calls.view"}
    assert world.perms(holder, world.client_a) == frozenset()  # A3
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.add_member, S, world.ops, world.staff, "portal")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.add_staff, S, world.account, holder, "member")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5, M6",
            e.define_role, S, world.account, "portal", [], inherits="viewer")


# ---------------------------------------------------------------- M7


def test_M7_builtin_catalog(engine, refused):
    names = permission_names(engine)
    assert set(names) == VIEWER | MEMBER | MANAGER | ADMIN | OWNER | CLIENT | ACCOUNT_EXTRAS
    assert len(names) == 50
    for i, name in enumerate(names):
        assert engine.permission(name) == i
        assert engine.permission_name(i) == name
    refused(engine, tenantry.NotFound, "not_found", "M7", engine.permission_name, len(names))
    assert engine.revision == 0


@pytest.mark.parametrize("name", ["reports.export", "workspace.fly", "workspace", "", "Workspace.view", "workspace.view\x00"])
def test_M7_unknown_permission_is_not_found(engine, refused, name):
    error = refused(engine, tenantry.NotFound, "not_found", "M7", engine.permission, name)
    assert "M7" in str(error)


def test_M7_permission_takes_only_a_name(engine):
    for value in [5, None, b"workspace.view", 1.0]:
        with pytest.raises(TypeError):
            engine.permission(value)


def test_M7_application_registers_its_own_permissions(world):
    e = world.engine
    builtin = len(permission_names(e))
    pid = e.register_permission("reports.export")
    assert pid >= builtin
    assert e.permission("reports.export") == pid
    assert e.permission_name(pid) == "reports.export"
    revision = e.revision
    assert e.register_permission("reports.export") == pid  # idempotent
    assert e.revision == revision
    assert e.register_permission("workspace.view") == e.permission("workspace.view")
    other = e.register_permission("reports_v2.run_now")
    assert other != pid
    assert len(permission_names(e)) == builtin + 2
    # Nobody holds an application permission through a built-in role.
    assert e.check(world.ws_owner, world.agency, pid) is False
    assert e.check(world.owner, world.ops, "reports.export") is False
    e.define_role(S, world.account, "reporter", ["reports.export"], inherits="viewer")
    e.add_member(S, world.ops, world.outsider, "reporter")
    assert e.check(world.outsider, world.ops, "reports.export") is True
    assert e.check(world.outsider, world.ops, pid) is True


def test_M7_invalid_permission_names_refused(engine, refused):
    invalid = ["", "reports", "reports.", ".export", "Reports.export", "reports.Export",
               "reports.export.pdf", "reports-x.export", "reports export", "reports.ex port",
               "a" * 129, "r" * 64 + "." + "e" * 64, "app.x\x00y"]
    for name in invalid:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "M7", engine.register_permission, name)
    engine.register_permission("r" * 63 + "." + "e" * 64)  # 128 bytes: the longest


def test_M7_up_to_max_permissions(engine, refused):
    builtin = len(permission_names(engine))
    for i in range(builtin, 4096):
        assert engine.register_permission(f"app.p{i}") == i
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "M7",
            engine.register_permission, "app.one_too_many")
    assert engine.permission("app.p4095") == 4095
    assert engine.register_permission("app.p100") == 100


# ---------------------------------------------------------------- M8


def test_M8_workspace_role_contents(world):
    assert world.perms(world.viewer, world.agency) == VIEWER
    assert world.perms(world.member, world.agency) == MEMBER
    assert world.perms(world.manager, world.agency) == MANAGER
    assert world.perms(world.ws_admin, world.agency) == ADMIN
    assert world.perms(world.ws_owner, world.agency) == OWNER
    assert world.perms(world.client, world.client_a) == CLIENT
    assert len(CLIENT) == 6


def test_M8_staff_member_gets_the_staff_member_role(world, refused):
    for ws in world.acme_workspaces:
        assert world.perms(world.staff, ws) == ADMIN
    refused(world.engine, tenantry.PermissionDenied, "permission_denied", "M10",
            world.engine.create_workspace, world.staff, world.account, "No")


@pytest.mark.parametrize("role,perms", [("viewer", VIEWER), ("member", MEMBER), ("manager", MANAGER), ("admin", ADMIN)])
def test_M8_staff_member_role_setting(engine, role, perms):
    owner, staff = engine.create_user("owner@a.test"), engine.create_user("staff@a.test")
    account = engine.create_account("Acme", owner, plan="growth", staff_member_role=role)
    ws = engine.create_workspace(owner, account, "Main")
    engine.add_staff(owner, account, staff, "member")
    assert frozenset(n for n in permission_names(engine) if engine.check(staff, ws, n)) == perms
    assert frozenset(n for n in permission_names(engine) if engine.check(owner, ws, n)) == OWNER | ACCOUNT_EXTRAS


# ---------------------------------------------------------------- M9


def test_M9_members_get_the_team_role_in_its_workspace(world, refused):
    e = world.engine
    sales = e.create_team(world.owner, world.ops, "Sales", "manager")
    ann, bob = e.create_user("ann@acme.test"), e.create_user("bob@acme.test")
    e.add_team_member(world.owner, sales, bob)
    e.add_team_member(world.owner, sales, ann)
    assert world.perms(ann, world.ops) == MANAGER
    assert all(world.perms(ann, ws) == frozenset() for ws in [world.agency, world.client_a, world.client_b])
    assert ann not in [u for u, _ in e.members(world.ops)]
    info = e.team(sales)
    assert info == tenantry.Team(sales, world.ops, "Sales", "manager", (min(ann, bob), max(ann, bob)))
    support = e.create_team(world.owner, world.ops, "Support", "viewer")
    assert e.teams(world.ops) == [sales, support]
    assert e.teams(world.agency) == []
    refused(e, tenantry.NotFound, "not_found", "M9", e.team, 999)
    refused(e, tenantry.NotFound, "not_found", "M9", e.teams, 999)
    e.verify()


def test_M9_team_value_type(world):
    e = world.engine
    team = e.create_team(S, world.agency, "Crew", "viewer")
    e.add_team_member(S, team, world.outsider)
    info = e.team(team)
    assert (info.id, info.workspace, info.name, info.role, info.members) == (team, world.agency, "Crew", "viewer", (world.outsider,))
    assert repr(info) == f"Team(id={team}, workspace={world.agency}, name='Crew', role='viewer', members=({world.outsider},))"
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.role = "admin"
    assert hash(info) == hash(e.team(team))


def test_M9_team_changes_take_effect_at_once(world, refused):
    e = world.engine
    team = e.create_team(S, world.agency, "Crew", "manager")
    ann = e.create_user("ann@acme.test")
    e.add_team_member(S, team, ann)
    e.add_team_member(S, team, world.viewer)
    assert world.perms(ann, world.client_a) == MANAGER  # A3 through a team
    assert world.perms(world.viewer, world.agency) == MANAGER  # team and direct roles add up
    revision = e.revision
    e.set_team_role(world.owner, team, "member")
    assert e.revision == revision + 1 and e.team(team).role == "member"
    assert world.perms(ann, world.agency) == MEMBER
    e.remove_team_member(world.ws_admin, team, ann)
    assert world.perms(ann, world.agency) == frozenset()
    assert e.team(team).members == (world.viewer,)
    e.delete_team(world.ws_admin, team)
    assert world.perms(world.viewer, world.agency) == VIEWER  # the direct role stays
    refused(e, tenantry.NotFound, "not_found", "M9", e.team, team)
    refused(e, tenantry.NotFound, "not_found", "M9", e.delete_team, world.ws_admin, team)
    refused(e, tenantry.NotFound, "not_found", "M9", e.add_team_member, S, team, ann)
    refused(e, tenantry.NotFound, "not_found", "M9", e.remove_team_member, S, team, ann)
    refused(e, tenantry.NotFound, "not_found", "M9", e.set_team_role, S, team, "viewer")
    e.create_team(S, world.agency, "Crew", "viewer")  # the name is free again
    e.verify()


def test_M9_team_refusals(world, refused):
    e = world.engine
    team = e.create_team(S, world.agency, "Sales", "viewer")
    refused(e, tenantry.AlreadyExists, "already_exists", "M9", e.create_team, S, world.agency, "Sales", "member")
    refused(e, tenantry.AlreadyExists, "already_exists", "M9", e.create_team, world.ws_admin, world.agency, "  Sales ", "viewer")
    for bad in ["", "   ", "n" * 101]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "T3", e.create_team, S, world.agency, bad, "viewer")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M3", e.create_team, S, world.agency, "Ghosts", "ghost")
    refused(e, tenantry.NotFound, "not_found", "M9", e.create_team, S, 999, "Sales", "viewer")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4, M9", e.create_team, S, world.agency, "Owners", "owner")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4, M9", e.set_team_role, world.ws_owner, team, "owner")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M3", e.set_team_role, S, team, "ghost")
    e.add_team_member(world.ws_admin, team, world.outsider)
    refused(e, tenantry.AlreadyExists, "already_exists", "M9", e.add_team_member, world.ws_admin, team, world.outsider)
    refused(e, tenantry.NotFound, "not_found", "M9", e.add_team_member, world.ws_admin, team, 99999)
    refused(e, tenantry.NotFound, "not_found", "M9", e.remove_team_member, world.ws_admin, team, world.client)
    for actor in [world.manager, world.member, world.viewer, world.client, world.outsider]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.create_team, actor, world.agency, "Mine", "viewer")
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.set_team_role, actor, team, "member")
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.delete_team, actor, team)
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.add_team_member, actor, team, world.client)
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.remove_team_member, world.viewer, team, world.outsider)
    e.remove_team_member(world.outsider, team, world.outsider)  # leaving is free
    e.create_team(S, world.client_a, "Sales", "viewer")  # same name elsewhere


def test_M5_client_teams_and_staff_never_mix(world, refused):
    e = world.engine
    clients = e.create_team(S, world.client_b, "Portal", "client")
    viewers = e.create_team(S, world.client_b, "Viewers", "viewer")
    for staff in [world.staff, world.admin, world.owner]:
        refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5", e.add_team_member, S, clients, staff)
    e.add_team_member(S, viewers, world.staff)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5", e.set_team_role, S, viewers, "client")
    customer = e.create_user("customer@customer.test")
    e.add_team_member(S, clients, customer)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5", e.add_staff, S, world.account, customer, "member")


# ---------------------------------------------------------------- M10


def test_M10_unauthorized_changes_refused_and_change_nothing(world, refused):
    e = world.engine
    cases = [(world.outsider, world.agency, world.viewer), (world.viewer, world.agency, world.member),
             (world.member, world.agency, world.viewer), (world.manager, world.agency, world.viewer),
             (world.client, world.client_a, world.ws_owner)]
    for actor, ws, target in cases:
        changes = [
            (e.set_plan, actor, world.account, "growth"),
            (e.add_staff, actor, world.account, world.outsider, "member"),
            (e.set_staff_scope, actor, world.account, world.staff, [world.ops]),
            (e.remove_staff, actor, world.account, world.staff),
            (e.create_workspace, actor, world.account, "Made"),
            (e.rename_workspace, actor, ws, "Renamed"),
            (e.set_setting, actor, ws, "approval_timeout_s", 3600),
            (e.add_member, actor, ws, world.outsider, "viewer"),
            (e.set_role, actor, ws, target, "member"),
            (e.remove_member, actor, ws, target),
            (e.set_status, actor, ws, "inactive"),
        ]
        for call, *args in changes:
            refused(e, tenantry.PermissionDenied, "permission_denied", "M10", call, *args)


def test_M10_actor_must_hold_every_permission_of_the_role_granted(world, refused):
    e = world.engine
    for role in ["admin", "manager", "viewer", "client"]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.add_member, world.manager, world.agency, world.outsider, role)
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.set_role, world.manager, world.agency, world.viewer, "admin")
    e.define_role(S, world.account, "biller", ["billing.manage"], inherits="viewer")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.add_member, world.ws_admin, world.agency, world.outsider, "biller")
    e.add_member(world.ws_admin, world.agency, world.outsider, "admin")
    e.set_role(world.ws_admin, world.agency, world.manager, "admin")
    e.add_member(world.ws_owner, world.client_b, world.client, "biller")

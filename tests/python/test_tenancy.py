"""docs/rules.md section 1, tenancy, through the Python package: accounts (T1), plans
(T2), names and slugs (T3), the tenant graph (T4), status (T5), settings
(T6), deletion (T7), independence (T8); and the value types Account, Plan
and Workspace."""

import dataclasses

import pytest

import tenantry
from conftest import ACCOUNT_EXTRAS, ADMIN, CLIENT, OWNER, build_world

S = tenantry.SYSTEM


def new_account(engine, name="Acme", plan="enterprise", key=None, owner_key=None):
    owner = engine.create_user(owner_key or f"owner@{name.lower().replace(' ', '-')}.test")
    return owner, engine.create_account(name, owner, plan=plan, key=key)


# ---------------------------------------------------------------- T1


def test_T1_account_has_name_key_plan_and_owner(engine):
    owner = engine.create_user("owner@a.test")
    a = engine.create_account("Acme", owner, plan="growth", key="crm-17")
    b = engine.create_account("Globex", owner)
    assert a != b
    info = engine.account(a)
    assert info == tenantry.Account(a, "Acme", "crm-17", tenantry.Plan("growth", 5, False), owner, 0)
    assert (info.id, info.name, info.key, info.owner, info.workspace_count) == (a, "Acme", "crm-17", owner, 0)
    assert info.plan.name == "growth" and info.plan.workspace_limit == 5 and info.plan.agency is False
    other = engine.account(b)
    assert other.key is None  # the key is optional
    assert other.plan == tenantry.Plan("starter", 1, False)  # the default plan
    assert engine.staff(a, owner) == ("owner", "all")
    assert engine.stats()["accounts"] == 2


def test_T1_account_value_type(world):
    info = world.engine.account(world.account)
    text = repr(info)
    assert text.startswith("Account(") and "name='Acme'" in text and "key='acme'" in text
    assert "Plan(name='enterprise', workspace_limit=-1, agency=True)" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.name = "Changed"
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.plan.workspace_limit = 3
    assert info.workspace_count == 4
    assert info.plan.workspace_limit == tenantry.Plan.UNLIMITED


def test_T1_plan_value_type():
    plan = tenantry.Plan("team-7", 7, True)
    assert (plan.name, plan.workspace_limit, plan.agency) == ("team-7", 7, True)
    assert repr(plan) == "Plan(name='team-7', workspace_limit=7, agency=True)"
    assert tenantry.Plan("x") == tenantry.Plan("x", 1, False)  # defaults: limit 1, no agency
    assert hash(plan) == hash(tenantry.Plan("team-7", 7, True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.agency = False


def test_T1_unknown_accounts_and_workspaces_are_not_found(world, refused):
    e = world.engine
    for unknown in [0, 999, 2**64 - 1]:
        refused(e, tenantry.NotFound, "not_found", "T1", e.account, unknown)
        refused(e, tenantry.NotFound, "not_found", "T4", e.workspace, unknown)
    assert e.account(world.other).name == "Other"


def test_T1_external_key_is_unique(engine, refused):
    owner = engine.create_user("owner@a.test")
    engine.create_account("Acme", owner, key="k1")
    refused(engine, tenantry.AlreadyExists, "already_exists", "T1",
            engine.create_account, "Other", owner, key="k1")
    # No key twice is fine.
    engine.create_account("B", owner)
    engine.create_account("C", owner)


def test_T1_create_account_refusals(engine, refused):
    owner = engine.create_user("owner@a.test")
    refused(engine, tenantry.NotFound, "not_found", "T1", engine.create_account, "Acme", 999)
    refused(engine, tenantry.NotFound, "not_found", "T1", engine.create_account, "Acme", 0)
    refused(engine, tenantry.InvalidArgument, "invalid_argument", "T3", engine.create_account, "", owner)
    refused(engine, tenantry.InvalidArgument, "invalid_argument", "T3",
            engine.create_account, "x" * 101, owner)
    refused(engine, tenantry.InvalidArgument, "invalid_argument", "M2",
            engine.create_account, "Acme", owner, member_default_scope="some")
    for role in ["owner", "client", "boss", "", "Admin"]:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "M8",
                engine.create_account, "Acme", owner, staff_member_role=role)
    refused(engine, tenantry.InvalidArgument, "invalid_argument", "T2",
            engine.create_account, "Acme", owner, plan=tenantry.Plan("bad", -5))
    refused(engine, tenantry.InvalidArgument, "invalid_argument", "T2",
            engine.create_account, "Acme", owner, plan=tenantry.Plan("", 3))
    with pytest.raises(TypeError):
        engine.create_account("Acme", owner, plan=5)
    assert engine.stats()["accounts"] == 0
    assert engine.revision == 1  # only the user


def test_T1_nothing_crosses_accounts(world, refused):
    e = world.engine
    for u in [world.owner, world.admin, world.staff, world.ws_owner, world.viewer, world.client]:
        assert world.perms(u, world.elsewhere) == frozenset()
    for ws in world.acme_workspaces:
        assert world.perms(world.other_owner, ws) == frozenset()
    assert e.who_can(world.elsewhere, "workspace.view") == [world.other_owner]
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.create_workspace, world.owner, world.other, "Mine")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.add_member, world.owner, world.elsewhere, world.outsider, "viewer")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.add_staff, world.owner, world.other, world.outsider, "admin")


# ---------------------------------------------------------------- T2


@pytest.mark.parametrize("plan,limit", [("starter", 1), ("growth", 5), ("scale", 25)])
def test_T2_builtin_plans_cap_workspaces(engine, refused, plan, limit):
    owner, account = new_account(engine, plan=plan)
    assert engine.account(account).plan.workspace_limit == limit
    for i in range(limit):
        engine.create_workspace(owner, account, f"Workspace {i}")
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, owner, account, "Extra")
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, S, account, "Extra")
    assert engine.account(account).workspace_count == limit


def test_T2_enterprise_is_unlimited(engine):
    owner, account = new_account(engine, plan="enterprise")
    assert engine.account(account).plan.workspace_limit == -1
    for i in range(30):
        engine.create_workspace(owner, account, f"Workspace {i}")
    assert engine.account(account).workspace_count == 30


def test_T2_custom_plan_gives_any_limit(engine, refused):
    owner, seven = new_account(engine, "Seven", plan=tenantry.Plan("team-7", 7))
    for i in range(7):
        engine.create_workspace(S, seven, f"W{i}")
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, S, seven, "Eighth")
    _, zero = new_account(engine, "Zero", plan=tenantry.Plan("frozen", 0))
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, S, zero, "First")
    _, big = new_account(engine, "Big", plan=tenantry.Plan("big", tenantry.Plan.UNLIMITED))
    for i in range(12):
        engine.create_workspace(S, big, f"W{i}")
    assert engine.account(big).plan == tenantry.Plan("big", -1, False)


def test_T2_unset_plan_allows_one(engine, refused):
    owner, account = new_account(engine, plan=None)
    assert engine.account(account).plan is None
    engine.create_workspace(owner, account, "Only")
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, owner, account, "Second")


def test_T2_unknown_plan_name_allows_one(engine, refused):
    owner, account = new_account(engine, plan="platinum")
    assert engine.account(account).plan == tenantry.Plan("platinum", 1, False)
    engine.create_workspace(owner, account, "Only")
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, owner, account, "Second")
    _, grown = new_account(engine, "Grown", plan="growth")
    engine.set_plan(S, grown, "Growth ")  # not a built-in name
    engine.create_workspace(S, grown, "Only")
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, S, grown, "Second")


def test_T2_sub_workspaces_count(engine, refused):
    owner, account = new_account(engine, plan=tenantry.Plan("trio", 3, True))
    agency = engine.create_workspace(owner, account, "Agency", type="agency")
    engine.create_workspace(owner, account, "Client 1", parent=agency)
    engine.create_workspace(owner, account, "Client 2", parent=agency)
    assert engine.account(account).workspace_count == 3
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, owner, account, "Client 3", parent=agency)
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, owner, account, "Top")


def test_T2_lowering_plan_blocks_new_workspaces_and_deletes_nothing(engine, refused):
    owner, account = new_account(engine, plan="growth")
    viewer = engine.create_user("viewer@a.test")
    ids = [engine.create_workspace(owner, account, f"W{i}") for i in range(5)]
    for ws in ids:
        engine.add_member(owner, ws, viewer, "viewer")
    before = [(engine.workspace(ws), engine.members(ws)) for ws in ids]
    revision = engine.revision
    engine.set_plan(owner, account, "starter")
    assert engine.revision == revision + 1
    info = engine.account(account)
    assert info.plan.name == "starter" and info.workspace_count == 5
    assert [(engine.workspace(ws), engine.members(ws)) for ws in ids] == before
    assert engine.stats()["memberships"] == 10
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "T2",
            engine.create_workspace, owner, account, "Sixth")
    engine.set_plan(S, account, tenantry.Plan("six", 6))
    engine.create_workspace(owner, account, "Sixth")


def test_T2_set_plan_refusals(world, refused):
    e = world.engine
    for actor in [world.viewer, world.staff, world.ws_owner, world.other_owner, 0, 999]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.set_plan, actor, world.account, "growth")
    refused(e, tenantry.NotFound, "not_found", "T2", e.set_plan, S, 999, "growth")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T2",
            e.set_plan, S, world.account, tenantry.Plan("bad", -2))
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T2",
            e.set_plan, world.owner, world.account, tenantry.Plan("", 3))
    with pytest.raises(TypeError):
        e.set_plan(S, world.account, None)
    # The account admin holds account.manage_plan (M8).
    e.set_plan(world.admin, world.account, tenantry.Plan("big", 100, True))
    assert e.account(world.account).plan == tenantry.Plan("big", 100, True)


# ---------------------------------------------------------------- T3


def test_T3_name_trimmed_of_surrounding_white_space(engine):
    owner, account = new_account(engine)
    a = engine.create_workspace(owner, account, "  Acme Inc.\t\n")
    assert engine.workspace(a).name == "Acme Inc."
    assert engine.workspace(a).slug == "acme-inc"
    b = engine.create_workspace(owner, account, "\u3000\u00a0Tokyo Office\u3000")
    assert (engine.workspace(b).name, engine.workspace(b).slug) == ("Tokyo Office", "tokyo-office")
    c = engine.create_workspace(owner, account, "East\u3000Wing")
    assert engine.workspace(c).name == "East\u3000Wing"


def test_T3_name_is_one_to_hundred_code_points(engine, refused):
    owner, account = new_account(engine)
    assert engine.workspace(engine.create_workspace(owner, account, "X", slug="x1")).name == "X"
    assert engine.workspace(engine.create_workspace(owner, account, "a" * 100, slug="ascii")).name == "a" * 100
    wide = "\u65e5" * 100  # 100 code points, 300 bytes
    assert engine.workspace(engine.create_workspace(owner, account, wide, slug="wide")).name == wide
    engine.create_workspace(owner, account, "   " + "b" * 100 + "   ", slug="padded")
    for name in ["a" * 101, "\u65e5" * 101, "a" * 5000, "", "   ", "\t\n", "\u3000"]:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "T3",
                engine.create_workspace, owner, account, name, slug="refused")


def test_T3_slug_rules(engine, refused):
    owner, account = new_account(engine)
    for slug in ["ab", "a1-b2", "9-lives", "a--b", "z" * 50]:
        ws = engine.create_workspace(owner, account, "Some name", slug=slug)
        assert engine.workspace(ws).slug == slug
    for slug in ["", "a", "y" * 51, "Ab", "a_b", "a b", "-ab", "ab-", "-", "caf\u00e9", "a.b", "ab/"]:
        assert engine.slug_available(account, slug) is False
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "T3",
                engine.create_workspace, owner, account, "Some name", slug=slug)


@pytest.mark.parametrize(
    "name,slug",
    [("Acme Inc.", "acme-inc"), ("  Hello,  World!! 2024 ", "hello-world-2024"),
     ("R&D -- Lab", "r-d-lab"), ("UPPER lower 42", "upper-lower-42"),
     ("...leading and trailing...", "leading-and-trailing")],
)
def test_T3_slug_derived_from_name(engine, name, slug):
    owner, account = new_account(engine)
    assert engine.slug_available(account, slug) is True
    ws = engine.create_workspace(owner, account, name)
    assert engine.workspace(ws).slug == slug
    assert engine.slug_available(account, slug) is False


def test_T3_impossible_derivation_refused(engine, refused):
    owner, account = new_account(engine)
    for name in ["!!", "\u65e5\u65e5", "a", "-- . --"]:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "T3",
                engine.create_workspace, owner, account, name)
    engine.create_workspace(owner, account, "\u65e5\u65e5", slug="nihon")
    engine.create_workspace(owner, account, "!!", slug="bang")


def test_T3_slug_clash_is_an_error_never_a_suffix(engine, refused):
    owner, account = new_account(engine)
    first = engine.create_workspace(owner, account, "Acme Inc.")
    assert engine.workspace(first).slug == "acme-inc"
    refused(engine, tenantry.AlreadyExists, "already_exists", "T3",
            engine.create_workspace, owner, account, "ACME, inc")
    refused(engine, tenantry.AlreadyExists, "already_exists", "T3",
            engine.create_workspace, owner, account, "Something else", slug="acme-inc")
    assert engine.slug_available(account, "acme-inc-2") is True
    assert engine.account(account).workspace_count == 1
    engine.create_workspace(owner, account, "Acme Inc.", slug="acme-inc-eu")  # names need not be unique


def test_T3_same_slug_allowed_in_two_accounts(engine):
    owner = engine.create_user("owner@a.test")
    a, b, c = (engine.create_account(n, owner) for n in "ABC")
    in_a = engine.create_workspace(owner, a, "Dashboard")
    in_b = engine.create_workspace(owner, b, "Board", slug="dashboard")
    assert engine.workspace(in_a).slug == engine.workspace(in_b).slug == "dashboard"
    assert (engine.slug_available(a, "dashboard"), engine.slug_available(b, "dashboard")) == (False, False)
    assert engine.slug_available(c, "dashboard") is True
    assert engine.slug_available(999, "dashboard") in (True, False)  # an unknown account never raises


def test_T3_rename_keeps_slug(world, refused):
    e = world.engine
    revision = e.revision
    e.rename_workspace(world.ws_owner, world.client_a, "  Globex Corp \t")
    assert e.revision == revision + 1
    info = e.workspace(world.client_a)
    assert (info.name, info.slug) == ("Globex Corp", "client-a")
    assert e.slug_available(world.account, "client-a") is False
    assert e.slug_available(world.account, "globex-corp") is True
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T3",
            e.rename_workspace, world.ws_owner, world.client_a, "   ")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T3",
            e.rename_workspace, world.ws_owner, world.client_a, "n" * 101)
    refused(e, tenantry.NotFound, "not_found", "T3", e.rename_workspace, S, 999, "Nowhere")
    for actor in [world.viewer, world.manager, world.client, world.outsider, world.other_owner]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.rename_workspace, actor, world.client_a, "Mine")
    assert e.workspace(world.client_a).name == "Globex Corp"


# ---------------------------------------------------------------- T4


@pytest.mark.parametrize("plan", ["starter", "growth", "scale", tenantry.Plan("big", 100, False), "platinum", None])
def test_T4_agency_needs_a_plan_that_allows_it(engine, refused, plan):
    owner, account = new_account(engine, plan=plan)
    refused(engine, tenantry.FailedPrecondition, "failed_precondition", "T4",
            engine.create_workspace, owner, account, "Agency", type="agency")
    ws = engine.create_workspace(owner, account, "Simple")
    assert engine.workspace(ws).type == "simple"


@pytest.mark.parametrize("plan", ["enterprise", tenantry.Plan("agency-pro", 10, True)])
def test_T4_agency_allowed_on_enterprise_or_custom_agency_plan(engine, plan):
    owner, account = new_account(engine, plan=plan)
    ws = engine.create_workspace(owner, account, "Agency", type="agency")
    assert engine.workspace(ws).type == "agency"


def test_T4_client_sub_workspaces_belong_to_the_agency_account(world):
    e = world.engine
    agency = e.workspace(world.agency)
    assert agency == tenantry.Workspace(world.agency, world.account, "Agency", "agency", "agency",
                                        "active", None, world.ws_owner, 1)
    for child, name in [(world.client_a, "Client A"), (world.client_b, "Client B")]:
        info = e.workspace(child)
        assert (info.account, info.parent, info.depth, info.type, info.name) == (
            world.account, world.agency, 2, "simple", name)
        assert info.owner == world.ws_owner
    ops = e.workspace(world.ops)
    assert (ops.parent, ops.depth, ops.owner) == (None, 1, world.owner)  # SYSTEM: the account owner


def test_T4_workspace_value_type(world):
    info = world.engine.workspace(world.client_a)
    assert [f.name for f in dataclasses.fields(info)] == [
        "id", "account", "name", "slug", "type", "status", "parent", "owner", "depth"]
    text = repr(info)
    assert text.startswith("Workspace(") and "name='Client A'" in text and "slug='client-a'" in text
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.status = "inactive"
    assert world.engine.workspace(world.client_a) == info
    assert hash(info) == hash(world.engine.workspace(world.client_a))


def test_T4_parent_must_be_an_agency_of_the_same_account(world, refused):
    e = world.engine
    for simple in [world.ops, world.client_a]:
        refused(e, tenantry.FailedPrecondition, "failed_precondition", "T4",
                e.create_workspace, world.owner, world.account, "Under simple", parent=simple)
    refused(e, tenantry.NotFound, "not_found", "T4",
            e.create_workspace, world.owner, world.account, "Under nothing", parent=999)
    for actor in [world.other_owner, S]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "T4, A2",
                e.create_workspace, actor, world.other, "Stolen", parent=world.agency)
    nested = e.create_workspace(world.owner, world.account, "Sub agency", type="agency", parent=world.agency)
    leaf = e.create_workspace(world.owner, world.account, "Leaf", parent=nested)
    assert (e.workspace(leaf).parent, e.workspace(leaf).depth) == (nested, 3)


def test_T4_depth_is_at_most_eight(engine, refused):
    owner, account = new_account(engine)
    parent, chain = None, []
    for depth in range(1, 9):
        ws = engine.create_workspace(owner, account, f"Level {depth}", type="agency", parent=parent)
        assert engine.workspace(ws).depth == depth
        chain.append(ws)
        parent = ws
    refused(engine, tenantry.FailedPrecondition, "failed_precondition", "T4",
            engine.create_workspace, owner, account, "Level 9", parent=chain[-1])
    refused(engine, tenantry.FailedPrecondition, "failed_precondition", "T4",
            engine.create_workspace, S, account, "Level 9", type="agency", parent=chain[-1])
    leaf = engine.create_workspace(owner, account, "Leaf 8", parent=chain[6])
    assert engine.workspace(leaf).depth == 8


def test_T4_create_workspace_refusals(world, refused):
    e = world.engine
    for actor in [world.ws_owner, world.staff, world.viewer, world.other_owner, 0, 12345]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.create_workspace, actor, world.account, "Nope")
    refused(e, tenantry.NotFound, "not_found", "T1", e.create_workspace, S, 999, "Nope")
    refused(e, tenantry.NotFound, "not_found", "M4", e.create_workspace, S, world.account, "Nope", owner=9999)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T4",
            e.create_workspace, S, world.account, "Nope", type="weird")


# ---------------------------------------------------------------- T5


def test_T5_inactive_grants_only_view_edit_delete_to_holders(world):
    e = world.engine
    assert len(world.perms(world.ws_owner, world.client_a)) > 40
    revision = e.revision
    e.set_status(world.ws_owner, world.client_a, "inactive")
    assert e.revision == revision + 1
    assert e.workspace(world.client_a).status == "inactive"
    all3 = {"workspace.view", "workspace.edit", "workspace.delete"}
    assert world.perms(world.ws_owner, world.client_a) == all3
    assert world.perms(world.owner, world.client_a) == all3
    assert world.perms(world.ws_admin, world.client_a) == {"workspace.view", "workspace.edit"}
    assert world.perms(world.admin, world.client_a) == {"workspace.view", "workspace.edit"}
    assert world.perms(world.viewer, world.client_a) == {"workspace.view"}
    assert world.perms(world.client, world.client_a) == {"workspace.view"}
    assert world.perms(world.outsider, world.client_a) == frozenset()
    # Left out of switching (A5), and back on reactivation.
    assert e.workspaces_for(world.client) == []
    assert world.client_a not in e.workspaces_for(world.viewer)
    e.set_status(world.ws_admin, world.client_a, "active")
    assert e.workspaces_for(world.client) == [world.client_a]
    assert world.perms(world.client, world.client_a) == CLIENT


def test_T5_inactive_refuses_everything_but_status_changes(world, refused):
    e = world.engine
    e.set_status(world.ws_owner, world.client_a, "inactive")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.set_setting, world.ws_owner, world.client_a, "beta_opt_in", False)
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.add_member, world.ws_owner, world.client_a, world.outsider, "viewer")
    e.rename_workspace(world.ws_admin, world.client_a, "Client A (paused)")
    for actor in [world.manager, world.client]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.set_status, actor, world.client_a, "active")


def test_T5_set_status_refusals(world, refused):
    e = world.engine
    refused(e, tenantry.NotFound, "not_found", "T5", e.set_status, S, 999, "inactive")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.set_status, world.viewer, world.agency, "inactive")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T5",
            e.set_status, S, world.agency, "paused")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T5",
            e.set_status, S, world.agency, "Active")


# ---------------------------------------------------------------- T6


def test_T6_defaults(world, refused):
    for ws in world.acme_workspaces:
        assert world.engine.settings(ws) == {
            "beta_opt_in": True, "approval_timeout_s": 86400, "inactivity_timeout_s": 0}
    refused(world.engine, tenantry.NotFound, "not_found", "T6", world.engine.settings, 999)


def test_T6_values_in_range_accepted(world):
    e, ws = world.engine, world.client_a
    e.set_setting(world.ws_admin, ws, "beta_opt_in", False)
    assert e.settings(ws)["beta_opt_in"] is False
    for value in [60, 3600, 604800]:
        e.set_setting(world.ws_admin, ws, "approval_timeout_s", value)
        assert e.settings(ws)["approval_timeout_s"] == value
    for value in [900, 31536000, 0]:
        e.set_setting(world.ws_admin, ws, "inactivity_timeout_s", value)
        assert e.settings(ws)["inactivity_timeout_s"] == value


def test_T6_out_of_range_refused(world, refused):
    e = world.engine
    for value in [59, 604801, 0, -60]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "T6",
                e.set_setting, world.ws_admin, world.client_a, "approval_timeout_s", value)
    for value in [-1, 31536001]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "T6",
                e.set_setting, world.ws_admin, world.client_a, "inactivity_timeout_s", value)


def test_T6_wrong_type_or_unknown_setting_refused(world, refused):
    e, ws = world.engine, world.client_a
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T6",
            e.set_setting, world.ws_admin, ws, "beta_opt_in", 1)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T6",
            e.set_setting, world.ws_admin, ws, "approval_timeout_s", True)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T6",
            e.set_setting, world.ws_admin, ws, "inactivity_timeout_s", False)
    for name in ["approval_timeout", "Beta_Opt_In", "", "dark_mode"]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "T6",
                e.set_setting, world.ws_admin, ws, name, True)
    refused(e, tenantry.NotFound, "not_found", "T6", e.set_setting, S, 999, "beta_opt_in", True)
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.set_setting, world.viewer, world.agency, "beta_opt_in", False)
    for value in ["600", 600.0, None]:
        with pytest.raises(TypeError):
            e.set_setting(world.ws_admin, ws, "approval_timeout_s", value)
    assert e.settings(ws)["approval_timeout_s"] == 86400


def test_T6_settings_are_independent_per_workspace(world):
    e = world.engine
    e.set_setting(world.ws_admin, world.client_a, "beta_opt_in", False)
    e.set_setting(world.ws_admin, world.client_a, "approval_timeout_s", 120)
    e.set_setting(S, world.client_b, "inactivity_timeout_s", 1800)
    assert e.settings(world.client_a) == {"beta_opt_in": False, "approval_timeout_s": 120, "inactivity_timeout_s": 0}
    assert e.settings(world.client_b) == {"beta_opt_in": True, "approval_timeout_s": 86400, "inactivity_timeout_s": 1800}
    assert e.settings(world.agency) == {"beta_opt_in": True, "approval_timeout_s": 86400, "inactivity_timeout_s": 0}
    e.set_setting(world.ws_admin, world.agency, "approval_timeout_s", 300)
    assert e.settings(world.client_a)["approval_timeout_s"] == 120


# ---------------------------------------------------------------- T7


@pytest.mark.parametrize("wrong", ["agency", "AGENCY", "Agency ", " Agency", "Agenc", "", "Agency\n", "Client A", "A" * 5000])
def test_T7_confirmation_must_be_the_exact_name(world, refused, wrong):
    refused(world.engine, tenantry.InvalidArgument, "invalid_argument", "T7",
            world.engine.delete_workspace, world.ws_owner, world.agency, confirm=wrong)


def test_T7_confirmation_follows_a_rename(world, refused):
    e = world.engine
    e.rename_workspace(world.ws_owner, world.client_b, "Beta Client")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "T7",
            e.delete_workspace, world.ws_owner, world.client_b, confirm="Client B")
    e.delete_workspace(world.ws_owner, world.client_b, confirm="Beta Client")
    e.verify()


def test_T7_delete_refusals(world, refused):
    e = world.engine
    refused(e, tenantry.NotFound, "not_found", "T7", e.delete_workspace, S, 999, confirm="Agency")
    for actor in [world.ws_admin, world.admin, world.staff, world.manager, world.viewer,
                  world.client, world.outsider, world.other_owner, 0]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.delete_workspace, actor, world.client_a, confirm="Client A")
    e.delete_workspace(S, world.client_a, confirm="Client A")
    refused(e, tenantry.NotFound, "not_found", "T7", e.delete_workspace, S, world.client_a, confirm="Client A")


def test_T7_the_accounts_only_workspace_cannot_be_deleted(engine, refused):
    owner, solo = new_account(engine, "Solo", plan="starter")
    only = engine.create_workspace(owner, solo, "Only")
    for actor in [owner, S]:
        refused(engine, tenantry.FailedPrecondition, "failed_precondition", "T7",
                engine.delete_workspace, actor, only, confirm="Only")


def test_T7_the_callers_own_active_workspace_cannot_be_deleted(world, refused):
    e = world.engine
    e.switch_workspace(world.owner, world.ops)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T7",
            e.delete_workspace, world.owner, world.ops, confirm="Ops")
    e.switch_workspace(world.ws_owner, world.client_a)  # an ancestor of it neither
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T7",
            e.delete_workspace, world.ws_owner, world.agency, confirm="Agency")
    # Another user's active workspace does not block; it is cleared (S1).
    e.switch_workspace(world.viewer, world.agency)
    e.delete_workspace(world.owner, world.agency, confirm="Agency")
    assert e.active_workspace(world.viewer) is None
    assert e.active_workspace(world.ws_owner) is None
    assert e.active_workspace(world.owner) == world.ops


def test_T7_delete_cascades_and_returns_credits_through_the_ledger(world, refused):
    e = world.engine
    team = e.create_team(S, world.agency, "Crew", "manager")
    e.add_team_member(S, team, world.outsider)
    inv = e.invite(world.ws_owner, world.client_b, "newcomer@customer.test")
    e.grant(S, world.account, 1000)
    e.grant(S, world.account, 500, bucket="extra")
    e.transfer(S, world.account, world.client_a, 1200)
    e.consume(world.client_a, 100)
    hold = e.reserve(world.client_a, 50)
    memberships = e.stats()["memberships"]
    workspaces = e.stats()["workspaces"]
    revision = e.revision
    e.delete_workspace(world.owner, world.agency, confirm="Agency")
    assert e.revision == revision + 1
    for gone in [world.agency, world.client_a, world.client_b]:
        for call in [e.workspace, e.settings, e.members, e.teams, e.invitations]:
            with pytest.raises(tenantry.NotFound):
                call(gone)
        for u in world.users:
            assert world.perms(u, gone) == frozenset()
    assert e.stats()["workspaces"] == workspaces - 3
    assert e.stats()["memberships"] == memberships - 8
    with pytest.raises(tenantry.NotFound):
        e.team(team)
    with pytest.raises(tenantry.NotFound):
        e.invitation(inv.id)
    with pytest.raises(tenantry.NotFound):
        e.reservation(hold)
    # Credits: every remaining unit went back to the pool (T7, C8).
    pool = e.account_balance(world.account)
    assert pool["granted"] == 1500
    assert pool["consumed_by_deleted"] == 100
    assert pool["regular"] + pool["extra"] == 1400
    last = e.ledger(workspace=world.client_a)[-1]
    assert last.kind == "return_on_delete"
    assert sum(last.amounts.values()) == 1100
    assert e.account(world.account).workspace_count == 1
    assert e.slug_available(world.account, "agency") is True
    e.verify()


def test_T7_deleting_a_sub_workspace_leaves_its_agency(world):
    e = world.engine
    memberships = e.stats()["memberships"]
    e.delete_workspace(world.ws_owner, world.client_a, confirm="Client A")
    assert e.stats()["memberships"] == memberships - 2
    assert e.workspace(world.agency).name == "Agency"
    assert e.check(world.manager, world.client_b, "contacts.edit") is True  # A3 still holds
    assert e.accessible(world.manager, "workspace.view") == [world.agency, world.client_b]
    e.verify()


# ---------------------------------------------------------------- T8


def test_T8_changes_stay_in_their_workspace(world, state):
    e = world.engine

    def elsewhere(changed):
        others = [ws for ws in world.acme_workspaces if ws != changed]
        return (e.account(world.account),
                [(e.workspace(ws), e.settings(ws), e.members(ws), [world.perms(u, ws) for u in world.users])
                 for ws in others])

    for changed in [world.client_a, world.client_b, world.ops]:
        before = elsewhere(changed)
        e.add_member(S, changed, world.outsider, "viewer")
        e.set_role(S, changed, world.outsider, "admin")
        e.set_setting(S, changed, "approval_timeout_s", 61)
        e.rename_workspace(S, changed, "Renamed")
        e.set_status(S, changed, "inactive")
        e.set_status(S, changed, "active")
        e.remove_member(S, changed, world.outsider)
        assert elsewhere(changed) == before


def test_T8_a_role_in_one_workspace_grants_nothing_in_siblings_or_above(world, refused):
    e = world.engine
    e.add_member(S, world.client_a, world.outsider, "admin")
    assert world.perms(world.outsider, world.client_a) == ADMIN
    for other in [world.client_b, world.agency, world.ops]:
        assert world.perms(world.outsider, other) == frozenset()
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.set_setting, world.outsider, other, "beta_opt_in", False)
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
                e.add_member, world.outsider, other, world.manager, "viewer")


# ---------------------------------------------------------------- the engine itself


def test_engine_repr_and_stats(world):
    e = world.engine
    stats = e.stats()
    assert stats == {"accounts": 2, "users": 12, "workspaces": 5, "memberships": 10}
    assert repr(e) == (f"<tenantry.Engine revision={e.revision} accounts=2 users=12 "
                       f"workspaces=5 memberships=10>")
    assert isinstance(e, tenantry.Engine)
    fresh = tenantry.Engine()
    assert fresh.revision == 0
    assert fresh.stats() == {"accounts": 0, "users": 0, "workspaces": 0, "memberships": 0}
    with pytest.raises(AttributeError):
        e.revision = 5  # read-only property


def test_M8_account_owner_and_admin_everywhere_in_scope(world):
    for ws in [world.agency, world.client_b, world.ops]:
        assert world.perms(world.owner, ws) == OWNER | ACCOUNT_EXTRAS
        assert world.perms(world.admin, ws) == ADMIN | ACCOUNT_EXTRAS


def test_world_fixture_is_deterministic():
    engines = []
    for _ in range(2):
        clock = tenantry.ManualClock()
        e = tenantry.Engine(clock=clock)
        build_world(e, clock)
        engines.append([(c.revision, c.actor, c.account, c.workspace, c.what) for c in e.changes_since(0)])
    assert engines[0] == engines[1]
    assert len(engines[0]) > 20

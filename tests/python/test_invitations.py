"""docs/rules.md section 5, invitations (I1-I4), on a ManualClock: tokens, expiry,
resend and revoke, who may accept, every rule checked again at accept time
(M5, M10); and the value types Invitation and InvitationInfo."""

import dataclasses
import datetime
import re

import pytest

import tenantry
from conftest import CLIENT, DAY_S, NS

S = tenantry.SYSTEM
EMAIL = "new.person@example.test"


@pytest.fixture
def invitee(world):
    return world.engine.create_user(EMAIL)


def secret_of(token):
    return token.split(".", 1)[1]


# ---------------------------------------------------------------- I1


def test_I1_token_has_at_least_128_random_bits_and_expiry_is_seven_days(world):
    e, now = world.engine, world.clock.now_ns()
    inv = e.invite(world.owner, world.ops, "someone@example.test")
    assert inv.id > 0
    assert inv.expires_at_ns == now + 7 * DAY_S * NS
    id_part, secret = inv.token.split(".", 1)
    assert id_part == str(inv.id)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", secret)
    assert len(secret) * 6 >= 128
    tokens, secrets = {inv.token}, {secret}
    for i in range(32):
        other = e.invite(world.owner, world.ops, f"u{i}@x.test")
        assert other.id != inv.id
        tokens.add(other.token)
        secrets.add(secret_of(other.token))
    assert len(tokens) == len(secrets) == 33


def test_I1_invitation_value_type_hides_the_token(world):
    inv = world.engine.invite(world.ws_admin, world.agency, EMAIL, role="viewer")
    assert [f.name for f in dataclasses.fields(inv)] == ["id", "token", "expires_at_ns"]
    text = repr(inv)
    assert text == f"Invitation(id={inv.id}, expires_at_ns={inv.expires_at_ns})"
    assert inv.token not in text and secret_of(inv.token) not in text
    assert inv.token not in str(inv)
    assert inv.expires_at == datetime.datetime.fromtimestamp(inv.expires_at_ns / 1e9, tz=datetime.timezone.utc)
    assert inv.expires_at.tzinfo is datetime.timezone.utc
    with pytest.raises(dataclasses.FrozenInstanceError):
        inv.token = "stolen"
    with pytest.raises(dataclasses.FrozenInstanceError):
        inv.expires_at_ns = 0


def test_I1_invitation_describes_itself_without_the_token(world, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, "  New.Person@Example.TEST ")
    info = e.invitation(inv.id)
    assert info == tenantry.InvitationInfo(
        inv.id, False, world.account, world.agency, EMAIL, "client", inv.expires_at_ns,
        "pending", world.ws_admin, None)
    assert secret_of(inv.token) not in repr(info)
    assert repr(info).startswith("InvitationInfo(") and "state='pending'" in repr(info)
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.state = "accepted"
    assert not hasattr(info, "token")
    assert e.invitations(world.agency) == [info]
    refused(e, tenantry.NotFound, "not_found", "I1", e.invitation, 999)
    refused(e, tenantry.NotFound, "not_found", "I1", e.invitations, 999)


def test_I1_default_role_is_client(world, invitee):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL)
    e.accept(inv.token, invitee)
    assert (invitee, "client") in e.members(world.agency)
    assert world.perms(invitee, world.agency) == CLIENT
    assert world.perms(invitee, world.client_a) == frozenset()  # client never inherits (A3)
    e.verify()


def test_I1_token_is_never_stored_or_recorded(world, invitee):
    e = world.engine
    secrets = []
    a = e.invite(world.owner, world.ops, "a@example.test")
    secrets.append(secret_of(a.token))
    secrets.append(secret_of(e.resend(world.owner, a.id).token))
    secrets.append(secret_of(e.invite_staff(world.owner, world.account, "s@example.test", "admin").token))
    n = e.invite(world.owner, world.ops, EMAIL)
    secrets.append(secret_of(n.token))
    e.accept(n.token, invitee)
    feed = e.changes_since(0)
    assert any("invite" in c.what for c in feed)
    everything = repr(feed) + repr([e.invitation(i) for i in range(1, 4)]) + repr(e.invitations(world.ops))
    for secret in secrets:
        assert secret not in everything


def test_I1_garbage_tokens_are_not_found_and_never_crash(world, invitee, refused):
    e = world.engine
    a = e.invite(world.ws_admin, world.agency, EMAIL)
    b = e.invite(world.ws_admin, world.agency, "b@example.test")
    flipped = a.token[:-1] + ("B" if a.token[-1] == "A" else "A")
    garbage = [
        "", "abc", "1.", ".", "1", "..", "1.x", "0.abc", "-1.abc", "+1.abc", " 1.abc",
        "18446744073709551615.abc", "99999999999999999999999999.abc",
        f"{b.id}.{secret_of(a.token)}", f"{a.id}.{secret_of(b.token)}",
        a.token[:-1], a.token + "x", " " + a.token, a.token + " ", a.token.upper(), flipped,
        a.token + "\x00", secret_of(a.token), "A" * (1 << 20), "1." + "A" * (1 << 20), "1" * 250 + ".abc",
    ]
    for token in garbage:
        refused(e, tenantry.NotFound, "not_found", "I1, I2", e.accept, token, invitee)
    e.accept(a.token, invitee)


def test_I1_staff_invitation_makes_staff(world, refused):
    e = world.engine
    hire = e.create_user("hire@example.test")
    inv = e.invite_staff(world.admin, world.account, "Hire@Example.test", "member", scope=[world.ops])
    info = e.invitation(inv.id)
    assert (info.staff, info.account, info.workspace, info.role, info.state, info.email) == (
        True, world.account, None, "member", "pending", "hire@example.test")
    assert all(i.id != inv.id for ws in world.acme_workspaces for i in e.invitations(ws))
    refused(e, tenantry.PermissionDenied, "permission_denied", "I3", e.accept, inv.token, world.outsider)
    e.accept(inv.token, hire)
    assert e.staff(world.account, hire) == ("member", [world.ops])
    assert e.check(hire, world.ops, "members.invite") is True
    assert e.check(hire, world.agency, "workspace.view") is False
    assert e.invitation(inv.id).state == "accepted" and e.invitation(inv.id).accepted_by == hire
    admin_inv = e.invite_staff(world.owner, world.account, "boss@example.test", "admin")
    boss = e.create_user("boss@example.test")
    e.accept(admin_inv.token, boss)
    assert e.staff(world.account, boss) == ("admin", "all")
    assert e.check(boss, world.ops, "account.manage_staff") is True
    e.verify()


def test_I1_invalid_staff_invitations_refused(world, refused):
    e, a, email = world.engine, world.account, "hire@example.test"
    for role in ["owner", "viewer", "client", ""]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "M2, I1", e.invite_staff, world.owner, a, email, role)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2",
            e.invite_staff, world.owner, a, email, "admin", scope=[world.ops])
    for actor in [world.ws_admin, world.viewer, world.staff, world.outsider]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.invite_staff, actor, a, email, "member")
    refused(e, tenantry.AlreadyExists, "already_exists", "M2", e.invite_staff, world.owner, a, "staff@acme.test", "member")
    refused(e, tenantry.NotFound, "not_found", "I1", e.invite_staff, world.owner, 999, email, "member")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M2, A2",
            e.invite_staff, world.owner, a, email, "member", scope=[world.elsewhere])
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.invite_staff, world.owner, a, "client@customer.test", "member")
    with pytest.raises(TypeError):
        e.invite_staff(world.owner, a, email, "member", scope=3.5)


# ---------------------------------------------------------------- I3


def test_I3_only_the_invitee_accepts_keys_compared_case_insensitively(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, "New.Person@Example.TEST", role="member")
    for other in [world.outsider, world.viewer, world.ws_admin, world.owner]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "I3", e.accept, inv.token, other)
    refused(e, tenantry.NotFound, "not_found", "I3", e.accept, inv.token, 99999)
    e.accept(inv.token, invitee)
    assert (invitee, "member") in e.members(world.agency)
    assert e.check(invitee, world.agency, "campaigns.run") is True
    info = e.invitation(inv.id)
    assert (info.state, info.accepted_by) == ("accepted", invitee)
    mixed = e.create_user("Mixed.Case@Example.Test")
    inv2 = e.invite(world.ws_admin, world.agency, "mixed.case@example.test", role="viewer")
    e.accept(inv2.token, mixed)
    assert (mixed, "viewer") in e.members(world.agency)
    e.verify()


def test_I3_accepting_when_already_a_member_is_refused(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL, role="viewer")
    e.add_member(world.ws_admin, world.agency, invitee, "member")
    refused(e, tenantry.AlreadyExists, "already_exists", "M3", e.accept, inv.token, invitee)
    refused(e, tenantry.AlreadyExists, "already_exists", "M3", e.invite, world.ws_admin, world.agency, "viewer@acme.test")


def test_M5_client_invitation_refused_when_the_invitee_became_staff(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL)
    e.add_staff(world.owner, world.account, invitee, "member")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5", e.accept, inv.token, invitee)
    assert e.invitation(inv.id).state == "pending"
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5",
            e.invite, world.ws_admin, world.agency, "STAFF@acme.test")
    viewer_inv = e.invite(world.owner, world.ops, EMAIL, role="viewer")
    e.accept(viewer_inv.token, invitee)


def test_M5_staff_invitation_refused_when_the_invitee_became_a_client(world, invitee, refused):
    e = world.engine
    inv = e.invite_staff(world.owner, world.account, EMAIL, "member")
    e.add_member(world.ws_admin, world.agency, invitee, "client")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "M5", e.accept, inv.token, invitee)
    refused(e, tenantry.NotFound, "not_found", "M2", e.staff, world.account, invitee)


def test_M10_inviting_needs_members_invite_and_no_escalation(world, refused):
    e = world.engine
    for actor in [world.viewer, world.manager, world.outsider, world.client]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.invite, actor, world.agency, EMAIL)
    for actor in [world.ws_admin, S]:
        refused(e, tenantry.FailedPrecondition, "failed_precondition", "M4",
                e.invite, actor, world.agency, EMAIL, role="owner")
    e.define_role(world.owner, world.account, "biller", ["billing.manage"], inherits="viewer")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10",
            e.invite, world.ws_admin, world.agency, EMAIL, role="biller")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M3",
            e.invite, world.ws_admin, world.agency, EMAIL, role="ghost")
    refused(e, tenantry.NotFound, "not_found", "I1", e.invite, world.ws_admin, 999, EMAIL)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "M1", e.invite, world.ws_admin, world.agency, "")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.invite, world.ws_admin, world.ops, EMAIL)
    inv = e.invite(world.ws_owner, world.agency, EMAIL, role="biller")
    assert e.invitation(inv.id).role == "biller"


def test_M10_inviter_who_lost_the_permission_before_accept_voids_it(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL, role="member")
    e.set_role(world.ws_owner, world.agency, world.ws_admin, "viewer")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10, I3", e.accept, inv.token, invitee)
    e.set_role(world.ws_owner, world.agency, world.ws_admin, "admin")
    e.accept(inv.token, invitee)
    assert (invitee, "member") in e.members(world.agency)


# ---------------------------------------------------------------- I2


def test_I2_invitation_expires_when_the_manual_clock_passes_its_ttl(world, invitee, refused):
    e, clock = world.engine, world.clock
    late = e.create_user("late@example.test")
    on_time = e.invite(world.ws_admin, world.agency, EMAIL)
    too_late = e.invite(world.ws_admin, world.agency, "late@example.test")
    clock.advance_s(7 * DAY_S - 1)
    assert e.invitation(too_late.id).state == "pending"
    e.accept(on_time.token, invitee)
    revision = e.revision
    clock.advance_s(2)
    assert e.invitation(too_late.id).state == "expired"
    assert e.revision == revision  # expiry is no change
    error = refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, too_late.token, late)
    assert "expired" in str(error)
    clock.advance_s(365 * DAY_S)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, too_late.token, late)
    assert world.perms(late, world.agency) == frozenset()


def test_I2_lifetime_is_configurable(clock, refused):
    from conftest import build_world
    e = tenantry.Engine(clock=clock, invitation_ttl_s=3600)
    world = build_world(e, clock)
    invitee, late = e.create_user(EMAIL), e.create_user("late@example.test")
    now = clock.now_ns()
    a = e.invite(world.ws_admin, world.agency, EMAIL)
    b = e.invite(world.ws_admin, world.agency, "late@example.test")
    assert a.expires_at_ns == now + 3600 * NS
    clock.advance_s(3599)
    e.accept(a.token, invitee)
    clock.advance_s(2)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, b.token, late)
    again = e.resend(world.ws_admin, b.id)
    assert again.expires_at_ns == clock.now_ns() + 3600 * NS
    e.accept(again.token, late)


def test_I2_resend_issues_a_fresh_token_and_expiry_and_voids_the_old_token(world, invitee, refused):
    e, clock = world.engine, world.clock
    first = e.invite(world.ws_admin, world.agency, EMAIL, role="viewer")
    clock.advance_s(3 * DAY_S)
    revision = e.revision
    second = e.resend(world.ws_admin, first.id)
    assert e.revision == revision + 1
    assert second.id == first.id and second.token != first.token
    assert secret_of(second.token) != secret_of(first.token)
    assert second.expires_at_ns == clock.now_ns() + 7 * DAY_S * NS
    info = e.invitation(first.id)
    assert (info.expires_at_ns, info.state) == (second.expires_at_ns, "pending")
    refused(e, tenantry.NotFound, "not_found", "I1, I2", e.accept, first.token, invitee)
    clock.advance_s(5 * DAY_S)
    third = e.resend(world.owner, first.id)
    refused(e, tenantry.NotFound, "not_found", "I1, I2", e.accept, second.token, invitee)
    e.accept(third.token, invitee)
    assert (invitee, "viewer") in e.members(world.agency)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.resend, world.ws_admin, first.id)
    other = e.invite(world.ws_admin, world.agency, "o@example.test")
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.resend, world.viewer, other.id)
    refused(e, tenantry.NotFound, "not_found", "I1", e.resend, world.ws_admin, 999)


def test_I2_resend_revives_an_expired_invitation(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL)
    world.clock.advance_s(10 * DAY_S)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, inv.token, invitee)
    fresh = e.resend(world.ws_admin, inv.id)
    assert fresh.expires_at_ns == world.clock.now_ns() + 7 * DAY_S * NS
    e.accept(fresh.token, invitee)


def test_I2_revoked_invitation_refused(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL)
    refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.revoke_invitation, world.viewer, inv.id)
    refused(e, tenantry.NotFound, "not_found", "I1", e.revoke_invitation, world.ws_admin, 999)
    revision = e.revision
    e.revoke_invitation(world.ws_admin, inv.id)
    assert e.revision == revision + 1
    assert e.invitation(inv.id).state == "revoked"
    error = refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, inv.token, invitee)
    assert "revoked" in str(error)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.revoke_invitation, world.ws_admin, inv.id)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.resend, world.ws_admin, inv.id)
    assert world.perms(invitee, world.agency) == frozenset()


def test_I2_used_token_refused(world, invitee, refused):
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL)
    e.accept(inv.token, invitee)
    for user in [invitee, world.outsider]:
        error = refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.accept, inv.token, user)
        assert "already used" in str(error)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "I2", e.revoke_invitation, world.ws_admin, inv.id)


def test_I2_invitations_list_every_state(world, invitee):
    e = world.engine
    expired = e.invite(world.ws_admin, world.agency, "e@example.test")
    world.clock.advance_s(8 * DAY_S)
    accepted = e.invite(world.ws_admin, world.agency, EMAIL)
    revoked = e.invite(world.ws_admin, world.agency, "r@example.test")
    pending = e.invite(world.ws_admin, world.agency, "p@example.test")
    e.accept(accepted.token, invitee)
    e.revoke_invitation(world.ws_admin, revoked.id)
    listed = e.invitations(world.agency)
    assert [(i.id, i.state) for i in listed] == [
        (expired.id, "expired"), (accepted.id, "accepted"), (revoked.id, "revoked"), (pending.id, "pending")]
    assert listed[1].accepted_by == invitee
    assert all(i.workspace == world.agency and isinstance(i, tenantry.InvitationInfo) for i in listed)
    assert e.invitations(world.ops) == []
    revision = e.revision
    world.clock.advance_s(8 * DAY_S)
    assert e.invitation(pending.id).state == "expired"
    assert e.revision == revision


def test_I4_time_comes_from_the_replaceable_clock(invitee, world):
    world.clock.set_ns(42)
    e = world.engine
    inv = e.invite(world.ws_admin, world.agency, EMAIL)
    assert inv.expires_at_ns == 42 + 7 * DAY_S * NS
    last = e.changes_since(0)[-1]
    assert last.time_ns == 42 and "invite" in last.what
    e.accept(inv.token, invitee)  # decades past expiry by the wall clock, fresh by the engine's

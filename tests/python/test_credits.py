"""docs/rules.md section 6, credits and quotas, through the Python package: meters
(C1), grants (C2), transfer (C3), revoke (C4), consume (C5), reservations
(C6), the ledger (C7) and conservation (C8); and the value types Meter,
Reservation and LedgerEntry."""

import dataclasses

import pytest

import tenantry
from conftest import NS

S = tenantry.SYSTEM
CAP = (1 << 42) - 1  # limits::kMaxWorkspaceBalance
I64_MAX = 2**63 - 1


def fund(world, ws, regular, extra=0, meter="credits"):
    e = world.engine
    account = e.workspace(ws).account
    if regular:
        e.grant(S, account, regular, meter=meter)
    if extra:
        e.grant(S, account, extra, meter=meter, bucket="extra")
    taken = e.transfer(S, account, ws, regular + extra, meter=meter)
    assert sum(taken.values()) == regular + extra
    return taken


def conserved(world, account, meter="credits"):
    """C8 from outside: granted = pool + every workspace's buckets, holds and
    consumption + what deleted workspaces consumed."""
    e = world.engine
    pool = e.account_balance(account, meter=meter)
    total = sum(v for k, v in pool.items() if k not in ("granted", "consumed_by_deleted"))
    total += pool["consumed_by_deleted"]
    for ws in range(1, e.revision + 1):
        try:
            info = e.workspace(ws)
        except tenantry.NotFound:
            continue
        if info.account == account:
            total += sum(e.balance(ws, meter=meter).values()) + e.consumed(ws, meter=meter)
    return pool["granted"] == total


# ---------------------------------------------------------------- C1


def test_C1_built_in_meters_and_the_meter_value_type(engine):
    credits, minutes = engine.meter("credits"), engine.meter(1)
    assert credits == tenantry.Meter(0, "credits", ("regular", "extra"))
    assert minutes == tenantry.Meter(1, "minutes", ("regular",))
    assert engine.meter(0) == credits and engine.meter("minutes") == minutes
    assert repr(credits) == "Meter(id=0, name='credits', buckets=('regular', 'extra'))"
    with pytest.raises(dataclasses.FrozenInstanceError):
        credits.buckets = ()
    assert hash(credits) == hash(engine.meter(0))


def test_C1_define_meter_assigns_the_next_id_and_is_idempotent(engine, refused):
    revision = engine.revision
    assert engine.define_meter("tokens", ["paid", "free"]) is None
    tokens = engine.meter("tokens")
    assert tokens == tenantry.Meter(2, "tokens", ("paid", "free"))
    engine.define_meter("tokens", ["paid", "free"])  # the same again: nothing
    assert engine.meter(2) == tokens
    engine.define_meter("seats", ["regular"])
    assert engine.meter("seats").id == 3
    assert engine.revision >= revision
    refused(engine, tenantry.AlreadyExists, "already_exists", "C1", engine.define_meter, "tokens", ["paid"])
    refused(engine, tenantry.AlreadyExists, "already_exists", "C1", engine.define_meter, "credits", ["regular"])
    engine.define_meter("credits", ["regular", "extra"])


def test_C1_define_meter_rejects_invalid_names_and_buckets(engine, refused):
    for name in ["Tokens", "", "to-kens", "t" * 65, "tok ens"]:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "C1", engine.define_meter, name, ["regular"])
    for buckets in [[], ["a", "b", "c"], ["a", "a"], ["A"], [""]]:
        refused(engine, tenantry.InvalidArgument, "invalid_argument", "C1", engine.define_meter, "tokens", buckets)
    with pytest.raises(TypeError):
        engine.define_meter("tokens", "regular")
    with pytest.raises(TypeError):
        engine.define_meter("tokens", [1])


def test_C1_at_most_64_meters(engine, refused):
    for i in range(62):
        engine.define_meter(f"m{i}", ["regular"])
    assert engine.meter(63).name == "m61"
    refused(engine, tenantry.ResourceExhausted, "resource_exhausted", "C1", engine.define_meter, "one_too_many", ["regular"])


def test_C1_unknown_meter_is_not_found_everywhere(world, refused):
    e = world.engine
    hold = None
    for meter in ["nope", 63]:
        refused(e, tenantry.NotFound, "not_found", "C1", e.meter, meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.balance, world.ops, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.consumed, world.ops, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.account_balance, world.account, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.grant, S, world.account, 5, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.transfer, S, world.account, world.ops, 5, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.revoke, S, world.ops, 5, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.consume, world.ops, 5, meter=meter)
        refused(e, tenantry.NotFound, "not_found", "C1", e.consume, world.ops, 5, meter=meter, key="k")
        refused(e, tenantry.NotFound, "not_found", "C1", e.reserve, world.ops, 5, meter=meter)
    assert hold is None


def test_C1_unknown_bucket_is_not_found(world, refused):
    e = world.engine
    for bucket in ["bonus", "", "Regular"]:
        refused(e, tenantry.NotFound, "not_found", "C1", e.grant, S, world.account, 5, bucket=bucket)
        refused(e, tenantry.NotFound, "not_found", "C1", e.revoke, S, world.ops, 5, bucket=bucket)
    refused(e, tenantry.NotFound, "not_found", "C1", e.grant, S, world.account, 5, meter="minutes", bucket="extra")


def test_C1_minutes_has_one_bucket_and_is_independent_of_credits(world, refused):
    e = world.engine
    fund(world, world.ops, 35, meter="minutes")
    assert e.balance(world.ops, meter="minutes") == {"regular": 35, "held": 0}
    assert e.balance(world.ops) == {"regular": 0, "extra": 0, "held": 0}
    assert e.account_balance(world.account, meter=1) == {"regular": 0, "granted": 35, "consumed_by_deleted": 0}
    assert e.consume(world.ops, 10, meter="minutes") == 25
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 26, meter=1)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 1)


def test_C1_non_positive_amounts_are_refused_everywhere(world, refused):
    e = world.engine
    fund(world, world.ops, 10)
    hold = e.reserve(world.ops, 5)
    for amount in [0, -1, -(2**63)]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C1", e.grant, S, world.account, amount)
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C1", e.transfer, S, world.account, world.ops, amount)
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C1", e.revoke, S, world.ops, amount)
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C1", e.consume, world.ops, amount)
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C1", e.consume, world.ops, amount, key="k")
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C1", e.reserve, world.ops, amount)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "C6", e.commit, hold, -1)


def test_C1_grant_never_wraps_past_int64_max(world, refused):
    e = world.engine
    e.grant(S, world.account, I64_MAX)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C1", e.grant, S, world.account, 1)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C1", e.grant, S, world.account, 1, bucket="extra")
    assert e.account_balance(world.account)["granted"] == I64_MAX
    e.grant(S, world.other, 1)  # another account's pool is its own


def test_C1_transfer_never_passes_the_workspace_capacity(world, refused):
    e = world.engine
    e.grant(S, world.account, CAP + 10)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C1", e.transfer, S, world.account, world.ops, CAP + 1)
    e.transfer(S, world.account, world.ops, CAP)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C1", e.transfer, S, world.account, world.ops, 1)
    assert e.balance(world.ops)["regular"] == CAP


def test_C1_unknown_accounts_and_workspaces_are_not_found(world, refused):
    e = world.engine
    for unknown in [0, 999_999, 2**64 - 2]:
        refused(e, tenantry.NotFound, "not_found", "C2", e.grant, S, unknown, 5)
        refused(e, tenantry.NotFound, "not_found", "C3", e.transfer, S, unknown, world.ops, 5)
        refused(e, tenantry.NotFound, "not_found", "C3", e.transfer, S, world.account, unknown, 5)
        refused(e, tenantry.NotFound, "not_found", "C4", e.revoke, S, unknown, 5)
        refused(e, tenantry.NotFound, "not_found", "C5", e.consume, unknown, 5)
        refused(e, tenantry.NotFound, "not_found", "C5", e.consume, unknown, 5, key="k")
        refused(e, tenantry.NotFound, "not_found", "C6", e.reserve, unknown, 5)
        refused(e, tenantry.NotFound, "not_found", "C5", e.balance, unknown)
        refused(e, tenantry.NotFound, "not_found", "C2", e.account_balance, unknown)


# ---------------------------------------------------------------- C2


def test_C2_system_and_the_account_owner_may_grant(world):
    e = world.engine
    revision = e.revision
    assert e.grant(S, world.account, 100) is None
    e.grant(world.owner, world.account, 40, bucket="extra")
    assert e.revision == revision + 2
    assert e.account_balance(world.account) == {"regular": 100, "extra": 40, "granted": 140, "consumed_by_deleted": 0}
    assert e.account_balance(world.other) == {"regular": 0, "extra": 0, "granted": 0, "consumed_by_deleted": 0}
    ledger = e.ledger()
    assert [(x.kind, x.actor, x.amounts, x.workspace) for x in ledger] == [
        ("grant", S, {"regular": 100, "extra": 0}, None), ("grant", world.owner, {"regular": 0, "extra": 40}, None)]
    feed = e.changes_since(revision)
    assert [c.actor for c in feed] == [S, world.owner] and all("grant" in c.what for c in feed)
    e.grant(world.other_owner, world.other, 9)
    assert conserved(world, world.account)
    e.verify()


def test_C2_no_one_else_may_grant(world, refused):
    e = world.engine
    for actor in [world.admin, world.staff, world.ws_owner, world.ws_admin, world.member, world.client,
                  world.outsider, world.other_owner, 0, 987_654, S - 1]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.grant, actor, world.account, 5)
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.grant, actor, world.account, 5, meter="minutes")


# ---------------------------------------------------------------- C3, C4


def test_C3_transfer_draws_regular_first_then_extra(world):
    e = world.engine
    e.grant(S, world.account, 30)
    e.grant(S, world.account, 70, bucket="extra")
    assert e.transfer(S, world.account, world.ops, 20) == {"regular": 20, "extra": 0}
    assert e.transfer(world.admin, world.account, world.ops, 40) == {"regular": 10, "extra": 30}
    assert e.balance(world.ops) == {"regular": 30, "extra": 30, "held": 0}
    assert e.account_balance(world.account)["extra"] == 40
    entry = e.ledger(workspace=world.ops)[-1]
    assert (entry.kind, entry.actor, entry.amounts) == ("transfer", world.admin, {"regular": 10, "extra": 30})
    assert conserved(world, world.account)


def test_C3_transfer_is_all_or_nothing_and_stays_in_its_account(world, refused):
    e = world.engine
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C3", e.transfer, S, world.account, world.ops, 1)
    e.grant(S, world.account, 60)
    e.grant(S, world.account, 40, bucket="extra")
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C3", e.transfer, S, world.account, world.ops, 101)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C3",
            e.transfer, S, world.account, world.ops, 1, meter="minutes")
    refused(e, tenantry.InvalidArgument, "invalid_argument", "C3, A2", e.transfer, S, world.account, world.elsewhere, 10)
    refused(e, tenantry.InvalidArgument, "invalid_argument", "C3, A2", e.transfer, S, world.other, world.ops, 10)
    for actor in [world.staff, world.ws_owner, world.viewer, world.other_owner]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.transfer, actor, world.account, world.ops, 10)


def test_C3_transfer_into_an_inactive_workspace_is_allowed(world):
    e = world.engine
    e.set_status(S, world.ops, "inactive")
    assert fund(world, world.ops, 10) == {"regular": 10, "extra": 0}
    assert e.balance(world.ops)["regular"] == 10


def test_C4_revoke_moves_the_named_bucket_back_to_the_pool(world, refused):
    e = world.engine
    fund(world, world.ops, 10, 90)
    revision = e.revision
    assert e.revoke(S, world.ops, 5) is None
    e.revoke(world.admin, world.ops, 50, bucket="extra")
    assert e.revision == revision + 2
    assert e.balance(world.ops) == {"regular": 5, "extra": 40, "held": 0}
    assert e.account_balance(world.account) == {"regular": 5, "extra": 50, "granted": 100, "consumed_by_deleted": 0}
    assert e.ledger()[-1].kind == "revoke"
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C4", e.revoke, S, world.ops, 6)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C4", e.revoke, S, world.ops, 41, bucket="extra")
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C4", e.revoke, S, world.client_b, 1)
    for actor in [world.staff, world.ws_owner, world.viewer, world.outsider]:
        refused(e, tenantry.PermissionDenied, "permission_denied", "M10", e.revoke, actor, world.ops, 1)
    assert conserved(world, world.account)


# ---------------------------------------------------------------- C5


def test_C5_consume_draws_regular_first_and_returns_what_is_left(world, refused):
    e = world.engine
    fund(world, world.ops, 30, 70)
    assert e.consume(world.ops, 20) == 80
    assert e.balance(world.ops) == {"regular": 10, "extra": 70, "held": 0}
    assert e.consume(world.ops, 40) == 40
    assert e.balance(world.ops) == {"regular": 0, "extra": 40, "held": 0}
    assert e.consume(world.ops, 40, meter="credits") == 0
    assert e.consumed(world.ops) == 100
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 1)
    assert conserved(world, world.account)
    e.verify()


def test_C5_consume_is_all_or_nothing(world, refused):
    e = world.engine
    fund(world, world.ops, 30, 70)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 101)
    assert e.consumed(world.ops) == 0
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.client_b, 1)
    e.grant(S, world.account, 1000)  # the pool is not the workspace's
    e.transfer(S, world.account, world.agency, 500)  # nor are the parent's credits (T8)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.client_a, 1)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 2**63 - 1)


def test_C5_consume_makes_no_revision_and_no_ledger_entry_but_counts(world):
    e = world.engine
    fund(world, world.ops, 100)
    revision, entries = e.revision, len(e.ledger())
    for _ in range(10):
        e.consume(world.ops, 3)
    e.consume(world.ops, 3, key="once")
    e.consume(world.ops, 3, key="once")  # a replay
    assert e.revision == revision
    assert len(e.ledger()) == entries
    assert e.changes_since(revision) == []
    assert e.consumed(world.ops) == 33
    assert e.balance(world.ops)["regular"] == 67


def test_C5_consume_refused_on_an_inactive_workspace(world, refused):
    e = world.engine
    fund(world, world.ops, 10)
    e.set_status(S, world.ops, "inactive")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T5", e.consume, world.ops, 1)
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T5", e.consume, world.ops, 1, key="off")
    refused(e, tenantry.FailedPrecondition, "failed_precondition", "T5", e.reserve, world.ops, 1)


def test_C5_keyed_retry_returns_the_first_result_without_a_second_debit(world, state):
    e = world.engine
    fund(world, world.ops, 100)
    assert e.consume(world.ops, 10, key="req-1") == 90
    assert e.consume(world.ops, 5) == 85
    world.clock.advance_s(3600)
    for _ in range(3):
        before = state(e)
        assert e.consume(world.ops, 10, key="req-1") == 90
        assert state(e) == before
    assert e.consumed(world.ops) == 15
    e.consume(world.ops, 10)
    e.consume(world.ops, 10, key=None)
    e.consume(world.ops, 10, key="")  # an empty key is no key
    assert e.consumed(world.ops) == 45
    assert e.consume(world.ops, 10, key="REQ-1") == 45  # keys compare exactly
    assert e.consume(world.ops, 10, key="req-1 ") == 35


def test_C5_keyed_refusal_is_replayed_and_another_amount_is_refused(world, refused):
    e = world.engine
    fund(world, world.ops, 10)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 50, key="big")
    fund(world, world.ops, 100)
    error = refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 50, key="big")
    assert "replay" in str(error)  # remembered: no debit now either
    assert e.consumed(world.ops) == 0
    e.consume(world.ops, 5, key="req")
    for amount in [4, 6]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C5", e.consume, world.ops, amount, key="req")
    long_key = "k" * 257
    with pytest.raises(tenantry.InvalidArgument) as caught:
        e.consume(world.ops, 5, key=long_key)
    assert caught.value.rule in ("C1", "C5")
    assert e.consume(world.ops, 5, key="k" * 256) == 100


def test_C5_keys_are_scoped_per_workspace_and_meter_and_forgotten_after_the_window(clock):
    from conftest import build_world
    e = tenantry.Engine(clock=clock, idempotency_window_s=60)
    world = build_world(e, clock)
    fund(world, world.ops, 100)
    fund(world, world.agency, 100)
    fund(world, world.ops, 100, meter="minutes")
    assert e.consume(world.ops, 10, key="k") == 90
    assert e.consume(world.agency, 10, key="k") == 90
    assert e.consume(world.ops, 10, meter="minutes", key="k") == 90
    assert e.consume(world.ops, 10, meter=0, key="k") == 90  # by id: the same meter, a replay
    clock.advance_s(61)
    assert e.consume(world.ops, 10, key="k") == 80


# ---------------------------------------------------------------- C6


def test_C6_reserve_holds_apart_drawn_regular_first(world, refused):
    e = world.engine
    fund(world, world.ops, 30, 70)
    r = e.reserve(world.ops, 50)
    assert e.balance(world.ops) == {"regular": 0, "extra": 50, "held": 50}
    info = e.reservation(r)
    assert info == tenantry.Reservation(r, world.ops, "credits", {"regular": 30, "extra": 20},
                                        world.clock.now_ns() + 3600 * NS)
    assert repr(info).startswith(f"Reservation(id={r}, workspace={world.ops}, meter='credits'")
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.held = {}
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C5", e.consume, world.ops, 51)
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C6", e.reserve, world.ops, 51)
    for ttl in [0, -1, 30 * 24 * 3600 + 1]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C6", e.reserve, world.ops, 1, ttl_s=ttl)
    short = e.reserve(world.ops, 1, ttl_s=30 * 24 * 3600)
    assert e.reservation(short).expires_at_ns == world.clock.now_ns() + 30 * 24 * 3600 * NS
    assert conserved(world, world.account)


def test_C6_commit_debits_the_actual_and_returns_the_rest(world, refused):
    e = world.engine
    fund(world, world.ops, 30, 70)
    r = e.reserve(world.ops, 50)
    for actual in [-1, 51]:
        refused(e, tenantry.InvalidArgument, "invalid_argument", "C6", e.commit, r, actual)
    revision = e.revision
    assert e.commit(r, 35) is None
    assert e.revision == revision  # a commit is a ledger entry, not a change
    assert e.balance(world.ops) == {"regular": 0, "extra": 65, "held": 0}
    assert e.consumed(world.ops) == 35
    entry = e.ledger()[-1]
    assert (entry.kind, entry.actor, entry.reservation, entry.workspace) == ("commit", S, r, world.ops)
    assert entry.amounts == {"regular": 30, "extra": 5} and entry.returned == {"regular": 0, "extra": 15}
    for call, args in [(e.reservation, (r,)), (e.commit, (r, 0)), (e.release, (r,))]:
        refused(e, tenantry.NotFound, "not_found", "C6", call, *args)
    assert conserved(world, world.account)
    e.verify()


def test_C6_release_returns_the_whole_hold(world, refused):
    e = world.engine
    fund(world, world.ops, 30, 70)
    r = e.reserve(world.ops, 50)
    assert e.release(r) is None
    assert e.balance(world.ops) == {"regular": 30, "extra": 70, "held": 0}
    entry = e.ledger()[-1]
    assert (entry.kind, entry.returned) == ("release", {"regular": 30, "extra": 20})
    refused(e, tenantry.NotFound, "not_found", "C6", e.release, r)
    for unknown in [0, 1, 999, 2**64 - 1]:
        refused(e, tenantry.NotFound, "not_found", "C6", e.reservation, unknown)
        refused(e, tenantry.NotFound, "not_found", "C6", e.commit, unknown, 0)
        refused(e, tenantry.NotFound, "not_found", "C6", e.release, unknown)


def test_C6_an_expired_hold_is_never_committable_and_is_released(world, refused):
    e, clock = world.engine, world.clock
    fund(world, world.ops, 100)
    r = e.reserve(world.ops, 40, ttl_s=60)
    other = e.reserve(world.ops, 10, ttl_s=60)
    clock.advance_s(59)
    assert e.reservation(r).held == {"regular": 40, "extra": 0}
    clock.advance_s(2)
    with pytest.raises(tenantry.FailedPrecondition) as caught:
        e.commit(r, 1)
    assert caught.value.rule == "C6"
    refused(e, tenantry.NotFound, "not_found", "C6", e.reservation, r)
    # The refused commit released every expired hold, the other one too.
    refused(e, tenantry.NotFound, "not_found", "C6", e.release, other)
    assert e.balance(world.ops) == {"regular": 100, "extra": 0, "held": 0}
    assert [x.kind for x in e.ledger()][-2:] == ["expire", "expire"]
    assert conserved(world, world.account)
    e.verify()


def test_C6_expire_reservations_releases_every_expired_hold(world, refused):
    e, clock = world.engine, world.clock
    fund(world, world.ops, 100)
    short = [e.reserve(world.ops, 10, ttl_s=60) for _ in range(2)]
    long = e.reserve(world.ops, 5, ttl_s=3600)
    clock.advance_s(61)
    assert e.expire_reservations() == 2
    assert e.expire_reservations() == 0
    for r in short:
        refused(e, tenantry.NotFound, "not_found", "C6", e.commit, r, 0)
    assert e.reservation(long).held == {"regular": 5, "extra": 0}
    assert e.balance(world.ops) == {"regular": 95, "extra": 0, "held": 5}
    assert conserved(world, world.account)


def test_C6_one_bucket_meter_holds(world):
    e = world.engine
    fund(world, world.ops, 20, meter="minutes")
    r = e.reserve(world.ops, 15, meter="minutes", ttl_s=10)
    assert e.reservation(r).held == {"regular": 15}
    assert e.reservation(r).meter == "minutes"
    assert e.balance(world.ops, meter="minutes") == {"regular": 5, "held": 15}
    e.commit(r, 15)
    assert e.consumed(world.ops, meter="minutes") == 15


def test_C6_at_most_reservation_slots_live_reservations(clock, refused):
    from conftest import build_world
    e = tenantry.Engine(clock=clock, reservation_slots=4)
    world = build_world(e, clock)
    fund(world, world.ops, 100)
    holds = [e.reserve(world.ops, 1) for _ in range(4)]
    assert len(set(holds)) == 4
    refused(e, tenantry.ResourceExhausted, "resource_exhausted", "C6", e.reserve, world.ops, 1)
    e.release(holds[0])
    again = e.reserve(world.ops, 1)
    assert again not in holds  # ids are never reused


# ---------------------------------------------------------------- C7, C8


def test_C7_ledger_entries_queries_and_value_type(world):
    e, clock = world.engine, world.clock
    t0 = clock.now_ns()
    e.grant(S, world.account, 100)
    clock.advance_s(10)
    t1 = clock.now_ns()
    e.transfer(S, world.account, world.ops, 60)
    e.grant(S, world.other, 7)
    e.transfer(S, world.other, world.elsewhere, 7)
    everything = e.ledger()
    assert [x.sequence for x in everything] == [1, 2, 3, 4]
    assert all(isinstance(x, tenantry.LedgerEntry) for x in everything)
    grant = everything[0]
    assert (grant.time_ns, grant.actor, grant.account, grant.workspace, grant.meter, grant.kind) == (
        t0, S, world.account, None, "credits", "grant")
    assert grant.reservation is None and grant.returned == {"regular": 0, "extra": 0}
    assert grant.revision <= e.revision
    assert [f.name for f in dataclasses.fields(grant)] == [
        "sequence", "revision", "time_ns", "actor", "account", "workspace", "meter", "kind",
        "amounts", "returned", "reservation"]
    assert repr(grant).startswith("LedgerEntry(sequence=1, ")
    with pytest.raises(dataclasses.FrozenInstanceError):
        grant.kind = "forged"
    assert [x.sequence for x in e.ledger(account=world.account)] == [1, 2]
    assert [x.sequence for x in e.ledger(account=world.other)] == [3, 4]
    assert [x.sequence for x in e.ledger(workspace=world.ops)] == [2]
    assert [x.sequence for x in e.ledger(account=world.other, workspace=world.ops)] == []
    assert [x.sequence for x in e.ledger(since=t1)] == [2, 3, 4]
    assert [x.sequence for x in e.ledger(after_sequence=2)] == [3, 4]
    assert e.ledger(account=999) == []


def test_C7_entries_that_left_memory_are_failed_precondition(clock):
    from conftest import build_world
    e = tenantry.Engine(clock=clock, ledger_retention=2)
    world = build_world(e, clock)
    for _ in range(4):
        e.grant(S, world.account, 1)
    with pytest.raises(tenantry.FailedPrecondition) as caught:
        e.ledger()
    assert (caught.value.code, caught.value.rule) == ("failed_precondition", "C7")
    assert [x.sequence for x in e.ledger(after_sequence=2)] == [3, 4]


def test_C8_conservation_holds_through_a_mixed_scenario(world):
    e, clock = world.engine, world.clock
    e.grant(S, world.account, 1000)
    e.grant(S, world.account, 300, bucket="extra")
    e.transfer(S, world.account, world.agency, 400)
    e.transfer(S, world.account, world.client_b, 600)
    e.consume(world.client_b, 150)
    e.consume(world.client_b, 20, key="x")
    r1 = e.reserve(world.client_b, 100)
    r2 = e.reserve(world.agency, 50, ttl_s=5)
    e.commit(r1, 60)
    e.revoke(S, world.agency, 100)
    clock.advance_s(6)
    e.expire_reservations()
    assert e.authorize_and_consume(world.manager, world.agency, "credits.consume", 10) is True
    e.delete_workspace(world.owner, world.client_b, confirm="Client B")
    with pytest.raises(tenantry.NotFound):
        e.reservation(r2)
    assert conserved(world, world.account)
    pool = e.account_balance(world.account)
    assert pool["granted"] == 1300 and pool["consumed_by_deleted"] == 230
    e.verify()

"""Hostile arguments to every kind of parameter of every public method: each
gives a Python exception (TypeError, tenantry.InvalidArgument,
tenantry.NotFound ...) and never a crash, a refused call changes nothing,
and the engine still verifies afterwards. Calls that could take the whole
interpreter down run in a child process."""

import os
import tempfile

import numpy as np
import pytest

import tenantry
from conftest import build_world, engine_state

S = tenantry.SYSTEM
HUGE = "a" * (1 << 20)  # 1 MB

# ---------------------------------------------------------------- hostile values per kind
# Each entry: (value, expected exception classes); None = "any tenantry.Error,
# or a normal return for a read".

NON_INT = [1.0, 1.5, float("nan"), float("inf"), "1", True, False, b"1", [1], (1,), object(), 1j]
ID_OUT_OF_RANGE = [-1, -(2**70), 2**64, 2**100]
AMOUNT_OUT_OF_RANGE = [2**63, -(2**63) - 1, 2**100]
SURROGATES = ["\ud800", "a\udfffb"]
STR_TYPE = [1, 1.5, ["a"], object(), 0]
STR_CONTENT = [HUGE, "a\x00b", "\x00", "", " " * 5000]

TYPE = (TypeError,)
INVALID = (tenantry.InvalidArgument,)
UNICODE = (TypeError, UnicodeError)
ANY_ERROR = None


def hostile(kind):
    """(value, expected) pairs for a parameter of ``kind``."""
    if kind in ("id", "opt_id"):
        values = [(v, TYPE) for v in NON_INT] + [(v, INVALID) for v in ID_OUT_OF_RANGE]
        return values + ([(None, TYPE)] if kind == "id" else [])
    if kind in ("amount", "opt_amount"):
        values = [(v, TYPE) for v in NON_INT] + [(v, INVALID) for v in AMOUNT_OUT_OF_RANGE]
        return values + ([(None, TYPE)] if kind == "amount" else [])
    if kind in ("str", "opt_str"):
        values = [(v, TYPE) for v in STR_TYPE] + [(v, UNICODE) for v in SURROGATES]
        if kind == "str":
            return values + [(v, ANY_ERROR) for v in STR_CONTENT] + [(None, TYPE)]
        # An optional string's "" means "none": only the huge one is hostile there.
        return values + [(HUGE, ANY_ERROR)]
    if kind == "path":
        # Not a path: TypeError; not UTF-8: UnicodeError; empty, NUL inside,
        # too long, a directory, missing: a tenantry error.
        values = [(v, TYPE) for v in [1, 1.5, None, object(), ["a"]]]
        values += [(v, UNICODE) for v in SURROGATES]
        return values + [(v, ANY_ERROR) for v in ["", "a\x00b", HUGE, "/", "/no/such/dir/x.tny"]]
    if kind in ("perm", "meter"):
        limit = 2**32 if kind == "perm" else 64
        values = [(v, TYPE) for v in [1.5, None, True, b"x", [1], object(), np.bool_(True), 1.0]]
        values += [(v, INVALID) for v in [-1, limit, 2**64, 2**100]]
        values += [(v, (tenantry.NotFound,)) for v in ["no.such", "", HUGE, "workspace.view\x00", "credits\x00"]]
        return values + [(v, UNICODE) for v in SURROGATES]
    if kind in ("scope", "req_scope"):
        values = [(v, INVALID) for v in ["some", "ALL", "", HUGE, [-1], [2**64]]]
        values += [(v, TYPE) for v in [5, 1.5, object(), [1.5], ["1"], [None], [True]]]
        return values + ([(None, TYPE)] if kind == "req_scope" else [])
    if kind in ("plan", "req_plan"):
        values = [(v, TYPE) for v in [5, 1.5, object(), ["starter"], tenantry.Plan("x", 1.5)]]
        values += [(v, INVALID) for v in [tenantry.Plan("x", 2**63), tenantry.Plan("x", -2)]]
        # Plan names that are not str (or not encodable): test_a_plan_with_a_bad_name_is_a_type_error.
        return values + ([(None, TYPE)] if kind == "req_plan" else [])
    if kind == "setting":
        return [(v, TYPE) for v in ["1", None, 1.5, [], object()]] + [(2**63, INVALID), (-(2**64), INVALID)]
    if kind == "strlist":
        return [(v, TYPE) for v in ["calls.view", None, 5, [1], [None], ["\ud800"], object(), {"a": 1}]]
    if kind == "u32":
        # True: test_permission_name_refuses_bools.
        return [(v, TYPE) for v in [1.5, None, "1", [0], object()]] + [(v, INVALID) for v in [-1, 2**32, 2**64]]
    if kind == "batch":
        return [(v, TYPE) for v in [None, [], "batch", object(), tenantry.ManualClock()]]
    raise AssertionError(kind)


# ---------------------------------------------------------------- the methods
# name -> [(parameter, kind, how to get a valid value from the fixture, keyword-only?)]


def P(name, kind, valid, kw=False):
    return (name, kind, valid, kw)


def _snapshot_file():
    """A valid snapshot for load's spec, and a directory for save's."""
    directory = tempfile.mkdtemp(prefix="tny-hostile-")
    path = os.path.join(directory, "valid.tny")
    tenantry.Engine().save(path)
    return directory, path


SNAPSHOT_DIR, SNAPSHOT = _snapshot_file()

SPECS = {
    "save": [P("path", "path", lambda h: os.path.join(SNAPSHOT_DIR, "saved.tny"))],
    "load": [P("path", "path", lambda h: SNAPSHOT)],
    "permission": [P("name", "str", lambda h: "workspace.view")],
    "register_permission": [P("name", "str", lambda h: "app.ok")],
    "permission_name": [P("permission", "u32", lambda h: 0)],
    "create_account": [P("name", "str", lambda h: "New"), P("owner", "id", lambda h: h.w.outsider),
                       P("plan", "plan", lambda h: "starter", True), P("key", "opt_str", lambda h: None, True),
                       P("member_default_scope", "str", lambda h: "all", True),
                       P("staff_member_role", "str", lambda h: "admin", True)],
    "account": [P("account", "id", lambda h: h.w.account)],
    "set_plan": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                 P("plan", "req_plan", lambda h: "enterprise")],
    "create_user": [P("key", "str", lambda h: "fresh@x.test")],
    "user": [P("key", "str", lambda h: "owner@acme.test")],
    "add_staff": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                  P("user", "id", lambda h: h.w.outsider), P("role", "str", lambda h: "member"),
                  P("scope", "scope", lambda h: None, True)],
    "set_staff_scope": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                        P("user", "id", lambda h: h.w.staff), P("scope", "req_scope", lambda h: "all")],
    "remove_staff": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                     P("user", "id", lambda h: h.w.scoped)],
    "staff": [P("account", "id", lambda h: h.w.account), P("user", "id", lambda h: h.w.staff)],
    "create_workspace": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                         P("name", "str", lambda h: "Fresh"), P("slug", "opt_str", lambda h: None, True),
                         P("type", "str", lambda h: "simple", True), P("parent", "opt_id", lambda h: None, True),
                         P("owner", "opt_id", lambda h: None, True)],
    "slug_available": [P("account", "id", lambda h: h.w.account), P("slug", "str", lambda h: "fresh")],
    "workspace": [P("workspace", "id", lambda h: h.w.ops)],
    "rename_workspace": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
                         P("name", "str", lambda h: "Renamed")],
    "set_status": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
                   P("status", "str", lambda h: "inactive")],
    "set_setting": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
                    P("name", "str", lambda h: "approval_timeout_s"), P("value", "setting", lambda h: 600)],
    "settings": [P("workspace", "id", lambda h: h.w.ops)],
    "delete_workspace": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.client_b),
                         P("confirm", "str", lambda h: "Client B", True)],
    "add_member": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
                   P("user", "id", lambda h: h.w.outsider), P("role", "str", lambda h: "viewer")],
    "set_role": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.agency),
                 P("user", "id", lambda h: h.w.viewer), P("role", "str", lambda h: "manager")],
    "remove_member": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.agency),
                      P("user", "id", lambda h: h.w.viewer)],
    "transfer_ownership": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.agency),
                           P("new_owner", "id", lambda h: h.w.ws_admin)],
    "define_role": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                    P("name", "str", lambda h: "support"), P("permissions", "strlist", lambda h: ["calls.view"]),
                    P("inherits", "opt_str", lambda h: None, True)],
    "role_permissions": [P("account", "id", lambda h: h.w.account), P("role", "str", lambda h: "viewer")],
    "create_team": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
                    P("name", "str", lambda h: "Team"), P("role", "str", lambda h: "viewer")],
    "add_team_member": [P("actor", "id", lambda h: S), P("team", "id", lambda h: h.team),
                        P("user", "id", lambda h: h.w.outsider)],
    "remove_team_member": [P("actor", "id", lambda h: S), P("team", "id", lambda h: h.team),
                           P("user", "id", lambda h: h.w.member)],
    "set_team_role": [P("actor", "id", lambda h: S), P("team", "id", lambda h: h.team),
                      P("role", "str", lambda h: "member")],
    "delete_team": [P("actor", "id", lambda h: S), P("team", "id", lambda h: h.team)],
    "team": [P("team", "id", lambda h: h.team)],
    "teams": [P("workspace", "id", lambda h: h.w.agency)],
    "invite": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
               P("email", "str", lambda h: "guest@x.test"), P("role", "str", lambda h: "client", True)],
    "invite_staff": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                     P("email", "str", lambda h: "hire@x.test"), P("role", "str", lambda h: "member"),
                     P("scope", "scope", lambda h: None, True)],
    "accept": [P("token", "str", lambda h: h.invitation.token), P("user", "id", lambda h: h.guest)],
    "resend": [P("actor", "id", lambda h: S), P("invitation", "id", lambda h: h.invitation.id)],
    "revoke_invitation": [P("actor", "id", lambda h: S), P("invitation", "id", lambda h: h.invitation.id)],
    "invitation": [P("invitation", "id", lambda h: h.invitation.id)],
    "invitations": [P("workspace", "id", lambda h: h.w.agency)],
    "switch_workspace": [P("user", "id", lambda h: h.w.viewer), P("workspace", "id", lambda h: h.w.agency)],
    "active_workspace": [P("user", "id", lambda h: h.w.viewer)],
    "touch_session": [P("user", "id", lambda h: h.w.owner)],
    "check": [P("user", "id", lambda h: h.w.owner), P("workspace", "id", lambda h: h.w.ops),
              P("permission", "perm", lambda h: "workspace.view"),
              P("at_least", "opt_amount", lambda h: None, True)],
    "explain": [P("user", "id", lambda h: h.w.owner), P("workspace", "id", lambda h: h.w.ops),
                P("permission", "perm", lambda h: "workspace.view"),
                P("at_least", "opt_amount", lambda h: None, True)],
    "workspaces_for": [P("user", "id", lambda h: h.w.owner)],
    "members": [P("workspace", "id", lambda h: h.w.agency), P("at_least", "opt_amount", lambda h: None, True)],
    "who_can": [P("workspace", "id", lambda h: h.w.ops), P("permission", "perm", lambda h: "workspace.view")],
    "accessible": [P("user", "id", lambda h: h.w.owner), P("permission", "perm", lambda h: "workspace.view")],
    "authorize_and_consume": [P("user", "id", lambda h: h.w.owner), P("workspace", "id", lambda h: h.w.ops),
                              P("permission", "perm", lambda h: "credits.consume"),
                              P("amount", "amount", lambda h: 1), P("meter", "meter", lambda h: "credits", True)],
    "define_meter": [P("name", "str", lambda h: "tokens"), P("buckets", "strlist", lambda h: ["regular"])],
    "meter": [P("meter", "meter", lambda h: "credits")],
    "grant": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
              P("amount", "amount", lambda h: 5), P("meter", "meter", lambda h: "credits", True),
              P("bucket", "str", lambda h: "regular", True)],
    "transfer": [P("actor", "id", lambda h: S), P("account", "id", lambda h: h.w.account),
                 P("workspace", "id", lambda h: h.w.ops), P("amount", "amount", lambda h: 5),
                 P("meter", "meter", lambda h: "credits", True)],
    "revoke": [P("actor", "id", lambda h: S), P("workspace", "id", lambda h: h.w.ops),
               P("amount", "amount", lambda h: 5), P("bucket", "str", lambda h: "regular", True),
               P("meter", "meter", lambda h: "credits", True)],
    "consume": [P("workspace", "id", lambda h: h.w.ops), P("amount", "amount", lambda h: 1),
                P("meter", "meter", lambda h: "credits", True), P("key", "opt_str", lambda h: None, True)],
    "reserve": [P("workspace", "id", lambda h: h.w.ops), P("amount", "amount", lambda h: 1),
                P("meter", "meter", lambda h: "credits", True), P("ttl_s", "amount", lambda h: 60, True)],
    "commit": [P("reservation", "id", lambda h: h.reservation), P("actual", "amount", lambda h: 1)],
    "release": [P("reservation", "id", lambda h: h.reservation)],
    "reservation": [P("reservation", "id", lambda h: h.reservation)],
    "balance": [P("workspace", "id", lambda h: h.w.ops), P("meter", "meter", lambda h: "credits", True),
                P("at_least", "opt_amount", lambda h: None, True)],
    "consumed": [P("workspace", "id", lambda h: h.w.ops), P("meter", "meter", lambda h: "credits", True)],
    "account_balance": [P("account", "id", lambda h: h.w.account), P("meter", "meter", lambda h: "credits", True)],
    "ledger": [P("account", "opt_id", lambda h: None, True), P("workspace", "opt_id", lambda h: None, True),
               P("since", "amount", lambda h: 0, True), P("after_sequence", "id", lambda h: 0, True)],
    "changes_since": [P("revision", "id", lambda h: 0), P("at_least", "opt_amount", lambda h: None, True)],
    "apply": [P("batch", "batch", lambda h: tenantry.Batch()), P("change_id", "opt_str", lambda h: None, True)],
    # Replicas (R4, R8) on an engine that is no replica: the arguments are
    # refused before the engine says it is none.
    "wait_for": [P("position", "amount", lambda h: 0), P("timeout_ms", "opt_amount", lambda h: None, True)],
    "prepare": [P("batch", "batch", lambda h: tenantry.Batch()), P("change_id", "opt_str", lambda h: None, True)],
}

# Falsy non-ints given to ledger()'s filters: see test_ledger_filters_take_only_ids.
LEDGER_FALSY = {False, "", 0}


class Hostile:
    """The world, plus a team, a pending invitation and a live reservation."""

    def __init__(self, world):
        e = world.engine
        self.w, self.e = world, e
        self.team = e.create_team(S, world.agency, "Crew", "viewer")
        e.add_team_member(S, self.team, world.member)
        self.guest = e.create_user("guest@customer.test")
        self.invitation = e.invite(world.ws_admin, world.agency, "guest@customer.test")
        e.grant(S, world.account, 1000)
        e.transfer(S, world.account, world.ops, 500)
        self.reservation = e.reserve(world.ops, 10)
        e.switch_workspace(world.owner, world.agency)

    def fingerprint(self):
        e = self.e
        return (e.revision, e.stats(), e.balance(self.w.ops), e.account_balance(self.w.account),
                e.consumed(self.w.ops), len(e.ledger()), e.active_workspace(self.w.owner))


@pytest.fixture
def h(world):
    return Hostile(world)


def call_with(h, method, spec, param, value):
    args, kwargs = [], {}
    for name, _kind, valid, kw in spec:
        v = value if name == param else valid(h)
        if kw:
            kwargs[name] = v
        else:
            args.append(v)
    return getattr(h.e, method)(*args, **kwargs)


def test_every_public_method_has_a_hostile_spec():
    public = {n for n in dir(tenantry.Engine) if not n.startswith("_")}
    no_parameters = {"expire_sessions", "expire_reservations", "verify", "stats", "revision", "journal_recovery"}
    no_parameters.add("check_many")  # arrays: test_hostile_check_many_arrays
    no_parameters |= {"close", "closed"}  # test_close.py
    # Replicas: test_replicas.py.
    no_parameters |= {"is_replica", "position", "last_change_position", "follow", "snapshot_to_log",
                      "truncate_log"}
    assert public - no_parameters == set(SPECS)


@pytest.mark.parametrize("method", sorted(SPECS))
def test_hostile_arguments_raise_python_exceptions_and_change_nothing(h, method):
    spec = SPECS[method]
    before = engine_state(h.e)
    tried = 0
    for param, kind, _valid, _kw in spec:
        for value, expected in hostile(kind):
            if method == "ledger" and param in ("account", "workspace") and _is_falsy_non_int(value):
                continue  # a known quirk, its own xfail test below
            fingerprint = h.fingerprint()
            tried += 1
            try:
                call_with(h, method, spec, param, value)
            except BaseException as error:  # noqa: B902 - checked right below
                where = f"{method}({param}={value!r:.60})"
                assert isinstance(error, Exception), f"{where} raised {type(error).__name__}"
                if expected is None:
                    assert isinstance(error, tenantry.Error), f"{where} raised {type(error).__name__}: {error}"
                else:
                    assert isinstance(error, expected), f"{where} raised {type(error).__name__}: {error}"
                assert not isinstance(error, (SystemError, RuntimeError)), where
                if isinstance(error, tenantry.Error):
                    assert error.code == type(error).code
            else:
                assert expected is None, f"{method}({param}={value!r:.60}) did not raise"
            assert h.fingerprint() == fingerprint, f"{method}({param}={value!r:.60}) changed the engine"
    assert tried >= 5 * len(spec)
    assert engine_state(h.e) == before
    h.e.verify()


def _is_falsy_non_int(value):
    try:
        return not value and not (isinstance(value, int) and not isinstance(value, bool))
    except Exception:
        return False


def test_hostile_engine_options():
    # A wrong type (a bool included: it was once taken as 1) is a TypeError
    # naming the option; an int out of range is InvalidArgument naming it.
    for kwargs in [{"invitation_ttl_s": "x"}, {"reservation_slots": 1.5}, {"idempotency_window_s": None},
                   {"feed_retention": True}, {"idempotency_slots": True}, {"group_commit_ms": 1.0},
                   {"ledger_retention": False}]:
        with pytest.raises(TypeError, match=next(iter(kwargs))):
            tenantry.Engine(**kwargs)
    for kwargs in [{"feed_retention": -1}, {"feed_retention": 2**64}, {"ledger_retention": -5},
                   {"reservation_slots": -(2**63)}, {"idempotency_slots": -1}]:
        with pytest.raises(tenantry.InvalidArgument, match=next(iter(kwargs))):
            tenantry.Engine(**kwargs)
    for kwargs in [{"bogus": 1}, {"clock": "not callable"}, {"journal": 1.5}, {"journal": b"/tmp"}]:
        with pytest.raises(TypeError):
            tenantry.Engine(**kwargs)
    with pytest.raises(TypeError):
        tenantry.Engine(None)  # keyword-only


def test_no_argument_methods_refuse_arguments(h):
    for method in ["expire_sessions", "expire_reservations", "verify", "stats"]:
        with pytest.raises(TypeError):
            getattr(h.e, method)(1)
        with pytest.raises(TypeError):
            getattr(h.e, method)(x=1)
    h.e.verify()


def test_fast_calls_refuse_wrong_argument_counts_keywords_and_duplicates(h):
    e, w = h.e, h.w
    cases = [
        ((), {}), ((w.owner,), {}), ((w.owner, w.ops), {}), ((w.owner, w.ops, 0, 1), {}),
        ((w.owner, w.ops, 0, 1, 2, 3, 4, 5), {}), ((w.owner, w.ops), {"perm": 0}),
        ((w.owner, w.ops, 0), {"user": w.owner}), ((w.owner, w.ops, 0), {"permission": 0}),
        ((), {"user": w.owner, "workspace": w.ops}), ((w.owner,), {"workspace": w.ops, "bogus": 1}),
        ((), {"user": w.owner, "workspace": w.ops, "permission": 0, "extra": 1}),
    ]
    for args, kwargs in cases:
        with pytest.raises(TypeError):
            e.check(*args, **kwargs)
    assert e.check(w.owner, permission="workspace.view", workspace=w.ops) is True
    balance = e.balance(w.ops)
    cases = [
        ((), {}), ((w.ops,), {}), ((w.ops, 1, "credits"), {}), ((w.ops, 1, "credits", "k"), {}),
        ((w.ops, 1), {"amount": 2}), ((w.ops, 1), {"workspace": w.ops}), ((w.ops, 1), {"bogus": 1}),
        ((w.ops,), {"meter": "credits"}), ((), {"amount": 1, "key": "k"}),
        ((w.ops, 1), {"meter": "credits", "key": "k", "ttl_s": 5}),
    ]
    for args, kwargs in cases:
        with pytest.raises(TypeError):
            e.consume(*args, **kwargs)
    assert e.balance(w.ops) == balance
    assert e.consume(amount=1, workspace=w.ops, key="kw", meter="credits") == balance["regular"] + balance["extra"] - 1
    # The unbound methods check their self too.
    with pytest.raises(TypeError):
        tenantry.Engine.check(object(), 1, 2, 3)
    with pytest.raises(TypeError):
        tenantry.Engine.consume("not an engine", 1, 2)
    e.verify()


def test_hostile_check_many_arrays(h):
    e, w = h.e, h.w
    one = [w.owner]
    ws = [w.ops]
    cases = [
        ((np.array([[w.owner]]), np.array([[w.ops]]), 0), tenantry.InvalidArgument),
        ((np.zeros((2, 2), np.int64), np.zeros(4, np.int64), 0), tenantry.InvalidArgument),
        ((np.array([1.0]), np.array(ws), 0), TypeError),
        ((np.array(one), np.array([1.5]), 0), TypeError),
        ((np.array([-1]), np.array(ws), 0), tenantry.InvalidArgument),
        ((np.array(one), np.array([-(2**40)], np.int64), 0), tenantry.InvalidArgument),
        ((np.array([True]), np.array(ws), 0), TypeError),
        ((np.array(["1"]), np.array(ws), 0), TypeError),
        ((np.array([1 + 1j]), np.array(ws), 0), TypeError),
        (([None], ws, 0), TypeError),
        (([2**64], ws, 0), tenantry.InvalidArgument),
        ((["1"], ws, 0), TypeError),
        # A scalar (or an iterator, which NumPy sees as one) is a wrong type.
        ((5, ws, 0), TypeError),
        ((one, 5, 0), TypeError),
        ((None, ws, 0), TypeError),
        (((x for x in one), ws, 0), TypeError),
        ((one, "1", 0), TypeError),
        ((1.5, ws, 0), TypeError),
        ((np.int64(1), ws, 0), TypeError),
        ((one + one, ws, 0), tenantry.InvalidArgument),
        ((one, ws + ws, 0), tenantry.InvalidArgument),
        ((one, ws, [0, 0]), tenantry.InvalidArgument),
        ((one, ws, np.array([0, 0], np.uint32)), tenantry.InvalidArgument),
        ((one, ws, np.array([[0]])), tenantry.InvalidArgument),
        ((one, ws, np.array([-1])), tenantry.InvalidArgument),
        ((one, ws, np.array([2**32], np.int64)), tenantry.InvalidArgument),
        ((one, ws, np.array([0.5])), TypeError),
        ((one, ws, [0.5]), TypeError),
        ((one, ws, ["workspace.view", None][:1] + [None]), TypeError),
        ((one, ws, -1), tenantry.InvalidArgument),
        ((one, ws, 2**32), tenantry.InvalidArgument),
        ((one, ws, "no.such"), tenantry.NotFound),
        ((one, ws, HUGE), tenantry.NotFound),
        ((one, ws, "\ud800"), (TypeError, UnicodeError)),
        ((one, ws, None), TypeError),
        ((one, ws, 0.5), TypeError),
        ((one, ws, True), TypeError),
        ((one, ws, np.bool_(True)), TypeError),
        ((one, ws, b"workspace.view"), TypeError),
        ((one, ws, object()), TypeError),
        ((one, ws, np.array(["workspace.view"])), TypeError),
        ((one, ws), TypeError),
        ((), TypeError),
    ]
    for args, expected in cases:
        with pytest.raises(expected):
            e.check_many(*args)
    assert e.check_many(one, ws, "workspace.view").tolist() == [True]
    e.verify()


def test_huge_and_odd_strings_everywhere_a_string_goes(h):
    e, w = h.e, h.w
    revision = e.revision
    for text in [HUGE, "a\x00b", "\ud800", "\U0001F600" * 200_000, "\x1b[31m" * 10]:
        for call in [lambda: e.create_user(text), lambda: e.user(text),
                     lambda: e.create_workspace(S, w.account, text),
                     lambda: e.accept(text, w.outsider), lambda: e.permission(text),
                     lambda: e.check(w.owner, w.ops, text), lambda: e.consume(w.ops, 1, key=text),
                     lambda: e.consume(w.ops, 1, meter=text), lambda: e.invite(S, w.ops, text),
                     lambda: e.set_setting(S, w.ops, text, True), lambda: e.define_meter(text, ["a"]),
                     lambda: e.register_permission(text), lambda: e.slug_available(w.account, text)]:
            try:
                call()
            except (tenantry.Error, TypeError, UnicodeError):
                pass
    assert e.revision == revision
    e.verify()


# ---------------------------------------------------------------- crashes, in a child process


def test_fast_calls_on_an_engine_whose_init_never_ran_raise(run_isolated):
    result = run_isolated(
        """
        e = tenantry.Engine.__new__(tenantry.Engine)
        for call in (lambda: e.check(1, 2, 3), lambda: e.consume(1, 2)):
            try:
                call()
            except RuntimeError as error:
                print("raised", error)
        class Sub(tenantry.Engine):
            def __init__(self):
                pass
        try:
            Sub()
        except TypeError as error:
            print("raised", error)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("raised") == 3


def test_methods_on_an_engine_whose_init_never_ran_raise(run_isolated):
    for call in ["e.stats()", "repr(e)", "e.verify()", "e.revision", "e.check_many([1], [1], 0)", "e.close()",
                 "e.closed", "e.__enter__()"]:
        try:
            result = run_isolated(
                f"""
                e = tenantry.Engine.__new__(tenantry.Engine)
                try:
                    value = {call}
                except (RuntimeError, TypeError) as error:
                    print("raised", type(error).__name__)
                else:
                    print("returned", value)
                """,
                timeout=20,
            )
        except Exception as error:  # a hang: subprocess.TimeoutExpired
            pytest.fail(f"{call}: {type(error).__name__}")
        assert result.returncode == 0, f"{call}: exit {result.returncode} {result.stderr[-300:]}"
        assert "raised" in result.stdout, f"{call}: {result.stdout}"


def test_keyed_consume_out_of_memory_does_not_abort(run_isolated):
    result = run_isolated(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
        e = tenantry.Engine(idempotency_slots=2**30)
        o = e.create_user("o@x.test")
        a = e.create_account("A", o, plan="enterprise")
        w = e.create_workspace(o, a, "Work")
        e.grant(tenantry.SYSTEM, a, 10)
        e.transfer(tenantry.SYSTEM, a, w, 10)
        print("ready", flush=True)
        try:
            e.consume(w, 1, key="k")
        except (MemoryError, tenantry.Error) as error:
            print("raised", type(error).__name__)
        else:
            print("consumed")
        """
    )
    if "ready" not in result.stdout:
        pytest.skip(f"the child could not set up under the memory limit: {result.stderr[-200:]}")
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr[-300:]}"


def test_engine_options_are_validated(clock):
    day = 24 * 3600
    for kwargs in [{"feed_retention": 0}, {"ledger_retention": 0}, {"invitation_ttl_s": 0},
                   {"invitation_ttl_s": -5}, {"invitation_ttl_s": 2**62}, {"invitation_ttl_s": 365 * day + 1},
                   {"idempotency_window_s": 0}, {"idempotency_window_s": 2**62}, {"idempotency_slots": 0},
                   {"idempotency_slots": 2**62}, {"reservation_slots": 0}, {"reservation_slots": 2**40}]:
        with pytest.raises(tenantry.InvalidArgument) as caught:
            tenantry.Engine(clock=clock, **kwargs)
        assert caught.value.code == "invalid_argument"
        assert next(iter(kwargs)) in str(caught.value)
    e = tenantry.Engine(clock=clock, invitation_ttl_s=365 * day, feed_retention=1, ledger_retention=1,
                        reservation_slots=1, idempotency_slots=1, idempotency_window_s=1)
    world = build_world(e, clock)
    inv = e.invite(world.ws_admin, world.agency, "x@y.test")
    assert inv.expires_at_ns == clock.now_ns() + 365 * day * 10**9


def test_memory_exhaustion_in_reserve_is_a_memory_error(run_isolated):
    result = run_isolated(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        e = tenantry.Engine(reservation_slots=2**24)
        o = e.create_user("o@x.test")
        a = e.create_account("A", o, plan="enterprise")
        w = e.create_workspace(o, a, "Work")
        e.grant(tenantry.SYSTEM, a, 10)
        e.transfer(tenantry.SYSTEM, a, w, 10)
        print("ready", flush=True)
        try:
            e.reserve(w, 1)
        except MemoryError:
            print("MemoryError")
        else:
            print("reserved")
        e.verify()
        """
    )
    if "ready" not in result.stdout:
        pytest.skip(f"the child could not set up under the memory limit: {result.stderr[-200:]}")
    assert result.returncode == 0, result.stderr[-300:]
    assert result.stdout.split()[-1] in ("MemoryError", "reserved")


def test_a_plan_with_a_bad_name_is_a_type_error(engine):
    owner = engine.create_user("o@x.test")
    for plan in [tenantry.Plan(None, 1), tenantry.Plan(5, 1), "\ud800", tenantry.Plan("\ud800", 1)]:
        with pytest.raises((TypeError, UnicodeError)):
            engine.create_account("Acme", owner, plan=plan)


def test_permission_name_refuses_bools(engine):
    with pytest.raises(TypeError):
        engine.permission_name(True)


def test_ledger_filters_take_only_ids(h):
    for value in [False, 0.0, "", []]:
        with pytest.raises(TypeError):
            h.e.ledger(account=value)


def test_check_many_refuses_bool_ids_in_lists(h):
    with pytest.raises(TypeError):
        h.e.check_many([True, h.w.owner], [h.w.ops, h.w.ops], 0)

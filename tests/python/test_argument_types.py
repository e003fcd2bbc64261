"""docs/rules.md section 10: a wrong-typed argument is a TypeError that names the
argument, and the failed call changes nothing.

Every public method taking an id or an amount (an int), a permission or a
meter (a str or an int), or arrays of ids, is called with a float, None, a
str and a bool in each such parameter, one at a time. The error must be a
TypeError (not InvalidArgument, not pybind11's "incompatible function
arguments", and a bool is never taken for 0 or 1) whose message names the
parameter. Before, ids were all called "id" ("id must be an int, not
float"), and check_many(users, workspaces, 1.5) raised InvalidArgument about
"0 dimensions".
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest

import tenantry
from conftest import World, engine_state

NOT_AN_INT = [1.5, None, "1", True]
NOT_A_NAME_OR_INT = [1.5, None, True, b"workspace.view"]  # a str is a name here


def _valid(w: World) -> Dict[str, Any]:
    """A well-typed value per parameter name (the bad one fails before any
    engine work, so the others need not make the call succeed)."""
    return {
        "actor": w.owner, "account": w.account, "user": w.outsider, "owner": w.owner, "workspace": w.ops,
        "new_owner": w.manager, "team": 1, "invitation": 1, "reservation": 1, "revision": 0,
        "permission": "workspace.view", "meter": "credits", "amount": 1, "actual": 1, "ttl_s": 60, "since": 0,
        "after_sequence": 0, "parent": w.agency, "name": "Xyz", "setting": "beta_opt_in", "slug": "xyz",
        "role": "viewer", "email": "e@x.test", "plan": "starter", "scope": "all", "status": "active",
        "value": True, "confirm": "Xyz", "token": "t" * 10, "key": "k", "bucket": "regular",
        "permissions": ["workspace.view"], "users": [w.owner], "workspaces": [w.ops],
        "at_least": 0, "position": 0, "timeout_ms": 0,
    }


# method: (positional parameters, keyword-only parameters, parameters to
# make wrong). "setting" is set_setting's `name`; a trailing "?" marks a
# parameter for which None is valid (not wrong).
ENGINE: Dict[str, Tuple[str, str, str]] = {
    "create_account": ("name owner", "", "owner"),
    "account": ("account", "", "account"),
    "set_plan": ("actor account plan", "", "actor account"),
    "add_staff": ("actor account user role", "", "actor account user"),
    "set_staff_scope": ("actor account user scope", "", "actor account user"),
    "remove_staff": ("actor account user", "", "actor account user"),
    "staff": ("account user", "", "account user"),
    "create_workspace": ("actor account name", "parent owner", "actor account parent? owner?"),
    "slug_available": ("account slug", "", "account"),
    "workspace": ("workspace", "", "workspace"),
    "rename_workspace": ("actor workspace name", "", "actor workspace"),
    "set_status": ("actor workspace status", "", "actor workspace"),
    "set_setting": ("actor workspace setting value", "", "actor workspace value"),
    "settings": ("workspace", "", "workspace"),
    "delete_workspace": ("actor workspace", "confirm", "actor workspace"),
    "add_member": ("actor workspace user role", "", "actor workspace user"),
    "set_role": ("actor workspace user role", "", "actor workspace user"),
    "remove_member": ("actor workspace user", "", "actor workspace user"),
    "transfer_ownership": ("actor workspace new_owner", "", "actor workspace new_owner"),
    "define_role": ("actor account name permissions", "", "actor account"),
    "role_permissions": ("account role", "", "account"),
    "create_team": ("actor workspace name role", "", "actor workspace"),
    "add_team_member": ("actor team user", "", "actor team user"),
    "remove_team_member": ("actor team user", "", "actor team user"),
    "set_team_role": ("actor team role", "", "actor team"),
    "delete_team": ("actor team", "", "actor team"),
    "team": ("team", "", "team"),
    "teams": ("workspace", "", "workspace"),
    "invite": ("actor workspace email", "role", "actor workspace"),
    "invite_staff": ("actor account email role", "scope", "actor account"),
    "accept": ("token user", "", "user"),
    "resend": ("actor invitation", "", "actor invitation"),
    "revoke_invitation": ("actor invitation", "", "actor invitation"),
    "invitation": ("invitation", "", "invitation"),
    "invitations": ("workspace", "", "workspace"),
    "switch_workspace": ("user workspace", "", "user workspace"),
    "active_workspace": ("user", "", "user"),
    "touch_session": ("user", "", "user"),
    "check": ("user workspace permission", "at_least", "user workspace permission at_least?"),
    "explain": ("user workspace permission", "at_least", "user workspace permission at_least?"),
    "workspaces_for": ("user", "at_least", "user at_least?"),
    "members": ("workspace", "at_least", "workspace at_least?"),
    "who_can": ("workspace permission", "at_least", "workspace permission at_least?"),
    "accessible": ("user permission", "at_least", "user permission at_least?"),
    "authorize_and_consume": ("user workspace permission amount", "meter",
                              "user workspace permission amount meter"),
    "meter": ("meter", "", "meter"),
    "grant": ("actor account amount", "meter bucket", "actor account amount meter"),
    "transfer": ("actor account workspace amount", "meter", "actor account workspace amount meter"),
    "revoke": ("actor workspace amount", "bucket meter", "actor workspace amount meter"),
    "consume": ("workspace amount", "meter key", "workspace amount meter"),
    "reserve": ("workspace amount", "meter ttl_s", "workspace amount meter ttl_s"),
    "commit": ("reservation actual", "", "reservation actual"),
    "release": ("reservation", "", "reservation"),
    "reservation": ("reservation", "", "reservation"),
    "balance": ("workspace", "meter at_least", "workspace meter at_least?"),
    "consumed": ("workspace", "meter at_least", "workspace meter at_least?"),
    "account_balance": ("account", "meter at_least", "account meter at_least?"),
    "ledger": ("", "account workspace since after_sequence at_least",
               "account? workspace? since after_sequence at_least?"),
    "changes_since": ("revision", "at_least", "revision at_least?"),
    "wait_for": ("position", "timeout_ms", "position timeout_ms?"),
    "permission_name": ("permission", "", "permission"),
    "check_many": ("users workspaces permissions", "", "users workspaces permissions"),
}

BATCH: Dict[str, Tuple[str, str, str]] = {
    name: ENGINE[name]
    for name in [
        "create_account", "set_plan", "add_staff", "set_staff_scope", "remove_staff", "create_workspace",
        "rename_workspace", "set_status", "set_setting", "add_member", "set_role", "remove_member",
        "transfer_ownership", "define_role", "create_team", "add_team_member", "remove_team_member",
        "set_team_role", "delete_team", "accept", "revoke_invitation", "switch_workspace",
    ]
}
BATCH["delete_workspace"] = ("actor workspace", "confirm", "actor workspace")


def _cases(table: Dict[str, Tuple[str, str, str]]) -> List[Tuple[str, str, bool]]:
    cases = []
    for method, (_, _, wrong) in table.items():
        for param in wrong.split():
            cases.append((method, param.rstrip("?"), param.endswith("?")))
    return cases


def _bad_values(param: str, nullable: bool) -> List[Any]:
    if param in ("permission", "meter"):
        values = list(NOT_A_NAME_OR_INT)
    elif param == "value":  # set_setting: a bool or an int
        values = [1.5, None, "1"]
    elif param == "permissions":  # check_many: one permission, or arrays of them
        values = [1.5, None, True, b"x", np.float64(1.0)]
    else:
        values = list(NOT_AN_INT)
    return [v for v in values if not (nullable and v is None)]


def _call(target: Any, table: Dict[str, Tuple[str, str, str]], method: str, valid: Dict[str, Any],
          param: str, bad: Any) -> Any:
    positional, keywords, _ = table[method]
    args = [bad if name == param else valid[name] for name in positional.split()]
    kwargs = {}
    for name in keywords.split():
        kwargs[name] = bad if name == param else valid[name]
    return getattr(target, method)(*args, **kwargs)


def _names(message: str, param: str) -> bool:
    name = "name" if param == "setting" else param
    return re.search(rf"\b{re.escape(name)}\b", message) is not None


@pytest.mark.parametrize("method, param, nullable", _cases(ENGINE),
                         ids=[f"{m}-{p}" for m, p, _ in _cases(ENGINE)])
def test_engine_wrong_typed_arguments_are_type_errors_naming_them(world, method, param, nullable):
    e = world.engine
    valid = _valid(world)
    before = engine_state(e)
    for bad in _bad_values(param, nullable):
        with pytest.raises(TypeError) as caught:
            _call(e, ENGINE, method, valid, param, bad)
        message = str(caught.value)
        assert not isinstance(caught.value, tenantry.Error), message
        assert "incompatible function arguments" not in message, message
        assert _names(message, param), f"{method}({param}={bad!r}): {message}"
    assert engine_state(e) == before, f"a refused {method} changed the engine"


@pytest.mark.parametrize("method, param, nullable", _cases(BATCH),
                         ids=[f"{m}-{p}" for m, p, _ in _cases(BATCH)])
def test_batch_wrong_typed_arguments_are_type_errors_naming_them(world, method, param, nullable):
    batch = tenantry.Batch().create_user("first@x.test")
    valid = _valid(world)
    for bad in _bad_values(param, nullable):
        with pytest.raises(TypeError) as caught:
            _call(batch, BATCH, method, valid, param, bad)
        assert _names(str(caught.value), param), f"{method}({param}={bad!r}): {caught.value}"
    assert len(batch) == 1, f"a refused {method} was queued"


def test_A6_check_many_with_a_float_permission_is_a_type_error(world):
    """The report: check_many(users, workspaces, 1.5) said InvalidArgument,
    "0 dimensions"."""
    e = world.engine
    users = np.array([world.owner, world.viewer], dtype=np.uint64)
    workspaces = np.array([world.ops, world.agency], dtype=np.uint64)
    with pytest.raises(TypeError, match=r"\bpermissions\b.*float"):
        e.check_many(users, workspaces, 1.5)
    for scalar in (1.5, None, "1", True, np.int64(world.owner)):
        for args in ((scalar, workspaces, 0), (users, scalar, 0)):
            with pytest.raises(TypeError, match=r"\b(users|workspaces)\b"):
                e.check_many(*args)
    # Arrays of the wrong shape stay InvalidArgument (A6): the type is right.
    with pytest.raises(tenantry.InvalidArgument, match="A6"):
        e.check_many(users.reshape(2, 1), workspaces, 0)
    assert e.check_many(users, workspaces, "workspace.view").tolist() == [True, True]


OPTIONS = ["feed_retention", "invitation_ttl_s", "idempotency_window_s", "idempotency_slots",
           "reservation_slots", "ledger_retention", "group_commit_ms",
           # Replicas (R1-R6): checked without a log too.
           "log_lock_timeout_ms", "log_poll_ms", "lease_max", "lease_share", "lease_floor",
           "settle_interval_ms", "lease_ttl_ms", "wait_timeout_ms"]


@pytest.mark.parametrize("option", OPTIONS)
def test_engine_options_of_the_wrong_type_are_type_errors_naming_them(option):
    for bad in NOT_AN_INT:
        with pytest.raises(TypeError, match=rf"\b{option}\b"):
            tenantry.Engine(**{option: bad})
    with pytest.raises(tenantry.InvalidArgument, match=rf"\b{option}\b"):
        tenantry.Engine(**{option: -1})


@pytest.mark.parametrize("option", ["log", "group", "replica_id"])
def test_R1_replica_text_options_of_the_wrong_type_are_type_errors_naming_them(option):
    for bad in (1, 1.5, b"host=/tmp", object(), ["x"]):
        with pytest.raises(TypeError, match=rf"\b{option}\b"):
            tenantry.Engine(**{option: bad})


def test_R6_lease_credits_is_a_bool_and_nothing_else():
    for bad in (1, 0, None, "yes", 1.0):
        with pytest.raises(TypeError, match=r"\blease_credits\b"):
            tenantry.Engine(lease_credits=bad)
    tenantry.Engine(lease_credits=False).close()


def test_engine_paths_of_the_wrong_type_are_type_errors_naming_them(tmp_path):
    for bad in (1.5, 1, b"/tmp/x", object(), None):
        if bad is not None:  # journal=None: no journal
            with pytest.raises(TypeError, match=r"\bjournal\b"):
                tenantry.Engine(journal=bad)
        with pytest.raises(TypeError, match=r"\bpath\b"):
            tenantry.Engine().save(bad)
        with pytest.raises(TypeError, match=r"\bpath\b"):
            tenantry.Engine.load(bad)

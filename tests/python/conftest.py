"""Fixtures of the tenantry Python suite.

* ``clock``: a fresh :class:`tenantry.ManualClock` (I4).
* ``engine``: an empty :class:`tenantry.Engine` on that clock.
* ``world``: a seeded "agency" scenario on ``engine`` (see :func:`build_world`).
* ``state``: a function returning everything a caller can observe of an
  engine, to prove that a refused change changed nothing (docs/rules.md, section 10).
* ``refused``: a function asserting that a call is refused with the right
  exception class, ``code`` and ``rule``, and that it changed nothing.
* ``run_isolated``: runs a Python snippet in a child interpreter, so a crash
  (a segfault, an abort, a deadlock) fails one test instead of the run.
* ``pg_cluster`` (session): a throwaway PostgreSQL for the replica tests
  (docs/replication.md), started by scripts/pg_cluster.sh in a temporary
  directory on first use and stopped (by its PID) at the end of the session,
  failed tests included, as tests/replica/pg_cluster.h does for C++.

``TENANTRY_GC_THRESHOLD=n`` (opt-in; scripts/test.sh runs the suite once
with 1) sets ``gc.set_threshold(n)`` for the whole session, before tenantry
is imported, and in every ``run_isolated`` child: with 1, every allocation
of a container starts a collection, so the garbage collector sees each
object the module makes in every state it passes through (tests/python/test_gc.py).
"""

from __future__ import annotations

import gc
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple


def _gc_threshold_from_environment() -> Optional[int]:
    text = os.environ.get("TENANTRY_GC_THRESHOLD", "").strip()
    if not text:
        return None
    threshold = int(text)
    if threshold < 1:
        raise ValueError(f"TENANTRY_GC_THRESHOLD must be an int >= 1; got {text!r}")
    return threshold


GC_THRESHOLD = _gc_threshold_from_environment()
if GC_THRESHOLD is not None:
    gc.set_threshold(GC_THRESHOLD)

import numpy as np  # noqa: E402 (after the threshold, so that it covers the imports)
import pytest  # noqa: E402

import tenantry  # noqa: E402

# Built-in role contents (M8), written out from the rule's words, as the C++
# tests do (tests/rules/people_test.cc), not read back from the engine.
VIEWER = frozenset(
    {
        "workspace.view", "workspace.switch", "members.view", "contacts.view",
        "campaigns.view", "calls.view", "analytics.view", "assistants.view",
        "workflows.view", "runs.view", "connections.view", "integrations.view",
        "templates.view", "phone_numbers.view", "appointments.view", "credits.view",
    }
)
MEMBER = VIEWER | {"campaigns.run", "credits.consume"}
MANAGER = MEMBER | {
    "contacts.create", "contacts.edit", "contacts.delete", "contacts.import",
    "contacts.export", "contacts.tag", "campaigns.create", "campaigns.edit", "campaigns.delete",
}
ADMIN = MANAGER | {
    "members.invite", "members.remove", "members.change_role", "assistants.edit",
    "workflows.edit", "workflows.deploy", "runs.trigger", "connections.edit",
    "connections.rotate_own", "integrations.edit", "templates.edit", "phone_numbers.buy",
    "appointments.edit", "settings.edit", "workspace.edit",
}
OWNER = ADMIN | {"billing.view", "billing.manage", "white_label.manage", "workspace.delete"}
CLIENT = frozenset(
    {"workspace.view", "workspace.switch", "analytics.view", "runs.view", "runs.trigger",
     "connections.rotate_own"}
)
ACCOUNT_EXTRAS = frozenset(
    {"account.create_workspace", "account.manage_staff", "account.manage_plan", "credits.transfer"}
)
ROLES = {
    "owner": OWNER, "admin": ADMIN, "manager": MANAGER, "member": MEMBER,
    "viewer": VIEWER, "client": CLIENT,
}

NS = 1_000_000_000
DAY_S = 24 * 3600


@dataclass
class World:
    """The seeded agency scenario (ids of everything in it)."""

    engine: tenantry.Engine
    clock: tenantry.ManualClock
    # users
    owner: int  # the account's staff owner
    admin: int  # staff admin (scope all)
    staff: int  # staff member, default scope (all), workspace role `admin` (M8)
    scoped: int  # staff member with scope [client_b]
    ws_owner: int  # owner of the agency and its client sub-workspaces
    ws_admin: int
    manager: int
    member: int
    viewer: int
    client: int  # `client` in Client A
    outsider: int  # holds nothing
    other_owner: int  # owner of the second account
    # accounts and workspaces
    account: int  # "Acme", enterprise, key "acme"
    agency: int  # "Agency" (agency)
    client_a: int  # "Client A", child of the agency
    client_b: int  # "Client B", child of the agency
    ops: int  # "Ops", simple, owned by the account owner
    other: int  # "Other", a second enterprise account
    elsewhere: int  # "Elsewhere", the other account's workspace

    @property
    def acme_workspaces(self) -> List[int]:
        return [self.agency, self.client_a, self.client_b, self.ops]

    @property
    def users(self) -> List[int]:
        return [
            self.owner, self.admin, self.staff, self.scoped, self.ws_owner, self.ws_admin,
            self.manager, self.member, self.viewer, self.client, self.outsider, self.other_owner,
        ]

    def perms(self, user: int, workspace: int) -> frozenset:
        """The names of every permission check() grants ``user`` in ``workspace``."""
        return permissions_of(self.engine, user, workspace)


def build_world(engine: tenantry.Engine, clock: tenantry.ManualClock) -> World:
    e, S = engine, tenantry.SYSTEM
    keys = {
        "owner": "owner@acme.test", "admin": "admin@acme.test", "staff": "staff@acme.test",
        "scoped": "scoped@acme.test", "ws_owner": "ws-owner@acme.test",
        "ws_admin": "ws-admin@acme.test", "manager": "manager@acme.test",
        "member": "member@acme.test", "viewer": "viewer@acme.test",
        "client": "client@customer.test", "outsider": "outsider@else.test",
        "other_owner": "boss@other.test",
    }
    ids: Dict[str, Any] = {name: e.create_user(key) for name, key in keys.items()}
    account = e.create_account("Acme", ids["owner"], plan="enterprise", key="acme")
    other = e.create_account("Other", ids["other_owner"], plan="enterprise", key="other")
    e.add_staff(S, account, ids["admin"], "admin")
    e.add_staff(S, account, ids["staff"], "member")
    agency = e.create_workspace(S, account, "Agency", type="agency", owner=ids["ws_owner"])
    client_a = e.create_workspace(S, account, "Client A", parent=agency, owner=ids["ws_owner"])
    client_b = e.create_workspace(S, account, "Client B", parent=agency, owner=ids["ws_owner"])
    ops = e.create_workspace(S, account, "Ops")
    elsewhere = e.create_workspace(S, other, "Elsewhere")
    e.add_staff(ids["owner"], account, ids["scoped"], "member", scope=[client_b])
    e.add_member(S, agency, ids["ws_admin"], "admin")
    e.add_member(ids["ws_admin"], agency, ids["manager"], "manager")
    e.add_member(ids["ws_admin"], agency, ids["member"], "member")
    e.add_member(ids["ws_admin"], agency, ids["viewer"], "viewer")
    e.add_member(ids["ws_owner"], client_a, ids["client"], "client")
    return World(
        engine=e, clock=clock, account=account, other=other, agency=agency, client_a=client_a,
        client_b=client_b, ops=ops, elsewhere=elsewhere, **ids,
    )


# ---------------------------------------------------------------- helpers


def permission_names(engine: tenantry.Engine) -> List[str]:
    """Every permission of the catalog, in id order (M7)."""
    names = []
    while True:
        try:
            names.append(engine.permission_name(len(names)))
        except tenantry.NotFound:
            return names


def permissions_of(engine: tenantry.Engine, user: int, workspace: int) -> frozenset:
    names = permission_names(engine)
    return frozenset(n for i, n in enumerate(names) if engine.check(user, workspace, i))


def _quiet(call: Callable[[], Any]) -> Any:
    """The call's result, or the (class, code, message) of its tenantry error."""
    try:
        return call()
    except tenantry.Error as error:
        return (type(error).__name__, error.code, str(error))


def engine_state(engine: tenantry.Engine) -> Dict[str, Any]:
    """Everything a caller can observe: revision, counts, every account (info,
    staff, pools), every workspace (info, settings, members, teams,
    invitations, balances), every team and invitation, every session, the
    meters, the ledger, the feed, and every user's check of every permission
    in every workspace. Ids are handed out in sequence and each creation is a
    change, so every id is at most the revision."""
    e = engine
    revision = e.revision
    ids = range(1, revision + 2)
    meters = {}
    for m in range(64):
        info = _quiet(lambda: e.meter(m))
        if isinstance(info, tenantry.Meter):
            meters[m] = info
    out: Dict[str, Any] = {"revision": revision, "stats": e.stats(), "meters": meters}
    accounts, workspaces, teams, invitations, sessions = {}, {}, {}, {}, {}
    for i in ids:
        account = _quiet(lambda: e.account(i))
        if isinstance(account, tenantry.Account):
            staff = {}
            for u in ids:
                try:
                    staff[u] = e.staff(i, u)
                except tenantry.NotFound:
                    pass
            pools = {m: e.account_balance(i, meter=m) for m in meters}
            accounts[i] = (account, staff, pools)
        ws = _quiet(lambda: e.workspace(i))
        if isinstance(ws, tenantry.Workspace):
            workspaces[i] = (
                ws, e.settings(i), e.members(i), e.teams(i), e.invitations(i),
                {m: (e.balance(i, meter=m), e.consumed(i, meter=m)) for m in meters},
            )
        teams[i] = _quiet(lambda: e.team(i))
        invitations[i] = _quiet(lambda: e.invitation(i))
        sessions[i] = e.active_workspace(i)
    out.update(accounts=accounts, workspaces=workspaces, teams=teams,
               invitations=invitations, sessions=sessions)
    out["ledger"] = _quiet(lambda: e.ledger())
    out["feed"] = _quiet(lambda: e.changes_since(0))
    # Every (user, workspace, permission) decision, in one check_many.
    n_perms = len(permission_names(e))
    users = np.arange(1, revision + 2, dtype=np.uint64)
    wss = np.array(sorted(workspaces), dtype=np.uint64)
    perms = np.arange(n_perms, dtype=np.uint32)
    uu, ww, pp = np.meshgrid(users, wss, perms, indexing="ij")
    out["checks"] = e.check_many(uu.ravel(), ww.ravel(), pp.ravel()).tobytes()
    return out


RULE_BRACKET = re.compile(r" \(([A-Z][0-9]{1,2}(?:, [A-Z][0-9]{1,2})*)\)$")


def rules_in_message(message: str) -> Tuple[str, ...]:
    """The rule ids a message ends with, as a reader sees them: "... (C5, C6)"
    gives ("C5", "C6"). The engine never parses its messages; tests do, to
    prove that the ids in the text and in ``Error.rules`` agree."""
    found = RULE_BRACKET.search(message)
    return tuple(found.group(1).split(", ")) if found else ()


def assert_rules_carried(error: BaseException) -> None:
    """``error.rules`` (from the status's payload) are exactly the ids its
    message ends with, and ``error.rule`` is the same ids as one str."""
    assert isinstance(error, tenantry.Error)
    assert isinstance(error.rules, tuple)
    assert error.rules == rules_in_message(str(error)), str(error)
    assert error.rule == (", ".join(error.rules) if error.rules else None), str(error)


def assert_refused(
    engine: tenantry.Engine,
    error: type,
    code: str,
    rule: Optional[str],
    call: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> BaseException:
    """``call(*args, **kwargs)`` raises ``error`` (exactly that class) with
    ``.code == code`` and ``.rule == rule`` (and the message ends with
    ``(rule)``, and ``.rules`` holds its ids), and the engine's whole visible
    state is the same afterwards."""
    before = engine_state(engine)
    with pytest.raises(error) as caught:
        call(*args, **kwargs)
    raised = caught.value
    assert type(raised) is error, f"{type(raised).__name__}: {raised}"
    assert isinstance(raised, tenantry.Error)
    assert raised.code == code, str(raised)
    assert raised.code == error.code
    assert_rules_carried(raised)
    if rule is not None:
        assert raised.rule == rule, str(raised)
        assert raised.rules == tuple(rule.split(", ")), str(raised)
        assert str(raised).endswith(f"({rule})"), str(raised)
    after = engine_state(engine)
    assert after["revision"] == before["revision"]
    for key in before:
        assert after[key] == before[key], f"the refused call changed {key}"
    return raised


ISOLATED_PRELUDE = """
import gc, os, sys
if os.environ.get("TENANTRY_GC_THRESHOLD", "").strip():
    gc.set_threshold(int(os.environ["TENANTRY_GC_THRESHOLD"]))
import tenantry
"""


def run_isolated_code(code: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter with the same tenantry on the path."""
    env = dict(os.environ)
    package_dir = os.path.dirname(os.path.dirname(tenantry.__file__))
    env["PYTHONPATH"] = os.pathsep.join(p for p in [package_dir, env.get("PYTHONPATH", "")] if p)
    env.pop("PYTHONWARNINGS", None)
    # Children that limit their address space must not lose it to BLAS thread pools.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-c", ISOLATED_PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def clock() -> tenantry.ManualClock:
    return tenantry.ManualClock()


@pytest.fixture
def engine(clock: tenantry.ManualClock) -> tenantry.Engine:
    return tenantry.Engine(clock=clock)


@pytest.fixture
def world(engine: tenantry.Engine, clock: tenantry.ManualClock) -> World:
    return build_world(engine, clock)


@pytest.fixture
def state() -> Callable[[tenantry.Engine], Dict[str, Any]]:
    return engine_state


@pytest.fixture
def refused() -> Callable[..., BaseException]:
    return assert_refused


@pytest.fixture
def run_isolated() -> Callable[..., subprocess.CompletedProcess]:
    return run_isolated_code


PG_CLUSTER_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "pg_cluster.sh"


class PgCluster:
    """A PostgreSQL server living in one directory (scripts/pg_cluster.sh):
    ``conninfo`` is its libpq connection string (a Unix socket in the
    directory, trust authentication). ``stop()`` and ``start()`` let a test
    take the database away and bring it back at the same address."""

    def __init__(self) -> None:
        # A Unix socket's path is short: the directory stays under /tmp.
        self.dir = tempfile.mkdtemp(prefix="tenantry-py-pg-", dir="/tmp")
        self.conninfo = ""
        try:
            self.conninfo = self._run("start")
        except BaseException:
            self.remove()
            raise

    def _run(self, command: str) -> str:
        result = subprocess.run(["bash", str(PG_CLUSTER_SCRIPT), command, self.dir],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"scripts/pg_cluster.sh {command} {self.dir} failed: {result.stderr[-2000:]}")
        return result.stdout.strip()

    def stop(self) -> None:
        self._run("stop")

    def start(self) -> None:
        conninfo = self._run("start")
        assert conninfo == self.conninfo, (conninfo, self.conninfo)

    def remove(self) -> None:
        try:
            self._run("stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Any:
    cluster = PgCluster()
    try:
        yield cluster
    finally:
        cluster.remove()


def pytest_report_header(config: Any) -> Optional[str]:
    if GC_THRESHOLD is None:
        return None
    return f"tenantry: gc.set_threshold({GC_THRESHOLD}) for the session (TENANTRY_GC_THRESHOLD)"

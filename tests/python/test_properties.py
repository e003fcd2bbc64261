"""Property tests (Hypothesis) of the access rules over random tenant graphs:
random accounts, agency and simple workspaces with client sub-workspaces,
members, staff with scopes, teams and inactive workspaces, all made by
SYSTEM. After every graph, check() must equal a small pure-Python
reference model of the rules (A1, A2, A3, M2, M3, M8, M9, T5), and
check == explain().allowed == (user in who_can) == (ws in accessible)."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tenantry
from conftest import ACCOUNT_EXTRAS, ADMIN, OWNER, ROLES

S = tenantry.SYSTEM
INACTIVE_KEEPS = {"workspace.view", "workspace.edit", "workspace.delete"}
PERMISSIONS = [
    "workspace.view", "workspace.switch", "workspace.edit", "workspace.delete", "members.invite",
    "contacts.edit", "campaigns.run", "billing.view", "runs.trigger", "connections.rotate_own",
    "account.create_workspace", "credits.transfer",
]
WORKSPACE_ROLES = ["admin", "manager", "member", "viewer", "client"]
STAFF_MEMBER_ROLES = ["admin", "manager", "member", "viewer"]


class Model:
    """The access rules, written from their words in docs/rules.md."""

    def __init__(self):
        self.accounts = {}  # id -> {"owner", "staff": {user: (role, scope)}, "smr", "mds"}
        self.workspaces = {}  # id -> {"account", "parent", "type", "active", "direct": {u: role}, "teams": {t: [role, set]}}

    def ancestors(self, ws):
        chain, parent = [], self.workspaces[ws]["parent"]
        while parent is not None:
            chain.append(parent)
            parent = self.workspaces[parent]["parent"]
        return chain

    def in_scope(self, scope, ws):
        return scope == "all" or any(x in scope for x in [ws] + self.ancestors(ws))

    def perms(self, user, ws):
        w = self.workspaces.get(ws)
        if w is None:
            return set()
        held = set()
        for where in [ws] + self.ancestors(ws):  # A1 direct and team roles; A3 inheritance
            x = self.workspaces[where]
            roles = [x["direct"][user]] if user in x["direct"] else []
            roles += [role for role, members in x["teams"].values() if user in members]
            for role in roles:
                if where != ws and role == "client":
                    continue  # the client role never inherits (A3)
                held |= ROLES[role]
        account = self.accounts[w["account"]]
        if user in account["staff"]:  # M2, M8
            role, scope = account["staff"][user]
            if self.in_scope(scope, ws):
                held |= {"owner": OWNER | ACCOUNT_EXTRAS, "admin": ADMIN | ACCOUNT_EXTRAS}.get(
                    role, ROLES[account["smr"]])
        if not w["active"]:  # T5
            held &= INACTIVE_KEEPS
        return held


def build(script):
    """Runs the random script against an engine and the model; refused
    changes (M5, M3 duplicates, depth ...) change neither."""
    e, m = tenantry.Engine(clock=tenantry.ManualClock()), Model()
    users = [e.create_user(f"u{i}@x.test") for i in range(7)]
    counter = itertools.count()

    def new_account(owner, mds, smr):
        a = e.create_account(f"A{next(counter)}", owner, plan="enterprise", member_default_scope=mds,
                             staff_member_role=smr)
        m.accounts[a] = {"owner": owner, "staff": {owner: ("owner", "all")}, "smr": smr, "mds": mds}
        return a

    def new_workspace(account, kind, parent, owner):
        n = next(counter)
        ws = e.create_workspace(S, account, f"W{n}", slug=f"w{n}", type=kind, parent=parent, owner=owner)
        real_owner = e.workspace(ws).owner
        m.workspaces[ws] = {"account": account, "parent": parent, "type": kind, "active": True,
                            "direct": {real_owner: "owner"}, "teams": {}}
        return ws

    for i in range(2):  # two accounts with a workspace each, to start from
        new_workspace(new_account(users[i], "all", "admin"), "agency", None, None)

    for kind, a, b, c, d in script:
        accounts, wss = sorted(m.accounts), sorted(m.workspaces)
        user = users[a % len(users)]
        try:
            if kind == 0:
                new_account(user, ["all", "none"][b % 2], STAFF_MEMBER_ROLES[c % 4])
            elif kind in (1, 2):
                account = accounts[b % len(accounts)]
                agencies = [w for w in wss if m.workspaces[w]["account"] == account and m.workspaces[w]["type"] == "agency"]
                parent = agencies[c % len(agencies)] if agencies and d % 3 else None
                owner = user if d % 2 else None
                new_workspace(account, "agency" if kind == 1 else "simple", parent, owner)
            elif kind == 3:
                ws, role = wss[b % len(wss)], WORKSPACE_ROLES[c % 5]
                e.add_member(S, ws, user, role)
                m.workspaces[ws]["direct"][user] = role
            elif kind == 4:
                account = accounts[b % len(accounts)]
                role = ["admin", "member"][c % 2]
                mine = [w for w in wss if m.workspaces[w]["account"] == account]
                choice = d % 4
                scope = [None, "all", "none", [w for j, w in enumerate(mine) if (d >> j) & 1]][choice]
                e.add_staff(S, account, user, role, scope=scope)
                if role == "admin" or scope == "all" or (scope is None and m.accounts[account]["mds"] == "all"):
                    recorded = "all"
                else:
                    recorded = [] if scope in (None, "none") else scope
                m.accounts[account]["staff"][user] = (role, recorded)
            elif kind == 5:
                ws, role = wss[b % len(wss)], WORKSPACE_ROLES[c % 5]
                team = e.create_team(S, ws, f"T{next(counter)}", role)
                m.workspaces[ws]["teams"][team] = [role, set()]
                for j, u in enumerate(users):
                    if (d >> j) & 1:
                        try:
                            e.add_team_member(S, team, u)
                            m.workspaces[ws]["teams"][team][1].add(u)
                        except tenantry.Error:
                            pass
            elif kind == 6:
                ws = wss[b % len(wss)]
                active = bool(c % 2)
                e.set_status(S, ws, "active" if active else "inactive")
                m.workspaces[ws]["active"] = active
            elif kind == 7:
                ws = wss[b % len(wss)]
                members = sorted(m.workspaces[ws]["direct"])
                target = members[c % len(members)]
                if d % 2:
                    e.remove_member(S, ws, target)
                    del m.workspaces[ws]["direct"][target]
                else:
                    role = WORKSPACE_ROLES[d // 2 % 5]
                    e.set_role(S, ws, target, role)
                    m.workspaces[ws]["direct"][target] = role
            elif kind == 8:
                account = accounts[b % len(accounts)]
                staff = sorted(m.accounts[account]["staff"])
                target = staff[c % len(staff)]
                if d % 2:
                    e.remove_staff(S, account, target)
                    del m.accounts[account]["staff"][target]
                else:
                    mine = [w for w in wss if m.workspaces[w]["account"] == account]
                    scope = "all" if d % 4 == 0 else [w for j, w in enumerate(mine) if (d >> (j + 2)) & 1]
                    e.set_staff_scope(S, account, target, scope)
                    role = m.accounts[account]["staff"][target][0]
                    m.accounts[account]["staff"][target] = (role, scope)
        except tenantry.Error:
            pass
    return e, m, users


SCRIPT = st.lists(
    st.tuples(st.sampled_from([0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 6, 7, 7, 8, 8]), st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6),
              st.integers(0, 2**12)),
    min_size=10,
    max_size=40,
)
# No example database: the suite writes nothing outside tests/python.
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(SCRIPT)
def test_A1_A2_A3_check_equals_the_reference_model(script):
    e, m, users = build(script)
    e.verify()
    wss = sorted(m.workspaces)
    for user, ws in itertools.product(users, wss):
        expected = m.perms(user, ws)
        got = {p for p in PERMISSIONS if e.check(user, ws, p)}
        assert got == expected & set(PERMISSIONS), (user, ws, e.explain(user, ws, "workspace.view"))


@PROPERTY_SETTINGS
@given(SCRIPT)
def test_A2_A4_A5_check_explain_who_can_and_accessible_agree(script):
    e, m, users = build(script)
    wss = sorted(m.workspaces)
    for perm in PERMISSIONS[:6]:
        who = {ws: set(e.who_can(ws, perm)) for ws in wss}
        where = {u: set(e.accessible(u, perm)) for u in users}
        for user, ws in itertools.product(users, wss):
            allowed = e.check(user, ws, perm)
            assert allowed == e.explain(user, ws, perm).allowed
            assert allowed == (user in who[ws]) == (ws in where[user])
    # A2: a user with no membership, staff role or team in an account is
    # granted nothing in any of its workspaces.
    for user, ws in itertools.product(users, wss):
        account = m.workspaces[ws]["account"]
        mine = [w for w in wss if m.workspaces[w]["account"] == account]
        involved = user in m.accounts[account]["staff"] or any(
            user in m.workspaces[w]["direct"] or any(user in t[1] for t in m.workspaces[w]["teams"].values())
            for w in mine)
        if not involved:
            assert e.check_many([user] * len(PERMISSIONS), [ws] * len(PERMISSIONS), PERMISSIONS).sum() == 0
    # Unknown ids deny.
    assert not any(e.check(999, ws, "workspace.view") for ws in wss)
    assert not any(e.check(u, 999, "workspace.view") for u in users)


def test_the_reference_model_matches_a_known_world():
    """The model itself, on a hand-made graph (so a wrong model cannot pass)."""
    script = [(1, 2, 0, 0, 0), (3, 3, 2, 0, 0), (3, 4, 2, 4, 0), (6, 0, 2, 0, 0)]
    e, m, users = build(script)
    wss = sorted(m.workspaces)
    assert len(wss) == 3
    assert m.perms(users[3], wss[2]) == {"workspace.view", "workspace.edit"}  # admin, inactive
    assert m.perms(users[4], wss[2]) == {"workspace.view"}  # client, inactive
    assert m.perms(users[0], wss[0]) == OWNER | ACCOUNT_EXTRAS
    assert m.perms(users[5], wss[0]) == set()
    for user, ws in itertools.product(users, wss):
        assert {p for p in PERMISSIONS if e.check(user, ws, p)} == m.perms(user, ws) & set(PERMISSIONS)

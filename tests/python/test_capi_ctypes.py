"""A second language through the C ABI: Python's ctypes loads libtenantry.so
directly (not the pybind11 module) and runs the seed scenario through
tenantry.h's functions, statuses and library-owned blocks.

The package ships libtenantry.so.1 beside libtenantry_engine.so.<version>, so a
process using both faces maps one engine library."""

from __future__ import annotations

import ctypes
import pathlib
from ctypes import POINTER, Structure, byref, c_char_p, c_int, c_int32, c_int64, c_size_t
from ctypes import c_uint8, c_uint32, c_uint64, c_void_p
from typing import Any, Iterator, List

import pytest

import tenantry

LIBRARY = pathlib.Path(tenantry.__file__).resolve().parent / "libtenantry.so.1"
ENGINE_LIBRARY = f"libtenantry_engine.so.{tenantry.__version__}"

OK, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, RESOURCE_EXHAUSTED = 0, 3, 5, 7, 8
SYSTEM = 2**64 - 1


class Plan(Structure):
    _fields_ = [("name", c_char_p), ("custom", c_int32), ("agency", c_int32),
                ("workspace_limit", c_int64)]


class AccountSpec(Structure):
    _fields_ = [("version", c_uint32), ("no_plan", c_int32), ("name", c_char_p),
                ("owner", c_uint64), ("plan", POINTER(Plan)), ("key", c_char_p),
                ("member_default_scope", c_char_p), ("staff_member_role", c_char_p)]


class WorkspaceSpec(Structure):
    _fields_ = [("version", c_uint32), ("type", c_int32), ("name", c_char_p), ("slug", c_char_p),
                ("parent", c_uint64), ("owner", c_uint64)]


class Member(Structure):
    _fields_ = [("user", c_uint64), ("role", c_char_p)]


class MemberList(Structure):
    _fields_ = [("count", c_size_t), ("items", POINTER(Member))]


class IdList(Structure):
    _fields_ = [("count", c_size_t), ("ids", POINTER(c_uint64))]


class Balance(Structure):
    _fields_ = [("buckets", c_int64 * 2), ("held", c_int64), ("consumed", c_int64)]


class Decision(Structure):
    _fields_ = [("allowed", c_int32), ("path", c_int32), ("role", c_char_p),
                ("via_workspace", c_uint64), ("via_team", c_uint64), ("reason", c_char_p)]


def _declare(lib: ctypes.CDLL) -> None:
    """The prototypes of tenantry.h that the scenario uses."""
    u64, u32, i64, p = c_uint64, c_uint32, c_int64, c_void_p
    status = c_int
    table = {
        "tny_version_number": (c_uint32, []),
        "tny_abi_version": (c_uint32, []),
        "tny_status_str": (c_char_p, [c_int]),
        "tny_last_error": (c_char_p, []),
        "tny_free": (None, [p]),
        "tny_engine_new": (status, [p, POINTER(p)]),
        "tny_engine_free": (None, [p]),
        "tny_create_user": (status, [p, c_char_p, POINTER(u64)]),
        "tny_create_account": (status, [p, POINTER(AccountSpec), POINTER(u64)]),
        "tny_create_workspace": (status, [p, u64, u64, POINTER(WorkspaceSpec), POINTER(u64)]),
        "tny_add_member": (status, [p, u64, u64, u64, c_char_p]),
        "tny_permission": (status, [p, c_char_p, POINTER(u32)]),
        "tny_check": (c_int, [p, u64, u64, u32]),
        "tny_check_many": (status, [p, POINTER(u64), POINTER(u64), POINTER(u32), c_size_t,
                                    POINTER(c_uint8)]),
        "tny_explain": (status, [p, u64, u64, u32, POINTER(POINTER(Decision))]),
        "tny_members": (status, [p, u64, POINTER(POINTER(MemberList))]),
        "tny_workspaces_for": (status, [p, u64, POINTER(POINTER(IdList))]),
        "tny_grant": (status, [p, u64, u64, i64, u32, c_char_p]),
        "tny_transfer": (status, [p, u64, u64, u64, i64, u32, POINTER(i64)]),
        "tny_consume": (status, [p, u64, i64, u32, POINTER(i64)]),
        "tny_balance": (status, [p, u64, u32, POINTER(Balance)]),
        "tny_verify": (status, [p]),
    }
    for name, (restype, argtypes) in table.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes


@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    assert LIBRARY.is_file(), f"{LIBRARY} is not in the package"
    library = ctypes.CDLL(str(LIBRARY))
    _declare(library)
    return library


class CEngine:
    """A tny_engine* and helpers that raise on a status other than TNY_OK."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        self.handle = c_void_p()
        self.ok(lib.tny_engine_new(None, byref(self.handle)))

    def ok(self, status: int) -> None:
        if status != OK:
            raise AssertionError(f"{self.lib.tny_status_str(status).decode()}: "
                                 f"{self.lib.tny_last_error().decode()}")

    def user(self, key: str) -> int:
        out = c_uint64()
        self.ok(self.lib.tny_create_user(self.handle, key.encode(), byref(out)))
        return out.value

    def workspace(self, actor: int, account: int, name: str, *, agency: bool = False,
                  parent: int = 0) -> int:
        spec = WorkspaceSpec(1, 1 if agency else 0, name.encode(), None, parent, 0)
        out = c_uint64()
        self.ok(self.lib.tny_create_workspace(self.handle, actor, account, byref(spec), byref(out)))
        return out.value

    def permission(self, name: str) -> int:
        out = c_uint32()
        self.ok(self.lib.tny_permission(self.handle, name.encode(), byref(out)))
        return out.value

    def check(self, user: int, workspace: int, permission: int) -> bool:
        return bool(self.lib.tny_check(self.handle, user, workspace, permission))

    def close(self) -> None:
        self.lib.tny_engine_free(self.handle)
        self.handle = c_void_p()


@pytest.fixture
def c_engine(lib: ctypes.CDLL) -> Iterator[CEngine]:
    engine = CEngine(lib)
    yield engine
    engine.close()


def _agency(e: CEngine) -> Any:
    owner, manager, client = e.user("owner@acme.test"), e.user("m@acme.test"), e.user("c@shop.test")
    enterprise = Plan(b"enterprise", 0, 0, 0)
    spec = AccountSpec(1, 0, b"Acme", owner, ctypes.pointer(enterprise), None, None, None)
    account = c_uint64()
    e.ok(e.lib.tny_create_account(e.handle, byref(spec), byref(account)))
    hq = e.workspace(owner, account.value, "Agency", agency=True)
    shop = e.workspace(owner, account.value, "Client Shop", parent=hq)
    e.ok(e.lib.tny_add_member(e.handle, owner, hq, manager, b"manager"))
    e.ok(e.lib.tny_add_member(e.handle, owner, shop, client, b"client"))
    return owner, manager, client, account.value, hq, shop


def test_versions_match_the_package(lib: ctypes.CDLL) -> None:
    assert lib.tny_abi_version() == 1
    major, minor, patch = (int(part) for part in tenantry.__version__.split("."))
    assert lib.tny_version_number() == major * 1_000_000 + minor * 1000 + patch


def test_A3_seed_scenario_through_the_c_abi(c_engine: CEngine) -> None:
    e, lib = c_engine, c_engine.lib
    owner, manager, client, account, hq, shop = _agency(e)
    view, rotate = e.permission("contacts.view"), e.permission("connections.rotate_own")
    assert e.check(manager, shop, view)  # A3: inherited from the agency
    assert not e.check(client, shop, view)
    assert e.check(client, shop, rotate)
    assert not e.check(client, hq, rotate)

    why = POINTER(Decision)()
    e.ok(lib.tny_explain(e.handle, manager, shop, view, byref(why)))
    assert why.contents.allowed == 1 and why.contents.path == 4  # TNY_PATH_INHERITED
    assert why.contents.via_workspace == hq and why.contents.role == b"manager"
    lib.tny_free(why)

    members = POINTER(MemberList)()
    e.ok(lib.tny_members(e.handle, shop, byref(members)))
    listed = {(members.contents.items[i].user, members.contents.items[i].role.decode())
              for i in range(members.contents.count)}
    lib.tny_free(members)
    assert (client, "client") in listed

    spaces = POINTER(IdList)()
    e.ok(lib.tny_workspaces_for(e.handle, manager, byref(spaces)))
    assert sorted(spaces.contents.ids[i] for i in range(spaces.contents.count)) == sorted([hq, shop])
    lib.tny_free(spaces)


def test_A6_check_many_over_arrays(c_engine: CEngine) -> None:
    e = c_engine
    owner, manager, client, account, hq, shop = _agency(e)
    view = e.permission("contacts.view")
    users: List[int] = [manager, client, owner, 999]
    n = len(users)
    out = (c_uint8 * n)()
    e.ok(e.lib.tny_check_many(e.handle, (c_uint64 * n)(*users), (c_uint64 * n)(*[shop] * n),
                              (c_uint32 * n)(*[view] * n), n, out))
    assert list(out) == [e.check(u, shop, view) for u in users] == [1, 0, 1, 0]


def test_C5_credits_and_errors(c_engine: CEngine) -> None:
    e, lib = c_engine, c_engine.lib
    owner, manager, client, account, hq, shop = _agency(e)
    e.ok(lib.tny_grant(e.handle, SYSTEM, account, 100, 0, None))
    taken = (c_int64 * 2)()
    e.ok(lib.tny_transfer(e.handle, owner, account, shop, 60, 0, taken))
    assert list(taken) == [60, 0]
    left = c_int64()
    e.ok(lib.tny_consume(e.handle, shop, 25, 0, byref(left)))
    assert left.value == 35
    status = lib.tny_consume(e.handle, shop, 1000, 0, byref(left))
    assert status == RESOURCE_EXHAUSTED and lib.tny_status_str(status) == b"resource_exhausted"
    assert b"(C5)" in lib.tny_last_error()
    assert left.value == 35  # untouched by the failure
    status = lib.tny_add_member(e.handle, client, shop, manager, b"viewer")
    assert status == PERMISSION_DENIED and b"(M10)" in lib.tny_last_error()
    balance = Balance()
    e.ok(lib.tny_balance(e.handle, shop, 0, byref(balance)))
    assert (list(balance.buckets), balance.held, balance.consumed) == ([35, 0], 0, 25)
    e.ok(lib.tny_verify(e.handle))


def test_null_arguments_are_statuses_not_crashes(lib: ctypes.CDLL) -> None:
    assert lib.tny_engine_new(None, None) == INVALID_ARGUMENT
    assert b"out_engine" in lib.tny_last_error()
    assert lib.tny_check(None, 1, 1, 0) == 0
    assert lib.tny_create_user(None, b"a@b.c", None) == INVALID_ARGUMENT
    assert lib.tny_verify(None) == INVALID_ARGUMENT
    lib.tny_free(None)
    lib.tny_engine_free(None)


def test_one_engine_library_for_both_faces(c_engine: CEngine) -> None:
    """The pybind11 module and the C ABI, used in one process and thread,
    share libtenantry_engine.so (one epoch registry)."""
    py = tenantry.Engine()
    u = py.create_user("py@acme.test")
    a = py.create_account("Py", u)
    w = py.create_workspace(u, a, "Py Space")
    c_user = c_engine.user("c@acme.test")
    assert py.check(u, w, "workspace.delete")
    assert not c_engine.check(c_user, w, c_engine.permission("workspace.delete"))
    maps = pathlib.Path("/proc/self/maps").read_text()
    engines = {line.split()[-1] for line in maps.splitlines() if "libtenantry_engine" in line}
    assert engines == {str(LIBRARY.parent / ENGINE_LIBRARY)}

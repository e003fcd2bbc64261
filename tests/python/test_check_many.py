"""check_many (A6): NumPy arrays and other buffers and sequences, a scalar
permission (name or id) or one permission per item, empty arrays; the
result is a NumPy bool array equal to [check(...) for ...]."""

import array
import itertools

import numpy as np
import pytest

import tenantry
from conftest import permission_names


@pytest.fixture
def triples(world):
    """Every (user, workspace, permission id) of the world, unknown ids included."""
    e = world.engine
    users = world.users + [0, 999, tenantry.SYSTEM]
    wss = world.acme_workspaces + [world.elsewhere, 0, 999]
    perms = list(range(len(permission_names(e)))) + [4000]
    rows = list(itertools.product(users, wss, perms))
    u, w, p = (list(col) for col in zip(*rows))
    expected = np.array([e.check(*row) for row in rows], dtype=bool)
    assert expected.any() and not expected.all()
    return u, w, p, expected


def test_A6_result_is_a_bool_array_equal_to_check(world, triples):
    u, w, p, expected = triples
    got = world.engine.check_many(np.array(u, np.uint64), np.array(w, np.uint64), np.array(p, np.uint32))
    assert isinstance(got, np.ndarray) and got.dtype == np.bool_ and got.ndim == 1
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.int64, np.uint64, np.int32, np.uint32, np.int16, np.uint8])
def test_A6_integer_dtypes(world, dtype):
    e = world.engine
    users = [world.owner, world.viewer, world.client, world.outsider, world.manager]
    wss = [world.ops, world.agency, world.client_a, world.client_b, world.client_b]
    expected = [e.check(u, w, "contacts.view") for u, w in zip(users, wss)]
    assert expected == [True, True, False, False, True]
    got = e.check_many(np.array(users, dtype), np.array(wss, dtype), "contacts.view")
    assert got.dtype == np.bool_
    assert got.tolist() == expected


def test_A6_lists_tuples_array_array_and_non_contiguous_arrays(world):
    e = world.engine
    users = [world.owner, world.client, world.viewer]
    wss = [world.ops, world.client_a, world.ops]
    expected = [True, True, False]
    pid = e.permission("workspace.view")
    assert e.check_many(users, wss, "workspace.view").tolist() == expected
    assert e.check_many(tuple(users), tuple(wss), pid).tolist() == expected
    assert e.check_many(array.array("q", users), array.array("Q", wss), pid).tolist() == expected
    assert e.check_many(array.array("i", users), array.array("I", wss), [pid] * 3).tolist() == expected
    strided_u = np.array([u for x in users for u in (x, 0)], np.int64)[::2]
    strided_w = np.array([w for x in wss for w in (x, 0)], np.int64)[::2]
    assert not strided_u.flags.c_contiguous
    assert e.check_many(strided_u, strided_w, pid).tolist() == expected
    big_endian = np.array(users, ">i8"), np.array(wss, ">u8")
    assert e.check_many(*big_endian, pid).tolist() == expected
    # An id past int64 (SYSTEM) alone in a list is still an id.
    assert e.check_many([tenantry.SYSTEM], [world.ops], pid).tolist() == [False]


def test_A6_lists_mixing_ids_past_int64_with_small_ids(world):
    e = world.engine
    got = e.check_many([tenantry.SYSTEM, world.owner], [world.ops, world.ops], "workspace.view")
    assert got.tolist() == [False, True]


def test_A6_scalar_permission_by_name_or_id_and_per_item_permissions(world):
    e = world.engine
    users = [world.ws_owner] * 3
    wss = [world.agency] * 3
    names = ["workspace.delete", "account.manage_staff", "billing.view"]
    ids = [e.permission(n) for n in names]
    expected = [True, False, True]
    assert e.check_many(users, wss, names).tolist() == expected
    assert e.check_many(users, wss, ids).tolist() == expected
    assert e.check_many(users, wss, [names[0], ids[1], names[2]]).tolist() == expected  # mixed
    assert e.check_many(users, wss, np.array(ids, np.uint32)).tolist() == expected
    assert e.check_many(users, wss, np.array(ids, np.int64)).tolist() == expected
    assert e.check_many(users, wss, tuple(names)).tolist() == expected
    assert e.check_many(users, wss, "workspace.delete").tolist() == [True] * 3
    assert e.check_many(users, wss, ids[1]).tolist() == [False] * 3
    assert e.check_many(users, wss, 4000).tolist() == [False] * 3  # past the catalog: deny


def test_A6_empty_arrays(world):
    e = world.engine
    for users, wss, perms in [([], [], "workspace.view"), (np.array([], np.int64), np.array([], np.uint64), 0),
                              (np.empty(0, np.uint64), np.empty(0, np.uint64), np.empty(0, np.uint32)),
                              ([], [], [])]:
        got = e.check_many(users, wss, perms)
        assert got.dtype == np.bool_ and got.shape == (0,)


def test_A6_large_batch_matches_scalar_checks(world):
    e = world.engine
    rng = np.random.default_rng(7)
    n = 20_000
    users = rng.integers(0, 15, n, dtype=np.int64)
    wss = rng.integers(0, 7, n, dtype=np.int64)
    perms = rng.integers(0, 52, n, dtype=np.int64)
    got = e.check_many(users, wss, perms)
    sample = rng.choice(n, 500, replace=False)
    assert [bool(got[i]) for i in sample] == [e.check(int(users[i]), int(wss[i]), int(perms[i])) for i in sample]
    assert got.sum() > 0


def test_A6_check_many_sees_changes(world):
    e = world.engine
    before = e.check_many([world.outsider], [world.ops], "workspace.view")
    e.add_member(tenantry.SYSTEM, world.ops, world.outsider, "viewer")
    after = e.check_many([world.outsider], [world.ops], "workspace.view")
    assert before.tolist() == [False] and after.tolist() == [True]


def test_A6_refusals(world):
    e = world.engine
    u, w = [world.owner, world.owner], [world.ops, world.ops]
    for args in [([world.owner], w, 0), (u, w, [0]), (u, w, np.array([0], np.uint32)), (u, [world.ops], [0, 0])]:
        with pytest.raises(tenantry.InvalidArgument) as caught:
            e.check_many(*args)
        assert caught.value.rule == "A6" and caught.value.code == "invalid_argument"
    with pytest.raises(tenantry.NotFound) as caught:
        e.check_many(u, w, "no.such")
    assert caught.value.rule == "M7"
    with pytest.raises(tenantry.NotFound):
        e.check_many(u, w, ["workspace.view", "no.such"])

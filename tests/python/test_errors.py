"""docs/rules.md section 10, errors: the exception hierarchy, the `code` class
attribute, and the `code`, `rules` and `rule` of raised instances."""

import pickle

import numpy as np
import pytest

import tenantry
from conftest import assert_refused, assert_rules_carried

S = tenantry.SYSTEM

SUBCLASSES = {
    tenantry.InvalidArgument: "invalid_argument",
    tenantry.NotFound: "not_found",
    tenantry.AlreadyExists: "already_exists",
    tenantry.PermissionDenied: "permission_denied",
    tenantry.FailedPrecondition: "failed_precondition",
    tenantry.ResourceExhausted: "resource_exhausted",
    tenantry.DataLoss: "data_loss",
}


def test_error_hierarchy_and_codes():
    assert issubclass(tenantry.Error, Exception)
    assert not issubclass(tenantry.Error, (ValueError, LookupError))
    assert tenantry.Error.code == "unknown"
    assert tenantry.Error.rules == () and tenantry.Error.rule is None
    for cls, code in SUBCLASSES.items():
        assert issubclass(cls, tenantry.Error), cls
        assert cls.code == code
        assert cls.__module__ == "tenantry" and cls.__name__ in tenantry.__all__
        assert cls.__doc__
    assert issubclass(tenantry.InvalidArgument, ValueError)
    assert issubclass(tenantry.NotFound, LookupError)
    for cls in set(SUBCLASSES) - {tenantry.InvalidArgument}:
        assert not issubclass(cls, ValueError)
    for cls in set(SUBCLASSES) - {tenantry.NotFound}:
        assert not issubclass(cls, LookupError)
    # Seven distinct classes, none deriving from another.
    for a in SUBCLASSES:
        for b in SUBCLASSES:
            assert (a is b) == issubclass(a, b)


def test_raised_errors_carry_code_and_rule(world):
    e = world.engine
    cases = [
        (lambda: e.workspace(999), tenantry.NotFound, "T4"),
        (lambda: e.create_workspace(world.owner, world.account, "X", slug="ab-"), tenantry.InvalidArgument, "T3"),
        (lambda: e.create_workspace(world.owner, world.account, "Agency"), tenantry.AlreadyExists, "T3"),
        (lambda: e.set_plan(world.viewer, world.account, "growth"), tenantry.PermissionDenied, "M10"),
        (lambda: e.remove_staff(S, world.account, world.owner), tenantry.FailedPrecondition, "M2"),
        (lambda: e.consume(world.ops, 1), tenantry.ResourceExhausted, "C5"),
        (lambda: e.accept("garbage", world.outsider), tenantry.NotFound, "I1, I2"),
        (lambda: e.check(world.owner, world.ops, "no.such"), tenantry.NotFound, "M7"),
    ]
    for call, cls, rule in cases:
        with pytest.raises(tenantry.Error) as caught:
            call()
        error = caught.value
        assert type(error) is cls
        assert error.code == cls.code
        assert error.rule == rule
        assert error.rules == tuple(rule.split(", "))
        assert str(error).endswith(f"({rule})")
        assert_rules_carried(error)
        assert error.args == (str(error),)
    # The builtin bases catch them too.
    with pytest.raises(ValueError):
        e.create_workspace(world.owner, world.account, "X", slug="ab-")
    with pytest.raises(LookupError):
        e.user("nobody@x.test")


def test_errors_without_a_rule_have_rule_none(world):
    e = world.engine
    with pytest.raises(tenantry.InvalidArgument) as caught:
        e.workspace(-1)  # an id out of range: a conversion error, no rule id
    assert caught.value.code == "invalid_argument"
    assert caught.value.rule is None
    assert caught.value.rules == ()
    with pytest.raises(tenantry.InvalidArgument) as caught:
        e.check(world.owner, world.ops, 2**32)
    assert caught.value.rule is None
    assert caught.value.rules == ()


def test_errors_survive_pickling(world):
    with pytest.raises(tenantry.NotFound) as caught:
        world.engine.team(999)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is tenantry.NotFound
    assert (again.args, again.code, again.rule) == (caught.value.args, "not_found", "M9")
    assert again.rules == ("M9",)


def test_errors_can_be_raised_and_caught_by_applications():
    with pytest.raises(tenantry.Error) as caught:
        raise tenantry.PermissionDenied("nope (M10)")
    assert caught.value.code == "permission_denied"
    # The rules come from the engine's status, never from a message's text.
    assert caught.value.rules == () and caught.value.rule is None
    with pytest.raises(tenantry.DataLoss):
        raise tenantry.DataLoss("broken (C8)")


def test_refusal_helper_detects_wrong_class_code_rule_and_changes(world):
    """The suite's own helper must be able to fail."""
    e = world.engine
    assert_refused(e, tenantry.NotFound, "not_found", "M9", e.team, 999)
    for cls, code, rule in [(tenantry.NotFound, "not_found", "M2"), (tenantry.Error, "not_found", "M9"),
                            (tenantry.NotFound, "already_exists", "M9")]:
        with pytest.raises(AssertionError):
            assert_refused(e, cls, code, rule, e.team, 999)

    def change_then_raise():
        e.create_user("sneaky@x.test")
        raise tenantry.NotFound("after a change")

    with pytest.raises(AssertionError):
        assert_refused(e, tenantry.NotFound, "not_found", None, change_then_raise)


def test_python_raised_errors_have_a_rule(world):
    with pytest.raises(tenantry.InvalidArgument) as caught:
        world.engine.check_many(np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64), 0)
    assert str(caught.value).endswith("(A6)")
    assert caught.value.rule == "A6"
    assert caught.value.rules == ("A6",)


def test_rules_are_a_tuple_of_every_id_the_message_ends_with(world):
    e = world.engine
    with pytest.raises(tenantry.NotFound) as caught:
        e.accept("garbage", world.outsider)
    assert caught.value.rules == ("I1", "I2")
    assert caught.value.rule == "I1, I2"
    assert str(caught.value).endswith("(I1, I2)")
    with pytest.raises(tenantry.InvalidArgument) as caught:
        e.transfer(S, world.account, world.elsewhere, 1)
    assert caught.value.rules == ("C3", "A2")
    assert caught.value.rule == "C3, A2"
    with pytest.raises(tenantry.ResourceExhausted) as caught:
        e.consume(world.ops, 1)
    assert caught.value.rules == ("C5",)


def test_a_failed_batch_keeps_the_rules_of_its_failing_change(world):
    e = world.engine
    batch = tenantry.Batch().create_user("new@acme.test").create_workspace(S, world.account, "X", slug="ab-")
    with pytest.raises(tenantry.InvalidArgument) as caught:
        e.apply(batch)
    assert str(caught.value).startswith("change #1 (create_workspace) failed; nothing was applied: ")
    assert caught.value.rules == ("T3",)
    assert_rules_carried(caught.value)

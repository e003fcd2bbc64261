"""The package's public surface (docs/rules.md, section 11): what `import tenantry`
exports, that every public method of Engine and Batch is exercised by this
suite, and the contract's signatures."""

import inspect
import pathlib
import re

import gc

import pytest

import tenantry

HERE = pathlib.Path(__file__).parent


def public(cls):
    return sorted(n for n in dir(cls) if not n.startswith("_"))


def test_exports():
    assert set(tenantry.__all__) <= set(dir(tenantry))
    for name in ["Engine", "Batch", "ManualClock", "SYSTEM", "Error", "InvalidArgument", "NotFound",
                 "AlreadyExists", "PermissionDenied", "FailedPrecondition", "ResourceExhausted", "DataLoss",
                 "Account", "Change", "Decision", "Invitation", "InvitationInfo", "LedgerEntry", "Meter",
                 "Plan", "Reservation", "Team", "Workspace"]:
        assert name in tenantry.__all__, name
    assert tenantry.SYSTEM == 2**64 - 1  # not 0: a zeroed id never acts as SYSTEM (M10)
    assert re.fullmatch(r"\d+\.\d+\.\d+", tenantry.__version__)
    assert issubclass(tenantry.Engine, tenantry._core.Engine)


def test_every_public_method_is_exercised_by_the_suite():
    text = "\n".join(p.read_text() for p in HERE.glob("test_*.py") if p.name != "test_api.py")
    missing = [f"Engine.{n}" for n in public(tenantry.Engine) if not re.search(rf"\.{n}\b", text)]
    missing += [f"Batch.{n}" for n in public(tenantry.Batch) if not re.search(rf"\.{n}\(", text)]
    assert missing == []
    assert len(public(tenantry.Engine)) >= 70 and len(public(tenantry.Batch)) == 24


SPEC_KEYWORDS = {
    "create_account": {"plan", "key", "member_default_scope", "staff_member_role"},
    "add_staff": {"scope"},
    "create_workspace": {"slug", "type", "parent", "owner"},
    "delete_workspace": {"confirm"},
    "define_role": {"inherits"},
    "invite": {"role"},
    "authorize_and_consume": {"meter"},
    "grant": {"meter", "bucket"},
    "transfer": {"meter"},
    "revoke": {"bucket", "meter"},
    "consume": {"meter", "key"},
    "reserve": {"meter", "ttl_s"},
    "balance": {"meter"},
    "account_balance": {"meter"},
    "ledger": {"account", "workspace", "since"},
}


def test_spec_keyword_arguments_are_accepted(world):
    """Each keyword the contract's signatures name is accepted by that name."""
    e, S = world.engine, tenantry.SYSTEM
    e.grant(S, world.account, 100, meter="credits", bucket="regular")
    e.transfer(S, world.account, world.ops, 50, meter="credits")
    e.revoke(S, world.ops, 1, bucket="regular", meter="credits")
    assert e.consume(world.ops, 1, meter="credits", key="k") == 48
    r = e.reserve(world.ops, 1, meter="credits", ttl_s=10)
    e.release(r)
    assert e.balance(world.ops, meter="credits")["regular"] == 48
    assert e.account_balance(world.account, meter="credits")["granted"] == 100
    assert len(e.ledger(account=world.account, workspace=world.ops, since=0)) == 3
    assert e.authorize_and_consume(world.owner, world.ops, "credits.consume", 1, meter="credits")
    new = e.create_account("K", world.outsider, plan="growth", key="k", member_default_scope="none",
                           staff_member_role="viewer")
    ws = e.create_workspace(S, world.account, "Kw", slug="kw", type="agency", parent=None, owner=world.outsider)
    e.add_staff(S, new, world.client, "member", scope="all")
    e.define_role(S, world.account, "kw", ["calls.view"], inherits="viewer")
    e.invite(S, ws, "kw@x.test", role="viewer")
    e.delete_workspace(S, ws, confirm="Kw")
    assert set(SPEC_KEYWORDS) <= set(public(tenantry.Engine))


def test_value_types_are_frozen_dataclasses():
    import dataclasses

    for cls in [tenantry.Account, tenantry.Change, tenantry.Decision, tenantry.Invitation,
                tenantry.InvitationInfo, tenantry.LedgerEntry, tenantry.Meter, tenantry.Plan,
                tenantry.Reservation, tenantry.Team, tenantry.Workspace]:
        assert dataclasses.is_dataclass(cls), cls
        assert cls.__dataclass_params__.frozen, cls
        assert cls.__doc__


def test_the_package_ships_type_stubs():
    root = pathlib.Path(tenantry.__file__).parent
    assert (root / "py.typed").exists()
    stubs = list(root.glob("*.pyi"))
    assert stubs, "no .pyi stubs next to the package"
    text = "\n".join(p.read_text() for p in stubs)
    for name in ["def check(", "def consume(", "def check_many(", "class Batch"]:
        assert name in text, name


def test_spec_snapshot_api_exists(tmp_path):
    engine = tenantry.Engine()
    engine.create_user("a@x.test")
    engine.save(path=str(tmp_path / "snapshot"))
    loaded = tenantry.Engine.load(path=str(tmp_path / "snapshot"), clock=None)
    assert loaded.user("a@x.test") == 1


def test_spec_journal_api_exists(tmp_path):
    engine = tenantry.Engine(journal=str(tmp_path / "journal"))
    engine.create_user("a@x.test")
    del engine
    gc.collect()
    recovered = tenantry.Engine(journal=str(tmp_path / "journal"))
    assert recovered.user("a@x.test") == 1

"""tenantry: an embeddable, in-memory authorization and quota engine.

    import tenantry
    engine = tenantry.Engine()
    owner = engine.create_user("ada@example.com")
    account = engine.create_account("Acme", owner, plan="enterprise")
    ws = engine.create_workspace(owner, account, "Marketing")
    engine.check(owner, ws, "workspace.delete")   # True

An engine with a journal holds its directory until ``engine.close()`` or
the end of a ``with tenantry.Engine(journal=...) as engine:`` block.

Every error is a subclass of :class:`Error` with a ``code`` and the ``rules``
its message names (a tuple of ids, such as ``("C5", "C6")``; ``rule`` is the
same as one str, ``"C5, C6"``, or None). docs/rules.md lists every rule id.
"""

from ._core import (
    SYSTEM,
    AlreadyExists,
    Batch,
    DataLoss,
    Error,
    FailedPrecondition,
    InvalidArgument,
    ManualClock,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
)
from ._engine import Engine
from ._journal import repair_journal
from ._types import (
    Account,
    Change,
    Decision,
    Invitation,
    InvitationInfo,
    JournalRecovery,
    LedgerEntry,
    LostRecord,
    Meter,
    Plan,
    Reservation,
    Team,
    Workspace,
)

__version__ = "0.1.0"

__all__ = [
    "SYSTEM",
    "Account",
    "AlreadyExists",
    "Batch",
    "Change",
    "DataLoss",
    "Decision",
    "Engine",
    "Error",
    "FailedPrecondition",
    "InvalidArgument",
    "Invitation",
    "InvitationInfo",
    "JournalRecovery",
    "LedgerEntry",
    "LostRecord",
    "ManualClock",
    "Meter",
    "NotFound",
    "PermissionDenied",
    "Plan",
    "Reservation",
    "ResourceExhausted",
    "Team",
    "Workspace",
    "repair_journal",
]

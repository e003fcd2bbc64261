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

A replica follows a group's log in PostgreSQL (docs/replication.md)::

    a = tenantry.Engine(log="postgresql:///app", group="tenantry_prod")
    b = tenantry.Engine(log="postgresql:///app", group="tenantry_prod")  # elsewhere
    a.create_user("ada@example.com")                   # through the log (R2)
    b.user("ada@example.com", at_least=a.last_change_position)  # read your write (R4)
"""

from ._core import (
    SYSTEM,
    AlreadyExists,
    Batch,
    DataLoss,
    DeadlineExceeded,
    Error,
    FailedPrecondition,
    InvalidArgument,
    ManualClock,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from ._engine import Engine
from ._journal import repair_journal
from ._replica import append_in_transaction
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
    PreparedChange,
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
    "DeadlineExceeded",
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
    "PreparedChange",
    "Reservation",
    "ResourceExhausted",
    "Team",
    "Unavailable",
    "Workspace",
    "append_in_transaction",
    "repair_journal",
]

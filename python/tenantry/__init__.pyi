"""Type stubs of tenantry (checked against the module by `python3 -m mypy.stubtest tenantry`).

The compiled names come from `_core.pyi`, the value types from `_types.py`;
this file adds what the Python `Engine` defines on top of `_core.Engine`.
"""

import os
from typing import Any, Callable, List, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

from ._core import SYSTEM as SYSTEM
from ._core import AlreadyExists as AlreadyExists
from ._core import Batch as Batch
from ._core import DataLoss as DataLoss
from ._core import DeadlineExceeded as DeadlineExceeded
from ._core import Error as Error
from ._core import FailedPrecondition as FailedPrecondition
from ._core import InvalidArgument as InvalidArgument
from ._core import ManualClock as ManualClock
from ._core import NotFound as NotFound
from ._core import PermissionDenied as PermissionDenied
from ._core import ResourceExhausted as ResourceExhausted
from ._core import Unavailable as Unavailable
from ._core import Engine as _CoreEngine
from ._types import Account as Account
from ._types import Change as Change
from ._types import Decision as Decision
from ._types import Invitation as Invitation
from ._types import InvitationInfo as InvitationInfo
from ._types import JournalRecovery as JournalRecovery
from ._types import LedgerEntry as LedgerEntry
from ._types import LostRecord as LostRecord
from ._types import Meter as Meter
from ._types import Plan as Plan
from ._types import PreparedChange as PreparedChange
from ._types import Reservation as Reservation
from ._types import Team as Team
from ._types import Workspace as Workspace

__version__: str
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

_Permission = Union[str, int]
_Scope = Union[str, Sequence[int], None]
_Clock = Optional[Callable[[], int]]

class Engine(_CoreEngine):
    """The tenant graph, its people and roles, and its credit balances. Thread-safe."""

    @classmethod
    def load(cls, path: Union[str, os.PathLike[str]], *, clock: _Clock = None,
             journal: Optional[Union[str, os.PathLike[str]]] = None, durability: str = ...,
             group_commit_ms: int = ..., on_damage: str = ..., feed_retention: int = ...,
             invitation_ttl_s: int = ..., idempotency_window_s: int = ..., idempotency_slots: int = ...,
             reservation_slots: int = ..., ledger_retention: int = ...) -> "Engine": ...
    @property
    def journal_recovery(self) -> JournalRecovery: ...

    def prepare(self, batch: Batch, change_id: Optional[str] = None) -> PreparedChange: ...
    def account(self, account: int, *, at_least: Optional[int] = None) -> Account: ...
    def workspace(self, workspace: int, *, at_least: Optional[int] = None) -> Workspace: ...
    def team(self, team: int, *, at_least: Optional[int] = None) -> Team: ...
    def invite(self, actor: int, workspace: int, email: str, *, role: str = "client") -> Invitation: ...
    def invite_staff(self, actor: int, account: int, email: str, role: str, *, scope: _Scope = None) -> Invitation: ...
    def resend(self, actor: int, invitation: int) -> Invitation: ...
    def invitation(self, invitation: int, *, at_least: Optional[int] = None) -> InvitationInfo: ...
    def invitations(self, workspace: int, *, at_least: Optional[int] = None) -> List[InvitationInfo]: ...
    def check_many(
        self, users: Any, workspaces: Any, permissions: Any, *, at_least: Optional[int] = None
    ) -> npt.NDArray[np.bool_]: ...
    def explain(
        self, user: int, workspace: int, permission: _Permission, *, at_least: Optional[int] = None
    ) -> Decision: ...
    def meter(self, meter: Union[str, int], *, at_least: Optional[int] = None) -> Meter: ...
    def reservation(self, reservation: int, *, at_least: Optional[int] = None) -> Reservation: ...
    def ledger(
        self,
        *,
        account: Optional[int] = None,
        workspace: Optional[int] = None,
        since: int = 0,
        after_sequence: int = 0,
        at_least: Optional[int] = None,
    ) -> List[LedgerEntry]: ...
    def changes_since(self, revision: int, *, at_least: Optional[int] = None) -> List[Change]: ...

def repair_journal(path: Union[str, os.PathLike[str]], *, dry_run: bool = False) -> JournalRecovery: ...
def append_in_transaction(cursor: Any, engine: Engine, batch: Batch, change_id: Optional[str] = None) -> int: ...

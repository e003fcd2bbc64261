"""The value types the engine returns: immutable, comparable, readable."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
import dataclasses
from typing import Dict, List, Optional, Tuple


def _utc(time_ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(time_ns / 1e9, tz=datetime.timezone.utc)


@dataclass(frozen=True)
class Plan:
    """A plan (T2): how many workspaces an account may have, and whether it
    may create agency workspaces (T4). ``workspace_limit`` -1 is unlimited.

    Built-in plans go by name (``"starter"`` 1, ``"growth"`` 5, ``"scale"``
    25, ``"enterprise"`` unlimited with agency); pass a ``Plan`` for your own.
    """

    name: str
    workspace_limit: int = 1
    agency: bool = False

    UNLIMITED = -1


@dataclass(frozen=True)
class Account:
    """An account (T1): its plan (None when unset), owner and workspace count."""

    id: int
    name: str
    key: Optional[str]
    plan: Optional[Plan]
    owner: int
    workspace_count: int


@dataclass(frozen=True)
class Workspace:
    """A workspace (T1-T5). ``parent`` is the agency workspace of a client
    sub-workspace, or None; ``depth`` is 1 for a top-level workspace."""

    id: int
    account: int
    name: str
    slug: str
    type: str  # "simple" or "agency"
    status: str  # "active" or "inactive"
    parent: Optional[int]
    owner: int
    depth: int


@dataclass(frozen=True)
class Invitation:
    """What ``invite`` and ``resend`` return (I1, I2). The token is shown
    once: the engine keeps only its keyed hash. It is left out of the repr so
    that logging an invitation does not leak it."""

    id: int
    token: str = dataclasses.field(repr=False)
    expires_at_ns: int

    @property
    def expires_at(self) -> datetime.datetime:
        """The expiry as an aware UTC datetime."""
        return _utc(self.expires_at_ns)


@dataclass(frozen=True)
class InvitationInfo:
    """An invitation as ``invitation`` and ``invitations`` describe it (never
    the token). ``state`` is "pending", "accepted", "revoked" or "expired";
    ``workspace`` is None for a staff invitation."""

    id: int
    staff: bool
    account: int
    workspace: Optional[int]
    email: str
    role: str
    expires_at_ns: int
    state: str
    invited_by: int
    accepted_by: Optional[int]


@dataclass(frozen=True)
class Decision:
    """Why a check decided what it decided (A4). ``path`` is "direct",
    "team", "staff", "inherited" or "none" (denied)."""

    allowed: bool
    path: str
    role: Optional[str]
    via_workspace: Optional[int]
    via_team: Optional[int]
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


@dataclass(frozen=True)
class Team:
    """A team (M9): its workspace, role and members (ascending ids)."""

    id: int
    workspace: int
    name: str
    role: str
    members: Tuple[int, ...]


@dataclass(frozen=True)
class Meter:
    """A meter (C1) and its buckets in priority order."""

    id: int
    name: str
    buckets: Tuple[str, ...]


@dataclass(frozen=True)
class Reservation:
    """A live reservation (C6): what it holds per bucket, and until when."""

    id: int
    workspace: int
    meter: str
    held: Dict[str, int]
    expires_at_ns: int


@dataclass(frozen=True)
class LedgerEntry:
    """One entry of the credit ledger (C7). ``kind`` is "grant",
    "transfer", "revoke", "commit", "release", "expire" or
    "return_on_delete"; ``amounts`` is what moved or was debited per bucket
    and ``returned`` what went back to the buckets (commit, release, expire).
    """

    sequence: int
    revision: int
    time_ns: int
    actor: int
    account: int
    workspace: Optional[int]
    meter: str
    kind: str
    amounts: Dict[str, int]
    returned: Dict[str, int]
    reservation: Optional[int]


@dataclass(frozen=True)
class Change:
    """One change of the audit trail and change feed (L1)."""

    revision: int
    time_ns: int
    actor: int
    account: Optional[int]
    workspace: Optional[int]
    what: str



@dataclass(frozen=True)
class LostRecord:
    """A record cut from a damaged journal that could still be read (P3)."""

    lsn: int
    what: str


@dataclass(frozen=True)
class JournalRecovery:
    """What opening a journal found, or what :func:`tenantry.repair_journal` did (P3).

    ``records`` were read back whole; ``torn_bytes`` is a torn last record
    that was dropped (what a crash leaves). ``damaged`` says the journal was
    damaged before its end: at ``offset`` of ``segment``, for ``reason``;
    every position from ``kept_through_lsn + 1`` through
    ``lost_through_lsn`` is lost, ``readable`` lists the lost changes that
    could still be read, and ``truncated`` says whether the journal was cut
    there (the cut segments are kept in ``set_aside``). ``str()`` of it is
    the report ``tenantry journal`` prints.
    """

    records: int
    torn_bytes: int
    damaged: bool
    truncated: bool
    reason: str
    segment: str
    offset: int
    kept_through_lsn: int
    lost_through_lsn: int
    readable: List[LostRecord]
    set_aside: str
    report: str

    def __str__(self) -> str:
        return self.report


@dataclass(frozen=True)
class PreparedChange:
    """A change validated at a replica's head for the application's own
    database transaction (R8): what :meth:`tenantry.Engine.prepare` returns
    and :func:`tenantry.append_in_transaction` appends.

    ``sql`` takes four parameters, in order: ``expected_position``,
    ``change_id``, ``record`` (bytea) and ``format_version``, and returns the
    change's position. ``record`` is binary and left out of the repr.
    """

    expected_position: int
    change_id: str
    record: bytes = dataclasses.field(repr=False)
    format_version: int
    sql: str

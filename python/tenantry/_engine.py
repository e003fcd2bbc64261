"""tenantry.Engine: the compiled engine with its Pythonic face.

Methods whose compiled form is already the public one (changes, ``check``,
``consume``, lists of ids, balances) come straight from ``tenantry._core``;
``check`` and ``consume`` are CPython fast-call methods there. The methods
below turn the core's tuples into value types and normalise arrays.
"""

from __future__ import annotations

import os
import typing
from typing import Any, Dict, List, Optional, Union

import numpy as np

from . import _core
from ._journal import _recovery
from ._types import (
    Account,
    Change,
    Decision,
    Invitation,
    InvitationInfo,
    JournalRecovery,
    LedgerEntry,
    Meter,
    Plan,
    PreparedChange,
    Reservation,
    Team,
    Workspace,
)

_UINT64_MAX = 2**64 - 1
_UINT32_MAX = 2**32 - 1


def _invalid(message: str, *rules: str) -> Exception:
    """A tenantry.InvalidArgument naming ``rules``, with ``code``, ``rules`` and ``rule`` set,
    like the engine's: the message gains " (A6)"."""
    error: Exception = _core._invalid_argument(message, *rules)
    return error


def _type_name(value: Any) -> str:
    return type(value).__name__


def _id_array(values: Any, what: str) -> "np.ndarray[Any, np.dtype[np.uint64]]":
    """Ids from any buffer or sequence of ints as a contiguous uint64 array.

    TypeError (naming ``what``) for anything that is not a sequence or an
    array of integers: a scalar (an int, a float, None, a str, a bool) is a
    wrong type, not an array of the wrong shape (A6)."""
    if isinstance(values, (str, bytes)) or values is None:
        raise TypeError(f"{what} must be a sequence or an array of integer ids, not {_type_name(values)}")
    if isinstance(values, (list, tuple)):
        # Python ints, checked one by one: NumPy would turn [2**64 - 1, 1] into
        # floats and [True, 1] into ints.
        for value in values:
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{what} must hold integer ids, not {type(value).__name__}")
            if not 0 <= int(value) <= _UINT64_MAX:
                raise _invalid(f"{what} must hold ints in [0, 2**64); got {int(value)}", "A6")
        return np.array([int(value) for value in values], dtype=np.uint64)
    array = np.asarray(values)
    if array.ndim == 0:
        raise TypeError(f"{what} must be a sequence or an array of integer ids, not {_type_name(values)}")
    if array.ndim != 1:
        raise _invalid(f"{what} must be one-dimensional; got {array.ndim} dimensions", "A6")
    if array.size == 0:
        return np.empty(0, dtype=np.uint64)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integer ids, not {array.dtype}")
    if array.dtype.kind == "i" and array.min() < 0:
        raise _invalid(f"{what} must hold ids >= 0; got {int(array.min())}", "A6")
    return np.ascontiguousarray(array, dtype=np.uint64)


class Engine(_core.Engine):
    """The tenant graph, its people and roles, and its credit balances.

    Every method is safe to call from any thread at once. Reads (``check``,
    ``explain``, the lists, balances) take no lock and never wait for a
    writer; ``consume`` and ``reserve`` are lock-free; changes are
    serialised, each gets a revision, and a failed change changes nothing.
    Errors are subclasses of :class:`tenantry.Error` whose messages name the
    rule (``"slug 'ab-' must not end with a hyphen (T3)"``).

    ``clock`` is None (the system clock), a :class:`tenantry.ManualClock`,
    or any callable returning nanoseconds since the Unix epoch as an int
    (``time.time_ns``). The other keyword options are the engine's
    retention and capacity settings: ``feed_retention``,
    ``invitation_ttl_s``, ``idempotency_window_s``, ``idempotency_slots``,
    ``reservation_slots``, ``ledger_retention`` (C++ ``Engine::Options``).

    ``journal`` (P3) is a directory: every change is appended to it before
    its call returns, so a killed process loses nothing acknowledged. An
    empty directory starts a journal; one holding a journal is recovered
    (every record replayed; a torn last record dropped). ``durability`` is
    what a machine crash may lose: ``"sync"`` nothing (each change flushed),
    ``"group"`` the last ``group_commit_ms`` milliseconds, ``"none"`` the
    kernel's writeback window. ``save`` truncates the journal; after that,
    recover with ``Engine.load(snapshot, journal=...)``. A journal damaged
    before its end (a damaged record followed by a sound one) raises
    :class:`tenantry.DataLoss` naming the damage and what would be lost, and
    nothing changes; ``on_damage="truncate"`` instead cuts it there, keeps
    the cut segments aside and reports it (``journal_recovery``; see also
    :func:`tenantry.repair_journal`). A directory another engine holds, or
    a journal that continues a snapshot, raises :class:`tenantry.FailedPrecondition`.

    ``close()`` flushes the journal (whatever the durability), releases its
    directory (another engine may open it at once) and frees the engine; so
    does leaving a ``with tenantry.Engine(...) as engine:`` block. It waits
    for calls in flight on other threads to return, and is idempotent. Any
    use of a closed engine raises :class:`tenantry.FailedPrecondition`
    ("engine is closed"); ``closed`` says whether it is. Without ``close``,
    the engine is freed when it is garbage-collected.

    Replicas (R1-R8, docs/replication.md): with ``log`` (a libpq connection
    string, ``"host=... dbname=..."``, or URI, ``"postgresql://..."``) and
    ``group`` (the schema of the group's log), the engine is a replica: it
    loads the group's newest snapshot from that database, applies the log
    after it and follows it from then on. Every change (and consume) goes
    through the log and may raise :class:`tenantry.Unavailable` (with its
    ``change_id``: retry with ``apply(batch, change_id=...)``); reads never
    wait, unless given ``at_least=position``, which first waits (up to
    ``wait_timeout_ms``, default 5000) for the replica to apply that
    position (:class:`tenantry.DeadlineExceeded` naming both positions
    otherwise). ``replica_id``, ``log_lock_timeout_ms``, ``log_poll_ms`` and
    the lease options (``lease_credits``, ``lease_max``, ``lease_share``,
    ``lease_floor``, ``settle_interval_ms``, ``lease_ttl_ms``) are the C++
    ``Engine::Options`` of the same names. ``close()`` stops a replica's
    follower (and wakes its waits) before it frees the engine.
    """

    @classmethod
    def load(cls, path: Union[str, "os.PathLike[str]"], *, clock: Optional[Any] = None,
             journal: Optional[Union[str, "os.PathLike[str]"]] = None, durability: str = "sync",
             group_commit_ms: int = 10, on_damage: str = "refuse", **options: Any) -> "Engine":
        """P2: a new engine from the snapshot at ``path`` (``save`` wrote it).

        The file is never trusted: a damaged, truncated or hostile file, or
        one of a newer major format version, raises :class:`tenantry.DataLoss`
        with the reason, and no engine is made. ``clock`` and the keyword
        options are the new engine's, as for ``Engine()``. The file system's
        errors raise as ``save`` documents.

        With ``journal`` this is recovery (P3): the snapshot, then the
        journal's records after it; the engine goes on journaling there.
        ``log`` is refused (InvalidArgument, R5): a replica loads its group's
        newest snapshot from the group's database, ``Engine(log=...)``.
        """
        if path is None:  # None is "no snapshot" to the constructor: say it here
            raise TypeError("path must be a str path or an os.PathLike of one, not NoneType")
        return cls(clock=clock, journal=journal, durability=durability,
                   group_commit_ms=group_commit_ms, on_damage=on_damage, _snapshot=path,
                   **options)

    @property
    def journal_recovery(self) -> JournalRecovery:
        """P3: what opening the journal found: records read, a torn tail
        dropped and, with ``on_damage="truncate"``, the damage it cut at and
        every position lost (all zeros and empty without a journal)."""
        return _recovery(self._journal_recovery)

    def __repr__(self) -> str:
        if self.closed:
            return "<tenantry.Engine closed>"
        stats = self.stats()
        position = f" position={self.position}" if self.is_replica else ""
        return (
            f"<tenantry.Engine revision={self.revision}{position} accounts={stats['accounts']} "
            f"users={stats['users']} workspaces={stats['workspaces']} "
            f"memberships={stats['memberships']}>"
        )

    # ---- replicas (R1-R8) ----------------------------------------------
    def prepare(self, batch: Any, change_id: Optional[str] = None) -> PreparedChange:
        """R8: validates ``batch`` at this replica's head and returns what the
        application appends in its own database transaction (see
        :func:`tenantry.append_in_transaction`); nothing is applied here. A
        batch the engine refuses raises as ``apply`` would.
        FailedPrecondition (R8) on an engine that is no replica."""
        return PreparedChange(*self._prepare(batch, change_id))

    # ---- tenancy -------------------------------------------------------
    def account(self, account: int, *, at_least: Optional[int] = None) -> Account:
        """The account (T1): name, key, plan, owner and workspace count."""
        if at_least is not None:
            self._at_least(at_least)
        id_, name, key, plan, owner, count = self._account(account)
        return Account(id_, name, key, None if plan is None else Plan(*plan), owner, count)

    def workspace(self, workspace: int, *, at_least: Optional[int] = None) -> Workspace:
        """The workspace: id, account, name, slug, type, status, parent, owner, depth."""
        if at_least is not None:
            self._at_least(at_least)
        return Workspace(*self._workspace(workspace))

    # ---- people, roles, teams -----------------------------------------
    def team(self, team: int, *, at_least: Optional[int] = None) -> Team:
        """The team (M9): workspace, name, role and members."""
        if at_least is not None:
            self._at_least(at_least)
        return Team(*self._team(team))

    # ---- invitations ---------------------------------------------------
    def invite(self, actor: int, workspace: int, email: str, *, role: str = "client") -> Invitation:
        """Invites ``email`` into the workspace with ``role`` (I1). The token
        is in the result only; hand it to the invitee, who calls ``accept``."""
        return Invitation(*self._invite(actor, workspace, email, role))

    def invite_staff(
        self,
        actor: int,
        account: int,
        email: str,
        role: str,
        *,
        scope: Union[str, typing.Sequence[int], None] = None,
    ) -> Invitation:
        """A staff invitation (I1): account role ``admin`` or ``member``, and for members a scope."""
        return Invitation(*self._invite_staff(actor, account, email, role, scope))

    def resend(self, actor: int, invitation: int) -> Invitation:
        """A fresh token and expiry (I2); the old token stops working."""
        return Invitation(*self._resend(actor, invitation))

    def invitation(self, invitation: int, *, at_least: Optional[int] = None) -> InvitationInfo:
        """The invitation's state (never its token)."""
        if at_least is not None:
            self._at_least(at_least)
        return InvitationInfo(*self._invitation(invitation))

    def invitations(self, workspace: int, *, at_least: Optional[int] = None) -> List[InvitationInfo]:
        """Every invitation of the workspace, by id."""
        if at_least is not None:
            self._at_least(at_least)
        return [InvitationInfo(*row) for row in self._invitations(workspace)]

    # ---- checks --------------------------------------------------------
    def check_many(
        self,
        users: Any,
        workspaces: Any,
        permissions: Any,
        *,
        at_least: Optional[int] = None,
    ) -> "np.ndarray[Any, np.dtype[np.bool_]]":
        """``check`` for many triples at once (A6), answered by one version,
        without the GIL. ``users`` and ``workspaces`` are NumPy arrays (or any
        buffer or sequence) of ids of one length; ``permissions`` is one
        permission (name or id) for all, or an array of ids or a sequence of
        names of the same length. Returns a NumPy bool array. A wrong type
        (a float, None, a bool; a scalar where an array goes) is a
        TypeError naming the argument; arrays of the wrong shape or with
        ids out of range are InvalidArgument. ``at_least`` as for ``check``."""
        if at_least is not None:
            self._at_least(at_least)
        user_ids = _id_array(users, "users")
        workspace_ids = _id_array(workspaces, "workspaces")
        return self._check_many(user_ids, workspace_ids, self._permission_array(permissions, user_ids.size))

    def _permission_array(self, permissions: Any, count: int) -> "np.ndarray[Any, np.dtype[np.uint32]]":
        if isinstance(permissions, (str, int, np.integer)) and not isinstance(permissions, bool):
            return np.full(count, self._permission_id(permissions, "permissions"), dtype=np.uint32)
        if isinstance(permissions, (list, tuple)):
            return np.fromiter((self._permission_id(p, "permissions", item=True) for p in permissions),
                               dtype=np.uint32, count=len(permissions))
        if permissions is None or isinstance(permissions, bytes) or np.ndim(permissions) == 0:
            # A float, a bool, None ...: neither one permission nor an array of them.
            raise TypeError("permissions must be a permission (a str or an int) or a sequence or an array "
                            f"of them, not {_type_name(permissions)}")
        array = _id_array(permissions, "permissions")
        if array.size and int(array.max()) > _UINT32_MAX:
            raise _invalid(f"permissions must hold ids in [0, 2**32); got {int(array.max())}", "A6")
        return np.ascontiguousarray(array, dtype=np.uint32)

    def _permission_id(self, value: Any, what: str, item: bool = False) -> int:
        if isinstance(value, str):
            return self.permission(value)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            kind = "hold permissions (a str or an int)" if item else "be a str or an int"
            raise TypeError(f"{what} must {kind}, not {_type_name(value)}")
        if not 0 <= int(value) <= _UINT32_MAX:
            raise _invalid(f"{what} must be an int in [0, 2**32); got {int(value)}", "A6")
        return int(value)

    def explain(self, user: int, workspace: int, permission: Union[str, int], *,
                at_least: Optional[int] = None) -> Decision:
        """The decision and why (A4): the path, the role, where it is held."""
        if at_least is not None:
            self._at_least(at_least)
        return Decision(*self._explain(user, workspace, permission))

    # ---- credits -------------------------------------------------------
    def meter(self, meter: Union[str, int], *, at_least: Optional[int] = None) -> Meter:
        """A meter (C1) by name or id, with its buckets in priority order."""
        if at_least is not None:
            self._at_least(at_least)
        return Meter(*self._meter(meter))

    def _meter_of(self, meter_id: int) -> Meter:
        # Meters are never redefined with other buckets, so the cache never goes stale.
        cache: Dict[int, Meter] = self.__dict__.setdefault("_meters", {})
        info = cache.get(meter_id)
        if info is None:
            info = cache[meter_id] = self.meter(meter_id)
        return info

    def _buckets(self, meter: Meter, amounts: typing.Sequence[int]) -> Dict[str, int]:
        return dict(zip(meter.buckets, amounts))

    def reservation(self, reservation: int, *, at_least: Optional[int] = None) -> Reservation:
        """A live reservation (C6); NotFound once settled, released or expired."""
        if at_least is not None:
            self._at_least(at_least)
        id_, workspace, meter_id, held, expires_at_ns = self._reservation(reservation)
        meter = self._meter_of(meter_id)
        return Reservation(id_, workspace, meter.name, self._buckets(meter, held), expires_at_ns)

    def ledger(
        self,
        *,
        account: Optional[int] = None,
        workspace: Optional[int] = None,
        since: int = 0,
        after_sequence: int = 0,
        at_least: Optional[int] = None,
    ) -> List[LedgerEntry]:
        """Retained ledger entries (C7), oldest first: of one account and/or
        workspace, made at or after ``since`` (ns of the engine's clock), with
        a sequence above ``after_sequence`` (for polling). FailedPrecondition
        when entries asked for have left memory (see docs/ledger.md)."""
        if at_least is not None:
            self._at_least(at_least)
        rows = self._ledger(0 if account is None else account, 0 if workspace is None else workspace, since,
                            after_sequence)
        entries = []
        for seq, rev, time_ns, actor, acc, ws, meter_id, kind, amounts, returned, res in rows:
            meter = self._meter_of(meter_id)
            entries.append(
                LedgerEntry(
                    seq,
                    rev,
                    time_ns,
                    actor,
                    acc,
                    ws,
                    meter.name,
                    kind,
                    self._buckets(meter, amounts),
                    self._buckets(meter, returned),
                    res,
                )
            )
        return entries

    # ---- feed ----------------------------------------------------------
    def changes_since(self, revision: int, *, at_least: Optional[int] = None) -> List[Change]:
        """Every change with a revision above ``revision``, in order (L1).
        FailedPrecondition when some are no longer retained. On replicas at
        the same position, the same changes with the same revisions (R4)."""
        if at_least is not None:
            self._at_least(at_least)
        return [Change(*row) for row in self._changes_since(revision)]

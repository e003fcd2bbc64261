"""R8: appending a replica's change inside the application's own transaction."""

from __future__ import annotations

import importlib
from typing import Any, List, Optional, Tuple

from ._core import Batch
from ._types import PreparedChange


def _format_style(sql: str) -> Tuple[str, List[int]]:
    """``sql`` with libpq's ``$1``..``$n`` placeholders as DB-API ``%s``
    (psycopg2's style), and the parameter each stands for, in order.

    Only placeholders outside quoted identifiers and string literals are
    replaced (a group's schema name is a quoted identifier and may hold
    ``$1`` or ``%``); every ``%`` elsewhere is doubled, as that style needs.
    """
    out: List[str] = []
    order: List[int] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "\"'":
            # A quoted identifier or literal, its doubled quotes included.
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1].replace("%", "%%"))
            i = j + 1
        elif c == "$" and i + 1 < n and sql[i + 1].isdigit():
            j = i + 1
            while j < n and sql[j].isdigit():
                j += 1
            order.append(int(sql[i + 1:j]) - 1)
            out.append("%s")
            i = j
        else:
            out.append("%%" if c == "%" else c)
            i += 1
    return "".join(out), order


def _bytea(record: bytes) -> Any:
    """The record as the driver's binary parameter: psycopg2.Binary when
    psycopg2 is there (explicit bytea), else the bytes themselves."""
    try:
        # Looked up at run time: the package does not depend on psycopg2.
        psycopg2 = importlib.import_module("psycopg2")
    except ImportError:  # pragma: no cover - another DB-API driver
        return record
    return psycopg2.Binary(record)


def append_in_transaction(cursor: Any, engine: Any, batch: Batch, change_id: Optional[str] = None) -> int:
    """R8: appends ``batch`` to the group's log inside the transaction of
    ``cursor`` (a DB-API cursor with the ``%s`` parameter style, such as
    psycopg2's, on the group's database) and returns the change's position.

    The batch is validated at the replica's head first
    (:meth:`tenantry.Engine.prepare`: a batch the engine refuses raises as
    ``apply`` would, and nothing is sent). The change then commits or rolls
    back with the application's own rows: **the caller commits** (or rolls
    back); every replica applies the change once it is committed, and
    ``engine.wait_for(position)`` reads it here. Until the transaction ends
    it holds the log's head lock, so every other change of the group waits:
    keep it short.

    If another change reached the log after the prepare, the statement fails
    with the driver's own error for SQLSTATE ``TN001`` (psycopg2: a
    ``psycopg2.Error`` whose ``pgcode`` is ``"TN001"``), and the transaction
    is aborted: roll back and run the whole transaction again (which
    prepares again).
    The transaction must be ``READ COMMITTED`` (PostgreSQL's default):
    under ``REPEATABLE READ`` or ``SERIALIZABLE`` it fails with a
    serialization error whenever another replica appended since it began.
    ``change_id`` as for :meth:`tenantry.Engine.apply`.
    """
    prepared: PreparedChange = engine.prepare(batch, change_id=change_id)
    sql, order = _format_style(prepared.sql)
    values = (prepared.expected_position, prepared.change_id, _bytea(prepared.record), prepared.format_version)
    cursor.execute(sql, tuple(values[i] for i in order))
    row = cursor.fetchone()
    if row is None:  # pragma: no cover - append_if_head always returns a row
        raise RuntimeError("append_if_head returned no row")
    return int(row[0])

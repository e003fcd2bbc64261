"""P3: the report of what opening a journal found, and the explicit repair
of a journal damaged before its end (docs/persistence.md)."""

from __future__ import annotations

import os
from typing import Any, Tuple, Union

from . import _core
from ._types import JournalRecovery, LostRecord


def _recovery(raw: Tuple[Any, ...]) -> JournalRecovery:
    """The compiled core's tuple as a :class:`JournalRecovery`."""
    fields = list(raw)
    fields[9] = [LostRecord(lsn, what) for lsn, what in fields[9]]
    return JournalRecovery(*fields)


def repair_journal(path: Union[str, "os.PathLike[str]"], *, dry_run: bool = False) -> JournalRecovery:
    """Checks the journal directory ``path`` and, unless ``dry_run``, cuts it
    at its first damage, as ``Engine(journal=..., on_damage="truncate")``
    would: the cut segments are kept in ``path/lost-<lsn>`` and the report
    names every lost position (P3). A whole journal is left as it is.

    Raises :class:`tenantry.NotFound` for a missing directory or one
    without a journal, :class:`tenantry.FailedPrecondition` while an engine
    holds it, :class:`tenantry.DataLoss` when its first segment's header is
    damaged (nothing can be kept). Releases the GIL while it works.
    """
    if not isinstance(dry_run, bool):
        raise TypeError(f"dry_run must be a bool, not {type(dry_run).__name__}")
    return _recovery(_core._repair_journal(path, dry_run=dry_run))

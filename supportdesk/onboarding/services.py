"""Importing a wave: read → check every row → write all (or, with `partial`, the good rows).

One transaction, committed by the caller (the upload page or `onboard import`). Nothing is
written when a row fails, unless `partial` is given; `dry_run` checks and counts without
writing. Importing the same file again finds every row unchanged and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from supportdesk import policy
from supportdesk.accounts.models import Municipality, User
from supportdesk.extensions import db
from supportdesk.onboarding import checks, snapshot, writer
from supportdesk.onboarding.checks import Action, Plan, Problem
from supportdesk.onboarding.reader import SHEETS, Sheet, SourceError, read_files, read_path
from supportdesk.sqlite_locks import start_writing

__all__ = [
    "SHEETS",
    "Action",
    "ImportResult",
    "Problem",
    "SourceError",
    "import_workbook",
    "read_files",
    "read_path",
]


@dataclass
class ImportResult:
    plan: Plan
    dry_run: bool
    partial: bool
    written: bool  # something was (or, in a dry run, would be) written
    invited: int

    @property
    def ok(self) -> bool:
        return self.plan.ok

    def counts(self, sheet: str | None = None) -> dict[str, int]:
        """Rows created, updated and unchanged (what is, or would be, written: none when a
        row failed without `partial`) and failed, for one sheet or the whole file."""
        sheets = SHEETS if sheet is None else (sheet,)
        found = {
            action.value: sum(self.plan.count(s, action) for s in sheets) if self.written else 0
            for action in Action
        }
        found["failed"] = sum(len(self.plan.failed_rows[s]) for s in sheets)
        return found


def _lock_municipalities() -> None:
    """Entitlement limits are counted per municipality: hold their rows until the commit
    as `grant_entitlement` does (PostgreSQL; SQLite's one writer is serialised already).
    NO KEY UPDATE, so tickets and people can still be added to them meanwhile."""
    db.session.execute(
        select(Municipality.id).order_by(Municipality.id).with_for_update(key_share=True)
    )


def import_workbook(
    actor: User | None,
    sheets: dict[str, Sheet],
    *,
    dry_run: bool = False,
    partial: bool = False,
    now: datetime | None = None,
) -> ImportResult:
    """Check the workbook and write it; actor None is the command line (operator)."""
    if actor is not None:
        policy.require_onboard(actor)
    if not dry_run:
        # the checks read what the writes rely on: under the write lock
        start_writing()
        _lock_municipalities()
    plan = checks.check(sheets, snapshot.load(sheets))
    would_write = plan.ok or partial
    invited = 0
    if would_write and not dry_run:
        invited = writer.write(plan, actor, now)
    return ImportResult(plan, dry_run, partial, would_write, invited)

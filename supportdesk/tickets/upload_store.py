"""Attachment files on disk: written under a temporary name, moved into place on commit.

A file is written as `<storage name>.incoming` while its row is only flushed; when the
transaction commits it is renamed to its storage name, when it rolls back it is
deleted. Removal works the same way round: a file whose row is deleted goes when that
delete commits, and stays if it rolls back. So a process killed between writing the
file and the commit (kill -9, a crash) leaves only an `.incoming` file no row points
to, never a file that looks stored. `sweep_orphans` (run by `retention run`) removes
files without a row once they are older than a day, and finishes the move of a file
whose row was committed but whose process died before renaming it.
"""

from __future__ import annotations

import contextlib
import os
import time
from datetime import timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from supportdesk.extensions import db
from supportdesk.tickets.models import Attachment

INCOMING = ".incoming"
ORPHAN_AGE = timedelta(days=1)
_PENDING = "supportdesk_pending_uploads"  # session.info: [(incoming path, final path)]
_REMOVED = "supportdesk_removed_uploads"  # session.info: [storage name]


def upload_dir() -> Path:
    return Path(current_app.config["SUPPORTDESK"].upload_dir)


def stage(storage_name: str, data: bytes) -> None:
    """Write the file under its temporary name; it moves into place when the session's
    transaction commits (and is deleted if it rolls back)."""
    directory = upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / storage_name
    incoming = directory / (storage_name + INCOMING)
    with open(incoming, "xb") as handle:
        handle.write(data)
    os.chmod(incoming, 0o600)
    db.session.info.setdefault(_PENDING, []).append((incoming, final))


def remove_on_commit(storage_names: list[str]) -> None:
    """Delete these files when the session's transaction commits (their rows are deleted
    in it); a rollback keeps them, so a row is never left pointing to a missing file."""
    db.session.info.setdefault(_REMOVED, []).extend(storage_names)


def path_of(storage_name: str) -> Path:
    """Where the file is: in place, or still under its temporary name if the process that
    committed its row died before the move (the next sweep finishes it)."""
    final = upload_dir() / storage_name
    if not final.exists():
        incoming = final.with_name(storage_name + INCOMING)
        if incoming.exists():
            return incoming
    return final


@event.listens_for(Session, "after_commit")
def _move_into_place(session: Session) -> None:
    for incoming, final in session.info.pop(_PENDING, []):
        with contextlib.suppress(FileNotFoundError):
            os.replace(incoming, final)
    removed = session.info.pop(_REMOVED, [])
    if removed:
        directory = upload_dir()
        for name in removed:
            for path in (directory / name, directory / (name + INCOMING)):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_REMOVED, None)
    for incoming, _final in session.info.pop(_PENDING, []):
        with contextlib.suppress(FileNotFoundError):
            incoming.unlink()


def sweep_orphans(age: timedelta = ORPHAN_AGE, batch: int = 500) -> int:
    """Delete upload files no attachment row points to, older than `age`; move committed
    `.incoming` files into place. Returns the number of files deleted."""
    directory = upload_dir()
    if not directory.is_dir():
        return 0
    cutoff = time.time() - age.total_seconds()
    files = [entry for entry in os.scandir(directory) if entry.is_file(follow_symlinks=False)]
    removed = 0
    for start in range(0, len(files), batch):
        chunk = files[start : start + batch]
        names = {entry.name.removesuffix(INCOMING) for entry in chunk}
        known = set(
            db.session.scalars(
                select(Attachment.storage_name).where(Attachment.storage_name.in_(names))
            )
        )
        for entry in chunk:
            name = entry.name.removesuffix(INCOMING)
            if name in known:
                final = directory / name
                if entry.name != name and not final.exists():
                    os.replace(entry.path, final)
                continue
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed

"""`flask --app wsgi backup PATH` and `restore PATH`: the database, the uploads, a manifest.

A backup is a new directory holding
- `database.sqlite3` (SQLite's online backup API: a consistent copy while the app
  writes) or `database.dump` (`pg_dump --format=custom`, one snapshot),
- `uploads/`, every attachment file that was in place when the copy was taken, and
- `manifest.json`: when, which database kind and migration revision, how many
  tickets, and each file's size and SHA-256 (restore checks them).

The database is copied before the uploads: a ticket's file is moved into place when
its row commits (tickets/upload_store.py), so every attachment row in the copy has
its file in `uploads/`. `restore` only fills an empty database (a fresh one after
`createdb`, or a new SQLite path) of the same kind, then copies the uploads.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import URL, make_url

from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import Ticket
from supportdesk.tickets.upload_store import INCOMING

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.dump"
UPLOADS = "uploads"


class BackupError(Exception):
    """The backup or restore cannot be done; the message says why."""


@dataclass
class BackupReport:
    path: Path
    database: str
    tickets: int
    files: int


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _libpq(url: URL) -> str:
    """The SQLAlchemy URL as a libpq connection URI for pg_dump / pg_restore."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(args: list[str]) -> None:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(
            f"{args[0]} is not installed (apt-get install postgresql-client)"
        ) from None
    if done.returncode != 0:
        raise BackupError(f"{args[0]} failed: {done.stderr.strip()[-500:]}")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _revision() -> str | None:
    if "alembic_version" not in inspect(db.engine).get_table_names():
        return None
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


def backup(target: Path) -> BackupReport:
    """Write a backup to the new directory `target` (it must not exist or be empty)."""
    target = Path(target)
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} exists and is not empty")
    target.mkdir(parents=True, exist_ok=True)
    url = _url()
    started = utcnow()
    if url.get_backend_name() == "sqlite":
        kind, database_file = "sqlite", SQLITE_FILE
        source = sqlite3.connect(url.database)
        copy = sqlite3.connect(target / SQLITE_FILE)
        try:
            with copy:
                source.backup(copy)  # online: a consistent copy while others write
        finally:
            copy.close()
            source.close()
        counted = sqlite3.connect(target / SQLITE_FILE)
        try:
            tickets = counted.execute("SELECT count(*) FROM ticket").fetchone()[0]
        finally:
            counted.close()
    else:
        kind, database_file = "postgresql", PG_FILE
        _run(
            ["pg_dump", "--format=custom", "--no-owner", f"--file={target / PG_FILE}", _libpq(url)]
        )
        tickets = None
    revision = _revision()
    if tickets is None:
        # counted after the dump: at least this many are in it (what the dump saw is
        # what pg_restore gives back; the count is for the operator's eye)
        tickets = db.session.scalar(select(func.count()).select_from(Ticket))
    db.session.rollback()

    files: dict[str, dict[str, object]] = {}
    uploads = Path(current_app.config["SUPPORTDESK"].upload_dir)
    (target / UPLOADS).mkdir()
    if uploads.is_dir():
        for path in sorted(uploads.iterdir()):
            if not path.is_file() or path.name.endswith(INCOMING):
                continue
            try:
                shutil.copy2(path, target / UPLOADS / path.name)
            except FileNotFoundError:
                continue  # removed (retention) while we copied
            copied = target / UPLOADS / path.name
            files[path.name] = {"size": copied.stat().st_size, "sha256": _sha256(copied)}
    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "database": kind,
        "database_file": database_file,
        "database_sha256": _sha256(target / database_file),
        "revision": revision,
        "tickets": tickets,
        "uploads": files,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return BackupReport(target, kind, tickets, len(files))


def read_manifest(source: Path) -> dict:
    try:
        manifest = json.loads((Path(source) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise BackupError(f"{source} has no readable {MANIFEST}: {error}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def restore(source: Path) -> BackupReport:
    """Fill the configured, empty database and the upload directory from a backup."""
    source = Path(source)
    manifest = read_manifest(source)
    url = _url()
    kind = "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"
    if manifest["database"] != kind:
        raise BackupError(f"the backup is of a {manifest['database']} database, this is {kind}")
    database_file = source / manifest["database_file"]
    if _sha256(database_file) != manifest["database_sha256"]:
        raise BackupError(f"{database_file} does not match the manifest (damaged?)")
    for name, meta in manifest["uploads"].items():
        path = source / UPLOADS / name
        if not path.is_file() or _sha256(path) != meta["sha256"]:
            raise BackupError(f"{path} is missing or does not match the manifest")
    if inspect(db.engine).get_table_names():
        raise BackupError("the database is not empty: restore only into a fresh database")
    db.session.rollback()
    db.session.close()
    db.engine.dispose()
    if kind == "sqlite":
        backup_db = sqlite3.connect(database_file)
        target = sqlite3.connect(url.database)
        try:
            with target:
                backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
    else:
        _run(
            [
                "pg_restore",
                "--no-owner",
                "--exit-on-error",
                f"--dbname={_libpq(url)}",
                str(database_file),
            ]
        )
    uploads = Path(current_app.config["SUPPORTDESK"].upload_dir)
    uploads.mkdir(parents=True, exist_ok=True)
    for name in manifest["uploads"]:
        shutil.copy2(source / UPLOADS / name, uploads / name)
    tickets = db.session.scalar(select(func.count()).select_from(Ticket))
    db.session.rollback()
    return BackupReport(source, kind, tickets, len(manifest["uploads"]))

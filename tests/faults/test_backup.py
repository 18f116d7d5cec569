"""Issue 14.9: `backup` under write load, `restore` into a fresh database.

Four clients create tickets through a real gunicorn while `flask --app wsgi backup`
runs; the backup is restored with `flask --app wsgi restore` into a new database
(and upload directory) and every ticket acknowledged before the backup began must
be there, with the attachment files.
"""

from __future__ import annotations

import io
import json
import secrets
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.attachments import Upload
from supportdesk.tickets.models import Attachment, Ticket
from tests.factories import file_ticket
from tests.faults.test_busy_database import BODY, call

CLIENTS = 4


def _fresh_database(app, tmp_path: Path):
    """A URL for a new, empty database of the same kind, and how to drop it."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        return f"sqlite:///{tmp_path / 'restored.db'}", lambda: None
    name = f"sdrestore_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


@pytest.mark.slow
def test_backup_under_write_load_restores_every_acknowledged_ticket(
    app, make_user, make_system, processes, tmp_path
):
    system = make_system("aula", categories=("login",))
    superuser = make_user(Role.superuser, municipality="esbjerg")
    with_file = file_ticket(
        superuser,
        system,
        subject="Skærmbillede",
        description="Se vedhæftet.",
        uploads=(Upload("fejl.txt", io.BytesIO(b"fejlbesked 42")),),
    )
    db.session.commit()
    [attachment] = db.session.scalars(select(Attachment)).all()
    tokens = []
    for _ in range(CLIENTS):
        user = make_user(Role.coordinator, municipality=superuser.municipality)
        tokens.append(account_services.create_token(user, "backup")[1])
    db.session.commit()
    base = processes.gunicorn(workers=2)

    lock = threading.Lock()
    acknowledged: list[tuple[float, str]] = []
    errors: list[int] = []
    stop = threading.Event()

    def client(token: str) -> None:
        while not stop.is_set():
            status, _h, body = call(f"{base}/api/v1/tickets", token, {**BODY, "category": "login"})
            with lock:
                if status == 201:
                    acknowledged.append((time.monotonic(), body["number"]))
                else:
                    errors.append(status)

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    while len(acknowledged) < 40:
        time.sleep(0.05)
    backup_dir = tmp_path / "backup"
    began = time.monotonic()
    proc = processes.flask("backup", str(backup_dir))
    assert proc.wait(timeout=120) == 0, processes.log_of(proc)
    ended = time.monotonic()
    time.sleep(0.5)  # writes go on after the backup, too
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    before = {number for at, number in acknowledged if at < began}
    during = {number for at, number in acknowledged if began <= at <= ended}
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert attachment.storage_name in manifest["uploads"]

    url, drop = _fresh_database(app, tmp_path)
    restored_uploads = tmp_path / "restored-uploads"
    try:
        proc = processes.flask(
            "restore",
            str(backup_dir),
            extra_env={
                "SUPPORTDESK_DATABASE_URL": url,
                "SUPPORTDESK_UPLOAD_DIR": str(restored_uploads),
            },
        )
        assert proc.wait(timeout=120) == 0, processes.log_of(proc)
        engine = create_engine(url)
        with engine.connect() as conn:
            restored = set(conn.scalars(select(Ticket.number)))
            storage = conn.scalar(select(Attachment.storage_name))
        engine.dispose()
    finally:
        drop()
    missing = before - restored
    print(
        f"backup: {len(acknowledged)} acknowledged ({len(before)} before the backup, "
        f"{len(during)} during it), {len(restored) - 1} restored, {len(missing)} missing, "
        f"{len(errors)} errors {errors[:5]}"
    )
    assert with_file.number in restored
    assert missing == set()
    assert errors == []
    assert storage == attachment.storage_name
    assert (restored_uploads / storage).read_bytes() == b"fejlbesked 42"


def test_restore_refuses_a_database_that_is_not_empty(app, processes, tmp_path):
    backup_dir = tmp_path / "backup"
    proc = processes.flask("backup", str(backup_dir))
    assert proc.wait(timeout=120) == 0, processes.log_of(proc)
    proc = processes.flask("restore", str(backup_dir))
    assert proc.wait(timeout=120) == 1
    assert "not empty" in processes.log_of(proc)

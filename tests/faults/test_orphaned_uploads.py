"""Issue 14.6: an attachment file takes its name only on commit; orphans are swept.

A process killed with kill -9 after writing an attachment but before its commit
leaves no file that looks stored, and `retention run` removes what it left behind
once it is older than a day, and nothing that a row points to.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import pytest

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.retention.services import run_retention
from supportdesk.tickets.attachments import Upload, add_attachment, attachment_path
from supportdesk.tickets.models import Attachment
from supportdesk.tickets.upload_store import INCOMING, upload_dir
from tests.factories import file_ticket

DAY = 86400


@pytest.fixture(autouse=True)
def empty_upload_dir(app):
    """The session's upload directory holds earlier tests' files: start empty."""
    shutil.rmtree(upload_dir(), ignore_errors=True)


def _ticket(make_user, make_system, uploads=()):
    system = make_system("aula", categories=("login",))
    user = make_user(Role.superuser, municipality="esbjerg")
    ticket = file_ticket(user, system, subject="Login virker ikke", uploads=uploads)
    db.session.commit()
    return user, ticket


def _files() -> set[str]:
    return {p.name for p in upload_dir().iterdir()} if upload_dir().exists() else set()


def test_the_file_takes_its_name_on_commit_and_goes_on_rollback(app, make_user, make_system):
    user, ticket = _ticket(make_user, make_system)
    attachment = add_attachment(user, ticket, None, Upload("log.txt", io.BytesIO(b"kept")))
    db.session.flush()
    assert _files() == {attachment.storage_name + INCOMING}  # not yet stored
    db.session.commit()
    assert _files() == {attachment.storage_name}
    assert attachment_path(attachment).read_bytes() == b"kept"

    gone = add_attachment(user, ticket, None, Upload("gone.txt", io.BytesIO(b"gone")))
    db.session.flush()
    name = gone.storage_name
    db.session.rollback()
    assert name + INCOMING not in _files()
    assert _files() == {attachment.storage_name}


def test_kill_9_before_the_commit_leaves_an_orphan_the_retention_job_sweeps(
    app, make_user, make_system, processes
):
    user, ticket = _ticket(
        make_user, make_system, uploads=(Upload("kept.txt", io.BytesIO(b"kept")),)
    )
    [kept] = db.session.query(Attachment).all()
    script = textwrap.dedent(
        f"""
        import io, os, signal
        from supportdesk import create_app
        from supportdesk.accounts.models import User
        from supportdesk.extensions import db
        from supportdesk.tickets.attachments import Upload, add_attachment
        from supportdesk.tickets.models import Ticket

        app = create_app()
        with app.app_context():
            user = db.session.get(User, {user.id})
            ticket = db.session.get(Ticket, {ticket.id})
            add_attachment(user, ticket, None, Upload("x.txt", io.BytesIO(b"lost")))
            db.session.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # before the commit
        """
    )
    proc = processes.start([sys.executable, "-c", script])
    assert proc.wait(timeout=60) == -9, processes.log_of(proc)

    db.session.rollback()
    assert db.session.query(Attachment).count() == 1  # the killed one has no row
    orphans = _files() - {kept.storage_name}
    print(f"orphaned uploads after kill -9: {sorted(orphans)}")
    assert len(orphans) == 1
    [orphan] = orphans
    assert orphan.endswith(INCOMING)  # never a name that looks stored

    # A young orphan may belong to a transaction still running: it stays for a day.
    assert run_retention().orphaned_files == 0
    assert orphan in _files()
    old = time.time() - DAY - 60
    for name in (orphan, kept.storage_name):
        os.utime(upload_dir() / name, (old, old))
    stray = upload_dir() / "0123456789abcdef0123456789abcdef"  # no row, a day old
    stray.write_bytes(b"stray")
    os.utime(stray, (old, old))

    report = run_retention()
    db.session.commit()
    assert report.orphaned_files == 2
    assert _files() == {kept.storage_name}  # a file with a row is never swept
    assert Path(attachment_path(kept)).read_bytes() == b"kept"


def test_a_committed_row_whose_move_was_cut_off_is_finished_by_the_sweep(
    app, make_user, make_system
):
    _ticket(make_user, make_system, uploads=(Upload("kept.txt", io.BytesIO(b"kept")),))
    [kept] = db.session.query(Attachment).all()
    final = upload_dir() / kept.storage_name
    os.replace(final, final.with_name(kept.storage_name + INCOMING))  # as if killed mid-way
    assert attachment_path(kept).read_bytes() == b"kept"  # still served
    run_retention()
    db.session.commit()
    assert _files() == {kept.storage_name}

"""SQLite's write-ahead log stays short under steady load (supportdesk/sqlite_locks.py).

SQLite copies the log back into the database once it holds 1,000 pages, and starts it
over at the next write when no reader is using it. A read request committed its log row
while its own read transaction was still open, so under steady load some reader always
held on: the log grew without bound (215 MB in 40 s of `make bench`, 35 MB in this test)
and every commit copied pages back and synced the database file. Four clients read one
ticket through a real gunicorn with two workers; every read writes an access-log row.
The log file ends below three times the checkpoint's size (4 MB as a rule; once 8.3 MB on
a loaded CI machine, when a checkpoint waited for a reader's snapshot), and every read was
logged. On PostgreSQL the same load logs every read.
"""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import TicketView
from tests.live_http import call_json

CLIENTS = 4
READS = 500  # per client: about 2,000 log rows, some 30 MB of log if it never starts over


@pytest.mark.slow
def test_the_log_stays_short_while_clients_read_and_log_without_a_pause(
    app, client, make_user, make_system, processes
):
    make_system("aula", categories=("login",))
    user = make_user(Role.coordinator, municipality="esbjerg")
    _record, token = account_services.create_token(user, "load")
    db.session.commit()
    created = client.post(
        "/api/v1/tickets",
        json={"subject": "Login", "description": "Siden svarer ikke.", "system": "aula"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.get_json()
    url = f"{processes.gunicorn(workers=2)}/api/v1/tickets/{created.get_json()['number']}"
    statuses: list[int] = []

    def reads() -> None:
        statuses.extend(call_json(url, "GET", token, None)[0] for _ in range(READS))

    threads = [threading.Thread(target=reads) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * (CLIENTS * READS)
    db.session.rollback()
    assert db.session.scalar(select(func.count(TicketView.id))) == CLIENTS * READS
    if db.engine.dialect.name == "sqlite":
        page = db.session.scalar(text("PRAGMA page_size"))
        checkpoint_at = db.session.scalar(text("PRAGMA wal_autocheckpoint")) * page
        database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
        assert os.path.getsize(f"{database}-wal") < 3 * checkpoint_at

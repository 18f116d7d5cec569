"""A real gunicorn killed with kill -9 in the middle of API ticket creations.

Four clients create tickets through the API; after a third of them the whole server
(master and workers, one process group) gets SIGKILL and is started again, and the
clients carry on. Every ticket answered 201 must be in the database with the number
it was given, and no number may be given twice.
"""

from __future__ import annotations

import collections
import http.client
import threading

import pytest
from sqlalchemy import select

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket
from tests.faults.test_busy_database import call

CREATIONS = 500
CLIENTS = 4
KILL_AFTER = CREATIONS // 3
BODY = {"subject": "Login virker ikke", "description": "Siden svarer ikke.", "system": "aula"}


@pytest.mark.slow
def test_kill_9_during_api_creations_loses_no_acknowledged_ticket(
    app, make_user, make_system, processes
):
    make_system("aula", categories=("login",))
    tokens = []
    for _ in range(CLIENTS):
        user = make_user(Role.coordinator, municipality="esbjerg")
        tokens.append(account_services.create_token(user, "kill9")[1])
    db.session.commit()
    server = {"url": processes.gunicorn(workers=2), "proc": processes.started[-1]}
    restarted = threading.Event()
    lock = threading.Lock()
    acknowledged: list[str] = []
    outcomes: collections.Counter[str] = collections.Counter()
    attempts = iter(range(CREATIONS))

    def client(token: str) -> None:
        while True:
            with lock:
                n = next(attempts, None)
            if n is None:
                return
            if n >= KILL_AFTER and not restarted.is_set():
                restarted.wait(90)
            try:
                status, _headers, body = call(
                    f"{server['url']}/api/v1/tickets",
                    token,
                    {**BODY, "subject": f"Kill {n}", "category": "login"},
                    timeout=30,
                )
            except (OSError, http.client.HTTPException):
                # refused, reset, or the answer cut off by the kill (IncompleteRead): not
                # acknowledged
                with lock:
                    outcomes["connection error"] += 1
                continue
            with lock:
                outcomes[str(status)] += 1
                if status == 201:
                    acknowledged.append(body["number"])

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    # Kill the server while requests are in flight, once about a third were sent.
    while True:
        with lock:
            sent = sum(outcomes.values())
        if sent >= KILL_AFTER - CLIENTS * 2:
            break
        threading.Event().wait(0.02)
    processes.kill9(server["proc"])
    server["url"] = processes.gunicorn(workers=2)
    server["proc"] = processes.started[-1]
    restarted.set()
    for thread in threads:
        thread.join(timeout=600)

    db.session.rollback()
    stored = list(db.session.scalars(select(Ticket.number)))
    counts = collections.Counter(stored)
    acked = collections.Counter(acknowledged)
    missing = [number for number in acked if number not in counts]
    server_errors = sum(n for status, n in outcomes.items() if status.startswith("5"))
    print(
        f"kill -9: {CREATIONS} sent, {len(acknowledged)} acknowledged, {len(stored)} stored, "
        f"{len(missing)} acknowledged but missing, "
        f"{sum(n - 1 for n in counts.values() if n > 1)} duplicate numbers, "
        f"{server_errors} 5xx, outcomes {dict(outcomes)}"
    )
    assert missing == []
    assert all(n == 1 for n in counts.values())
    assert all(n == 1 for n in acked.values())
    assert server_errors == 0
    # only what was in flight at the kill, or sent before the new server listened, is lost
    assert len(acknowledged) >= CREATIONS - CLIENTS * 4

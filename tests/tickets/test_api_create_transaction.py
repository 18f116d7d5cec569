"""API ticket creation: SQLite's write lock covers only the writes; cached routing stays current."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import has_request_context
from sqlalchemy import event, select

from supportdesk.accounts.models import ApiToken, Role
from supportdesk.extensions import db, utcnow
from supportdesk.tickets import routing, services
from supportdesk.tickets.models import Queue, RoutingRule, Ticket

BODY = {"subject": "Login virker ikke", "description": "Siden svarer ikke.", "system": "aula"}


@contextlib.contextmanager
def _statements() -> Iterator[list[str]]:
    """Every statement the requests send, BEGIN included (not the test's own)."""
    seen: list[str] = []

    def _record(_conn, _cursor, statement, *_args):
        if has_request_context():
            seen.append(" ".join(statement.split()).upper())

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)


def _index(statements: list[str], prefix: str) -> int:
    return next(i for i, s in enumerate(statements) if s.startswith(prefix))


def test_write_lock_is_taken_after_authentication_and_lookups(
    app, client, system, make_user, token_for
):
    user = make_user(Role.coordinator, municipality="esbjerg")
    headers = token_for(user)
    # the token's last use is an hour old: the request records it, with the ticket
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    token.last_used_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    with _statements() as seen:
        response = client.post(
            "/api/v1/tickets", json={**BODY, "category": "login"}, headers=headers
        )
    assert response.status_code == 201, response.get_json()
    db.session.refresh(token)
    assert utcnow() - token.last_used_at < timedelta(minutes=1)
    if db.engine.dialect.name != "sqlite":
        assert not [s for s in seen if s.startswith("BEGIN")]
        return

    writing = _index(seen, "BEGIN IMMEDIATE")
    reading, writes = seen[:writing], seen[writing + 1 :]
    assert reading[0] == "BEGIN"  # a plain reader: other requests may write meanwhile
    assert all(s.startswith("SELECT") for s in reading[1:]), reading
    for table in ("API_TOKEN", "USER_ACCOUNT", "FROM SYSTEM", "FROM CATEGORY", "MUNICIPALITY"):
        assert any(table in s for s in reading), table
    # the token's use and the number are written under the lock; nothing is read again
    assert _index(writes, "UPDATE API_TOKEN") < _index(writes, "INSERT INTO TICKET ")
    assert _index(writes, "UPDATE NUMBER_SEQUENCE") < _index(writes, "INSERT INTO TICKET ")
    assert not [s for s in writes if s.startswith("SELECT") and "NUMBER_SEQUENCE" not in s]
    assert seen.count("BEGIN IMMEDIATE") == 1


@pytest.mark.parametrize(
    ("field", "answer"),
    [
        ("system", "Unknown system."),
        # the service would accept the rest: only the API knows the slug names nothing
        ("category", "Unknown category for this system."),
    ],
)
def test_invalid_payload_never_takes_the_write_lock(
    app, client, system, make_user, token_for, field, answer
):
    headers = token_for(make_user(Role.coordinator, municipality="esbjerg"))
    with _statements() as seen:
        response = client.post(
            "/api/v1/tickets", json={**BODY, field: "findes-ikke"}, headers=headers
        )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {field: answer}
    assert "BEGIN IMMEDIATE" not in seen
    assert not [s for s in seen if s.startswith(("INSERT", "UPDATE", "DELETE"))]


def test_other_writes_still_lock_up_front(app, client, make_user, make_ticket, token_for):
    ticket = make_ticket(municipality="esbjerg")
    headers = token_for(make_user(Role.coordinator, municipality="esbjerg"))
    url = f"/api/v1/tickets/{ticket.number}/entries"
    with _statements() as seen:
        response = client.post(url, json={"body": "Hej"}, headers=headers)
    assert response.status_code == 201
    if db.engine.dialect.name == "sqlite":
        assert seen[0] == "BEGIN IMMEDIATE"


def test_routing_rule_changed_over_http_routes_the_next_api_ticket(
    app, client, login, system, make_user, token_for
):
    admin = make_user(Role.municipal_admin, municipality="esbjerg")
    first = Queue(municipality_id=admin.municipality_id, slug="aula-1", name="Aula første")
    second = Queue(municipality_id=admin.municipality_id, slug="aula-2", name="Aula anden")
    db.session.add_all([first, second])
    db.session.commit()
    api = app.test_client()
    headers = token_for(make_user(Role.coordinator, municipality=admin.municipality))

    def create() -> tuple[int | None, list[dict]]:
        response = api.post("/api/v1/tickets", json=BODY, headers=headers)
        assert response.status_code == 201, response.get_json()
        answer = response.get_json()
        ticket = db.session.scalar(select(Ticket).where(Ticket.number == answer["number"]))
        routed = [e["data"] for e in answer["entries"] if e["event"] == "routed"]
        return ticket.queue_id, routed

    assert create() == (None, [])  # no rules yet; the (empty) rules are now cached
    login(admin)
    rule = {"name": "Aula", "system": str(system.id), "queue": str(first.id), "active": "y"}
    assert client.post("/admin/routing/new", data=rule).status_code == 302
    routed = {"rule": "Aula", "queue": "Aula første", "assignee": None}
    assert create() == (first.id, [routed])
    assert create() == (first.id, [routed])  # from the cache

    rule_id = db.session.scalar(select(RoutingRule.id).where(RoutingRule.name == "Aula"))
    changed = {**rule, "queue": str(second.id)}
    assert client.post(f"/admin/routing/{rule_id}", data=changed).status_code == 302
    assert create() == (second.id, [{**routed, "queue": "Aula anden"}])

    # a renamed queue is logged under its new name
    second.name = "Aula, anden linje"
    db.session.commit()
    assert create() == (second.id, [{**routed, "queue": "Aula, anden linje"}])

    inactive = {key: value for key, value in changed.items() if key != "active"}
    assert client.post(f"/admin/routing/{rule_id}", data=inactive).status_code == 302
    assert create() == (None, [])


def _hold_write_lock(seconds: float) -> threading.Thread:
    """Another process's writer: holds SQLite's write lock for `seconds`, from a thread."""
    holder = sqlite3.connect(db.engine.url.database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")

    def _release() -> None:
        time.sleep(seconds)
        holder.execute("COMMIT")
        holder.close()

    thread = threading.Thread(target=_release)
    thread.start()
    return thread


def test_creation_waits_for_another_writer_then_succeeds(app, client, system, make_user, token_for):
    headers = token_for(make_user(Role.coordinator, municipality="esbjerg"))
    if db.engine.dialect.name != "sqlite":
        assert client.post("/api/v1/tickets", json=BODY, headers=headers).status_code == 201
        return
    thread = _hold_write_lock(0.3)
    started = time.monotonic()
    response = client.post("/api/v1/tickets", json=BODY, headers=headers)
    thread.join()
    assert response.status_code == 201, response.get_json()
    assert time.monotonic() - started >= 0.3


@pytest.mark.sqlite_only
def test_polling_for_the_write_lock_restores_the_busy_timeout(app):
    from supportdesk.sqlite_locks import BUSY_TIMEOUT_MS, _begin_immediate_polling

    thread = _hold_write_lock(0.1)
    with db.engine.connect() as connection:
        connection.exec_driver_sql("SELECT 1")  # a reader, as in the read part of a request
        connection.connection.dbapi_connection.commit()
        started = time.monotonic()
        _begin_immediate_polling(connection)
        waited = time.monotonic() - started
        busy_timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        connection.rollback()
    thread.join()
    assert waited >= 0.05
    assert busy_timeout == BUSY_TIMEOUT_MS


def test_a_rule_saved_in_the_same_transaction_routes_at_once(app, system, make_user):
    admin = make_user(Role.municipal_admin, municipality="esbjerg")
    queue = routing.create_queue(admin, "Aula")
    db.session.commit()

    def create() -> Ticket:
        return services.create_ticket(
            admin,
            services.NewTicket(
                system=system, category=None, subject="Login", description="Virker ikke."
            ),
        )

    assert create().queue_id is None  # no rules, and that is now cached
    db.session.commit()
    routing.save_rule(
        admin,
        None,
        name="Aula",
        system=system,
        category=None,
        institution_type=None,
        source=None,
        queue=queue,
        assignee=None,
    )
    assert create().queue_id == queue.id  # before the commit that bumps the generation
    db.session.commit()
    assert create().queue_id == queue.id
    db.session.commit()

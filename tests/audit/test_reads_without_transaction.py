"""Read views without a transaction on PostgreSQL (supportdesk/pg_connections.py,
`reads_without_transaction`): the ticket page and the FAQ search page run each statement in
autocommit, without BEGIN and COMMIT; a write of their own starts a transaction, and the
pool hands the connection on as any other."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from flask import has_request_context
from psycopg import pq
from sqlalchemy import event, insert, text
from sqlalchemy.exc import DBAPIError

from supportdesk.accounts.models import Role
from supportdesk.extensions import db, utcnow
from supportdesk.faq.models import SearchLog
from supportdesk.sqlite_locks import execute_apart
from supportdesk.tickets import lifecycle
from tests.escalation.conftest import client_for

pytestmark = pytest.mark.postgresql_only


@contextlib.contextmanager
def _transaction_states() -> Iterator[list[pq.TransactionStatus]]:
    """psycopg's transaction status as each of the requests' statements is sent."""
    states: list[pq.TransactionStatus] = []

    def _before(conn, _cursor, _statement, *_args):
        if has_request_context():
            states.append(conn.connection.dbapi_connection.info.transaction_status)

    event.listen(db.engine, "before_cursor_execute", _before)
    try:
        yield states
    finally:
        event.remove(db.engine, "before_cursor_execute", _before)


def test_a_ticket_page_runs_every_statement_outside_a_transaction(
    app, world, make_ticket, monkeypatch
):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    during_render: list[pq.TransactionStatus] = []

    def _status(_user, _seen):
        during_render.append(
            db.session.connection().connection.dbapi_connection.info.transaction_status
        )
        return False

    monkeypatch.setattr(lifecycle, "can_reopen_now", _status)
    for _view in ("built", "from the store"):
        with _transaction_states() as states:
            assert coordinator.get(url).status_code == 200
        assert len(states) >= 2
        assert set(states) == {pq.TransactionStatus.IDLE}
    # nothing is held open while the page renders (no snapshot, no BEGIN to pay for)
    assert during_render
    assert set(during_render) == {pq.TransactionStatus.IDLE}


def test_the_faq_search_page_runs_outside_a_transaction(app, client, make_user, login):
    login(make_user(Role.superuser))
    for _search in ("new", "again"):
        with _transaction_states() as states:
            assert client.get("/faq/search?q=printer").status_code == 200
        assert states
        assert set(states) == {pq.TransactionStatus.IDLE}


def test_other_pages_keep_their_transaction(app, client, make_user, login):
    login(make_user(Role.coordinator))
    with _transaction_states() as states:
        assert client.get("/tickets").status_code == 200
    assert pq.TransactionStatus.INTRANS in states


def test_the_pool_hands_the_connection_on_in_transactions(app, world, make_ticket):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    assert coordinator.get(f"/tickets/{ticket.number}").status_code == 200
    db.session.remove()  # as the request's end does outside the test's app context
    # the pool gives out the connection it got back last
    with db.engine.connect() as conn:
        assert conn.connection.dbapi_connection.autocommit is False
        conn.execute(text("CREATE TEMPORARY TABLE not_kept (id int)"))
        conn.rollback()
        assert conn.execute(text("SELECT to_regclass('pg_temp.not_kept')")).scalar() is None


def test_a_row_written_apart_in_such_a_view_is_committed(app, make_municipality):
    """`execute_apart`'s own connection is in SQLAlchemy's autocommit already: the view's
    autocommit is not its to take back, or its row would never be committed."""
    make_municipality("ribe")
    db.session.commit()
    row = {
        "query": "aula",
        "system_slug": None,
        "result_count": 1,
        "clicked": False,
        "source": "page",
        "created_at": utcnow(),
    }
    with app.test_request_context("/faq/search?q=aula"):
        db.session.execute(text("SELECT 1"))
        execute_apart(insert(SearchLog.__table__), row)
        with db.engine.connect() as other:
            assert other.scalar(text("SELECT count(*) FROM search_log")) == 1


def test_a_connection_lost_in_such_a_view_goes_back_to_the_pool(app):
    """PostgreSQL ends the backend in the middle of the page: the request fails with the
    database's error, and the pool gets its slot back (SQLAlchemy checks a discarded
    connection in without its driver connection)."""
    with app.test_request_context("/faq/search?q=aula"):
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError):
            db.session.execute(text("SELECT 1"))
        db.session.rollback()
    db.session.remove()
    assert db.engine.pool.checkedout() == 0
    with app.test_request_context("/faq/search?q=aula"):
        assert db.session.execute(text("SELECT 1")).scalar() == 1

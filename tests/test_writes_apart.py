"""A read request's own log rows (the access log, the search log) are committed apart from
its session (supportdesk/sqlite_locks.py, `execute_apart`).

On SQLite the request's read transaction is ended before the row waits for the write
lock: a request that holds a snapshot while it writes keeps SQLite from starting its
write-ahead log over, and a checkpoint that waits for readers would wait for it.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError

from supportdesk.accounts.models import Municipality
from supportdesk.extensions import utcnow
from supportdesk.faq.models import SearchLog
from supportdesk.sqlite_locks import _BUSY_TIMEOUT_KEY, execute_apart, lock_wait_exceeded
from tests.conftest import held_write_lock

INSERT = insert(SearchLog.__table__).returning(SearchLog.__table__.c.id)


def _row(query: str) -> dict:
    return {
        "query": query,
        "system_slug": None,
        "result_count": 1,
        "clicked": False,
        "source": "page",
        "created_at": utcnow(),
    }


def _logged(db) -> list[str]:
    """The search log as a connection of its own sees it (committed rows only)."""
    with db.engine.connect() as conn:
        return list(conn.scalars(text("SELECT query FROM search_log ORDER BY id")))


def _checkpoint_truncates(app) -> bool:
    """A checkpoint that must wait for every reader succeeds at once (no reader holds on)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    with sqlite3.connect(url.database, isolation_level=None) as conn:
        conn.execute("PRAGMA busy_timeout=0")
        busy, _log, _done = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return busy == 0


def test_a_read_requests_row_is_committed_apart_and_its_reads_go_on(app, db, make_municipality):
    ribe = make_municipality("ribe", name="Ribe Kommune")
    db.session.commit()
    with app.test_request_context("/faq/search?q=aula"):
        loaded = db.session.get(Municipality, ribe.id)  # the request has read
        (row,) = execute_apart(INSERT, _row("aula login"))
        assert row.id > 0
        assert _logged(db) == ["aula login"]  # committed before the page is sent
        if db.engine.dialect.name == "sqlite":
            assert _checkpoint_truncates(app)  # the request's snapshot is gone
        # nothing the request loaded was expired, and its next read sees the row
        assert "name" in loaded.__dict__
        assert db.session.scalar(select(func.count(SearchLog.id))) == 1
        db.session.rollback()  # the request fails later: its log row stays
    assert _logged(db) == ["aula login"]


def test_a_failing_row_is_rolled_back_alone_and_the_request_reads_on(app, db, make_municipality):
    make_municipality("ribe", name="Ribe Kommune")
    db.session.commit()
    with app.test_request_context("/tickets/1"):
        assert db.session.scalar(select(func.count(Municipality.id))) == 1
        execute_apart(INSERT, _row("first"))
        with pytest.raises(IntegrityError):
            execute_apart(INSERT, {**_row("second"), "query": None})
        assert db.session.scalar(select(func.count(Municipality.id))) == 1
        execute_apart(INSERT, _row("third"))
    assert _logged(db) == ["first", "third"]


def test_a_read_request_that_wrote_fails_at_once_and_commits_nothing(app, db, make_municipality):
    """Its session holds the write lock: a row apart would wait for it the whole busy
    timeout (SQLite), so it fails at once and the request's change is not committed."""
    make_municipality("ribe", name="Ribe Kommune")
    db.session.commit()
    with app.test_request_context("/faq/search?q=aula"):
        assert db.session.scalar(select(func.count(Municipality.id))) == 1
        db.session.add(Municipality(slug="varde", name="Varde Kommune", code="VAR"))
        db.session.flush()
        if db.engine.dialect.name == "sqlite":
            with pytest.raises(RuntimeError, match="wrote"):
                execute_apart(INSERT, _row("beside a write"))
        else:  # PostgreSQL: a row apart waits for no lock of the request's
            execute_apart(INSERT, _row("beside a write"))
        db.session.rollback()
    assert db.session.scalar(select(func.count(Municipality.id))) == 1


def test_a_writing_request_with_nothing_flushed_gets_its_row_apart(app, db, make_municipality):
    """A POST whose session has a transaction but no connection yet: asking for one
    would take SQLite's write lock, and the row would wait for it."""
    make_municipality("ribe", name="Ribe Kommune")
    db.session.commit()
    with app.test_request_context("/tickets/1/entries", method="POST"):
        db.session.add(Municipality(slug="varde", name="Varde Kommune", code="VAR"))
        assert db.session().in_transaction()
        execute_apart(INSERT, _row("before the write"))
        db.session.commit()
    assert _logged(db) == ["before the write"]
    assert db.session.scalar(select(func.count(Municipality.id))) == 2


# PostgreSQL: no table lock stops an INSERT here (tests/faults/test_busy_database.py)
@pytest.mark.sqlite_only
def test_a_row_that_cannot_get_the_lock_answers_busy_and_the_request_reads_on(
    app, db, make_municipality
):
    make_municipality("ribe", name="Ribe Kommune")
    db.session.commit()
    with app.test_request_context("/faq/search?q=aula"):
        assert db.session.scalar(select(func.count(Municipality.id))) == 1
        info = db.session.connection().info
        info[_BUSY_TIMEOUT_KEY], busy = 200, info.get(_BUSY_TIMEOUT_KEY)
        try:
            with held_write_lock(app), pytest.raises(OperationalError) as caught:
                execute_apart(INSERT, _row("waits"))
            assert lock_wait_exceeded(caught.value)
        finally:
            info[_BUSY_TIMEOUT_KEY] = busy
        assert db.session.scalar(select(func.count(Municipality.id))) == 1
        execute_apart(INSERT, _row("after the wait"))
    assert _logged(db) == ["after the wait"]

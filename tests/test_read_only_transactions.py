"""A transaction that only read ends with COMMIT on PostgreSQL, so psycopg keeps its
prepared statements (it forgets them at every ROLLBACK); anything that wrote is still
rolled back (supportdesk/pg_connections.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from supportdesk.accounts.models import Municipality, Role
from supportdesk.pg_connections import read_only

SESSION_LOAD = (
    "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%JOIN user_session%'"
)


@pytest.mark.postgresql_only
def test_the_session_check_is_prepared_once_requests_only_read(db, client, login, make_user):
    login(make_user(Role.coordinator))
    for _ in range(8):  # psycopg prepares a statement at its fifth execution
        assert client.get("/account").status_code == 200
    # the test shares the requests' session, and so (one at a time) their connection
    assert db.session.execute(text(SESSION_LOAD)).scalar_one() == 1


def _names(db) -> list[str]:
    return list(db.session.scalars(select(Municipality.name).order_by(Municipality.name)))


def test_a_transaction_that_wrote_is_still_rolled_back(db, make_municipality):
    make_municipality("ribe", name="Ribe Kommune")
    db.session.add(Municipality(slug="varde", name="Varde Kommune", code="VAR"))
    db.session.flush()
    db.session.rollback()
    assert _names(db) == ["Ribe Kommune"]

    db.session.execute(update(Municipality).values(name="Renamed"))  # Core, no flush
    db.session.rollback()
    assert _names(db) == ["Ribe Kommune"]

    assert db.session.scalar(select(func.count(Municipality.id))) == 1  # reads first
    db.session.execute(update(Municipality).values(name="Renamed"))
    db.session.rollback()
    assert _names(db) == ["Ribe Kommune"]


def test_a_failed_read_is_rolled_back_and_the_connection_reused(db, make_municipality):
    make_municipality("ribe", name="Ribe Kommune")
    with pytest.raises(DBAPIError):
        db.session.execute(text("SELECT no_such_column FROM municipality"))
    db.session.rollback()
    assert _names(db) == ["Ribe Kommune"]


def test_only_a_plain_select_counts_as_reading():
    assert read_only("SELECT user_account.id FROM user_account")
    assert read_only("  select 1")
    for statement in (
        "INSERT INTO search_log (query) VALUES (%(query)s)",
        "UPDATE user_session SET last_seen_at = now()",
        "WITH moved AS (DELETE FROM t RETURNING id) SELECT id FROM moved",
        "SAVEPOINT sa_savepoint_1",
        "LOCK TABLE ticket IN EXCLUSIVE MODE",
    ):
        assert not read_only(statement)

"""PostgreSQL ends the app's connections (a restart, `pg_terminate_backend`): the next
requests are answered as usual, and a checkout from the pool sends PostgreSQL nothing
(no pre-ping round trip, supportdesk/pg_connections.py)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from supportdesk.accounts.models import Role
from supportdesk.pg_connections import configure_postgres, gone

pytestmark = pytest.mark.postgresql_only


def _terminator(app) -> Callable[[], int]:
    """Ends every other connection to the app's database (waiting until each is gone)."""
    admin = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)

    def _terminate() -> int:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) "
                    "FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            conn.commit()
        return ended

    return _terminate


def test_requests_after_postgresql_ended_the_pooled_connections_succeed(
    app, db, client, login, make_user
):
    email = login(make_user(Role.coordinator)).email
    for _ in range(3):
        assert client.get("/account").status_code == 200
    db.session.remove()
    assert _terminator(app)() >= 1
    for _ in range(6):  # more than the pool held: each dead one is replaced on checkout
        answer = client.get("/account")
        assert answer.status_code == 200
        assert email in answer.get_data(as_text=True)


def test_a_pooled_connection_ended_by_postgresql_is_seen_without_a_query(app):
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        conn.execute("SELECT 1")
        conn.rollback()
        assert not gone(conn)
        assert _terminator(app)() >= 1
        assert gone(conn)
    assert gone(conn)  # closed


def test_a_checkout_asks_postgresql_nothing(app):
    """With pool_pre_ping the backend's last statement would be the ping (an empty query)."""
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], **options, pool_size=1)
    configure_postgres(engine)
    admin = create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 'the last statement'"))
            pid = conn.connection.dbapi_connection.info.backend_pid
            conn.commit()
        with engine.connect() as conn:
            assert conn.connection.dbapi_connection.info.backend_pid == pid
            with admin.connect() as watcher:
                last = watcher.execute(
                    text("SELECT query FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
                ).scalar_one()
        assert last == "COMMIT"
    finally:
        engine.dispose()
        admin.dispose()

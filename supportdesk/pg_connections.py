"""PostgreSQL connections that went away while they sat in the pool, found without a query.

A pooled connection can die while idle: PostgreSQL restarted, an administrator ran
`pg_terminate_backend`, idle_session_timeout ended it. SQLAlchemy's `pool_pre_ping`
finds that by sending an empty query on every checkout, a round trip per request (and
one more for each further connection a request takes, such as the search log's),
paid by the worker and by the PostgreSQL backend.

A backend that ends a connection tells the client (a FATAL error, then it closes the
socket), so a dead idle connection is one whose socket has something to read while no
query is outstanding: a poll with a zero timeout, no round trip. The app's connections
never LISTEN, so nothing else arrives unasked. Such a connection is refused at checkout
(`DisconnectionError`): the pool discards it and opens a new one, and the request goes
on as if nothing had happened. A peer that vanished without closing (a cut network) is
not seen this way, nor was it by the pre-ping before its TCP timeout; the first
statement then fails, SQLAlchemy invalidates the pool and the next request connects
anew. On SQLite nothing is registered.
"""

from __future__ import annotations

import select
from typing import Any

from psycopg import pq
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine


def gone(dbapi_connection: Any) -> bool:
    """Whether an idle psycopg connection is closed, broken or has unasked-for input."""
    if dbapi_connection.closed:
        return True
    pgconn = dbapi_connection.pgconn
    if pgconn.status != pq.ConnStatus.OK:
        return True
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def configure_postgres(engine: Engine) -> None:
    """Refuse, at checkout, a pooled connection that PostgreSQL has closed."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if gone(dbapi_connection):
            raise exc.DisconnectionError("PostgreSQL closed this pooled connection")

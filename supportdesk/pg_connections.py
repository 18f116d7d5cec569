"""PostgreSQL connections: a dead pooled connection found without a query, and read-only
transactions that keep the driver's prepared statements.

**Dead connections.**
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
anew.

**Read-only transactions end with COMMIT.** psycopg prepares a statement on the server
after five executions on a connection, and forgets every prepared statement at each
ROLLBACK (a rolled-back transaction may have dropped what they refer to). Every read
request ends its transaction with a rollback, so nothing was ever prepared: the
statement that loads the user and checks the session (accounts/sessions.py, with its
correlated subqueries) was parsed and planned anew on every request, about 0.3 ms of
the backend's CPU (0.45 ms unprepared against 0.15 ms prepared, bench/RESULTS.md). A
transaction that executed nothing but SELECT statements changed nothing, so COMMIT and
ROLLBACK end it alike (snapshot and locks released); it now ends with COMMIT and the
prepared statements stay. A transaction that executed anything else (an INSERT, an
UPDATE, a savepoint, SET LOCAL, ...) is rolled back as before, as is one in a failed
state. (A SELECT with a lasting side effect, such as `set_config(..., false)`, would
keep it; the app runs none.)

On SQLite nothing is registered.
"""

from __future__ import annotations

import select
from typing import Any

from psycopg import pq
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

# the pooled connection's info: a statement other than a SELECT ran in this transaction
_WROTE = "supportdesk_wrote"
_IN_TRANSACTION = pq.TransactionStatus.INTRANS


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


def read_only(statement: str) -> bool:
    """A statement that changes nothing when its transaction commits (a plain SELECT)."""
    return statement.lstrip()[:6].upper() == "SELECT"


def configure_postgres(engine: Engine) -> None:
    """Refuse, at checkout, a pooled connection that PostgreSQL has closed; end a
    transaction that only read with COMMIT (see the module docstring)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if gone(dbapi_connection):
            raise exc.DisconnectionError("PostgreSQL closed this pooled connection")

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not read_only(statement):
            conn.info[_WROTE] = True

    @event.listens_for(engine, "commit")
    def _committed(conn: Any) -> None:
        conn.info.pop(_WROTE, None)

    rollback = engine.dialect.do_rollback

    def _end(proxied: Any) -> None:
        try:
            wrote = proxied.info.pop(_WROTE, False)
        except (AttributeError, NotImplementedError):  # no pooled connection (first connect)
            wrote = True
        raw = getattr(proxied, "dbapi_connection", None)
        if not wrote and raw is not None and raw.info.transaction_status == _IN_TRANSACTION:
            raw.commit()  # only reads: the same end as a rollback, prepared statements kept
        else:
            rollback(proxied)

    engine.dialect.do_rollback = _end  # type: ignore[method-assign]

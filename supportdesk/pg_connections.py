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

**Result columns described on demand.** psycopg builds `cursor.description`, a
`Column` object per column, every time it is read, and SQLAlchemy reads it after every
statement. For a statement it has run before, SQLAlchemy keeps what it needs of the
columns and only asks whether there is a result: the list was built for nothing, about
1 µs a column (80 columns a cached ticket page, 224 a ticket page built anew, a tenth
of the worker's instructions for a cached view). The connections' cursors
(`DescribedOnDemandCursor`) give a sequence that builds psycopg's own list when it is
first read by index, slice or iteration; its length needs nothing. SQLAlchemy reads a
description at once or never, before the cursor runs its next statement. Unlike
psycopg's own list, fixed when built, one kept and first read after the cursor ran
another statement would describe that statement's result.

**Read views without a transaction.** A view marked `reads_without_transaction` (the
ticket page, the FAQ search page) runs its statements on a connection in autocommit
when it is asked with GET or HEAD: each statement is its own transaction. Under READ
COMMITTED, PostgreSQL's and the app's level, each statement of a transaction reads its
own snapshot anyway, so the reads see what they saw before; gone are the BEGIN and the
COMMIT, two round trips and about 0.1 ms of the worker's CPU per request. A write meant
to commit on its own is executed with the `COMMITS_ALONE` execution option (the ticket
page's access-log row, written by the statement that reads the ticket). Any other
statement that is not a plain SELECT (a flush, SET LOCAL) turns the connection back
first: from there the request has a transaction, ended as any request's is, so a change
a page left by mistake is still rolled back. The pool hands the connection on out of
autocommit.

On SQLite nothing is registered.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import psycopg
from flask import has_request_context, request
from psycopg import pq
from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Engine

from supportdesk.sqlite_locks import view_marked

# the pooled connection's info: a statement other than a SELECT ran in this transaction
_WROTE = "supportdesk_wrote"
# ... and: it runs a `reads_without_transaction` view's statements in autocommit
_UNWRAPPED = "supportdesk_unwrapped"
_NO_TRANSACTION = "reads_without_transaction"
_READ_METHODS = frozenset({"GET", "HEAD"})
# the execution option of a write meant to commit on its own in such a view
COMMITS_ALONE = "supportdesk_commits_alone"
F = TypeVar("F", bound=Callable[..., Any])
_IN_TRANSACTION = pq.TransactionStatus.INTRANS
# psycopg's own description, and the results it describes even without columns
_DESCRIPTION = psycopg.Cursor.description
_ROWS = frozenset({pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK})


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


class _Description(Sequence[psycopg.Column]):
    """A result's columns, as psycopg describes them, built when first read."""

    __slots__ = ("_columns", "_cursor", "_length")

    def __init__(self, cursor: psycopg.Cursor, length: int) -> None:
        self._cursor = cursor
        self._length = length
        self._columns: list[psycopg.Column] | None = None

    def _built(self) -> list[psycopg.Column]:
        if self._columns is None:
            self._columns = _DESCRIPTION.fget(self._cursor) or []  # type: ignore[misc]
        return self._columns

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: Any) -> Any:
        return self._built()[index]

    def __iter__(self) -> Iterator[psycopg.Column]:
        return iter(self._built())

    def __repr__(self) -> str:
        return repr(self._built())


class DescribedOnDemandCursor(psycopg.Cursor):
    """psycopg's cursor whose `description` is built when read (see the module docstring)."""

    @property
    def description(self) -> _Description | None:  # type: ignore[override]
        # the same test as psycopg's own: a result that has (or may have) rows
        result = self.pgresult
        if result is None:
            return None
        if result.nfields or result.status in _ROWS:
            return _Description(self, result.nfields)
        return None


def reads_without_transaction(view: F) -> F:
    """Mark a read view whose statements need no transaction around them on PostgreSQL
    (see the module docstring): it reads, and writes only with `COMMITS_ALONE`.

    Every connection the request begins is in autocommit until it writes, so such a view
    must not rely on a SELECT that holds something to the end of a transaction:
    `SELECT ... FOR UPDATE`, `pg_advisory_xact_lock`, `set_config(..., true)` end with
    their statement there."""
    setattr(view, _NO_TRANSACTION, True)
    return view


def _unwrapped_request() -> bool:
    if not has_request_context() or request.method not in _READ_METHODS:
        return False
    return view_marked(_NO_TRANSACTION)


def commits_alone(connection: Connection) -> bool:
    """Whether a statement on `connection` now is committed when it ends (autocommit)."""
    return bool(connection.connection.dbapi_connection.autocommit)


def read_only(statement: str) -> bool:
    """A statement that changes nothing when its transaction commits (a plain SELECT)."""
    return statement.lstrip()[:6].upper() == "SELECT"


def configure_postgres(engine: Engine) -> None:
    """Refuse, at checkout, a pooled connection that PostgreSQL has closed; end a
    transaction that only read with COMMIT; describe results on demand (see the module
    docstring)."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.cursor_factory = DescribedOnDemandCursor

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if gone(dbapi_connection):
            raise exc.DisconnectionError("PostgreSQL closed this pooled connection")

    @event.listens_for(engine, "begin")
    def _begun(conn: Connection) -> None:
        raw = conn.connection.dbapi_connection
        # a connection already in autocommit is SQLAlchemy's (execute_apart): left alone
        if not raw.autocommit and _unwrapped_request():
            raw.autocommit = True
            conn.info[_UNWRAPPED] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(
        conn: Connection, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        if not read_only(statement):
            conn.info[_WROTE] = True
            if _UNWRAPPED in conn.info and not context.execution_options.get(COMMITS_ALONE):
                # a write of its own in a view without a transaction: one begins here
                del conn.info[_UNWRAPPED]
                conn.connection.dbapi_connection.autocommit = False

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        # a discarded connection comes back as None; an error here would keep the pool's
        # slot from being given back, so a connection that cannot leave autocommit is
        # closed instead (the next checkout replaces it, `gone`)
        if not record.info.pop(_UNWRAPPED, False) or dbapi_connection is None:
            return
        try:
            if not dbapi_connection.closed:
                dbapi_connection.autocommit = False
        except psycopg.Error:
            dbapi_connection.close()

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

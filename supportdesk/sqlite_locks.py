"""SQLite's single write lock: who takes it, when, and how a writer waits for it.

On SQLite every transaction outside a read-only request begins IMMEDIATE (writers queue
instead of failing); a view marked `reads_before_writes` reads first and takes the lock
at `start_writing()`. A read request's own log rows go through `execute_apart`, which
ends the request's snapshot before it waits for the lock. On PostgreSQL all of this is a
no-op.

Either database waits at most SUPPORTDESK_DB_BUSY_TIMEOUT seconds (default 10) for a
lock (SQLite's busy timeout, PostgreSQL's lock_timeout); `lock_wait_exceeded` tells
such an error apart, and the request answers 503 with Retry-After (errors.py) well
before gunicorn's 30 s worker timeout would drop the connection.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, has_app_context, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, CursorResult, Engine, Row
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import Executable

from supportdesk.extensions import db

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
BUSY_TIMEOUT_MS = 10000  # default; the connection's own is in its info (configure_sqlite)
_BUSY_TIMEOUT_KEY = "supportdesk_busy_timeout_ms"
# SQLSTATEs of PostgreSQL's lock_timeout (lock_not_available) and statement_timeout
# (query_canceled).
_PG_LOCK_WAIT = frozenset({"55P03", "57014"})

# A request marked with `reads_before_writes` reads in a deferred transaction until
# `start_writing()`; these keys live on the request (environ) and the SQLite connection.
_READS_FIRST = "reads_before_writes"
_WRITING = "supportdesk.writing"
_READ_PHASE = "supportdesk_read_phase"
_ONLY_READS_NOW = "supportdesk.only_reads_now"
_READER = "supportdesk_reader"  # a read request's plain BEGIN
_READER_WROTE = "supportdesk_reader_wrote"  # a reader (either kind) has written

F = TypeVar("F", bound=Callable[..., Any])


def reads_before_writes(view: F) -> F:
    """Mark a writing view whose reads need not hold SQLite's write lock.

    On SQLite its transaction begins DEFERRED (a plain reader) and the view, or the
    service it calls, calls `start_writing()` before its first write: only from there
    to the commit does the request hold the single write lock, so authentication,
    validation and lookups of other requests run beside it. Until then the session
    does not autoflush, so a pending change (a token's last use) waits for the write
    transaction instead of upgrading the reader. On PostgreSQL nothing else changes.
    """

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with db.session.no_autoflush:
            return view(*args, **kwargs)

    setattr(wrapper, _READS_FIRST, True)
    return wrapper  # type: ignore[return-value]


def view_marked(mark: str) -> bool:
    """Whether the request's view carries `mark`, set by a decorator that tells how its
    transaction runs (`reads_before_writes` here, `pg_connections.reads_without_transaction`)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, mark, False)


def _reads_first() -> bool:
    """This request is in the read part of a `reads_before_writes` view."""
    if request.method in _READ_METHODS or request.environ.get(_WRITING):
        return False
    return view_marked(_READS_FIRST)


def start_writing() -> None:
    """End the read part of a `reads_before_writes` request: writes may follow.

    Call it before the first write and before any check-then-write rule (number
    sequences, limits): on SQLite the read-only transaction is ended and an IMMEDIATE
    one takes its place on the same connection, so the rule reads the newest data under
    the write lock. Loaded objects stay loaded and pending changes stay pending (they
    were only read, never written). Anywhere else (GET, other views, CLI) a no-op.
    """
    if not has_request_context() or not _reads_first():
        return
    request.environ[_WRITING] = True
    session = db.session()
    session.autoflush = True
    if not session.in_transaction():
        return  # nothing read yet: the next transaction begins IMMEDIATE
    connection = session.connection()
    if not connection.info.pop(_READ_PHASE, False):
        return  # not SQLite
    if connection.info.pop(_READER_WROTE, False):
        # Something already wrote: the reader became the writer then (it would have
        # failed had another writer committed since it began), so it holds the lock.
        return
    if session.in_nested_transaction():
        raise RuntimeError("start_writing() inside a savepoint")
    # Only reads so far: ending the transaction loses nothing. The SQLAlchemy
    # transaction stays open around the new one, so nothing is expired.
    connection.connection.dbapi_connection.commit()
    _begin_immediate_polling(connection)


def _begin_immediate_polling(connection: Connection) -> None:
    """BEGIN IMMEDIATE, retried every few tenths of a millisecond while another writer works.

    SQLite's busy handler sleeps 1, 2, 5, 10 … 100 ms between its tries, so under load
    a writer often sleeps on long after a 3 ms write ended (and the other process then
    takes the lock again). Polling at a fine interval starts it within ~2 ms of the
    lock coming free; it gives up after the same BUSY_TIMEOUT.
    """
    dbapi_connection = connection.connection.dbapi_connection
    busy_timeout_ms = connection.info.get(_BUSY_TIMEOUT_KEY, BUSY_TIMEOUT_MS)
    dbapi_connection.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + busy_timeout_ms / 1000
        delay = 0.0002
        while True:
            try:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as error:
                code = getattr(error.orig, "sqlite_errorcode", 0)
                busy = code & 0xFF == sqlite3.SQLITE_BUSY  # also the extended BUSY codes
                if not busy or time.monotonic() > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")


def execute_apart(
    statement: Executable, params: dict[str, Any] | list[dict[str, Any]]
) -> list[Row]:
    """Commit one statement in a transaction of its own and return its rows (none unless
    it returns some): a read request's own write, such as a log row (who opened a ticket)
    that must be on disk before the page is sent and must stay there if the request
    fails later, the touch of a session or token, or the search log's waiting rows (a
    list of parameters: the statement once per row, in the one transaction).

    PostgreSQL runs one row on a connection of its own in autocommit: one statement is
    its own transaction, without a BEGIN and a COMMIT round trip; several rows get one
    transaction there.

    On SQLite, when the request's session holds a read transaction that only read, the
    row goes through that same connection: the read transaction is ended (nothing was
    written, nothing loaded is expired), the row is committed under the write lock, and
    a deferred transaction is begun again for the rest of the request, whose next read
    sees the row. The request must not keep its snapshot while it commits beside it:
    SQLite starts its write-ahead log over only when no reader holds on to it, so under
    steady load the log grew without bound (215 MB in 40 s of `make bench`) and every
    commit copied pages back and synced the database file. Anywhere else (no request,
    nothing read yet, a writing request) the row gets a connection of its own: a writing
    request calls it only while its session holds no transaction (after a rollback), as
    that connection would otherwise wait for the request's own write lock.
    """
    engine = db.engine
    if engine.dialect.name == "postgresql":
        if isinstance(params, list):
            with engine.begin() as conn:
                return _rows(conn.execute(statement, params))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return _rows(conn.execute(statement, params))
    reader = _request_reader()
    if reader is None:
        with engine.begin() as conn:
            return _rows(conn.execute(statement, params))
    dbapi_connection = reader.connection.dbapi_connection
    dbapi_connection.commit()  # the request only read: ending its transaction loses nothing
    try:
        try:
            _begin_immediate_polling(reader)
            rows = _rows(reader.execute(statement, params))
            dbapi_connection.commit()
        except BaseException:
            dbapi_connection.rollback()  # nothing, if the lock was not taken
            raise
        return rows
    finally:
        reader.info.pop(_READER_WROTE, None)  # what it wrote is committed; it reads on
        if not dbapi_connection.in_transaction:
            dbapi_connection.execute("BEGIN")  # deferred: its snapshot starts at the next read


def _rows(result: CursorResult) -> list[Row]:
    return result.all() if result.returns_rows else []


def _request_reader() -> Connection | None:
    """The SQLite connection of a read request's session while it holds a plain read
    transaction, else None (the row then gets a connection of its own).

    A read request whose session has written holds SQLite's write lock: a row apart
    from it would wait the whole busy timeout for that lock, so it fails at once.
    """
    if not has_request_context() or not _read_request():
        return None  # a writing request: asking for its connection would take the lock
    session = db.session()
    if not session.in_transaction() or session.in_nested_transaction():
        return None
    connection = session.connection()
    info = connection.info
    if info.get(_READER_WROTE):
        raise RuntimeError("a read request that wrote cannot commit a row apart from its write")
    return connection if info.get(_READER) else None


def _read_request() -> bool:
    return request.method in _READ_METHODS or _ONLY_READS_NOW in request.environ


def only_reads_from_now() -> None:
    """The request gave up on writing (a lock wait timed out): whatever it still reads
    (the user's language for the error page) begins as a plain reader on SQLite, so it
    does not queue for the write lock once more."""
    if has_request_context():
        request.environ[_ONLY_READS_NOW] = True


def lock_wait_exceeded(error: BaseException) -> bool:
    """The database gave up waiting for a lock another connection holds (503, not 500)."""
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    if isinstance(orig, sqlite3.OperationalError):
        code = getattr(orig, "sqlite_errorcode", 0) & 0xFF
        return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "locked" in str(orig)
    return getattr(orig, "sqlstate", None) in _PG_LOCK_WAIT


def configure_sqlite(engine: Engine, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """WAL, foreign keys, and writers that take the lock up front.

    SQLite allows one writer. A deferred transaction that reads and later writes
    fails with SQLITE_BUSY when another writer committed in between, so every
    transaction outside a read-only request begins IMMEDIATE: writers queue on
    busy_timeout instead of failing, and check-then-insert rules (entitlement
    limits, number sequences) are serialized the way row locks do it on PostgreSQL.
    The exception is a `reads_before_writes` view: it begins as a reader and
    switches to an IMMEDIATE transaction at `start_writing()`.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None
        record.info[_BUSY_TIMEOUT_KEY] = busy_timeout_ms
        cursor = dbapi_connection.cursor()
        # WAL: readers go on reading while a writer holds (or waits for) the lock.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        info = connection.info
        info.pop(_READ_PHASE, None)
        info.pop(_READER, None)
        info.pop(_READER_WROTE, None)
        if has_request_context():
            read_only = _read_request()
            if not read_only and _reads_first():
                connection.exec_driver_sql("BEGIN")
                info[_READ_PHASE] = True
                return
        else:
            # The test suite's own session reads beside live servers; it must not
            # hold the write lock while they work.
            read_only = has_app_context() and current_app.config.get(
                "SQLITE_DEFERRED_OUTSIDE_REQUESTS", False
            )
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
        if read_only and has_request_context():
            info[_READER] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _note_writes(connection, _cursor, statement, *_args):
        # A write before start_writing(), or in a read request, turns the reader into the
        # writer; it must not then be committed apart from the request's other writes.
        info = connection.info
        if (_READ_PHASE in info or _READER in info) and statement.lstrip()[:6].upper() != "SELECT":
            info[_READER_WROTE] = True

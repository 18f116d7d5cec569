"""The search log, written behind: each worker keeps the searches it logged and writes
them together, when FLUSH_ROWS are waiting, SUPPORTDESK_SEARCH_LOG_FLUSH_SECONDS
(default 2) after the first one began to wait, and when the process exits.

A search's row id goes into its result links (`?s=<id>`) before the row is written, so
each worker takes ids in blocks of ID_BLOCK from the table's own sequence: PostgreSQL's
`nextval` of the column's sequence; on SQLite the table is AUTOINCREMENT and its
`sqlite_sequence` entry is moved on by a block. A row inserted by anything else is
numbered past every block handed out, and no two workers hold the same id.

A click on a result (`click`) marks the row in the worker that holds it, or the row
already written; a row that is neither (another worker holds it) is tried again at each
of this worker's writes for CLICK_PATIENCE seconds.

The log feeds the editors' gap report, a nicety: a write that fails is logged as a
warning and its rows are dropped, and a worker killed outright (SIGKILL, out of memory)
loses what it held: at most FLUSH_ROWS searches, and the FLUSH_ROWS it was writing. A
clean exit (gunicorn's graceful stop, a restart) writes them. A transaction of its own
for each search was a sixth of the search page's CPU (bench/RESULTS.md).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, insert, text, update

from supportdesk.extensions import db
from supportdesk.faq.models import SearchLog
from supportdesk.sqlite_locks import execute_apart

log = logging.getLogger(__name__)

FLUSH_ROWS = 50
ID_BLOCK = 200
CLICK_PATIENCE = 60.0
MAX_WAITING_CLICKS = 1000  # forged ids wait too: their number is bounded
_EXTENSION = "search_log"
_LIVE: weakref.WeakSet[SearchLogBuffer] = weakref.WeakSet()

_TABLE = SearchLog.__table__
_INSERT = insert(_TABLE)
_CLICK = (
    update(_TABLE)
    .where(_TABLE.c.id.in_(bindparam("ids", expanding=True)))
    .values(clicked=True)
    .returning(_TABLE.c.id)
)
_PG_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('search_log', 'id')) FROM generate_series(1, :n)"
)
# past the highest row too, should the entry ever lag behind it (a file put back by hand)
_SQLITE_MOVE = text(
    "UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(id), 0) FROM search_log))"
    " + :n WHERE name = 'search_log' RETURNING seq"
)
# the table's first block: SQLite makes the entry only at the first insert
_SQLITE_FIRST = text(
    "INSERT INTO sqlite_sequence (name, seq) "
    "SELECT 'search_log', coalesce(max(id), 0) + :n FROM search_log "
    "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'search_log') "
    "RETURNING seq"
)
# the highest id handed out so far: a click on a higher one names no search
_PG_HANDED_OUT = text("SELECT pg_sequence_last_value(pg_get_serial_sequence('search_log', 'id'))")
_SQLITE_HANDED_OUT = text("SELECT seq FROM sqlite_sequence WHERE name = 'search_log'")


class SearchLogBuffer:
    """One worker's searches and clicks that wait to be written (the app's extension)."""

    def __init__(self, app: Flask, flush_seconds: float) -> None:
        self.app = app
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()  # the waiting rows, clicks, ids and timer
        self._writing = threading.Lock()  # held by a flush from taking rows to their commit
        self._rows: dict[int, dict[str, Any]] = {}
        self._clicks: dict[int, float] = {}  # id -> given up at (monotonic)
        self._ids: Iterator[int] = iter(())
        self._timer: threading.Timer | None = None
        _LIVE.add(self)

    def add(self, values: dict[str, Any]) -> int:
        """Keep one search's row; returns its id. Writes the rows when FLUSH_ROWS wait."""
        log_id = self._take_id()
        with self._lock:
            self._rows[log_id] = {**values, "id": log_id}
            full = len(self._rows) >= FLUSH_ROWS
            if not full:
                self._wake()
        if full:
            self.flush()
        return log_id

    def click(self, log_id: int) -> None:
        """The search `log_id` led to an article; an unknown id changes nothing."""
        with self._lock:
            row = self._rows.get(log_id)
            if row is not None:
                row["clicked"] = True
                return
        if _mark_written([log_id]) or not _handed_out(log_id):
            return
        with self._lock:
            if len(self._clicks) < MAX_WAITING_CLICKS:
                self._clicks.setdefault(log_id, time.monotonic() + CLICK_PATIENCE)
                self._wake()

    def flush(self) -> None:
        """Write the waiting rows in one transaction, then try the waiting clicks.

        One flush at a time: the exit's waits for the timer's, which may have taken the
        rows already (the timer's thread dies with the process)."""
        with self._writing:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            rows, self._rows = list(self._rows.values()), {}
            clicks, self._clicks = self._clicks, {}
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        if rows:
            try:
                execute_apart(_INSERT, rows)
            except Exception as error:  # whatever the database or the lock wait said
                log.warning("faq: %d searches not logged: %s", len(rows), error)
        now = time.monotonic()
        clicks = {log_id: until for log_id, until in clicks.items() if until > now}
        if not clicks:
            return
        try:
            marked = set(_mark_written(list(clicks)))
        except Exception as error:
            log.warning("faq: clicks not logged yet: %s", error)
            marked = set()
        with self._lock:
            for log_id, until in clicks.items():
                if log_id not in marked:
                    self._clicks.setdefault(log_id, until)
            if self._clicks:
                self._wake()

    def waiting_clicks(self) -> int:
        with self._lock:
            return len(self._clicks)

    def flush_in_app(self) -> None:
        """`flush` from outside a request (the timer, the process's exit)."""
        with self.app.app_context():
            self.flush()

    def _take_id(self) -> int:
        # the block is reserved outside the lock: a threaded server's other searches
        # need not queue behind the database's lock (two blocks at once leave a gap)
        with self._lock:
            log_id = next(self._ids, None)
        if log_id is not None:
            return log_id
        block = iter(_reserve_ids(ID_BLOCK))
        log_id = next(block)
        with self._lock:
            self._ids = block
        return log_id

    def _wake(self) -> None:
        # under the lock: one timer while anything waits
        if self._timer is not None:
            return
        timer = threading.Timer(self.flush_seconds, self.flush_in_app)
        timer.daemon = True
        try:
            timer.start()
        except RuntimeError as error:  # no new thread (Python 3.12 at exit): the next try
            log.debug("faq: search log timer not started: %s", error)
            return
        self._timer = timer


def _reserve_ids(count: int) -> Sequence[int]:
    """`count` ids no other worker or insert will take, from the table's sequence."""
    if db.engine.dialect.name == "postgresql":
        # nextval hands each id out once; a block need not be consecutive
        ids = sorted(row[0] for row in execute_apart(_PG_IDS, {"n": count}))
        if ids:
            return ids
        raise RuntimeError("search_log: no ids")
    for statement in (_SQLITE_MOVE, _SQLITE_FIRST, _SQLITE_MOVE):
        rows = execute_apart(statement, {"n": count})
        if rows:
            last = rows[0][0]
            return range(last - count + 1, last + 1)
    raise RuntimeError("search_log: no ids")


def _mark_written(ids: list[int]) -> list[int]:
    return [row[0] for row in execute_apart(_CLICK, {"ids": ids})]


def _handed_out(log_id: int) -> bool:
    """Whether some worker took `log_id` from the sequence (its row may be waiting)."""
    statement = _PG_HANDED_OUT if db.engine.dialect.name == "postgresql" else _SQLITE_HANDED_OUT
    last = db.session.execute(statement).scalar()
    return last is not None and log_id <= last


def buffer() -> SearchLogBuffer:
    return current_app.extensions[_EXTENSION]


def add(values: dict[str, Any]) -> int:
    return buffer().add(values)


def click(log_id: int) -> None:
    buffer().click(log_id)


def flush() -> None:
    """Write what this app's worker holds now (the tests; a clean exit does it itself)."""
    buffer().flush()


def init_app(app: Flask) -> None:
    app.extensions[_EXTENSION] = SearchLogBuffer(
        app, app.config["SUPPORTDESK"].search_log_flush_seconds
    )


@atexit.register
def flush_all(wait_for_clicks: float = 3.0) -> None:
    """Write what every app of this process holds (at its exit). A click on a row
    another worker holds is tried again for up to `wait_for_clicks` seconds: stopped
    together, the other worker writes that row meanwhile."""
    deadline = time.monotonic() + wait_for_clicks
    while True:
        for each in list(_LIVE):
            try:
                each.flush_in_app()
            except Exception as error:  # the process is ending: say so, do not raise
                log.warning("faq: search log not written at exit: %s", error)
        if not any(each.waiting_clicks() for each in list(_LIVE)):
            return
        if time.monotonic() >= deadline:
            return
        time.sleep(0.2)

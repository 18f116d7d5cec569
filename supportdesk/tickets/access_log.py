"""The tickets' access log: who opened which ticket when (DESIGN §3.9, data about children).

The ticket page and the API write a row for every read; what reads the log belongs here too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import Row, Select, bindparam, insert, select

from supportdesk.accounts import sessions
from supportdesk.accounts.models import User
from supportdesk.extensions import db, utcnow
from supportdesk.pg_connections import COMMITS_ALONE, commits_alone
from supportdesk.sqlite_locks import execute_apart
from supportdesk.tickets.models import Ticket, TicketView

# Built once: the values go in as parameters, so SQLAlchemy compiles the statement once
# per dialect instead of building and keying a new one per view (0.5 → 0.16 ms CPU).
# `inline`: nothing reads the new row's id, so PostgreSQL is not asked to return it.
_INSERT_VIEW = insert(TicketView.__table__).inline()


# on `g`: (ticket id, channel) of a view inserted by the statement that read it -> the
# session's transaction it is in (`viewing` commits it there), or the request, when the
# statement committed it itself (a view without a transaction)
_LOGGED_IN_READ = "access_logged_in_read"
_ALONE = {COMMITS_ALONE: True}


def _row(user: User, ticket: Ticket, channel: str) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "user_id": user.id,
        "municipality_id": ticket.municipality_id,
        "channel": channel,
        "at": utcnow(),
    }


def log_view(user: User, ticket: Ticket, channel: str = "page") -> None:
    """Every view is logged (DESIGN §3.9) in its own short transaction.

    A GET request's session runs a read transaction; the log row must neither
    turn that into a write nor be lost when the request's session rolls back.
    The row is committed before the page is rendered, so it is on disk before
    the response is sent; a failed write fails the request.
    """
    execute_apart(_INSERT_VIEW, _row(user, ticket, channel))


def read_ticket(
    user: User, statement: Select[Any], params: dict[str, Any], channel: str = "page"
) -> Row[Any] | None:
    """The row of `statement` (one ticket's table columns first, as the policy's
    `ticket_by_number(..., row=True)` gives them), run on the session's connection.

    On PostgreSQL, inside a request, the same statement inserts the view's access-log
    row (a data-modifying WITH over the ticket's row: no row when the ticket is not
    shown), in the request's transaction; `viewing` then commits it once the page is
    rendered, or writes the row apart as ever if the page left a change pending. In a
    view without a transaction (`pg_connections.reads_without_transaction`) the
    statement commits the row itself, before the page is rendered. One
    round trip and one statement instead of two: the INSERT and its result cost a
    cached ticket page a tenth of the worker's instructions. The row's foreign keys are
    checked at that commit (deferred, `TicketView`), so nothing it refers to is locked
    while the page renders.
    """
    connection = db.session.connection()
    if not has_request_context() or connection.dialect.name != "postgresql":
        return connection.execute(statement, params).first()
    alone = commits_alone(connection)
    found = connection.execute(
        _logging_read(statement),
        {**params, "view_user_id": user.id, "view_channel": channel, "view_at": utcnow()},
        execution_options=_ALONE,
    ).first()
    if found is not None:
        logged = g.setdefault(_LOGGED_IN_READ, {})
        owner = request._get_current_object() if alone else db.session().get_transaction()
        logged[found.id, channel] = owner
    return found


@lru_cache(maxsize=64)  # as many as the policy keeps (`ticket_by_number`)
def _logging_read(statement: Select[Any]) -> Select[Any]:
    """`statement` (one of the policy's kept statements) with its ticket's view inserted
    by the same statement (parameters `view_user_id`, `view_channel`, `view_at`)."""
    seen = statement.cte("seen")
    logged = insert(TicketView.__table__).from_select(
        ["ticket_id", "municipality_id", "user_id", "channel", "at"],
        select(
            seen.c.id,
            seen.c.municipality_id,
            bindparam("view_user_id", type_=TicketView.user_id.type),
            bindparam("view_channel", type_=TicketView.channel.type),
            bindparam("view_at", type_=TicketView.at.type),
        ),
    )
    return select(seen).add_cte(logged.cte("logged"))


@contextmanager
def viewing(user: User, ticket: Ticket, channel: str = "page") -> Iterator[None]:
    """Log a view of the page rendered inside the block: the row is committed before
    the block's page can be sent, and a failed write fails the request.

    On PostgreSQL the row is written, once the page is rendered, in the request's own
    transaction, which is then committed (a GET's transaction only read; nothing is
    expired, the rendered page is what was read): two statements instead of a
    connection, a ping, BEGIN, INSERT and COMMIT of its own, and the row locks of the
    insert's foreign keys are held only from the INSERT to the COMMIT. A block that
    fails writes nothing, as no page is sent; one that left a change pending or flushed
    (`sessions.preloaded` is gone once the session flushed) gets the row in a transaction
    of its own, so the change is not committed. A view without a transaction
    (`pg_connections.reads_without_transaction`) has its row committed by the ticket's
    read (`read_ticket`), before the block: nothing is left to do here, and a block that
    fails has logged its view, as on SQLite. On SQLite (one writer: a reader cannot
    become the writer once another has committed) and outside a request, the row is
    committed in its own transaction before the block, as `log_view` does
    (`execute_apart`).
    """
    session = db.session()
    if not has_request_context() or session.get_bind().dialect.name != "postgresql":
        log_view(user, ticket, channel)
        yield
        return
    read_in = g.get(_LOGGED_IN_READ, {}).pop((ticket.id, channel), None)
    if read_in is not None and read_in is request._get_current_object():
        # the read inserted and committed the row (a view without a transaction): nothing
        # to end here; a change the page left is rolled back with the request
        yield
        return
    row = _row(user, ticket, channel)
    # inserted by the read, and still pending in this transaction (one that ended since
    # took the row with it, or committed it: the row is then written again, never lost)
    logged = read_in is not None and read_in is session.get_transaction()
    yield
    pending = session.new or session.deleted or any(map(session.is_modified, session.dirty))
    if pending or sessions.preloaded(user) is None:  # a change pending, or flushed already
        # a change the request left pending is not the view's to commit: log on its own
        execute_apart(_INSERT_VIEW, row)
        return
    if not logged:
        session.execute(_INSERT_VIEW, row)
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire

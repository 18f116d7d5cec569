"""Business time to a ticket's first answer and to its resolution, stored on the ticket.

Measured when it happens (events.ticket_times_changed) with the SLA's own arithmetic on
the municipalities' calendar, so a report takes the median and 90th percentile of two
columns instead of measuring every ticket of its period. `fill_business_times` measures
rows written without those events (bulk seeding, rows from before the columns).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, inspect, select, update
from sqlalchemy.orm.attributes import set_committed_value

from supportdesk import events
from supportdesk.escalation.sla import business_seconds_between
from supportdesk.extensions import db, utcnow
from supportdesk.reports.clock import MUNICIPAL_CALENDAR, BusinessClock
from supportdesk.tickets.models import Ticket, TicketStatus

DONE_STATUSES = (TicketStatus.resolved, TicketStatus.closed)
COLUMNS = {"response": "response_business_seconds", "resolution": "resolution_business_seconds"}


def done_at(status: TicketStatus, resolved_at: datetime | None, closed_at: datetime | None):
    """When a resolved or closed ticket was done (resolved, else closed); None while open."""
    return (resolved_at or closed_at) if status in DONE_STATUSES else None


@events.ticket_times_changed.connect
def store(ticket: Ticket, what: str, **_extra: Any) -> None:
    """Measure the changed time and store it without touching the ticket's version (a
    reply must not conflict with a form in flight; history.touch explains)."""
    if ticket.created_at is None:  # created in this transaction, not yet written
        ticket.created_at = utcnow()
    end = (
        ticket.first_response_at
        if what == "response"
        else done_at(ticket.status, ticket.resolved_at, ticket.closed_at)
    )
    seconds = (
        None
        if end is None
        else business_seconds_between(MUNICIPAL_CALENDAR, ticket.created_at, end)
    )
    column = COLUMNS[what]
    if ticket.id is None or inspect(ticket).pending:
        setattr(ticket, column, seconds)  # not written yet: the INSERT carries it
        return
    db.session.execute(
        update(Ticket).where(Ticket.id == ticket.id).values({column: seconds}),
        execution_options={"synchronize_session": False},
    )
    set_committed_value(ticket, column, seconds)


def fill_business_times(executor: Any, *where: Any) -> int:
    """Measure the tickets `where` selects (all when empty) from their stored times, on
    `executor` (a session or, in a migration, its connection); how many were measured."""
    table = Ticket.__table__
    rows = executor.execute(
        select(
            table.c.id,
            table.c.created_at,
            table.c.first_response_at,
            table.c.status,
            table.c.resolved_at,
            table.c.closed_at,
        ).where(*where)
    ).all()
    if not rows:
        return 0
    ends = [(row.id, row.created_at, row.first_response_at, done_at(*row[3:])) for row in rows]
    moments = [m for _id, *times in ends for m in times if m is not None]
    clock = BusinessClock(MUNICIPAL_CALENDAR, min(moments), max(*moments, utcnow()))
    params = [
        {
            "ticket_id": ident,
            "response": clock.seconds_between(created, replied) if replied else None,
            "resolution": clock.seconds_between(created, done) if done else None,
        }
        for ident, created, replied, done in ends
    ]
    statement = (
        table.update()
        .where(table.c.id == bindparam("ticket_id"))
        .values(
            response_business_seconds=bindparam("response"),
            resolution_business_seconds=bindparam("resolution"),
        )
    )
    for start in range(0, len(params), 5000):
        executor.execute(statement, params[start : start + 5000])
    return len(params)

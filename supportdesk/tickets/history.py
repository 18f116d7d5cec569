"""A ticket's history: the system events (status, assignment, routing, escalation, …).

Every change to a ticket writes one event entry here; replies and notes are in services.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, update
from sqlalchemy.orm.attributes import set_committed_value

from supportdesk.accounts.models import User
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry, ticket_generation


def record_event(
    ticket: Ticket, actor: User | None, event: str, data: dict[str, Any]
) -> TicketEntry:
    """One event entry; the caller flushes (with the change it records)."""
    entry = TicketEntry(
        ticket=ticket,
        municipality_id=ticket.municipality_id,
        kind=EntryKind.event,
        author=actor,
        event=event,
        data=data,
        created_at=utcnow(),
        attachments=[],  # known: serialising the new entry does not query for them
    )
    db.session.add(entry)
    return entry


def add_system_event(
    ticket: Ticket, actor: User | None, event: str, data: dict[str, Any]
) -> TicketEntry:
    """For other domains (escalation, SLA, known issues): one history line on the ticket."""
    entry = record_event(ticket, actor, event, data)
    touch(ticket)
    db.session.flush()
    return entry


def touch(ticket: Ticket) -> None:
    """Stamp `updated_at` for something new beside the ticket (a reply, a history line).

    Not through the versioned row: that UPDATE checks and bumps `version`, so every other
    write in flight on the ticket (four clients replying at once) would get a 409 although
    none of them changed what a `version` protects. Only writes that name one may conflict.
    """
    now = utcnow()
    if ticket.id is None or inspect(ticket).pending:
        ticket.updated_at = now  # not written yet: the INSERT carries it
        return
    db.session.execute(
        update(Ticket).where(Ticket.id == ticket.id).values(updated_at=now),
        execution_options={"synchronize_session": False},
    )
    set_committed_value(ticket, "updated_at", now)
    generations.bump(ticket_generation(ticket.municipality_id))

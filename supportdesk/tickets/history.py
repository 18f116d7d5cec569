"""A ticket's history: the system events (status, assignment, routing, escalation, …).

Every change to a ticket writes one event entry here; replies and notes are in services.
"""

from __future__ import annotations

from typing import Any

from supportdesk.accounts.models import User
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry


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
    ticket.updated_at = utcnow()
    db.session.flush()
    return entry

"""Who hears about a ticket change: the hand-over to the notifications domain.

A plain call down the arrows (not an event): the bell entry and the e-mail are
written through the outbox in the transaction that makes the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from supportdesk.accounts.models import User
from supportdesk.extensions import db
from supportdesk.notifications import services as notifications
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets.models import Ticket, TicketFollower


def notify(
    recipients: Iterable[User | None],
    event: NotificationEvent,
    ticket: Ticket,
    actor: User | None,
    excerpt: str | None = None,
    extra: dict[str, Any] | None = None,
    excerpt_max: int = 300,
) -> None:
    """Tell the active recipients other than the actor; the context is the ticket's summary
    (plus `extra`, e.g. the vendor case's number). No actor: the system did it."""
    actor_id = actor.id if actor is not None else None
    people = {u.id: u for u in recipients if u is not None and u.id != actor_id and u.active}
    if not people:
        return
    context = {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "system": ticket.system.name,
    }
    if excerpt:
        context["excerpt"] = excerpt[:excerpt_max]
    context.update(extra or {})
    notifications.notify(
        list(people.values()),
        event,
        url=f"/tickets/{ticket.number}",
        context=context,
        actor=actor,
    )


def reporters(ticket: Ticket) -> list[User]:
    """Who reported the problem: the creator and those who follow the ticket (the reporters
    of duplicates merged into it)."""
    followers = db.session.scalars(
        select(User)
        .join(TicketFollower, TicketFollower.user_id == User.id)
        .where(TicketFollower.ticket_id == ticket.id)
        .order_by(TicketFollower.id)
    )
    return [ticket.created_by, *followers]

"""Who hears about a ticket change: the hand-over to the notifications domain.

A plain call down the arrows (not an event): the bell entry and the e-mail are
written through the outbox in the transaction that makes the change.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    actor: User,
    excerpt: str | None = None,
) -> None:
    """Tell the active recipients other than the actor; the context is the ticket's summary."""
    people = {u.id: u for u in recipients if u is not None and u.id != actor.id and u.active}
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
        context["excerpt"] = excerpt[:300]
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

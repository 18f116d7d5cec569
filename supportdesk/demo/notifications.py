"""Demo bell contents: recent notifications for demo staff, so the bell is not empty."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import exists, select

from supportdesk.accounts.models import Role, User
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.tickets.models import Ticket

PER_USER = 8
UNREAD = 3


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> None:
    """Rows written directly (no outbox): seeding must not e-mail anyone. Idempotent."""
    users = db.session.scalars(
        select(User)
        .where(User.role.in_([Role.coordinator, Role.superuser]), User.active.is_(True))
        .where(~exists().where(Notification.user_id == User.id))
        .order_by(User.id)
    ).all()
    created = 0
    for user in users:
        if user.role == Role.coordinator:
            mine = Ticket.assignee_id == user.id
            event = NotificationEvent.ticket_assigned
        else:
            mine = Ticket.created_by_id == user.id
            event = NotificationEvent.ticket_status
        tickets = db.session.scalars(
            select(Ticket).where(mine).order_by(Ticket.updated_at.desc()).limit(PER_USER)
        ).all()
        for i, ticket in enumerate(tickets):
            when = ticket.updated_at
            db.session.add(
                Notification(
                    user_id=user.id,
                    event=event,
                    url=f"/tickets/{ticket.number}",
                    context={
                        "number": ticket.number,
                        "subject": ticket.subject,
                        "status": ticket.status.value,
                    },
                    created_at=when,
                    read_at=None if i < UNREAD else when + timedelta(hours=1),
                )
            )
            created += 1
    db.session.flush()
    echo(f"notifications: {created} demo notifications for {len(users)} users")

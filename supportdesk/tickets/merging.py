"""Merging duplicates: a coordinator merges a ticket into another of the same municipality.

The merged ticket closes with a link to the target (`merged_into`); the target lists the
merged tickets with their entries and attachments; every reporter of the merged ticket
follows the target (sees it and hears about it) and is told.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload, selectinload

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import Forbidden, ValidationFailed
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets import notices
from supportdesk.tickets.history import record_event
from supportdesk.tickets.lifecycle import apply_status
from supportdesk.tickets.models import (
    EntryKind,
    Ticket,
    TicketEntry,
    TicketFollower,
    TicketStatus,
)


def offers_merge(user: User, ticket: Ticket) -> bool:
    """The ticket page offers merging a ticket that is not closed yet (merging closes it)."""
    return policy.can_merge(user, ticket) and ticket.status != TicketStatus.closed


def merge(actor: User, ticket: Ticket, target: Ticket) -> Ticket:
    """Merge `ticket` into `target` (both loaded through policy); returns the target.

    Into itself, into a closed or merged ticket, or a ticket already merged: 422.
    """
    if not policy.can_merge(actor, ticket) or not policy.can_merge(actor, target):
        raise Forbidden()
    if target.id == ticket.id:
        raise ValidationFailed(fields={"into": str(_l("A ticket cannot be merged into itself."))})
    if target.status == TicketStatus.closed or target.merged_into_id is not None:
        raise ValidationFailed(
            fields={"into": str(_l("A ticket cannot be merged into a closed ticket."))}
        )
    if ticket.merged_into_id is not None:
        raise ValidationFailed(fields={"into": str(_l("The ticket is already merged."))})
    reporters = notices.reporters(ticket)
    ticket.merged_into = target
    if ticket.status != TicketStatus.closed:
        apply_status(ticket, actor, TicketStatus.closed)
    record_event(ticket, actor, "merged_into", {"ticket": target.number})
    record_event(
        target,
        actor,
        "merged_from",
        {"ticket": ticket.number, "subject": ticket.subject},
    )
    ticket.updated_at = target.updated_at = utcnow()
    for user in reporters:
        follow(target, user)
    db.session.flush()
    notices.notify(reporters, NotificationEvent.ticket_merged, target, actor)
    return target


def follow(ticket: Ticket, user: User) -> None:
    """The user follows the ticket (once; its creator needs no row)."""
    if user.id == ticket.created_by_id:
        return
    exists = db.session.scalar(
        select(TicketFollower.id).where(
            TicketFollower.ticket_id == ticket.id, TicketFollower.user_id == user.id
        )
    )
    if exists is None:
        db.session.add(TicketFollower(ticket_id=ticket.id, user_id=user.id, created_at=utcnow()))


# built once (parameters, not values): keying a statement built anew costs more than
# running it
_ANY_MERGED = select(Ticket.id).where(Ticket.merged_into_id == bindparam("target_id")).limit(1)


def merged_tickets(user: User, target: Ticket) -> list[tuple[Ticket, Sequence[TicketEntry]]]:
    """The tickets merged into `target` with the entries this user may see of each.

    Most tickets have none: a narrow query of ids answers that before whole tickets
    with their creator and institution are loaded (0.3 ms of a ticket page's first view).
    """
    if db.session.scalar(_ANY_MERGED, {"target_id": target.id}) is None:
        return []
    tickets = list(
        db.session.scalars(
            select(Ticket)
            .where(Ticket.merged_into_id == target.id)
            .options(joinedload(Ticket.created_by), joinedload(Ticket.institution))
            .order_by(Ticket.id)
        )
    )
    if not tickets:
        return []
    query = (
        select(TicketEntry)
        .where(
            TicketEntry.ticket_id.in_([t.id for t in tickets]),
            TicketEntry.kind != EntryKind.event,
        )
        .options(joinedload(TicketEntry.author), selectinload(TicketEntry.attachments))
        .order_by(TicketEntry.created_at, TicketEntry.id)
    )
    if not policy.can_see_internal_notes(user, target):
        query = query.where(TicketEntry.kind != EntryKind.internal_note)
    entries = list(db.session.scalars(query))
    return [(t, [e for e in entries if e.ticket_id == t.id]) for t in tickets]

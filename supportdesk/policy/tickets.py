"""Tickets: which tickets a user sees and what they may do with them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, and_, bindparam, false, or_, select

from supportdesk.accounts.models import Institution, Role, User
from supportdesk.errors import NotFound
from supportdesk.extensions import db
from supportdesk.policy.organisations import institutions_visible_to, is_municipal
from supportdesk.tickets.models import (
    Attachment,
    EntryKind,
    Queue,
    SavedView,
    Ticket,
    TicketFollower,
    TicketStatus,
)

TICKET_STAFF_ROLES = frozenset({Role.coordinator, Role.municipal_admin})
# who tickets and routing rules can be assigned to (an assignee must also be active)
ASSIGNEE_ROLES = (Role.coordinator, Role.municipal_admin, Role.hotline)


def can_create_ticket(user: User) -> bool:
    """Municipal staff log tickets in their own municipality."""
    return is_municipal(user) and user.municipality_id is not None


def ticket_institution_default(user: User) -> Institution | None:
    """A superuser's ticket is about their own institution unless they choose another."""
    return user.institution if user.role == Role.superuser else None


def ticket_institutions(user: User) -> Select[tuple[Institution]]:
    """Institutions a user may log a ticket for (the choices of the ticket form).

    A superuser logs tickets for the institution they are registered at (README: "log
    tickets for their institution"); other municipal staff for any active institution
    of their municipality (the hotline takes calls from all of them).
    """
    query = institutions_visible_to(user).where(Institution.active.is_(True))
    if user.role == Role.superuser:
        return query.where(Institution.id == user.institution_id)
    return query


def can_file_ticket_for(user: User, institution: Institution) -> bool:
    """The rule behind `ticket_institutions`, for one institution already loaded."""
    if not can_create_ticket(user) or institution.municipality_id != user.municipality_id:
        return False
    return user.role != Role.superuser or institution.id == user.institution_id


def tickets_visible_to(user: User) -> Select[tuple[Ticket]]:
    """Single starting point, so no list, search or export forgets the tenant.

    The viewer's values are written into this statement (anonymous parameters), so a
    statement that combines two viewers' (tickets both may see) keeps each one's apart.
    """
    return select(Ticket).where(_visible(_shape(user), _viewer(user)))


def _shape(user: User) -> str:
    """The kind of viewer the rule tells apart: which clause applies, not whose values."""
    if not is_municipal(user):
        return "none"  # vendor staff see cases, not tickets
    match user.role:
        case Role.coordinator | Role.municipal_admin:
            return "municipality"
        case Role.superuser:
            return "superuser" if user.institution_id is None else "superuser_institution"
        case Role.hotline:
            return "hotline"
        case _:
            return "none"


def _viewer(user: User) -> dict[str, Any]:
    """The values `_visible` reads (none for a signed-out visitor, who sees no ticket)."""
    return {
        "viewer_id": getattr(user, "id", None),
        "viewer_municipality_id": getattr(user, "municipality_id", None),
        "viewer_institution_id": getattr(user, "institution_id", None),
    }


# `_viewer`'s names as parameters: the kept statements of `ticket_by_number` hold these,
# never a viewer's values, and are executed with `_viewer(user)`.
_VIEWER_PARAMETERS = {
    name: bindparam(name, type_=Integer)
    for name in ("viewer_id", "viewer_municipality_id", "viewer_institution_id")
}


def _visible(shape: str, viewer: Mapping[str, Any]) -> ColumnElement[bool]:
    """The tickets a kind of viewer sees: `viewer` holds the viewer's values
    (`_viewer`) or, for a statement that is kept, the parameters they go into."""
    if shape == "none":
        return false()
    municipality = Ticket.municipality_id == viewer["viewer_municipality_id"]
    if shape == "municipality":
        return municipality
    me = viewer["viewer_id"]
    own = [
        Ticket.created_by_id == me,
        # a merged duplicate's reporter follows the target
        Ticket.id.in_(select(TicketFollower.ticket_id).where(TicketFollower.user_id == me)),
    ]
    match shape:
        case "superuser":
            pass
        case "superuser_institution":
            own.append(Ticket.institution_id == viewer["viewer_institution_id"])
        case "hotline":
            hotline_queues = select(Queue.id).where(
                Queue.municipality_id == viewer["viewer_municipality_id"],
                Queue.is_hotline.is_(True),
            )
            own.append(Ticket.queue_id.in_(hotline_queues))
        case _:
            raise ValueError(shape)
    return and_(municipality, or_(*own))


def ticket_by_number(
    user: User, number: str, columns: tuple[Any, ...] = (), *, row: bool = False
) -> tuple[Select[Any], dict[str, Any]]:
    """`tickets_visible_to(user)` for the ticket `number`, with `columns` added, and the
    values of the statement's parameters (the viewer's and the number).

    The statement is kept per kind of viewer and `columns` object (build them once):
    SQLAlchemy keys a statement it has not seen by walking it, which for the ticket
    page's statement cost more than running it. The kept statement holds parameters
    only, never a viewer's values: it is executed with them, not combined into another.
    `row`: the ticket's table columns instead of the model, for a caller that executes
    it on the session's connection and needs the ticket's own values only.
    """
    return _by_number(_shape(user), columns, row), {**_viewer(user), "ticket_number": number}


@lru_cache(maxsize=64)
def _by_number(shape: str, columns: tuple[Any, ...], row: bool = False) -> Select[Any]:
    return (
        select(*Ticket.__table__.columns if row else (Ticket,))
        .where(
            _visible(shape, _VIEWER_PARAMETERS),
            Ticket.number == bindparam("ticket_number", type_=String),
        )
        .add_columns(*columns)
    )


def get_ticket(user: User, number: str) -> Ticket:
    ticket = db.session.scalar(*ticket_by_number(user, number))
    if ticket is None:
        raise NotFound()
    return ticket


def get_ticket_for(user: User, number: str, may: Callable[[User, Ticket], bool]) -> Ticket:
    """The ticket, when `may` lets the user act on it; otherwise not found (as if not seen)."""
    ticket = get_ticket(user, number)
    if not may(user, ticket):
        raise NotFound()
    return ticket


def is_ticket_staff(user: User) -> bool:
    """Coordinators and municipal admins work the municipality's tickets."""
    return user.is_authenticated and user.role in TICKET_STAFF_ROLES


def can_see_internal_notes(user: User, ticket: Ticket) -> bool:
    """Internal notes are for municipal ticket staff only, never superusers or hotline."""
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_receive_internal_notes(user: User) -> bool:
    """Notes go to coordinators and admins only, never superusers, hotline or vendor staff."""
    return user.role in TICKET_STAFF_ROLES


def can_reply(user: User, ticket: Ticket) -> bool:
    return (
        is_municipal(user)
        and user.municipality_id == ticket.municipality_id
        and ticket.status != TicketStatus.closed
    )


def can_add_internal_note(user: User, ticket: Ticket) -> bool:
    return can_see_internal_notes(user, ticket)


def can_assign(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_change_status(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_change_priority(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_change_category(user: User, ticket: Ticket) -> bool:
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_reopen(user: User, ticket: Ticket) -> bool:
    """The creator (or ticket staff) may reopen; the window itself is checked by the service."""
    if ticket.status not in (TicketStatus.resolved, TicketStatus.closed):
        return False
    return user.municipality_id == ticket.municipality_id and (
        ticket.created_by_id == user.id or is_ticket_staff(user)
    )


def can_merge(user: User, ticket: Ticket) -> bool:
    """Coordinators (and municipal admins) merge duplicates within their municipality."""
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_answer_survey(user: User, ticket: Ticket) -> bool:
    """ "Fik du hjælp?" is the ticket creator's to answer, and only theirs."""
    return user.is_authenticated and ticket.created_by_id == user.id


def saved_views_of(user: User) -> Select[tuple[SavedView]]:
    """A user's saved queue views are their own."""
    return select(SavedView).where(SavedView.user_id == user.id).order_by(SavedView.name)


def can_triage(user: User) -> bool:
    """The municipality's triage queue with filters and bulk actions."""
    return is_ticket_staff(user) and user.municipality_id is not None


def ticket_list_scopes(user: User) -> tuple[str | None, ...]:
    """The views of the ticket list a user chooses between (tabs); the first is the default.

    A scope only narrows `tickets_visible_to`. Staff who triage get filters instead.
    """
    if can_triage(user):
        return ()
    match user.role:
        case Role.superuser:
            return (None, "mine", "institution")
        case Role.hotline:
            return ("mine", "queue")
    return ()


def can_manage_routing(user: User) -> bool:
    """Routing rules and queues belong to the municipal admin of that municipality."""
    return (
        user.is_authenticated
        and user.role == Role.municipal_admin
        and user.municipality_id is not None
    )


def can_take_hotline_calls(user: User) -> bool:
    return user.is_authenticated and user.role in (Role.hotline, *TICKET_STAFF_ROLES)


def is_own_call(user: User, ticket: Ticket) -> bool:
    """A phone call the user logged themselves (the hotline's first contact)."""
    return (
        can_take_hotline_calls(user)
        and ticket.source.value == "hotline"
        and ticket.created_by_id == user.id
        and ticket.municipality_id == user.municipality_id
    )


def can_resolve_call(user: User, ticket: Ticket) -> bool:
    """ "Løst i telefonen": whoever logged the call may resolve it on first contact."""
    return is_own_call(user, ticket) and ticket.status in (TicketStatus.new, TicketStatus.open)


def can_view_attachment(user: User, attachment: Attachment) -> bool:
    """Attachments on an internal note are as internal as the note."""
    if attachment.entry is not None and attachment.entry.kind == EntryKind.internal_note:
        return can_see_internal_notes(user, attachment.ticket)
    return True


def get_attachment(user: User, number: str, attachment_id: int) -> Attachment:
    ticket = get_ticket(user, number)
    # a merged duplicate's attachments are listed (and fetched) on the ticket it went into
    merged = select(Ticket.id).where(Ticket.merged_into_id == ticket.id)
    attachment = db.session.scalar(
        select(Attachment).where(
            Attachment.id == attachment_id,
            or_(Attachment.ticket_id == ticket.id, Attachment.ticket_id.in_(merged)),
        )
    )
    if attachment is None or not can_view_attachment(user, attachment):
        raise NotFound()
    return attachment


def queues_visible_to(user: User) -> Select[tuple[Queue]]:
    if not is_municipal(user):
        return select(Queue).where(false())
    return select(Queue).where(Queue.municipality_id == user.municipality_id).order_by(Queue.name)


def can_take_tickets(user: User, municipality_id: int | None) -> bool:
    """Tickets (and routing rules) go to the municipality's coordinators, admins and hotline."""
    return user.municipality_id == municipality_id and user.role in ASSIGNEE_ROLES


def assignable_users(user: User) -> Select[tuple[User]]:
    """Who a ticket in the user's municipality can be assigned to."""
    if not is_ticket_staff(user):
        return select(User).where(false())
    return (
        select(User)
        .where(
            User.municipality_id == user.municipality_id,
            User.role.in_(ASSIGNEE_ROLES),
            User.active.is_(True),
        )
        .order_by(User.name)
    )

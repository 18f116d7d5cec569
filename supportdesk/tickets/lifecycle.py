"""A ticket's life cycle (DESIGN §4): status transitions, reopening, assignment, priority,
category, and the same changes in bulk from the triage list.

The state machine itself (TRANSITIONS, ESCALATABLE) lives beside TicketStatus in models.py.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from supportdesk import events, policy
from supportdesk.accounts.models import Category, User
from supportdesk.cache import generations
from supportdesk.errors import Conflict, Forbidden, InvalidTransition, ValidationFailed
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets import notices, surveys
from supportdesk.tickets.history import assignee_data, record_event
from supportdesk.tickets.models import (
    ESCALATABLE,
    STATUS_LABELS,
    TRANSITIONS,
    Priority,
    Ticket,
    TicketStatus,
    ticket_generation,
    ticket_page_generation,
)

_Choice = TypeVar("_Choice", bound=enum.Enum)


def check_version(ticket: Ticket, version: int | None) -> None:
    """Optimistic locking for forms and the API: a stale version is 409."""
    if version is not None and int(version) != ticket.version:
        raise Conflict()


def _may_change(ticket: Ticket, version: int | None, allowed: bool) -> None:
    """A stale form is a 409 whoever sends it; then policy's answer (403)."""
    check_version(ticket, version)
    policy.require(allowed)


def _parse_choice(kind: type[_Choice], value: Any, name: str, message: LazyString) -> _Choice:
    """Form and API input as one of an enum's members, or a field error (422)."""
    try:
        return kind(value)
    except ValueError:
        raise ValidationFailed(fields={name: str(message)}) from None


def reopen_deadline(ticket: Ticket, days: int | None = None) -> datetime | None:
    """A resolved or closed ticket can be reopened for `reopen_days` (then: a new ticket)."""
    days = days if days is not None else current_app.config["SUPPORTDESK"].reopen_days
    since = ticket.resolved_at or ticket.closed_at
    if since is None:
        return None
    return since + timedelta(days=days)


def can_reopen_now(user: User, ticket: Ticket) -> bool:
    """Whether to offer "reopen": policy allows it and the window is still open."""
    deadline = reopen_deadline(ticket)
    return policy.can_reopen(user, ticket) and deadline is not None and utcnow() <= deadline


def allowed_statuses(user: User, ticket: Ticket) -> list[TicketStatus]:
    """Targets to offer in the UI: the allowed transitions this user may make now."""
    targets = []
    for target in TRANSITIONS[ticket.status]:
        try:
            _check_transition(user, ticket, target)
        except (InvalidTransition, Forbidden):
            continue
        targets.append(target)
    return [s for s in TicketStatus if s in targets]


def _check_transition(actor: User, ticket: Ticket, target: TicketStatus) -> None:
    current = ticket.status
    if target == TicketStatus.escalated:
        raise InvalidTransition(
            _l("A ticket is escalated by sending it to the vendor, not by changing its status.")
        )
    if target not in TRANSITIONS[current]:
        raise InvalidTransition(
            _l(
                "A ticket cannot go from %(current)s to %(target)s.",
                current=STATUS_LABELS[current],
                target=STATUS_LABELS[target],
            )
        )
    reopening = (
        current in (TicketStatus.resolved, TicketStatus.closed) and target == TicketStatus.open
    )
    if reopening:
        if not policy.can_reopen(actor, ticket):
            raise Forbidden()
        deadline = reopen_deadline(ticket)
        if deadline is None or utcnow() > deadline:
            raise InvalidTransition(
                _l("The reopen period has passed. Create a new ticket and refer to this one.")
            )
    elif not policy.can_change_status(actor, ticket):
        raise Forbidden()


def change_status(
    actor: User, ticket: Ticket, target: TicketStatus | str, *, version: int | None = None
) -> Ticket:
    """Move the ticket along DESIGN §4; anything else is InvalidTransition (409)."""
    check_version(ticket, version)
    target = _parse_choice(TicketStatus, target, "status", _l("Unknown status."))
    if target == ticket.status:
        return ticket
    _check_transition(actor, ticket, target)
    apply_status(ticket, actor, target)
    db.session.flush()
    # the reporters hear of a resolution in its own words (and may turn just that off)
    event = (
        NotificationEvent.ticket_resolved
        if target == TicketStatus.resolved
        else NotificationEvent.ticket_status
    )
    notices.notify(notices.reporters(ticket), event, ticket, actor)
    return ticket


def apply_status(ticket: Ticket, actor: User | None, target: TicketStatus) -> None:
    """Write a status with its timestamps and history line; the caller checked the move."""
    previous = ticket.status
    now = utcnow()
    ticket.status = target
    ticket.updated_at = now
    if target == TicketStatus.resolved:
        ticket.resolved_at = now
        surveys.request_survey(ticket, actor)
    elif target == TicketStatus.closed:
        ticket.closed_at = now
    reopening = target == TicketStatus.open and previous in (
        TicketStatus.resolved,
        TicketStatus.closed,
    )
    if reopening:
        ticket.resolved_at = None
        ticket.closed_at = None
    line = record_event(ticket, actor, "status", {"from": previous.value, "to": target.value})
    if reopening:
        ticket.reopened_at = line.created_at  # the reports' reopen count reads it
    if TicketStatus.resolved in (previous, target) or TicketStatus.closed in (previous, target):
        events.ticket_times_changed.send(ticket, what="resolution")


def open_on_reply(ticket: Ticket, actor: User, current: TicketStatus) -> bool:
    """A reply opens the ticket if it is still `current`; whether this reply did it.

    One conditional UPDATE instead of the versioned one: replies racing on a new ticket
    open it once (one history line) and none of them conflicts. The version is bumped,
    as for any status change, so a form that read the old status is stale.
    """
    now = utcnow()
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == current)
        .values(status=TicketStatus.open, updated_at=now, version=Ticket.version + 1),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        return False
    version = db.session.scalar(select(Ticket.version).where(Ticket.id == ticket.id))
    for name, value in (("status", TicketStatus.open), ("updated_at", now), ("version", version)):
        set_committed_value(ticket, name, value)
    generations.bump(
        ticket_generation(ticket.municipality_id),
        ticket_page_generation(ticket.municipality_id, ticket.id),
    )
    record_event(ticket, actor, "status", {"from": current.value, "to": TicketStatus.open.value})
    return True


def mark_escalated(ticket: Ticket, actor: User, case: Any = None) -> Ticket:
    """Called by the escalation service only: the ticket now waits on a vendor case."""
    if ticket.status not in ESCALATABLE:
        raise InvalidTransition(_l("Only an unresolved ticket can be escalated. Reopen it first."))
    case_number = getattr(case, "number", case)
    if ticket.status != TicketStatus.escalated:
        apply_status(ticket, actor, TicketStatus.escalated)
    ticket.updated_at = utcnow()
    record_event(ticket, actor, "escalated", {"case": case_number})
    db.session.flush()
    # the reporter learns that the vendor now has it (not the content shared with the vendor)
    notices.notify(
        notices.reporters(ticket),
        NotificationEvent.ticket_escalated,
        ticket,
        actor,
        extra={"case": case_number} if case_number else None,
    )
    return ticket


def assign(
    actor: User, ticket: Ticket, assignee: User | None, *, version: int | None = None
) -> Ticket:
    """Give the ticket to an active colleague (or nobody); a new ticket opens on assignment."""
    _may_change(ticket, version, policy.can_assign(actor, ticket))
    if assignee is not None and (
        not policy.can_take_tickets(assignee, ticket.municipality_id) or not assignee.active
    ):
        raise ValidationFailed(
            fields={"assignee": str(_l("Choose an active colleague in your municipality."))}
        )
    if assignee == ticket.assignee:
        return ticket
    ticket.assignee = assignee
    ticket.updated_at = utcnow()
    who = (assignee.name, assignee.id) if assignee else (None, None)
    record_event(ticket, actor, "assigned", assignee_data(*who))
    if ticket.status == TicketStatus.new and assignee is not None:
        apply_status(ticket, actor, TicketStatus.open)
    db.session.flush()
    if assignee is not None and assignee.id != actor.id:
        notices.notify([assignee], NotificationEvent.ticket_assigned, ticket, actor)
    return ticket


def set_priority(
    actor: User, ticket: Ticket, priority: Priority | str, *, version: int | None = None
) -> Ticket:
    """Staff re-prioritise; the history line keeps the old value."""
    _may_change(ticket, version, policy.can_change_priority(actor, ticket))
    priority = _parse_choice(Priority, priority, "priority", _l("Choose a valid priority."))
    if priority != ticket.priority:
        record_event(
            ticket, actor, "priority", {"from": ticket.priority.value, "to": priority.value}
        )
        ticket.priority = priority
        ticket.updated_at = utcnow()
        db.session.flush()
    return ticket


def set_category(
    actor: User, ticket: Ticket, category: Category, *, version: int | None = None
) -> Ticket:
    """Only a category of the ticket's own system: the system decides the vendor (DESIGN §3.5)."""
    _may_change(ticket, version, policy.can_change_category(actor, ticket))
    if category.system_id != ticket.system_id:
        raise ValidationFailed(
            fields={"category": str(_l("The category does not belong to the ticket's system."))}
        )
    if category.id != ticket.category_id:
        record_event(
            ticket,
            actor,
            "category",
            {"from": ticket.category.name if ticket.category else None, "to": category.name},
        )
        ticket.category = category
        ticket.updated_at = utcnow()
        db.session.flush()
    return ticket


def change_handling(
    actor: User,
    ticket: Ticket,
    *,
    status: TicketStatus | str | None,
    assignee: User | None,
    priority: Priority | str | None,
    version: int | None,
) -> list[str]:
    """The side form's changes in one go (priority, assignee, then status); what changed."""
    check_version(ticket, version)
    changed = []
    if priority is not None and priority != ticket.priority:
        set_priority(actor, ticket, priority)
        changed.append("priority")
    if assignee != ticket.assignee:
        assign(actor, ticket, assignee)
        changed.append("assignee")
    if status is not None and status != ticket.status:
        change_status(actor, ticket, status)
        changed.append("status")
    return changed


@dataclass
class BulkResult:
    """Ticket numbers changed, and those skipped because the change is not allowed for them."""

    changed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def bulk_assign(actor: User, numbers: Iterable[str], assignee: User | None) -> BulkResult:
    result = BulkResult()
    for ticket in _bulk_tickets(actor, numbers):
        assign(actor, ticket, assignee)
        result.changed.append(ticket.number)
    return result


def bulk_status(actor: User, numbers: Iterable[str], target: TicketStatus) -> BulkResult:
    """Tickets for which the change is not allowed are skipped and reported, not failed."""
    result = BulkResult()
    for ticket in _bulk_tickets(actor, numbers):
        if ticket.status == target:
            continue
        try:
            _check_transition(actor, ticket, target)
        except (InvalidTransition, Forbidden):
            result.skipped.append(ticket.number)
            continue
        change_status(actor, ticket, target)
        result.changed.append(ticket.number)
    return result


def _bulk_tickets(actor: User, numbers: Iterable[str]) -> list[Ticket]:
    if not policy.can_triage(actor):
        raise Forbidden()
    numbers = sorted({n for n in numbers if n})[:500]
    if not numbers:
        raise ValidationFailed(fields={"tickets": str(_l("Select at least one ticket."))})
    return list(
        db.session.scalars(
            policy.tickets_visible_to(actor)
            .where(Ticket.number.in_(numbers))
            .options(joinedload(Ticket.created_by), joinedload(Ticket.assignee))
            .order_by(Ticket.id)
        )
    )

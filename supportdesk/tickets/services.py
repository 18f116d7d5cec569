"""Ticket rules: creation with numbering and routing, entries, life cycle, triage lists.

Services take the acting user, check policy, change and flush; the caller commits.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import filetype
from blinker import Namespace
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, insert, or_, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from supportdesk import policy
from supportdesk.accounts.models import Category, Institution, Role, System, User
from supportdesk.cache import fragments, generations
from supportdesk.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from supportdesk.extensions import db, utcnow
from supportdesk.numbering import next_value
from supportdesk.sqlite_locks import start_writing
from supportdesk.tickets.models import (
    Attachment,
    EntryKind,
    Priority,
    Queue,
    RoutingRule,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
    TicketView,
    routing_generation,
)

# Other domains react to new tickets without tickets depending on them.
ticket_created = Namespace().signal("ticket-created")

S = TicketStatus

# DESIGN §4. `escalated` is entered only through mark_escalated (the escalation service).
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.new: frozenset({S.open, S.waiting, S.resolved, S.closed}),
    S.open: frozenset({S.waiting, S.resolved, S.closed}),
    S.waiting: frozenset({S.open, S.resolved, S.closed}),
    S.escalated: frozenset({S.open, S.waiting, S.resolved, S.closed}),
    S.resolved: frozenset({S.open, S.closed}),
    S.closed: frozenset({S.open}),
}
ESCALATABLE = frozenset({S.new, S.open, S.waiting, S.escalated})

STATUS_LABELS = {
    S.new: _l("New"),
    S.open: _l("Open"),
    S.waiting: _l("Waiting for requester"),
    S.escalated: _l("Escalated"),
    S.resolved: _l("Resolved"),
    S.closed: _l("Closed"),
}
PRIORITY_LABELS = {
    Priority.low: _l("Low"),
    Priority.normal: _l("Normal"),
    Priority.high: _l("High"),
    Priority.critical: _l("Critical"),
}
SOURCE_LABELS = {
    TicketSource.web: _l("Web"),
    TicketSource.hotline: _l("Hotline"),
    TicketSource.api: _l("API"),
}

SUBJECT_MAX = 200
BODY_MAX = 20000

# --- numbering ---------------------------------------------------------------------


def format_number(code: str, year: int, value: int) -> str:
    return f"{code}-{year}-{value:06d}"


def allocate_number(municipality_code: str, year: int) -> str:
    """Counter per municipality and year: concurrency-safe and never reused (numbering.py)."""
    return format_number(
        municipality_code, year, next_value("ticket", f"{municipality_code}-{year}")
    )


# --- creation ------------------------------------------------------------------------


@dataclass
class Upload:
    """A file as received, independent of Werkzeug so the API and CLI can use it."""

    filename: str
    stream: IO[bytes]


def create_ticket(
    actor: User,
    *,
    system: System | None,
    category: Category | None,
    subject: str,
    description: str,
    priority: Priority | str = Priority.normal,
    institution: Institution | None = None,
    source: TicketSource = TicketSource.web,
    requester_name: str | None = None,
    requester_phone: str | None = None,
    requester_email: str | None = None,
    uploads: Sequence[Upload] = (),
    shown_articles: Sequence[str] = (),
) -> Ticket:
    """A new ticket in the actor's municipality, numbered, routed and logged.

    `shown_articles` are the FAQ slugs suggested while it was written; the FAQ
    domain listens to `ticket_created` and remembers them (tickets do not know FAQ).
    """
    if not policy.can_create_ticket(actor):
        raise Forbidden()
    errors: dict[str, str] = {}
    subject = (subject or "").strip()
    description = (description or "").strip()
    if not subject:
        errors["subject"] = str(_l("Write a short subject."))
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = str(_l("The subject may be at most 200 characters."))
    if not description:
        errors["description"] = str(_l("Describe the problem."))
    elif len(description) > BODY_MAX:
        errors["description"] = str(_l("The description is too long."))
    if system is None:
        errors["system"] = str(_l("Choose a system."))
    if category is not None and system is not None and category.system_id != system.id:
        errors["category"] = str(_l("The category does not belong to the chosen system."))
    try:
        priority = Priority(priority)
    except ValueError:
        errors["priority"] = str(_l("Choose a valid priority."))
    if institution is None and actor.role == Role.superuser:
        institution = actor.institution
    if institution is not None and institution.municipality_id != actor.municipality_id:
        errors["institution"] = str(_l("Choose an institution in your municipality."))
    if source == TicketSource.hotline and not (requester_name or "").strip():
        errors["requester_name"] = str(_l("Write the caller's name."))
    if errors:
        raise ValidationFailed(fields=errors)
    assert system is not None  # noqa: S101 — narrowed by the validation above
    checked = [check_upload(u) for u in uploads]
    municipality = actor.municipality
    route = find_route(actor.municipality_id, system, category, institution, source)
    queue_id = route.queue_id if route is not None else None
    assignee = None
    if route is not None and route.assignee_id is not None:
        assignee = db.session.get(User, route.assignee_id)
        if assignee is not None and not assignee.active:
            assignee = None
    if queue_id is None and source == TicketSource.hotline:
        queue_id = db.session.scalar(
            select(Queue.id)
            .where(Queue.municipality_id == actor.municipality_id, Queue.is_hotline.is_(True))
            .order_by(Queue.id)
            .limit(1)
        )

    # Everything above only read; the number and the rows are written under the write
    # lock (on SQLite from here on, see sqlite_locks.start_writing), taken as late as this.
    start_writing()
    now = utcnow()
    ticket = Ticket(
        number=allocate_number(municipality.code, now.year),
        municipality_id=actor.municipality_id,
        institution=institution,
        system=system,
        category=category,
        created_by=actor,
        assignee=assignee,
        queue_id=queue_id,
        subject=subject,
        description=description,
        priority=Priority(priority),
        source=source,
        status=S.new,
        requester_name=_clean(requester_name),
        requester_phone=_clean(requester_phone),
        requester_email=_clean(requester_email),
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    _event(ticket, actor, "created", {"source": source.value})
    if route is not None:
        _event(
            ticket,
            None,
            "routed",
            {"rule": route.name, "queue": route.queue_name, "assignee": route.assignee_name},
        )
    for upload in checked:
        add_attachment(actor, ticket, None, upload)
    db.session.flush()
    if assignee is not None and assignee.id != actor.id:
        _notify([assignee], "ticket_assigned", ticket, actor)
    ticket_created.send(ticket, actor=actor, shown_articles=list(shown_articles))
    return ticket


def new_ticket_entries(user: User, ticket: Ticket) -> list[TicketEntry]:
    """`visible_entries` of a ticket created in this session, without reading them back."""
    if policy.can_see_internal_notes(user, ticket):
        return list(ticket.entries)
    return [e for e in ticket.entries if e.kind != EntryKind.internal_note]


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --- routing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A routing rule as creation needs it: its conditions, outcome and the names logged."""

    name: str
    system_id: int | None
    category_id: int | None
    institution_type: str | None
    source: TicketSource | None
    queue_id: int | None
    queue_name: str | None
    assignee_id: int | None
    assignee_name: str | None

    def matches(
        self,
        system: System,
        category: Category | None,
        institution: Institution | None,
        source: TicketSource,
    ) -> bool:
        """A rule's unset conditions match anything; every set condition must hold."""
        if self.system_id is not None and self.system_id != system.id:
            return False
        if self.category_id is not None and (category is None or self.category_id != category.id):
            return False
        if self.institution_type is not None and (
            institution is None or institution.type != self.institution_type
        ):
            return False
        return not (self.source is not None and self.source != source)


def active_routes(municipality_id: int) -> tuple[Route, ...]:
    """The municipality's active rules by position, cached until a rule or a name changes."""
    names = (
        routing_generation(municipality_id),
        generations.municipality_reference(municipality_id),
        generations.REFERENCE,
    )
    values = fragments.read_generations(*names)  # autoflushes: this transaction's changes are noted
    # changed in this very transaction: the generations are bumped only at its commit
    # (cache/generations.py), so the cache cannot know yet
    if generations.pending(*names):
        return _load_routes(municipality_id)
    return fragments.fragment(
        ("routes", municipality_id, *values), lambda: _load_routes(municipality_id)
    )


def _load_routes(municipality_id: int) -> tuple[Route, ...]:
    rules = db.session.scalars(
        select(RoutingRule)
        .where(RoutingRule.municipality_id == municipality_id, RoutingRule.active.is_(True))
        .options(joinedload(RoutingRule.queue), joinedload(RoutingRule.assignee))
        .order_by(RoutingRule.position, RoutingRule.id)
    ).all()
    return tuple(
        Route(
            name=rule.name,
            system_id=rule.system_id,
            category_id=rule.category_id,
            institution_type=rule.institution_type,
            source=rule.source,
            queue_id=rule.queue_id,
            queue_name=rule.queue.name if rule.queue else None,
            assignee_id=rule.assignee_id,
            assignee_name=rule.assignee.name if rule.assignee else None,
        )
        for rule in rules
    )


def find_route(
    municipality_id: int,
    system: System,
    category: Category | None,
    institution: Institution | None,
    source: TicketSource,
) -> Route | None:
    """First active matching rule (by position): it sets queue and/or assignee."""
    for route in active_routes(municipality_id):
        if route.matches(system, category, institution, source):
            return route
    return None


def routing_rules(actor: User) -> list[RoutingRule]:
    policy.require_municipal_admin(actor)
    return list(
        db.session.scalars(
            select(RoutingRule)
            .where(RoutingRule.municipality_id == actor.municipality_id)
            .options(
                joinedload(RoutingRule.system),
                joinedload(RoutingRule.category),
                joinedload(RoutingRule.queue),
                joinedload(RoutingRule.assignee),
            )
            .order_by(RoutingRule.position, RoutingRule.id)
        )
    )


def get_rule(actor: User, rule_id: int) -> RoutingRule:
    policy.require_municipal_admin(actor)
    rule = db.session.get(RoutingRule, rule_id)
    if rule is None or rule.municipality_id != actor.municipality_id:
        raise NotFound()
    return rule


def save_rule(
    actor: User,
    rule: RoutingRule | None,
    *,
    name: str,
    system: System | None,
    category: Category | None,
    institution_type: Any,
    source: TicketSource | None,
    queue: Queue | None,
    assignee: User | None,
    active: bool = True,
) -> RoutingRule:
    """Create or update a rule of the admin's municipality; a new rule goes last."""
    policy.require_municipal_admin(actor)
    errors: dict[str, str] = {}
    if not (name or "").strip():
        errors["name"] = str(_l("Give the rule a name."))
    if queue is None and assignee is None:
        errors["queue"] = str(_l("Choose a queue, an assignee or both."))
    if queue is not None and queue.municipality_id != actor.municipality_id:
        errors["queue"] = str(_l("Choose a queue in your municipality."))
    if assignee is not None and (
        assignee.municipality_id != actor.municipality_id
        or assignee.role not in (Role.coordinator, Role.municipal_admin, Role.hotline)
    ):
        errors["assignee"] = str(_l("Choose a colleague in your municipality."))
    if category is not None and (system is None or category.system_id != system.id):
        errors["category"] = str(_l("The category does not belong to the chosen system."))
    if errors:
        raise ValidationFailed(fields=errors)
    if rule is None:
        last = db.session.scalar(
            select(func.max(RoutingRule.position)).where(
                RoutingRule.municipality_id == actor.municipality_id
            )
        )
        rule = RoutingRule(municipality_id=actor.municipality_id, position=(last or 0) + 1)
        db.session.add(rule)
    rule.name = name.strip()
    rule.system = system
    rule.category = category
    rule.institution_type = institution_type or None
    rule.source = source
    rule.queue = queue
    rule.assignee = assignee
    rule.active = active
    db.session.flush()
    return rule


def move_rule(actor: User, rule: RoutingRule, direction: int) -> None:
    """Swap with the neighbour above (-1) or below (+1); positions stay dense."""
    rules = routing_rules(actor)
    for index, item in enumerate(rules):
        item.position = index + 1
    index = rules.index(rule)
    other = index + direction
    if 0 <= other < len(rules):
        rules[index].position, rules[other].position = rules[other].position, rules[index].position
    db.session.flush()


def delete_rule(actor: User, rule: RoutingRule) -> None:
    policy.require_municipal_admin(actor)
    db.session.delete(rule)
    db.session.flush()


def create_queue(actor: User, name: str, is_hotline: bool = False) -> Queue:
    policy.require_municipal_admin(actor)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(fields={"name": str(_l("Give the queue a name."))})
    slug = _slugify(name)
    exists = db.session.scalar(
        select(Queue.id).where(Queue.municipality_id == actor.municipality_id, Queue.slug == slug)
    )
    if exists:
        raise ValidationFailed(fields={"name": str(_l("A queue with that name exists."))})
    queue = Queue(
        municipality_id=actor.municipality_id, slug=slug, name=name, is_hotline=is_hotline
    )
    db.session.add(queue)
    db.session.flush()
    return queue


def _slugify(text: str) -> str:
    text = text.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:60] or "koe"


# --- entries -------------------------------------------------------------------------


def _event(ticket: Ticket, actor: User | None, event: str, data: dict[str, Any]) -> TicketEntry:
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


def add_entry(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    internal: bool = False,
    uploads: Sequence[Upload] = (),
) -> TicketEntry:
    """A public reply or an internal note; replies may move the ticket along."""
    if internal:
        if not policy.can_add_internal_note(actor, ticket):
            raise Forbidden(_l("Only municipal ticket staff can write internal notes."))
    elif not policy.can_reply(actor, ticket):
        if ticket.status == S.closed:
            raise InvalidTransition(_l("The ticket is closed. Reopen it to write a reply."))
        raise Forbidden()
    body = (body or "").strip()
    if not body and not uploads:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    if len(body) > BODY_MAX:
        raise ValidationFailed(fields={"body": str(_l("The message is too long."))})
    checked = [check_upload(u) for u in uploads]
    entry = TicketEntry(
        ticket=ticket,
        municipality_id=ticket.municipality_id,
        kind=EntryKind.internal_note if internal else EntryKind.reply,
        author=actor,
        body=body,
        created_at=utcnow(),
    )
    db.session.add(entry)
    for upload in checked:
        add_attachment(actor, ticket, entry, upload)
    ticket.updated_at = utcnow()
    if not internal:
        # Staff answering a new ticket opens it; the requester answering un-waits it.
        staff_answers_new = policy.is_ticket_staff(actor) and ticket.status == S.new
        requester_answers = ticket.created_by_id == actor.id and ticket.status == S.waiting
        if staff_answers_new or requester_answers:
            _set_status(ticket, actor, S.open)
    db.session.flush()
    if internal:
        staff = [
            u
            for u in (ticket.assignee, ticket.created_by)
            if u is not None and u.role in policy.TICKET_STAFF_ROLES
        ]
        _notify(staff, "ticket_internal_note", ticket, actor, excerpt=body)
    else:
        _notify([ticket.created_by, ticket.assignee], "ticket_reply", ticket, actor, excerpt=body)
    return entry


def visible_entries(user: User, ticket: Ticket) -> list[TicketEntry]:
    """The timeline as this user may see it: internal notes only for ticket staff."""
    query = (
        select(TicketEntry)
        .where(TicketEntry.ticket_id == ticket.id)
        .options(joinedload(TicketEntry.author), selectinload(TicketEntry.attachments))
        .order_by(TicketEntry.created_at, TicketEntry.id)
    )
    if not policy.can_see_internal_notes(user, ticket):
        query = query.where(TicketEntry.kind != EntryKind.internal_note)
    return list(db.session.scalars(query))


def visible_attachments(user: User, ticket: Ticket) -> list[Attachment]:
    query = (
        select(Attachment)
        .outerjoin(TicketEntry, Attachment.entry_id == TicketEntry.id)
        .where(Attachment.ticket_id == ticket.id)
        .order_by(Attachment.id)
    )
    if not policy.can_see_internal_notes(user, ticket):
        query = query.where(
            or_(Attachment.entry_id.is_(None), TicketEntry.kind != EntryKind.internal_note)
        )
    return list(db.session.scalars(query))


# --- life cycle ----------------------------------------------------------------------


def check_version(ticket: Ticket, version: int | None) -> None:
    """Optimistic locking for forms and the API: a stale version is 409."""
    if version is not None and int(version) != ticket.version:
        raise Conflict()


def reopen_deadline(ticket: Ticket, days: int | None = None) -> datetime | None:
    days = days if days is not None else current_app.config["SUPPORTDESK"].reopen_days
    since = ticket.resolved_at or ticket.closed_at
    if since is None:
        return None
    return since + timedelta(days=days)


def can_reopen_now(user: User, ticket: Ticket) -> bool:
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
    if target == S.escalated:
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
    reopening = current in (S.resolved, S.closed) and target == S.open
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
    try:
        target = TicketStatus(target)
    except ValueError:
        raise ValidationFailed(fields={"status": str(_l("Unknown status."))}) from None
    if target == ticket.status:
        return ticket
    _check_transition(actor, ticket, target)
    _set_status(ticket, actor, target)
    db.session.flush()
    if ticket.created_by_id != actor.id:
        _notify([ticket.created_by], "ticket_status", ticket, actor)
    return ticket


def _set_status(ticket: Ticket, actor: User | None, target: TicketStatus) -> None:
    previous = ticket.status
    now = utcnow()
    ticket.status = target
    ticket.updated_at = now
    if target == S.resolved:
        ticket.resolved_at = now
    elif target == S.closed:
        ticket.closed_at = now
    elif target == S.open and previous in (S.resolved, S.closed):
        ticket.resolved_at = None
        ticket.closed_at = None
    _event(ticket, actor, "status", {"from": previous.value, "to": target.value})


def mark_escalated(ticket: Ticket, actor: User, case: Any = None) -> Ticket:
    """Called by the escalation service only: the ticket now waits on a vendor case."""
    if ticket.status not in ESCALATABLE:
        raise InvalidTransition(_l("Only an unresolved ticket can be escalated. Reopen it first."))
    case_number = getattr(case, "number", case)
    if ticket.status != S.escalated:
        _set_status(ticket, actor, S.escalated)
    ticket.updated_at = utcnow()
    _event(ticket, actor, "escalated", {"case": case_number})
    db.session.flush()
    return ticket


def add_system_event(
    ticket: Ticket, actor: User | None, event: str, data: dict[str, Any]
) -> TicketEntry:
    """For other domains (escalation, SLA, known issues): one history line on the ticket."""
    entry = _event(ticket, actor, event, data)
    ticket.updated_at = utcnow()
    db.session.flush()
    return entry


def assign(
    actor: User, ticket: Ticket, assignee: User | None, *, version: int | None = None
) -> Ticket:
    check_version(ticket, version)
    if not policy.can_assign(actor, ticket):
        raise Forbidden()
    if assignee is not None and (
        assignee.municipality_id != ticket.municipality_id
        or assignee.role not in (Role.coordinator, Role.municipal_admin, Role.hotline)
        or not assignee.active
    ):
        raise ValidationFailed(
            fields={"assignee": str(_l("Choose an active colleague in your municipality."))}
        )
    if assignee == ticket.assignee:
        return ticket
    ticket.assignee = assignee
    ticket.updated_at = utcnow()
    _event(ticket, actor, "assigned", {"assignee": assignee.name if assignee else None})
    if ticket.status == S.new and assignee is not None:
        _set_status(ticket, actor, S.open)
    db.session.flush()
    if assignee is not None and assignee.id != actor.id:
        _notify([assignee], "ticket_assigned", ticket, actor)
    return ticket


def set_priority(
    actor: User, ticket: Ticket, priority: Priority | str, *, version: int | None = None
) -> Ticket:
    check_version(ticket, version)
    if not policy.can_change_priority(actor, ticket):
        raise Forbidden()
    try:
        priority = Priority(priority)
    except ValueError:
        raise ValidationFailed(fields={"priority": str(_l("Choose a valid priority."))}) from None
    if priority != ticket.priority:
        _event(ticket, actor, "priority", {"from": ticket.priority.value, "to": priority.value})
        ticket.priority = priority
        ticket.updated_at = utcnow()
        db.session.flush()
    return ticket


def set_category(
    actor: User, ticket: Ticket, category: Category, *, version: int | None = None
) -> Ticket:
    check_version(ticket, version)
    if not policy.can_change_category(actor, ticket):
        raise Forbidden()
    if category.system_id != ticket.system_id:
        raise ValidationFailed(
            fields={"category": str(_l("The category does not belong to the ticket's system."))}
        )
    if category.id != ticket.category_id:
        _event(
            ticket,
            actor,
            "category",
            {"from": ticket.category.name if ticket.category else None, "to": category.name},
        )
        ticket.category = category
        ticket.updated_at = utcnow()
        db.session.flush()
    return ticket


@dataclass
class BulkResult:
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


# --- access log ----------------------------------------------------------------------


def log_view(user: User, ticket: Ticket, channel: str = "page") -> None:
    """Every view is logged (DESIGN §3.9) in its own short transaction.

    A GET request's session runs a read transaction; the log row must neither
    turn that into a write nor be lost when the request's session rolls back.
    """
    with db.engine.begin() as conn:
        conn.execute(
            insert(TicketView.__table__).values(
                ticket_id=ticket.id,
                user_id=user.id,
                municipality_id=ticket.municipality_id,
                channel=channel,
                at=utcnow(),
            )
        )


# --- attachments ---------------------------------------------------------------------

# Detected type → allowed extensions; text is recognised separately (no magic bytes).
ALLOWED_TYPES = {
    "application/pdf": {"pdf"},
    "image/png": {"png"},
    "image/jpeg": {"jpg", "jpeg"},
    "image/gif": {"gif"},
    "image/webp": {"webp"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"docx"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"xlsx"},
}
TEXT_TYPES = {"txt": "text/plain", "csv": "text/csv", "log": "text/plain"}


def safe_filename(name: str) -> str:
    """Display name: no path, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".") or "fil"
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:190] + dot + ext[:9]) if dot else name[:200]
    return name


def detect_type(head: bytes, filename: str) -> str | None:
    """Content decides; the extension must agree with it."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime if ext in ALLOWED_TYPES.get(kind.mime, set()) else None
    if ext in TEXT_TYPES and b"\x00" not in head:
        try:
            head.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(head) - 4:  # a multi-byte char cut at the end is fine
                return None
        return TEXT_TYPES[ext]
    return None


def upload_dir() -> Path:
    return Path(current_app.config["SUPPORTDESK"].upload_dir)


@dataclass
class CheckedUpload:
    """An upload that passed the size and content checks, held in memory until stored."""

    filename: str
    data: bytes
    content_type: str


def check_upload(upload: Upload | CheckedUpload) -> CheckedUpload:
    """Size and type by content; done for every file before anything is written."""
    if isinstance(upload, CheckedUpload):
        return upload
    filename = safe_filename(upload.filename)
    limit = current_app.config["SUPPORTDESK"].max_upload_mb * 1024 * 1024
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise ValidationFailed(
            _l("The file is too large."),
            fields={"attachments": str(_l("The file %(name)s is too large.", name=filename))},
        )
    if not data:
        raise ValidationFailed(
            fields={"attachments": str(_l("The file %(name)s is empty.", name=filename))}
        )
    content_type = detect_type(data[:8192], filename)
    if content_type is None:
        raise ValidationFailed(
            _l("That file type is not allowed."),
            fields={
                "attachments": str(
                    _l(
                        "%(name)s is not an allowed file type (PDF, images, Word, Excel, text).",
                        name=filename,
                    )
                )
            },
        )
    return CheckedUpload(filename, data, content_type)


def add_attachment(
    actor: User, ticket: Ticket, entry: TicketEntry | None, upload: Upload | CheckedUpload
) -> Attachment:
    """Store under a generated name outside static/, after checking size and content."""
    checked = check_upload(upload)
    filename, data, content_type = checked.filename, checked.data, checked.content_type
    storage_name = uuid.uuid4().hex
    directory = upload_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / storage_name
    with open(path, "xb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)
    attachment = Attachment(
        ticket=ticket,
        entry=entry,
        municipality_id=ticket.municipality_id,
        uploaded_by=actor,
        filename=filename,
        storage_name=storage_name,
        content_type=content_type,
        size=len(data),
    )
    db.session.add(attachment)
    return attachment


def attachment_path(attachment: Attachment) -> Path:
    return upload_dir() / attachment.storage_name


# --- lists ---------------------------------------------------------------------------

SORTS = ("newest", "oldest", "priority", "updated")
PAGE_SIZES = (25, 50, 100)


@dataclass
class TicketFilters:
    status: list[TicketStatus] = field(default_factory=list)
    system: str | None = None
    category: int | None = None
    institution: str | None = None
    priority: Priority | None = None
    assignee: int | None = None
    unassigned: bool = False
    queue: int | None = None
    scope: str | None = None  # superuser: "mine" / "institution"; hotline: "mine" / "queue"
    q: str | None = None
    sort: str = "newest"


@dataclass
class TicketPage:
    items: list[Ticket]
    next_cursor: str | None
    counts: dict[TicketStatus, int]
    total: int


def _priority_rank():
    return case(
        (Ticket.priority == Priority.critical, 3),
        (Ticket.priority == Priority.high, 2),
        (Ticket.priority == Priority.normal, 1),
        else_=0,
    )


def _sort_columns(sort: str) -> tuple[list[Any], bool]:
    """Columns of the keyset and whether the order is descending (all keys one way)."""
    match sort:
        case "oldest":
            return [Ticket.created_at, Ticket.id], False
        case "priority":
            return [_priority_rank(), Ticket.created_at, Ticket.id], True
        case "updated":
            return [Ticket.updated_at, Ticket.id], True
        case _:
            return [Ticket.created_at, Ticket.id], True


def _cursor_values(ticket: Ticket, sort: str) -> list[Any]:
    match sort:
        case "oldest" | "newest":
            values = [ticket.created_at.isoformat(), ticket.id]
        case "priority":
            values = [ticket.priority.rank, ticket.created_at.isoformat(), ticket.id]
        case "updated":
            values = [ticket.updated_at.isoformat(), ticket.id]
        case _:
            values = [ticket.created_at.isoformat(), ticket.id]
    return values


def encode_cursor(ticket: Ticket, sort: str) -> str:
    raw = json.dumps([sort, *_cursor_values(ticket, sort)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> list[Any]:
    """Turn a cursor back into typed keyset values; a bad cursor is a 422, never a 500."""
    bad = ValidationFailed(fields={"cursor": str(_l("Invalid cursor."))})
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if not isinstance(values, list) or not values or values[0] != sort:
        raise bad
    values = values[1:]
    expected = 3 if sort == "priority" else 2
    if len(values) != expected or not isinstance(values[-1], int):
        raise bad
    try:
        typed: list[Any] = []
        for value in values[:-1]:
            if isinstance(value, int):
                typed.append(value)
            else:
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    raise bad
                typed.append(parsed)
        typed.append(values[-1])
    except (TypeError, ValueError):
        raise bad from None
    return typed


def _filtered(user: User, filters: TicketFilters) -> Select:
    query = policy.tickets_visible_to(user)
    if filters.system:
        query = query.where(
            Ticket.system_id.in_(select(System.id).where(System.slug == filters.system))
        )
    if filters.category:
        query = query.where(Ticket.category_id == filters.category)
    if filters.institution:
        query = query.where(
            Ticket.institution_id.in_(
                select(Institution.id).where(Institution.number == filters.institution)
            )
        )
    if filters.priority:
        query = query.where(Ticket.priority == filters.priority)
    if filters.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    elif filters.assignee:
        query = query.where(Ticket.assignee_id == filters.assignee)
    if filters.queue:
        query = query.where(Ticket.queue_id == filters.queue)
    if filters.scope == "mine":
        query = query.where(Ticket.created_by_id == user.id)
    elif filters.scope == "institution" and user.institution_id is not None:
        query = query.where(Ticket.institution_id == user.institution_id)
    elif filters.scope == "queue":
        query = query.where(
            Ticket.queue_id.in_(
                select(Queue.id).where(
                    Queue.municipality_id == user.municipality_id, Queue.is_hotline.is_(True)
                )
            )
        )
    elif filters.scope == "assigned":
        query = query.where(Ticket.assignee_id == user.id)
    if filters.q:
        text = filters.q.strip()[:100]
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Ticket.number.ilike(pattern, escape="\\"),
                Ticket.subject.ilike(pattern, escape="\\"),
                Ticket.description.ilike(pattern, escape="\\"),
                Ticket.requester_name.ilike(pattern, escape="\\"),
            )
        )
    return query


def list_tickets(
    user: User,
    filters: TicketFilters,
    *,
    cursor: str | None = None,
    limit: int = 25,
    with_counts: bool = True,
) -> TicketPage:
    """One page by keyset (no OFFSET) plus counts per status: a fixed number of queries."""
    sort = filters.sort if filters.sort in SORTS else "newest"
    limit = max(1, min(int(limit), 200))
    base = _filtered(user, filters)
    counts: dict[TicketStatus, int] = dict.fromkeys(TicketStatus, 0)
    if with_counts:
        count_query = base.with_only_columns(Ticket.status, func.count()).group_by(Ticket.status)
        for status, n in db.session.execute(count_query):
            counts[TicketStatus(status)] = n
    query = base
    if filters.status:
        query = query.where(Ticket.status.in_(filters.status))
    columns, descending = _sort_columns(sort)
    if cursor:
        values = decode_cursor(cursor, sort)
        key = tuple_(*columns)
        query = query.where(
            key < tuple_(*_typed_literals(columns, values))
            if descending
            else key > tuple_(*_typed_literals(columns, values))
        )
    order = [c.desc() if descending else c.asc() for c in columns]
    query = (
        query.options(
            joinedload(Ticket.institution),
            joinedload(Ticket.system),
            joinedload(Ticket.category),
            joinedload(Ticket.assignee),
            joinedload(Ticket.created_by),
            joinedload(Ticket.queue),
        )
        .order_by(*order)
        .limit(limit + 1)
    )
    rows = list(db.session.scalars(query).unique())
    next_cursor = encode_cursor(rows[limit - 1], sort) if len(rows) > limit else None
    total = sum(counts[s] for s in filters.status) if filters.status else sum(counts.values())
    return TicketPage(items=rows[:limit], next_cursor=next_cursor, counts=counts, total=total)


def _typed_literals(columns: list[Any], values: list[Any]) -> list[Any]:
    from sqlalchemy import literal

    return [literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]


# --- notifications -------------------------------------------------------------------


def _notify(
    recipients: Iterable[User | None],
    event: str,
    ticket: Ticket,
    actor: User,
    excerpt: str | None = None,
) -> None:
    """Hand over to the notifications domain (outbox in this same transaction)."""
    people = {u.id: u for u in recipients if u is not None and u.id != actor.id and u.active}
    if not people:
        return
    from supportdesk.notifications import services as notifications
    from supportdesk.notifications.models import NotificationEvent

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
        NotificationEvent(event),
        url=f"/tickets/{ticket.number}",
        context=context,
        actor=actor,
    )


# --- choices and lookups for forms -------------------------------------------------


def topics() -> list[tuple[str, str, str | None, str]]:
    """(value, system name, category name, system slug) for the "System - Kategori" select."""
    systems = db.session.scalars(
        select(System).options(selectinload(System.categories)).order_by(System.name)
    ).all()
    rows: list[tuple[str, str, str | None, str]] = []
    for system in systems:
        if not system.categories:
            rows.append((f"s{system.id}", system.name, None, system.slug))
        for category in system.categories:
            rows.append((f"c{category.id}", system.name, category.name, system.slug))
    return rows


def resolve_topic(value: str | None) -> tuple[System | None, Category | None]:
    """Turn a topic value ("c12" or "s3") into the system and category."""
    value = value or ""
    if value.startswith("c") and value[1:].isdigit():
        category = db.session.get(Category, int(value[1:]))
        if category is not None:
            return category.system, category
    if value.startswith("s") and value[1:].isdigit():
        return db.session.get(System, int(value[1:])), None
    return None, None


def find_system(slug: str | None) -> System | None:
    if not slug:
        return None
    return db.session.scalar(select(System).where(System.slug == slug))


def find_category(system: System | None, slug: str | None) -> Category | None:
    if system is None or not slug:
        return None
    return db.session.scalar(
        select(Category).where(Category.system_id == system.id, Category.slug == slug)
    )


def institution_options(user: User) -> list[Institution]:
    return list(
        db.session.scalars(policy.institutions_visible_to(user).where(Institution.active.is_(True)))
    )


def find_institution(user: User, text: str) -> Institution:
    """Hotline lookup by number or name; ambiguous or unknown input is a field error."""
    text = (text or "").strip()
    visible = policy.institutions_visible_to(user).where(Institution.active.is_(True))
    exact = db.session.scalar(
        visible.where(or_(Institution.number == text, func.lower(Institution.name) == text.lower()))
    )
    if exact is not None:
        return exact
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    matches = db.session.scalars(
        visible.where(Institution.name.ilike(pattern, escape="\\")).limit(6)
    ).all()
    if len(matches) == 1:
        return matches[0]
    if not matches:
        message = _l("No institution matches “%(text)s”.", text=text)
    else:
        message = _l(
            "Several institutions match: %(names)s. Write more of the name or the number.",
            names=", ".join(m.name for m in matches[:5]),
        )
    raise ValidationFailed(fields={"institution_lookup": str(message)})


def get_institution_by_number(user: User, number: str | None) -> Institution | None:
    if not number:
        return None
    institution = db.session.scalar(
        policy.institutions_visible_to(user).where(Institution.number == number)
    )
    if institution is None:
        raise ValidationFailed(fields={"institution": str(_l("Unknown institution."))})
    return institution


def assignee_options(user: User) -> list[User]:
    return list(db.session.scalars(policy.assignable_users(user)))


def get_assignee(user: User, user_id: int | str | None) -> User | None:
    """A colleague the ticket may be assigned to, or None for "nobody"."""
    if user_id in (None, "", "0"):
        return None
    try:
        ident = int(user_id)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed(fields={"assignee": str(_l("Unknown colleague."))}) from None
    assignee = db.session.scalar(policy.assignable_users(user).where(User.id == ident))
    if assignee is None:
        raise ValidationFailed(fields={"assignee": str(_l("Unknown colleague."))})
    return assignee


def find_assignee_by_email(user: User, email: str | None) -> User | None:
    if not email:
        return None
    assignee = db.session.scalar(
        policy.assignable_users(user).where(User.email == email.strip().lower())
    )
    if assignee is None:
        raise ValidationFailed(fields={"assignee": str(_l("Unknown colleague."))})
    return assignee


def queue_options(user: User) -> list[Queue]:
    return list(db.session.scalars(policy.queues_visible_to(user)))


def systems_with_categories() -> list[System]:
    return list(
        db.session.scalars(
            select(System).options(selectinload(System.categories)).order_by(System.name)
        )
    )


def load_detail(ticket: Ticket) -> Ticket:
    """Eager-load what the ticket page shows in one round trip."""
    return db.session.scalars(
        select(Ticket)
        .where(Ticket.id == ticket.id)
        .options(
            joinedload(Ticket.institution),
            joinedload(Ticket.system),
            joinedload(Ticket.category),
            joinedload(Ticket.assignee),
            joinedload(Ticket.created_by),
            joinedload(Ticket.queue),
        )
    ).one()


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def get_system_by_id(value: Any) -> System | None:
    ident = _int_or_none(value)
    return db.session.get(System, ident) if ident else None


def get_category_by_id(value: Any) -> Category | None:
    ident = _int_or_none(value)
    return db.session.get(Category, ident) if ident else None


def get_queue(user: User, value: Any) -> Queue | None:
    ident = _int_or_none(value)
    if ident is None:
        return None
    queue = db.session.scalar(policy.queues_visible_to(user).where(Queue.id == ident))
    if queue is None:
        raise ValidationFailed(fields={"queue": str(_l("Unknown queue."))})
    return queue

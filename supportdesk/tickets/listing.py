"""Ticket lists: filters, keyset cursors and one page of the caller's list or triage queue.

Every list starts from policy.tickets_visible_to; pages go by keyset (no OFFSET).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from supportdesk import policy
from supportdesk.accounts.models import Institution, System, User
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.safe_input import database_id
from supportdesk.tickets.models import Priority, Queue, Ticket, TicketStatus

SORTS = ("newest", "oldest", "priority", "updated")
PAGE_SIZES = (25, 50, 100)
# what a row of the list and the ticket page show, loaded with the ticket in one query
SHOWN_RELATIONS = (
    joinedload(Ticket.institution),
    joinedload(Ticket.system),
    joinedload(Ticket.category),
    joinedload(Ticket.assignee),
    joinedload(Ticket.created_by),
    joinedload(Ticket.queue),
)


@dataclass
class TicketFilters:
    """What the list (page or API) asks for; every filter only narrows tickets_visible_to."""

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


# The queue's default view: every status but closed (closed tickets would fill the first page).
NOT_CLOSED = [s for s in TicketStatus if s != TicketStatus.closed]


def filters_from_args(args: MultiDict[str, str], triage: bool = False) -> TicketFilters:
    """The list's filters from a query string (the ticket list, the queue, the report's
    ticket export). The queue (triage) shows every status but closed unless a status is
    asked for; `status=all` shows closed tickets too. Unknown values are ignored."""
    statuses = []
    for value in args.getlist("status"):
        try:
            statuses.append(TicketStatus(value))
        except ValueError:
            continue
    if triage and not statuses and "all" not in args.getlist("status"):
        statuses = list(NOT_CLOSED)
    try:
        priority = Priority(args["priority"]) if args.get("priority") else None
    except ValueError:
        priority = None
    return TicketFilters(
        status=statuses,
        system=args.get("system") or None,
        category=args.get("category", type=database_id),
        institution=args.get("institution") or None,
        priority=priority,
        assignee=args.get("assignee", type=database_id),
        unassigned=args.get("unassigned") == "1",
        queue=args.get("queue", type=database_id),
        scope=args.get("scope") or None,
        q=args.get("q") or None,
        sort=args.get("sort") if args.get("sort") in SORTS else "newest",
    )


# Other domains add what a row shows about them (escalation: the vendor case's SLA):
# each takes the page's tickets and answers {ticket id: value} with at most one query.
ROW_DETAILS: dict[str, Callable[[list[Ticket]], dict[int, Any]]] = {}


def mine_query(user_id: int) -> str:
    """The "Mine" view: the user's own tickets that are not closed, as a query string."""
    return urlencode([("assignee", user_id), *(("status", s.value) for s in NOT_CLOSED)])


def row_details(tickets: list[Ticket]) -> dict[str, dict[int, Any]]:
    return {name: provider(tickets) for name, provider in ROW_DETAILS.items()}


@dataclass
class TicketPage:
    """One page of the list with the next page's cursor and the counts per status."""

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
    query = query.options(*SHOWN_RELATIONS).order_by(*order).limit(limit + 1)
    rows = list(db.session.scalars(query).unique())
    next_cursor = encode_cursor(rows[limit - 1], sort) if len(rows) > limit else None
    total = sum(counts[s] for s in filters.status) if filters.status else sum(counts.values())
    return TicketPage(items=rows[:limit], next_cursor=next_cursor, counts=counts, total=total)


def _typed_literals(columns: list[Any], values: list[Any]) -> list[Any]:
    return [literal(v, type_=c.type) for c, v in zip(columns, values, strict=True)]

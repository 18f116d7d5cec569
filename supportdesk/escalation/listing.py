"""The case queue: filters, keyset pages and the counts above the list.

Every list starts from `policy.cases_visible_to`, so the vendor sees its cases from
every municipality and a municipality its cases with every vendor, never more.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import selectinload

from supportdesk import policy
from supportdesk.accounts.models import Municipality, System, User
from supportdesk.errors import ValidationFailed
from supportdesk.escalation.models import OPEN_CASE_STATUSES, CaseStatus, SlaState, VendorCase
from supportdesk.extensions import db
from supportdesk.tickets import listing as ticket_listing
from supportdesk.tickets.models import Priority, Ticket

PAGE_SIZE = 25
# The status filter's extra value: every open status at once (not a CaseStatus).
ALL_OPEN = "open"


@dataclass
class CaseFilters:
    status: str | None = None  # a CaseStatus value or ALL_OPEN
    priority: str | None = None
    municipality: str | None = None
    system: str | None = None
    sla: str | None = None
    assignee: str | None = None  # user id, "me" or "none"
    cursor: str | None = None

    @classmethod
    def from_query(cls, args: Mapping[str, str]) -> CaseFilters:
        """The filters of a query string (page or API); empty values filter nothing."""
        return cls(
            status=args.get("status") or None,
            priority=args.get("priority") or None,
            municipality=args.get("municipality") or None,
            system=args.get("system") or None,
            sla=args.get("sla") or None,
            assignee=args.get("assignee") or None,
            cursor=args.get("cursor") or None,
        )


@dataclass
class CasePage:
    cases: list[VendorCase]
    next_cursor: str | None


def _encode_cursor(case: VendorCase) -> str:
    raw = json.dumps([case.created_at.isoformat(), case.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, ident = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(ident)
    except (ValueError, TypeError):
        raise ValidationFailed(fields={"cursor": str(_l("Invalid page cursor."))}) from None


def _checked_filters(query: Select, filters: CaseFilters) -> Select:
    """Status, priority and SLA state: a value outside the vocabulary is a field error."""
    errors: dict[str, str] = {}
    if filters.status:
        if filters.status == ALL_OPEN:
            query = query.where(VendorCase.status.in_(list(OPEN_CASE_STATUSES)))
        elif filters.status in CaseStatus.__members__:
            query = query.where(VendorCase.status == CaseStatus(filters.status))
        else:
            errors["status"] = str(_l("Unknown status."))
    if filters.priority:
        if filters.priority in Priority.__members__:
            query = query.where(VendorCase.priority == Priority(filters.priority))
        else:
            errors["priority"] = str(_l("Choose a valid priority."))
    if filters.sla:
        if filters.sla in SlaState.__members__:
            query = query.where(VendorCase.sla_state == SlaState(filters.sla))
        else:
            errors["sla"] = str(_l("Unknown SLA state."))
    if errors:
        raise ValidationFailed(fields=errors)
    return query


def _narrowed(query: Select, user: User, filters: CaseFilters) -> Select:
    """Municipality, system and assignee; an unknown value simply matches nothing."""
    if filters.municipality:
        query = query.join(Municipality, Municipality.id == VendorCase.municipality_id).where(
            Municipality.slug == filters.municipality
        )
    if filters.system:
        query = query.join(System, System.id == VendorCase.system_id).where(
            System.slug == filters.system
        )
    if filters.assignee == "me":
        query = query.where(VendorCase.assignee_id == user.id)
    elif filters.assignee == "none":
        query = query.where(VendorCase.assignee_id.is_(None))
    elif filters.assignee and filters.assignee.isdigit():
        query = query.where(VendorCase.assignee_id == int(filters.assignee))
    return query


def list_cases(user: User, filters: CaseFilters, size: int = PAGE_SIZE) -> CasePage:
    """Newest first, keyset on (created_at, id); every filter is optional."""
    query = _narrowed(_checked_filters(policy.cases_visible_to(user), filters), user, filters)
    if filters.cursor:
        created, ident = _decode_cursor(filters.cursor)
        query = query.where(
            or_(
                VendorCase.created_at < created,
                and_(VendorCase.created_at == created, VendorCase.id < ident),
            )
        )
    query = (
        query.options(
            selectinload(VendorCase.municipality),
            selectinload(VendorCase.system),
            selectinload(VendorCase.assignee),
            selectinload(VendorCase.vendor),
        )
        .order_by(VendorCase.created_at.desc(), VendorCase.id.desc())
        .limit(size + 1)
    )
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    return CasePage(rows, _encode_cursor(rows[-1]) if more and rows else None)


def case_counts_by_state(user: User) -> dict[str, int]:
    """For the queue header: open cases per SLA state."""
    visible = (
        policy.cases_visible_to(user)
        .where(VendorCase.status.in_(list(OPEN_CASE_STATUSES)))
        .subquery()
    )
    rows = db.session.execute(
        select(visible.c.sla_state, func.count()).group_by(visible.c.sla_state)
    ).all()
    return {str(state): count for state, count in rows}


@dataclass(frozen=True)
class QueueViewer:
    """The queue as one side sees it: the vendor lists every municipality's cases and also
    filters them by municipality and agent; a municipality lists its cases with every vendor."""

    vendor_side: bool
    systems: list[System]
    municipalities: list[Municipality] = field(default_factory=list)
    agents: list[User] = field(default_factory=list)
    statuses: tuple[CaseStatus, ...] = tuple(CaseStatus)
    priorities: tuple[Priority, ...] = tuple(reversed(Priority))  # most urgent first
    sla_states: tuple[SlaState, ...] = tuple(SlaState)


def queue_viewer(user: User) -> QueueViewer:
    """The side `user` is on and the choices its filters offer."""
    if not policy.is_vendor_agent(user):
        systems = list(db.session.scalars(select(System).order_by(System.name)))
        return QueueViewer(vendor_side=False, systems=systems)
    municipalities = list(db.session.scalars(select(Municipality).order_by(Municipality.name)))
    agents = list(db.session.scalars(policy.vendor_agents(user.vendor_id)))
    systems = list(db.session.scalars(policy.systems_managed_by(user)))
    return QueueViewer(
        vendor_side=True, systems=systems, municipalities=municipalities, agents=agents
    )


def sla_of_tickets(tickets: list[Ticket]) -> dict[int, str]:
    """The ticket queue's SLA column: each escalated ticket's vendor case SLA state, in one
    query (none when no ticket on the page is escalated)."""
    case_ids = {t.vendor_case_id for t in tickets if t.vendor_case_id is not None}
    if not case_ids:
        return {}
    states = dict(
        db.session.execute(
            select(VendorCase.id, VendorCase.sla_state).where(VendorCase.id.in_(case_ids))
        ).all()
    )
    return {
        t.id: SlaState(states[t.vendor_case_id]).value
        for t in tickets
        if t.vendor_case_id in states
    }


ticket_listing.ROW_DETAILS["sla"] = sla_of_tickets

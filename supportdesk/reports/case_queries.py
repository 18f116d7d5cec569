"""Vendor case figures: cases opened and resolved, SLA compliance, breaches, pauses,
bundling and known issues, in grouped SQL (the vendor report, the municipality report's
SLA table and the case export all read them from here).

A case counts in the period it was opened; `cases_resolved` counts cases resolved in the
period. Response is met when the vendor answered and did not breach; resolution is met
when the case is resolved and did not breach. A breach is the SLA worker's stored flag,
or an answer or resolution after its due time (escalation/sla_clock.py sets both).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, func, or_, select

from supportdesk.accounts.models import Municipality, System, Vendor
from supportdesk.escalation.models import KnownIssue, KnownIssueTicket, VendorCase
from supportdesk.extensions import db
from supportdesk.reports.periods import as_date, local_day
from supportdesk.reports.scope import Scope, days_to_buckets, rate, rows_in_order
from supportdesk.tickets.models import Priority, Ticket

MAX_ROWS = 100_000
MAX_BREACHES = 200


def case_where(scope: Scope, column: Any, vendor_ids, municipality_ids) -> list[Any]:
    where: list[Any] = [column >= scope.lo, column < scope.hi]
    if vendor_ids is not None:
        where.append(VendorCase.vendor_id.in_(vendor_ids))
    if municipality_ids is not None:
        where.append(VendorCase.municipality_id.in_(municipality_ids))
    if scope.system_ids is not None:
        where.append(VendorCase.system_id.in_(scope.system_ids))
    return where


# --- vendor cases and SLA ----------------------------------------------------------


def _breached(flag: Any, done_at: Any, due_at: Any) -> Any:
    """The worker's stored breach flag, or the answer / resolution after its due time."""
    return or_(
        flag.is_not(None),
        and_(done_at.is_not(None), due_at.is_not(None), done_at > due_at),
    )


RESPONSE_BREACHED = _breached(
    VendorCase.response_breached_at, VendorCase.first_response_at, VendorCase.response_due_at
)
RESOLUTION_BREACHED = _breached(
    VendorCase.resolution_breached_at, VendorCase.resolved_at, VendorCase.resolution_due_at
)
SLA_KEYS = ("response_met", "response_breached", "resolution_met", "resolution_breached")


def empty_sla() -> dict[str, Any]:
    return {
        "cases": 0,
        **{key: 0 for key in SLA_KEYS},
        "response_compliance": None,
        "resolution_compliance": None,
    }


def _sla_columns() -> list[Any]:
    """Response met: answered and not breached; resolution met: resolved and not breached.
    A breach is the worker's stored flag, or an answer or resolution after its due time."""
    return [
        func.count(),
        func.sum(
            case((and_(VendorCase.first_response_at.is_not(None), ~RESPONSE_BREACHED), 1), else_=0)
        ),
        func.sum(case((RESPONSE_BREACHED, 1), else_=0)),
        func.sum(
            case((and_(VendorCase.resolved_at.is_not(None), ~RESOLUTION_BREACHED), 1), else_=0)
        ),
        func.sum(case((RESOLUTION_BREACHED, 1), else_=0)),
    ]


def _add_sla(into: dict[str, Any], values: tuple) -> None:
    into["cases"] += int(values[0] or 0)
    for key, value in zip(SLA_KEYS, values[1:], strict=True):
        into[key] += int(value or 0)
    into["response_compliance"] = rate(
        into["response_met"], into["response_met"] + into["response_breached"]
    )
    into["resolution_compliance"] = rate(
        into["resolution_met"], into["resolution_met"] + into["resolution_breached"]
    )


def sla_figures(
    scope: Scope, vendor_ids, municipality_ids, *, group: str
) -> dict[Any, dict[str, Any]]:
    """SLA compliance of the cases opened in the period, grouped by "municipality" (id),
    "vendor" (id) or "priority" (value)."""
    column = {
        "municipality": VendorCase.municipality_id,
        "vendor": VendorCase.vendor_id,
        "priority": VendorCase.priority,
    }[group]
    where = case_where(scope, VendorCase.created_at, vendor_ids, municipality_ids)
    result: dict[Any, dict[str, Any]] = {}
    for key, values in _sla_rows(where, column):
        key = key.value if hasattr(key, "value") else key
        _add_sla(result.setdefault(key, empty_sla()), values)
    return result


def vendor_figures(scope: Scope, vendor: Vendor) -> dict[str, Any]:
    """The vendor report: cases opened and resolved, SLA per priority and municipality,
    breaches, time waiting on the municipality, bundling and known issues."""
    vendor_ids = [vendor.id]
    opened_where = case_where(scope, VendorCase.created_at, vendor_ids, None)
    slugs = dict(db.session.execute(select(Municipality.id, Municipality.slug)).all())
    figures: dict[str, Any] = {
        "vendor": vendor.slug,
        "period": scope.filters.period(),
        "cases_opened": 0,
        "cases_resolved": 0,
        "sla": empty_sla(),
        "sla_by_priority": {},
        "by_municipality": {},
    }
    opened_by_week = _case_weeks(scope, VendorCase.created_at, opened_where)
    resolved_where = case_where(scope, VendorCase.resolved_at, vendor_ids, None)
    resolved_by_week = _case_weeks(scope, VendorCase.resolved_at, resolved_where)
    figures["cases_opened"] = sum(opened_by_week.values())
    figures["cases_resolved"] = sum(resolved_by_week.values())
    weeks = sorted(set(opened_by_week) | set(resolved_by_week))
    figures["by_week"] = {
        w: {"opened": opened_by_week.get(w, 0), "resolved": resolved_by_week.get(w, 0)}
        for w in weeks
    }
    for mid, values in _sla_rows(opened_where, VendorCase.municipality_id):
        slug = slugs[mid]
        entry = figures["by_municipality"].setdefault(slug, {**empty_sla(), "cases_resolved": 0})
        _add_sla(entry, values)
        _add_sla(figures["sla"], values)
    for mid, n in db.session.execute(
        select(VendorCase.municipality_id, func.count())
        .where(*resolved_where)
        .group_by(VendorCase.municipality_id)
    ):
        entry = figures["by_municipality"].setdefault(
            slugs[mid], {**empty_sla(), "cases_resolved": 0}
        )
        entry["cases_resolved"] = n
    figures["by_municipality"] = dict(sorted(figures["by_municipality"].items()))
    for priority, values in _sla_rows(opened_where, VendorCase.priority):
        _add_sla(figures["sla_by_priority"].setdefault(priority.value, empty_sla()), values)
    order = [p.value for p in Priority]
    figures["sla_by_priority"] = dict(
        sorted(figures["sla_by_priority"].items(), key=lambda item: order.index(item[0]))
    )
    figures["paused_business_minutes"] = _paused(opened_where)
    figures["breaches"] = _breaches(opened_where, slugs)
    figures["bundling"] = _bundling(opened_where)
    figures["known_issues"] = _known_issues(scope, vendor)
    return figures


def _sla_rows(where: list[Any], column: Any) -> list[tuple[Any, tuple]]:
    rows = db.session.execute(select(column, *_sla_columns()).where(*where).group_by(column))
    return [(key, tuple(values)) for key, *values in rows]


def _case_weeks(scope: Scope, column: Any, where: list[Any]) -> dict[str, int]:
    day = local_day(column, scope.lo, scope.hi)
    per_day = {
        as_date(d): n
        for d, n in db.session.execute(select(day, func.count()).where(*where).group_by(day))
    }
    return days_to_buckets(per_day)[0]


def _paused(where: list[Any]) -> dict[str, Any]:
    """Business time the cases waited on the municipality (the SLA clock's paused time)."""
    total, paused_cases = db.session.execute(
        select(
            func.coalesce(func.sum(VendorCase.paused_seconds), 0),
            func.sum(case((VendorCase.paused_seconds > 0, 1), else_=0)),
        ).where(*where)
    ).one()
    return {"total": round(int(total) / 60, 1), "cases": int(paused_cases or 0)}


def _breaches(where: list[Any], slugs: dict[int, str]) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(
            VendorCase.number,
            VendorCase.municipality_id,
            VendorCase.priority,
            VendorCase.status,
            RESPONSE_BREACHED,
            RESOLUTION_BREACHED,
            VendorCase.created_at,
        )
        .where(*where, or_(RESPONSE_BREACHED, RESOLUTION_BREACHED))
        .order_by(VendorCase.created_at, VendorCase.id)
        .limit(MAX_BREACHES)
    )
    return [
        {
            "case": number,
            "municipality": slugs[mid],
            "priority": priority.value,
            "status": status.value,
            "response_breached": bool(response),
            "resolution_breached": bool(resolution),
            "opened_at": created.isoformat(),
        }
        for number, mid, priority, status, response, resolution, created in rows
    ]


def _bundling(where: list[Any]) -> dict[str, Any]:
    """Tickets per case: how many cases bundle 1, 2, 3 or more tickets."""
    per_case = (
        select(VendorCase.id.label("case_id"), func.count(Ticket.id).label("tickets"))
        .outerjoin(Ticket, Ticket.vendor_case_id == VendorCase.id)
        .where(*where)
        .group_by(VendorCase.id)
        .subquery()
    )
    rows = db.session.execute(select(per_case.c.tickets, func.count()).group_by(per_case.c.tickets))
    distribution = {"0": 0, "1": 0, "2": 0, "3+": 0}
    cases = tickets = 0
    for linked, n in rows:
        distribution["3+" if linked >= 3 else str(linked)] += n
        cases += n
        tickets += linked * n
    return {
        "tickets_per_case": round(tickets / cases, 2) if cases else None,
        "cases_by_size": distribution,
    }


def _known_issues(scope: Scope, vendor: Vendor) -> list[dict[str, Any]]:
    """The vendor's known issues active during the period and how many tickets each drew."""
    rows = db.session.execute(
        select(KnownIssue, func.count(KnownIssueTicket.id))
        .outerjoin(KnownIssueTicket, KnownIssueTicket.known_issue_id == KnownIssue.id)
        .where(
            KnownIssue.vendor_id == vendor.id,
            KnownIssue.started_at < scope.hi,
            or_(KnownIssue.ended_at.is_(None), KnownIssue.ended_at >= scope.lo),
        )
        .group_by(KnownIssue.id)
        .order_by(func.count(KnownIssueTicket.id).desc(), KnownIssue.id)
    )
    return [
        {
            "id": issue.id,
            "title": issue.title,
            "status": issue.status.value,
            "started_at": issue.started_at.isoformat(),
            "tickets": n,
        }
        for issue, n in rows
    ]


def _case_row_query():
    return (
        select(
            VendorCase.number,
            VendorCase.created_at,
            Municipality.slug,
            Vendor.slug,
            System.slug,
            VendorCase.priority,
            VendorCase.status,
            VendorCase.first_response_at,
            VendorCase.resolved_at,
            RESPONSE_BREACHED,
            RESOLUTION_BREACHED,
            VendorCase.paused_seconds,
            VendorCase.subject,
        )
        .join(Municipality, Municipality.id == VendorCase.municipality_id)
        .join(Vendor, Vendor.id == VendorCase.vendor_id)
        .join(System, System.id == VendorCase.system_id)
    )


def case_row(
    number, created, municipality, vendor, system, priority, status, responded, resolved,
    r_breach, s_breach, paused, subject,
) -> dict[str, Any]:  # fmt: skip
    return {
        "number": number,
        "created_at": created.isoformat(),
        "municipality": municipality,
        "vendor": vendor,
        "system": system,
        "priority": priority.value,
        "status": status.value,
        "first_response_at": responded.isoformat() if responded else None,
        "resolved_at": resolved.isoformat() if resolved else None,
        "response_breached": bool(r_breach),
        "resolution_breached": bool(s_breach),
        "paused_business_minutes": round((paused or 0) / 60, 1),
        "subject": subject,
    }


def case_rows(scope: Scope, vendor_ids, municipality_ids) -> list[dict[str, Any]]:
    """One row per vendor case opened in the period (the `cases` report and its export)."""
    rows = db.session.execute(
        _case_row_query()
        .where(*case_where(scope, VendorCase.created_at, vendor_ids, municipality_ids))
        .order_by(VendorCase.created_at, VendorCase.id)
        .limit(MAX_ROWS)
    )
    return [case_row(*row) for row in rows]


def case_rows_for(ids: list[int]) -> list[dict[str, Any]]:
    """The export rows of cases a list already chose (and checked), in its order."""
    return rows_in_order(_case_row_query(), VendorCase.id, ids, case_row)

"""Ticket figures, computed once here in grouped SQL.

The municipality report, the whole rollout and the ticket export call these functions
(case and SLA figures are in `case_queries`); pages, CSV, XLSX and the API only lay out
what they return. Counts are grouped by municipality in the database, so one
municipality's report and the rollout's side-by-side table are the same query with a
narrower WHERE. Durations (first response, resolution) are business time of the SLA's
calendar, stored on each ticket when they happen (`durations`).

Definitions (README "Reports"): a ticket counts in the period of its creation, on its
Danish local date; `escalated` and `resolved` count those tickets that are linked to a
vendor case / resolved or closed now; the first-level resolution rate is the share of
the resolved ones resolved without escalation; first response is the first public reply
by someone other than the ticket's creator. Cases count in the period they were opened;
`cases_resolved` counts cases resolved in the period.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, distinct, func, select

from supportdesk.accounts.models import Category, Institution, Municipality, System, Vendor
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import db, utcnow
from supportdesk.faq.models import Deflection, TicketShownArticle
from supportdesk.reports.case_queries import empty_sla, sla_figures
from supportdesk.reports.durations import DONE_STATUSES
from supportdesk.reports.periods import as_date, local_day
from supportdesk.reports.scope import Scope, days_to_buckets, percentiles, rate, rows_in_order
from supportdesk.tickets.models import (
    SurveyResponse,
    Ticket,
    TicketSource,
    TicketStatus,
)

OPEN_STATUSES = (TicketStatus.new, TicketStatus.open, TicketStatus.waiting, TicketStatus.escalated)
# (key, from days, to days): an open ticket's age on the report's day
AGE_BANDS = (
    ("0-1d", 0, 1),
    ("1-3d", 1, 3),
    ("3-7d", 3, 7),
    ("7-30d", 7, 30),
    ("30d+", 30, None),
)
TOP_CATEGORIES = 5
MAX_ROWS = 100_000


def _ticket_where(scope: Scope, municipality_ids: list[int] | None) -> list[Any]:
    where: list[Any] = [Ticket.created_at >= scope.lo, Ticket.created_at < scope.hi]
    if municipality_ids is not None:
        where.append(Ticket.municipality_id.in_(municipality_ids))
    if scope.system_ids is not None:
        where.append(Ticket.system_id.in_(scope.system_ids))
    if scope.filters.institution_type is not None:
        where.append(
            Ticket.institution_id.in_(
                select(Institution.id).where(Institution.type == scope.filters.institution_type)
            )
        )
    return where


# --- municipality figures ----------------------------------------------------------


def _empty_municipality(scope: Scope) -> dict[str, Any]:
    return {
        "period": scope.filters.period(),
        "tickets_created": 0,
        "by_day": {},
        "by_week": {},
        "by_month": {},
        "by_system": {},
        "by_category": {},
        "by_institution": {},
        "by_institution_type": {},
        "by_source": {source.value: 0 for source in TicketSource},
        "escalated": 0,
        "resolved": 0,
        "resolved_without_escalation": 0,
        "first_level_resolution_rate": None,
        "escalation_rate": None,
        "escalation_by_vendor": {},
        "first_response_business_minutes": percentiles([]),
        "resolution_business_minutes": percentiles([]),
        "open_by_age": {key: 0 for key, _lo, _hi in AGE_BANDS},
        "reopened": 0,
        "reopen_rate": None,
        "top_categories": [],
        "deflected": 0,
        "deflection_rate": None,
        "suggestions_shown": 0,
        "tickets_with_suggestions": 0,
        "institutions": 0,
        "tickets_per_institution": None,
        "sla": empty_sla(),
        "satisfaction": {"answers": 0, "average": None, "by_score": {str(n): 0 for n in SCORES}},
    }


def municipality_figures(
    scope: Scope, municipality_ids: list[int] | None, now: datetime | None = None
) -> dict[int, dict[str, Any]]:
    """The municipality report's figures for each municipality id (None: every one)."""
    now = now or utcnow()
    where = _ticket_where(scope, municipality_ids)
    ids = municipality_ids
    if ids is None:
        ids = list(db.session.scalars(select(Municipality.id).order_by(Municipality.slug)))
    result = {mid: _empty_municipality(scope) for mid in ids}
    _volume(scope, where, result)
    _breakdown(where, result, now)
    _institutions(where, result, ids, scope)
    _durations(where, result)
    _faq(scope, where, result, municipality_ids)
    _satisfaction(scope, result, municipality_ids)
    sla = sla_figures(scope, None, municipality_ids, group="municipality")
    for mid, figures in result.items():
        figures["sla"] = sla.get(mid, empty_sla())
        created = figures["tickets_created"]
        figures["first_level_resolution_rate"] = rate(
            figures["resolved_without_escalation"], figures["resolved"]
        )
        figures["escalation_rate"] = rate(figures["escalated"], created)
        figures["reopen_rate"] = rate(figures["reopened"], figures["resolved"])
        figures["deflection_rate"] = rate(figures["deflected"], figures["deflected"] + created)
        figures["tickets_per_institution"] = (
            round(created / figures["institutions"], 2) if figures["institutions"] else None
        )
    return result


def _volume(scope: Scope, where: list[Any], result: dict[int, dict[str, Any]]) -> None:
    day = local_day(Ticket.created_at, scope.lo, scope.hi)
    rows = db.session.execute(
        select(Ticket.municipality_id, day, func.count())
        .where(*where)
        .group_by(Ticket.municipality_id, day)
    )
    days: dict[int, dict[Any, int]] = defaultdict(dict)
    for mid, raw_day, n in rows:
        days[mid][as_date(raw_day)] = n
    for mid, per_day in days.items():
        if mid not in result:
            continue
        figures = result[mid]
        figures["tickets_created"] = sum(per_day.values())
        figures["by_day"] = {d.isoformat(): n for d, n in sorted(per_day.items())}
        figures["by_week"], figures["by_month"] = days_to_buckets(per_day)


def _breakdown(where: list[Any], result: dict[int, dict[str, Any]], now: datetime) -> None:
    """One pass over the period's tickets, grouped by municipality, system, category and
    source: created, escalated (linked to a vendor case), resolved, resolved without
    escalation, reopened (stored on the ticket when it is reopened), and the open ones by
    age band. Summed here per system, vendor, category, source and band."""
    escalated = Ticket.vendor_case_id.is_not(None)
    done = Ticket.status.in_(DONE_STATUSES)
    open_ = Ticket.status.in_(OPEN_STATUSES)
    bands = []
    for _key, lower, upper in AGE_BANDS:
        condition = [open_, Ticket.created_at <= now - timedelta(days=lower)]
        if upper is not None:
            condition.append(Ticket.created_at > now - timedelta(days=upper))
        bands.append(func.sum(case((and_(*condition), 1), else_=0)))
    group = (Ticket.municipality_id, Ticket.system_id, Ticket.category_id, Ticket.source)
    rows = db.session.execute(
        select(
            *group,
            func.count(),
            func.sum(case((escalated, 1), else_=0)),
            func.sum(case((done, 1), else_=0)),
            func.sum(case((and_(done, Ticket.vendor_case_id.is_(None)), 1), else_=0)),
            func.sum(case((Ticket.reopened_at.is_not(None), 1), else_=0)),
            *bands,
        )
        .where(*where)
        .group_by(*group)
    ).all()
    systems = {
        ident: (slug, vendor)
        for ident, slug, vendor in db.session.execute(
            select(System.id, System.slug, Vendor.slug).join(Vendor, Vendor.id == System.vendor_id)
        )
    }
    categories = {
        ident: (slug, name)
        for ident, slug, name in db.session.execute(
            select(Category.id, Category.slug, Category.name)
        )
    }
    for (
        mid,
        system_id,
        category_id,
        source,
        n,
        n_escalated,
        n_done,
        n_first,
        n_reopened,
        *aged,
    ) in rows:
        if mid not in result:
            continue
        figures = result[mid]
        system, vendor = systems[system_id]
        _add(figures["by_system"], system, n)
        figures["escalated"] += int(n_escalated or 0)
        figures["resolved"] += int(n_done or 0)
        figures["resolved_without_escalation"] += int(n_first or 0)
        figures["reopened"] += int(n_reopened or 0)
        per_vendor = figures["escalation_by_vendor"].setdefault(
            vendor, {"tickets": 0, "escalated": 0, "rate": None}
        )
        per_vendor["tickets"] += n
        per_vendor["escalated"] += int(n_escalated or 0)
        slug, name = categories.get(category_id, ("-", ""))
        key = f"{system}/{slug}"
        _add(figures["by_category"], key, n)
        figures.setdefault("_category_names", {})[key] = (system, name)
        _add(figures["by_source"], TicketSource(source).value, n)
        for (band, _lower, _upper), count in zip(AGE_BANDS, aged, strict=True):
            figures["open_by_age"][band] += int(count or 0)
    for figures in result.values():
        figures["by_system"] = dict(sorted(figures["by_system"].items()))
        figures["by_category"] = dict(sorted(figures["by_category"].items()))
        figures["escalation_by_vendor"] = dict(sorted(figures["escalation_by_vendor"].items()))
        for per_vendor in figures["escalation_by_vendor"].values():
            per_vendor["rate"] = rate(per_vendor["escalated"], per_vendor["tickets"])
        names = figures.pop("_category_names", {})
        ranked = sorted(figures["by_category"].items(), key=lambda item: (-item[1], item[0]))
        figures["top_categories"] = [
            {"category": key, "name": names[key][1], "system": names[key][0], "tickets": n}
            for key, n in ranked[:TOP_CATEGORIES]
        ]


def _add(into: dict[str, int], key: str, n: int) -> None:
    into[key] = into.get(key, 0) + n


def _institutions(where, result, ids: list[int], scope: Scope) -> None:
    # grouped on the ticket's own column (a hash of ~3,000 groups), named afterwards
    rows = db.session.execute(
        select(Ticket.municipality_id, Ticket.institution_id, func.count())
        .where(*where, Ticket.institution_id.is_not(None))
        .group_by(Ticket.municipality_id, Ticket.institution_id)
    ).all()
    named = {
        ident: (number, kind)
        for ident, number, kind in db.session.execute(
            select(Institution.id, Institution.number, Institution.type).where(
                Institution.municipality_id.in_(ids)
            )
        )
    }
    for mid, institution_id, n in sorted(rows, key=lambda row: named[row[1]][0]):
        if mid not in result:
            continue
        number, kind = named[institution_id]
        result[mid]["by_institution"][number] = n
        per_type = result[mid]["by_institution_type"]
        per_type[kind.value] = per_type.get(kind.value, 0) + n
    active = select(Institution.municipality_id, func.count()).where(
        Institution.active.is_(True), Institution.municipality_id.in_(ids)
    )
    if scope.filters.institution_type is not None:
        active = active.where(Institution.type == scope.filters.institution_type)
    for mid, n in db.session.execute(active.group_by(Institution.municipality_id)):
        result[mid]["institutions"] = n


def _durations(where: list[Any], result: dict[int, dict[str, Any]]) -> None:
    """Business minutes to the first answer and to resolution (median, 90th percentile),
    from the business seconds stored on each ticket when they happened (durations.py).
    PostgreSQL computes the percentiles; elsewhere the period's values are read and the
    percentiles computed here (`scope.percentiles` defines them, for both)."""
    # float seconds / 60: the double the SLA clock's whole seconds make in Python
    response = Ticket.response_business_seconds / 60.0
    resolution = Ticket.resolution_business_seconds / 60.0
    if db.session.get_bind().dialect.name == "postgresql":
        rows = db.session.execute(
            select(
                Ticket.municipality_id,
                func.percentile_cont(0.5).within_group(response),
                func.percentile_disc(0.9).within_group(response),
                func.count(response),
                func.percentile_cont(0.5).within_group(resolution),
                func.percentile_disc(0.9).within_group(resolution),
                func.count(resolution),
            )
            .where(*where)
            .group_by(Ticket.municipality_id)
        )
        for mid, r_median, r_p90, r_count, s_median, s_p90, s_count in rows:
            if mid in result:
                figures = result[mid]
                figures["first_response_business_minutes"] = _sql_percentiles(
                    r_median, r_p90, r_count
                )
                figures["resolution_business_minutes"] = _sql_percentiles(s_median, s_p90, s_count)
        return
    responses: dict[int, list[float]] = defaultdict(list)
    resolutions: dict[int, list[float]] = defaultdict(list)
    measured = select(
        Ticket.municipality_id,
        Ticket.response_business_seconds,
        Ticket.resolution_business_seconds,
    ).where(*where)
    for mid, replied, done in db.session.execute(measured):
        if replied is not None:
            responses[mid].append(replied / 60)
        if done is not None:
            resolutions[mid].append(done / 60)
    for mid, figures in result.items():
        figures["first_response_business_minutes"] = percentiles(responses.get(mid, []))
        figures["resolution_business_minutes"] = percentiles(resolutions.get(mid, []))


def _sql_percentiles(median: Any, p90: Any, count: int) -> dict[str, Any]:
    if not count:
        return percentiles([])
    return {"median": round(float(median), 1), "p90": round(float(p90), 1), "count": count}


def _faq(scope: Scope, where, result, municipality_ids: list[int] | None) -> None:
    """Deflections ("Det løste mit problem") in the period, and FAQ suggestions shown on
    the ticket form of the period's tickets."""
    deflections = select(Deflection.municipality_id, func.count()).where(
        Deflection.created_at >= scope.lo, Deflection.created_at < scope.hi
    )
    if municipality_ids is not None:
        deflections = deflections.where(Deflection.municipality_id.in_(municipality_ids))
    if scope.system_ids is not None:
        deflections = deflections.where(Deflection.system_id.in_(scope.system_ids))
    for mid, n in db.session.execute(deflections.group_by(Deflection.municipality_id)):
        if mid in result:
            result[mid]["deflected"] = n
    shown = db.session.execute(
        select(
            Ticket.municipality_id,
            func.count(),
            func.count(distinct(TicketShownArticle.ticket_id)),
        )
        .join(TicketShownArticle, TicketShownArticle.ticket_id == Ticket.id)
        .where(*where)
        .group_by(Ticket.municipality_id)
    )
    for mid, n, tickets in shown:
        if mid in result:
            result[mid]["suggestions_shown"] = n
            result[mid]["tickets_with_suggestions"] = tickets


SCORES = range(1, 6)


def _satisfaction(scope: Scope, result, municipality_ids: list[int] | None) -> None:
    """ "Fik du hjælp?" answers given in the period (asked when a ticket is resolved),
    per score, and their average."""
    answers = select(SurveyResponse.municipality_id, SurveyResponse.score, func.count()).where(
        SurveyResponse.created_at >= scope.lo, SurveyResponse.created_at < scope.hi
    )
    if municipality_ids is not None:
        answers = answers.where(SurveyResponse.municipality_id.in_(municipality_ids))
    if scope.system_ids is not None:
        answers = answers.join(Ticket, Ticket.id == SurveyResponse.ticket_id).where(
            Ticket.system_id.in_(scope.system_ids)
        )
    grouped = answers.group_by(SurveyResponse.municipality_id, SurveyResponse.score)
    for mid, score, n in db.session.execute(grouped):
        if mid in result and score in SCORES:
            result[mid]["satisfaction"]["by_score"][str(score)] = n
    for figures in result.values():
        satisfaction = figures["satisfaction"]
        counts = {int(score): n for score, n in satisfaction["by_score"].items()}
        satisfaction["answers"] = sum(counts.values())
        if satisfaction["answers"]:
            total = sum(score * n for score, n in counts.items())
            satisfaction["average"] = round(total / satisfaction["answers"], 2)


# --- rows: the ticket and case exports -----------------------------------------------


def _ticket_row_query():
    return (
        select(
            Ticket.number,
            Ticket.created_at,
            Municipality.slug,
            Institution.number,
            Institution.name,
            Institution.type,
            System.slug,
            Category.slug,
            Ticket.source,
            Ticket.priority,
            Ticket.status,
            VendorCase.number,
            Ticket.resolved_at,
            Ticket.subject,
        )
        .join(Municipality, Municipality.id == Ticket.municipality_id)
        .join(System, System.id == Ticket.system_id)
        .outerjoin(Institution, Institution.id == Ticket.institution_id)
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(VendorCase, VendorCase.id == Ticket.vendor_case_id)
    )


def ticket_rows(scope: Scope, municipality_ids: list[int] | None) -> list[dict[str, Any]]:
    """One row per ticket created in the period (the `tickets` report and its export)."""
    rows = db.session.execute(
        _ticket_row_query()
        .where(*_ticket_where(scope, municipality_ids))
        .order_by(Ticket.created_at, Ticket.id)
        .limit(MAX_ROWS)
    )
    return [ticket_row(*row) for row in rows]


def ticket_rows_for(ids: list[int]) -> list[dict[str, Any]]:
    """The export rows of tickets a list already chose (and checked), in its order."""
    return rows_in_order(_ticket_row_query(), Ticket.id, ids, ticket_row)


def ticket_row(
    number, created, municipality, inst_number, inst_name, inst_type, system, category, source,
    priority, status, case_number, resolved, subject,
) -> dict[str, Any]:  # fmt: skip
    return {
        "number": number,
        "created_at": created.isoformat(),
        "municipality": municipality,
        "institution": inst_number,
        "institution_name": inst_name,
        "institution_type": inst_type.value if inst_type else None,
        "system": system,
        "category": category,
        "source": source.value,
        "priority": priority.value,
        "status": status.value,
        "case": case_number,
        "resolved_at": resolved.isoformat() if resolved else None,
        "subject": subject,
    }


def rollout_figures(scope: Scope, now: datetime | None = None) -> dict[str, Any]:
    """Every municipality side by side (the system admin's rollout report)."""
    slugs = dict(db.session.execute(select(Municipality.id, Municipality.slug)).all())
    figures = municipality_figures(scope, None, now)
    return {
        "period": scope.filters.period(),
        "municipalities": {
            slugs[mid]: f for mid, f in sorted(figures.items(), key=lambda i: slugs[i[0]])
        },
    }

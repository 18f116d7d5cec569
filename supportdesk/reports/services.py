"""A report asked for by a user: whose figures (policy), which filters, computed by queries.

Pages, the API and the exports all come through `build`, so a report in one format
cannot show what another hides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import NotFound
from supportdesk.reports import case_queries, queries
from supportdesk.reports.periods import ReportFilters
from supportdesk.reports.scope import resolve


@dataclass(frozen=True)
class Report:
    name: str
    filters: ReportFilters
    figures: dict[str, Any]
    subject: str | None = None  # the municipality or vendor name the report is about


def build(name: str, user: User, args: Mapping[str, str], now: datetime | None = None) -> Report:
    """Check who may see it first (a 404 never depends on the filters), then compute."""
    builder = BUILDERS.get(name)
    if builder is None:
        raise NotFound()
    return builder(user, args, now)


def _municipality(user: User, args: Mapping[str, str], now: datetime | None) -> Report:
    municipality = policy.report_municipality(user, args.get("municipality"))
    filters = ReportFilters.from_args(args, now).with_municipality(municipality.slug)
    figures = queries.municipality_figures(resolve(filters), [municipality.id], now)
    figures = {"municipality": municipality.slug, **figures[municipality.id]}
    return Report("municipality", filters, figures, municipality.name)


def _vendor(user: User, args: Mapping[str, str], now: datetime | None) -> Report:
    vendor = policy.report_vendor(user, args.get("vendor"))
    filters = ReportFilters.from_args({**args, "vendor": vendor.slug}, now)
    figures = case_queries.vendor_figures(resolve(filters), vendor)
    return Report("vendor", filters, figures, vendor.name)


def _rollout(user: User, args: Mapping[str, str], now: datetime | None) -> Report:
    policy.require_rollout_report(user)
    filters = ReportFilters.from_args({**args, "municipality": ""}, now)
    return Report("rollout", filters, queries.rollout_figures(resolve(filters), now))


def _tickets(user: User, args: Mapping[str, str], now: datetime | None) -> Report:
    municipality_ids = policy.report_ticket_scope(user, args.get("municipality"))
    filters = ReportFilters.from_args(args, now)
    rows = queries.ticket_rows(resolve(filters), municipality_ids)
    figures = {"period": filters.period(), "count": len(rows), "items": rows}
    return Report("tickets", filters, figures)


def _cases(user: User, args: Mapping[str, str], now: datetime | None) -> Report:
    vendor_ids, municipality_ids = policy.report_case_scope(
        user, args.get("municipality"), args.get("vendor")
    )
    filters = ReportFilters.from_args(args, now)
    rows = case_queries.case_rows(resolve(filters), vendor_ids, municipality_ids)
    figures = {"period": filters.period(), "count": len(rows), "items": rows}
    return Report("cases", filters, figures)


BUILDERS: dict[str, Callable[[User, Mapping[str, str], datetime | None], Report]] = {
    "municipality": _municipality,
    "vendor": _vendor,
    "rollout": _rollout,
    "tickets": _tickets,
    "cases": _cases,
}

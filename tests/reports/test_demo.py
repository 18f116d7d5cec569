"""The demo seed gives reports that look like a real municipality's: a school's weekly
rhythm, the morning of the known login failure, and SLA breaches."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Municipality, System
from supportdesk.demo import report_patterns, seed
from supportdesk.extensions import db as _db
from supportdesk.extensions import utcnow
from supportdesk.reports import case_queries, queries
from supportdesk.reports.periods import ReportFilters, today_local
from supportdesk.reports.scope import resolve


@pytest.fixture
def demo(app, monkeypatch):
    monkeypatch.setattr(
        account_services, "hash_password", functools.cache(account_services.hash_password)
    )
    seed(ticket_count=800, echo=lambda _line: None)
    _db.session.commit()


def test_demo_reports_look_like_a_municipality(demo):
    today = today_local()
    filters = ReportFilters(start=today - timedelta(days=89), end=today)
    scope = resolve(filters)
    municipalities = {m.slug: m.id for m in _db.session.scalars(select(Municipality))}
    figures = queries.municipality_figures(scope, list(municipalities.values()))
    by_weekday: Counter[int] = Counter()
    for figure in figures.values():
        for day, n in figure["by_day"].items():
            by_weekday[date.fromisoformat(day).weekday()] += n
    weekdays = [by_weekday[d] for d in range(5)]
    weekend = by_weekday[5] + by_weekday[6]
    assert min(weekdays) > 3 * weekend  # school days, not weekends
    assert by_weekday[0] > by_weekday[4]  # Monday busier than Friday

    # the login failure's morning is the busiest day of the period
    spike_day = report_patterns.spike_window(utcnow())[0].astimezone(report_patterns.TZ).date()
    per_day: Counter[str] = Counter()
    for figure in figures.values():
        per_day.update(figure["by_day"])
    assert per_day.most_common(1)[0][0] == spike_day.isoformat()

    # the vendor sees the known issue with the tickets it drew, and an SLA breach
    aula = _db.session.scalar(select(System).where(System.slug == "aula"))
    vendor_figures = case_queries.vendor_figures(scope, aula.vendor)
    issues = {i["title"]: i["tickets"] for i in vendor_figures["known_issues"]}
    assert issues[report_patterns.SPIKE_ISSUE] >= 20
    every = [
        case_queries.vendor_figures(scope, system.vendor)["sla"]
        for system in _db.session.scalars(select(System))
    ]
    assert sum(s["response_breached"] + s["resolution_breached"] for s in every) >= 1

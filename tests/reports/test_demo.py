"""The demo seed gives reports that look like a real municipality's: a school's weekly
rhythm, the morning of the known login failure, SLA breaches, reopened tickets, survey
answers, FAQ deflections and tickets resolved through the vendor."""

from __future__ import annotations

import functools
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Municipality, System
from supportdesk.demo import report_patterns, seed
from supportdesk.extensions import db as _db
from supportdesk.extensions import utcnow
from supportdesk.faq.files import import_path
from supportdesk.reports import case_queries, queries
from supportdesk.reports.periods import ReportFilters, today_local
from supportdesk.reports.scope import resolve
from supportdesk.tickets.models import Ticket, TicketStatus


@pytest.fixture
def demo(app, monkeypatch):
    monkeypatch.setattr(
        account_services, "hash_password", functools.cache(account_services.hash_password)
    )
    seed(ticket_count=800, echo=lambda _line: None)
    _db.session.commit()


@pytest.fixture
def demo_with_faq(demo):
    """As `make run` does it: the seed, the FAQ starter content, and the seed again."""
    import_path(Path(__file__).resolve().parents[2] / "faq_content")
    _db.session.commit()
    seed(ticket_count=1000, echo=lambda _line: None)  # and topped up
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


def test_demo_municipality_report_has_the_usual_traffic(demo_with_faq):
    """Not only first-level resolutions: some tickets come back, some reporters answer
    the survey with a spread of scores, the FAQ deflects and suggests, and some escalated
    tickets are resolved with the vendor's answer."""
    today = today_local()
    scope = resolve(ReportFilters(start=today - timedelta(days=89), end=today))
    esbjerg = _db.session.scalar(select(Municipality).where(Municipality.slug == "esbjerg"))
    figures = queries.municipality_figures(scope, [esbjerg.id])[esbjerg.id]
    assert figures["reopened"] > 0
    assert figures["deflected"] > 0
    assert figures["suggestions_shown"] > 0
    satisfaction = figures["satisfaction"]
    assert satisfaction["answers"] > 0
    assert sum(1 for n in satisfaction["by_score"].values() if n) >= 3
    assert figures["escalated"] > 0
    assert figures["resolved"] - figures["resolved_without_escalation"] > 0
    assert 0 < figures["first_level_resolution_rate"] < 1
    # a ticket is escalated by a vendor case, never by its status alone
    without_case = select(Ticket.id).where(
        Ticket.status == TicketStatus.escalated, Ticket.vendor_case_id.is_(None)
    )
    assert _db.session.scalars(without_case).all() == []

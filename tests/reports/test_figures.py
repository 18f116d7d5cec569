"""Every figure of the reports asserted exactly on the known world (tests/reports/conftest.py),
on SQLite and PostgreSQL; the API answers the same figures the query module computes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from supportdesk.extensions import db as _db
from supportdesk.reports import services
from supportdesk.reports.periods import ReportFilters
from supportdesk.reports.queries import ticket_rows
from supportdesk.reports.scope import percentiles, resolve
from supportdesk.tickets.models import Ticket
from tests.conftest import json_of
from tests.reports.conftest import NOW, PERIOD, at

# Why each number is what it is (alfa, 2-15 March 2026, Danish dates):
# T1 T2 T6 on Mon 2 March (T6 is Sunday 23:30 UTC), T3 on Wed 4 March (Tue 23:30 UTC),
# T4 on 9 March, T7 on 13 March; T5 is Monday 16 March in Denmark and T8 is beta's.
EXPECTED_MUNICIPALITY = {
    "municipality": "alfa",
    "period": {"from": "2026-03-02", "to": "2026-03-15"},
    "tickets_created": 6,
    "by_day": {"2026-03-02": 3, "2026-03-04": 1, "2026-03-09": 1, "2026-03-13": 1},
    "by_week": {"2026-W10": 4, "2026-W11": 2},
    "by_month": {"2026-03": 6},
    "by_system": {"aula": 5, "fildeling": 1},
    "by_category": {"aula/beskeder": 1, "aula/login": 4, "fildeling/-": 1},
    "by_institution": {"310001": 4, "310002": 1},
    "by_institution_type": {"skole": 4, "dagtilbud": 1},
    "by_source": {"web": 4, "hotline": 2, "api": 0},
    # T2 and T3 are linked to case C1
    "escalated": 2,
    # T1 and T3 resolved, T4 closed; T3 went through the vendor
    "resolved": 3,
    "resolved_without_escalation": 2,
    "first_level_resolution_rate": 0.6667,
    "escalation_rate": 0.3333,
    "escalation_by_vendor": {
        "lev-en": {"tickets": 5, "escalated": 2, "rate": 0.4},
        "lev-to": {"tickets": 1, "escalated": 0, "rate": 0.0},
    },
    # T1 09:00→09:30 = 30; T2 Mon 15:30→Tue 08:30 = 30 + 30; T7 14:00→16:00 = 120 (the
    # requester's own reply at 14:10 is not a response; internal notes are not either)
    "first_response_business_minutes": {"median": 60.0, "p90": 120.0, "count": 3},
    # T1 09:00→11:00 = 120; T3 Wed 00:30→10:00 = 08:00→10:00 = 120;
    # T4 Mon 11:00→Tue 09:00 = 300 + 60 = 360 (closed without resolved_at)
    "resolution_business_minutes": {"median": 120.0, "p90": 360.0, "count": 3},
    # on 20 March 12:00 UTC: T2 and T6 are 18 days old, T7 6 days 23 hours
    "open_by_age": {"0-1d": 0, "1-3d": 0, "3-7d": 1, "7-30d": 2, "30d+": 0},
    "reopened": 1,
    "reopen_rate": 0.3333,
    "top_categories": [
        {"category": "aula/login", "name": "Login", "system": "aula", "tickets": 4},
        {"category": "aula/beskeder", "name": "Beskeder", "system": "aula", "tickets": 1},
        {"category": "fildeling/-", "name": "", "system": "fildeling", "tickets": 1},
    ],
    # 5 and 14 March (20 March is after the period; beta's is not alfa's)
    "deflected": 2,
    "deflection_rate": 0.25,
    "suggestions_shown": 3,
    "tickets_with_suggestions": 2,
    "institutions": 2,
    "tickets_per_institution": 3.0,
    # alfa's cases opened in the period: C1 (met, met), C2 (both breached), C4 (pending)
    "sla": {
        "cases": 3,
        "response_met": 1,
        "response_breached": 1,
        "resolution_met": 1,
        "resolution_breached": 1,
        "response_compliance": 0.5,
        "resolution_compliance": 0.5,
    },
    # no survey answers in this world (tests/reports/test_satisfaction.py has them)
    "satisfaction": {"answers": 0, "average": None, "by_score": dict.fromkeys("12345", 0)},
}

EXPECTED_VENDOR = {
    "vendor": "lev-en",
    "period": {"from": "2026-03-02", "to": "2026-03-15"},
    # C1 C2 C3 opened; C1 (4 March), C3 (12 March) and C5 (opened in February) resolved
    "cases_opened": 3,
    "cases_resolved": 3,
    "by_week": {
        "2026-W10": {"opened": 3, "resolved": 2},
        "2026-W11": {"opened": 0, "resolved": 1},
    },
    # C1 answered in time; C2 answered after its due time; C3 flagged by the worker.
    # C1 and C3 resolved in time; C2 flagged.
    "sla": {
        "cases": 3,
        "response_met": 1,
        "response_breached": 2,
        "resolution_met": 2,
        "resolution_breached": 1,
        "response_compliance": 0.3333,
        "resolution_compliance": 0.6667,
    },
    "sla_by_priority": {
        "normal": {
            "cases": 1,
            "response_met": 1,
            "response_breached": 0,
            "resolution_met": 1,
            "resolution_breached": 0,
            "response_compliance": 1.0,
            "resolution_compliance": 1.0,
        },
        "high": {
            "cases": 1,
            "response_met": 0,
            "response_breached": 1,
            "resolution_met": 0,
            "resolution_breached": 1,
            "response_compliance": 0.0,
            "resolution_compliance": 0.0,
        },
        "critical": {
            "cases": 1,
            "response_met": 0,
            "response_breached": 1,
            "resolution_met": 1,
            "resolution_breached": 0,
            "response_compliance": 0.0,
            "resolution_compliance": 1.0,
        },
    },
    "by_municipality": {
        "alfa": {
            "cases": 2,
            "response_met": 1,
            "response_breached": 1,
            "resolution_met": 1,
            "resolution_breached": 1,
            "response_compliance": 0.5,
            "resolution_compliance": 0.5,
            "cases_resolved": 2,
        },
        "beta": {
            "cases": 1,
            "response_met": 0,
            "response_breached": 1,
            "resolution_met": 1,
            "resolution_breached": 0,
            "response_compliance": 0.0,
            "resolution_compliance": 1.0,
            "cases_resolved": 1,
        },
    },
    "paused_business_minutes": {"total": 60.0, "cases": 1},
    "bundling": {"tickets_per_case": 1.0, "cases_by_size": {"0": 1, "1": 1, "2": 1, "3+": 0}},
}


def _without_volatile(figures: dict) -> dict:
    return {k: v for k, v in figures.items() if k != "open_by_age"}


def test_municipality_report_figures_are_exact(world):
    figures = services.build("municipality", world.coordinator, PERIOD, now=NOW).figures
    assert figures == EXPECTED_MUNICIPALITY


def test_vendor_report_figures_are_exact(world, make_user):
    agent = make_user("vendor_agent", vendor=world.v1)
    figures = services.build("vendor", agent, PERIOD, now=NOW).figures
    breaches = figures.pop("breaches")
    issues = figures.pop("known_issues")
    assert figures == EXPECTED_VENDOR
    assert [(b["case"], b["response_breached"], b["resolution_breached"]) for b in breaches] == [
        ("C-C2", True, True),
        ("C-C3", True, False),
    ]
    # the issue that ended in February is not in the period
    assert [(i["title"], i["tickets"]) for i in issues] == [("Login fejler", 2)]


def test_api_answers_what_the_query_module_computes(client, login, world):
    login(world.coordinator)
    answer = json_of(client.get("/api/v1/reports/municipality?from=2026-03-02&to=2026-03-15"))
    computed = services.build("municipality", world.coordinator, PERIOD).figures
    assert answer == computed
    assert _without_volatile(answer) == _without_volatile(EXPECTED_MUNICIPALITY)


@pytest.mark.parametrize(
    ("args", "created", "by_system"),
    [
        ({"vendor": "lev-to"}, 1, {"fildeling": 1}),
        ({"system": "aula"}, 5, {"aula": 5}),
        ({"institution_type": "dagtilbud"}, 1, {"aula": 1}),
    ],
)
def test_filters_narrow_every_figure(world, args, created, by_system):
    figures = services.build("municipality", world.coordinator, {**PERIOD, **args}, now=NOW)
    assert figures.figures["tickets_created"] == created
    assert figures.figures["by_system"] == by_system
    assert sum(figures.figures["by_source"].values()) == created


def test_rollout_puts_the_municipality_figures_side_by_side(world, make_user):
    admin = make_user("admin")
    rollout = services.build("rollout", admin, PERIOD, now=NOW).figures
    assert set(rollout["municipalities"]) == {"alfa", "beta"}
    alfa = dict(EXPECTED_MUNICIPALITY)
    del alfa["municipality"]
    assert rollout["municipalities"]["alfa"] == alfa
    beta = rollout["municipalities"]["beta"]
    assert (beta["tickets_created"], beta["escalated"], beta["deflected"]) == (1, 1, 1)
    assert beta["first_response_business_minutes"] == {"median": 5.0, "p90": 5.0, "count": 1}
    assert beta["sla"]["response_breached"] == 1


def test_ticket_rows_are_the_period_in_creation_order(world):
    rows = services.build("tickets", world.coordinator, PERIOD, now=NOW).figures["items"]
    assert [r["number"] for r in rows] == ["T-T6", "T-T1", "T-T2", "T-T3", "T-T4", "T-T7"]
    assert rows[2]["case"] == "C-C1"
    assert rows[2]["source"] == "hotline"
    assert rows[0]["institution"] is None


def test_local_days_follow_daylight_saving(world):
    """23:30 UTC is the next day in Denmark in winter and in summer; 22:30 UTC only in
    summer (both backends, whatever the offset of the day)."""
    for number, moment in (
        ("D1", at(28, 23, 30)),  # Sunday 29 March 00:30 CET
        ("D2", at(29, 22, 30)),  # Monday 30 March 00:30 CEST
        ("D3", datetime(2026, 10, 24, 22, 30, tzinfo=UTC)),  # Sunday 25 Oct 00:30 CEST
        ("D4", datetime(2026, 10, 25, 22, 30, tzinfo=UTC)),  # Sunday 25 Oct 23:30 CET
    ):
        _db.session.add(
            Ticket(
                number=number,
                municipality=world.alfa,
                system=world.aula,
                created_by=world.superuser,
                subject=number,
                created_at=moment,
            )
        )
    _db.session.commit()
    args = {"from": "2026-03-28", "to": "2026-10-31"}
    figures = services.build("municipality", world.coordinator, args, now=NOW).figures
    assert figures["by_day"] == {"2026-03-29": 1, "2026-03-30": 1, "2026-10-25": 2}
    filters = ReportFilters.from_args(args)
    numbers = [r["number"] for r in ticket_rows(resolve(filters), [world.alfa.id])]
    assert numbers == ["D1", "D2", "D3", "D4"]


def test_percentiles_are_median_and_nearest_rank():
    assert percentiles([]) == {"median": None, "p90": None, "count": 0}
    assert percentiles([10, 20, 30, 40]) == {"median": 25.0, "p90": 40.0, "count": 4}
    values = list(range(1, 21))
    assert percentiles(values)["p90"] == 18.0

"""The reports' "Fik du hjælp?" figures: answers given in the period, per score, and their
average, per municipality; the page, the API and the rollout read the same numbers."""

from __future__ import annotations

import pytest

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.reports.periods import today_local
from supportdesk.tickets import lifecycle, services, surveys
from supportdesk.tickets.models import TicketStatus


@pytest.fixture
def answered(make_user, make_system):
    """answered(municipality, scores): a coordinator of a municipality whose superuser has
    answered the survey of one resolved ticket per score."""
    system = make_system("aula", categories=("login",))

    def _answered(municipality: str, scores: list[int]):
        coordinator = make_user(Role.coordinator, municipality=municipality)
        creator = make_user(Role.superuser, municipality=coordinator.municipality)
        for score in scores:
            ticket = services.create_ticket(
                creator,
                services.NewTicket(
                    system=system,
                    category=system.categories[0],
                    subject="Login",
                    description="Siden svarer ikke.",
                    institution=creator.institution,
                ),
            )
            lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
            surveys.answer(creator, ticket, score, "")
        db.session.commit()
        return coordinator

    return _answered


def test_satisfaction_per_municipality_in_the_report(client, login, make_user, answered):
    coordinator = answered("esbjerg", [5, 2, 5])
    answered("ribe", [1])
    today = today_local().isoformat()  # periods are Danish days, not UTC ones
    login(coordinator)
    figures = client.get(f"/api/v1/reports/municipality?from={today}&to={today}").get_json()
    assert figures["satisfaction"] == {
        "answers": 3,
        "average": 4.0,
        "by_score": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 2},
    }
    page = client.get(f"/reports/municipality?from={today}&to={today}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Tilfredshed, gennemsnit (1-5)" in html

    admin = make_user(Role.admin)
    login(admin)
    rollout = client.get(f"/api/v1/reports/rollout?from={today}&to={today}").get_json()
    municipalities = rollout["municipalities"]
    assert municipalities["esbjerg"]["satisfaction"]["average"] == 4.0
    assert municipalities["ribe"]["satisfaction"]["by_score"]["1"] == 1


def test_answers_outside_the_period_do_not_count(client, login, answered):
    coordinator = answered("esbjerg", [4])
    login(coordinator)
    figures = client.get("/api/v1/reports/municipality?from=2020-01-01&to=2020-01-31").get_json()
    assert figures["satisfaction"] == {
        "answers": 0,
        "average": None,
        "by_score": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }

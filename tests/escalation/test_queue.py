"""The vendor queue: filters, keyset pagination, no N+1."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from supportdesk.escalation import cases, listing, services
from supportdesk.escalation.models import CaseStatus, VendorCase
from supportdesk.extensions import db
from tests.escalation.conftest import client_for


def _cases(world, make_ticket, count: int):
    start = datetime(2026, 11, 23, 8, tzinfo=UTC)
    made = []
    for i in range(count):
        ticket = make_ticket(subject=f"Sag nummer {i}")
        made.append(
            services.escalate(
                world.coordinator,
                ticket,
                services.EscalationRequest(f"Resumé {i}", priority="high" if i % 2 else "normal"),
                now=start + timedelta(minutes=i),
            )
        )
    db.session.commit()
    return made


def test_filters_and_keyset_pages(app, world, make_ticket, count_queries):
    made = _cases(world, make_ticket, 7)
    cases.assign_case(world.agent, made[0], world.agent)
    cases.change_case_status(world.agent, made[1], CaseStatus.waiting_on_municipality)
    db.session.commit()
    numbers = [c.number for c in made]
    db.session.rollback()

    page = listing.list_cases(world.agent, listing.CaseFilters(), size=3)
    seen = [c.number for c in page.cases]
    while page.next_cursor:
        page = listing.list_cases(world.agent, listing.CaseFilters(cursor=page.next_cursor), size=3)
        seen += [c.number for c in page.cases]
    assert seen == list(reversed(numbers))

    def only(**kwargs):
        return {
            c.number for c in listing.list_cases(world.agent, listing.CaseFilters(**kwargs)).cases
        }

    assert only(priority="high") == {numbers[i] for i in (1, 3, 5)}
    assert only(status="waiting_on_municipality") == {numbers[1]}
    assert only(sla="paused") == {numbers[1]}
    assert only(assignee="me") == {numbers[0]}
    assert len(only(assignee="none")) == 6
    assert len(only(municipality="esbjerg")) == 7
    assert only(municipality="aalborg") == set()
    assert len(only(system="aula")) == 7
    assert listing.list_cases(world.other_agent, listing.CaseFilters()).cases == []

    client = client_for(app, world.agent)
    with count_queries() as queries:
        response = client.get("/cases")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert all(n in body for n in numbers)
    assert len(queries) <= 15, queries
    assert client.get("/cases?status=bogus").status_code == 422
    assert client.get("/cases?cursor=not-a-cursor").status_code == 422
    # The coordinator's list shows the municipality's cases; first level sees none.
    assert numbers[0] in client_for(app, world.coordinator).get("/cases").get_data(as_text=True)
    assert client_for(app, world.superuser).get("/cases").status_code == 404


def test_case_page_queries_do_not_grow_with_tickets_and_messages(
    app, world, make_ticket, count_queries
):
    def page_queries(extra: int) -> int:
        case = services.escalate(
            world.coordinator,
            make_ticket(),
            services.EscalationRequest("Resumé", share_description=True),
        )
        for i in range(extra):
            services.escalate(
                world.coordinator,
                make_ticket(world.superuser2),
                services.EscalationRequest(
                    f"Også {i}", case_number=case.number, share_description=True
                ),
            )
            cases.post_message(world.agent, case, f"Svar {i}")
        db.session.commit()
        number = case.number
        db.session.rollback()
        client = client_for(app, world.agent)
        with count_queries() as queries:
            assert client.get(f"/cases/{number}").status_code == 200
        case = db.session.scalar(select(VendorCase).where(VendorCase.number == number))
        cases.change_case_status(world.agent, case, CaseStatus.resolved)
        db.session.commit()
        return len(queries)

    assert page_queries(5) <= page_queries(1)


def test_api_case_list(app, world, make_ticket):
    from supportdesk.accounts import services as account_services

    made = _cases(world, make_ticket, 3)
    numbers = [c.number for c in made]
    _row, plain = account_services.create_token(world.agent, "t")
    _row, other = account_services.create_token(world.superuser, "t")
    db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {plain}"}
    first = client.get("/api/v1/cases?limit=2", headers=headers).get_json()
    assert [i["number"] for i in first["items"]] == [numbers[2], numbers[1]]
    second = client.get(f"/api/v1/cases?limit=2&cursor={first['next_cursor']}", headers=headers)
    assert [i["number"] for i in second.get_json()["items"]] == [numbers[0]]
    assert second.get_json()["next_cursor"] is None
    assert client.get("/api/v1/cases?limit=0", headers=headers).status_code == 422
    assert client.get("/api/v1/cases?sla=nope", headers=headers).status_code == 422
    superuser = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {other}"})
    assert superuser.status_code == 404


def test_queue_filters_offer_the_choices_of_the_viewers_side(app, world, make_system):
    """The vendor filters by municipality, by agent and by its own systems; a municipality
    by any vendor's system, and has neither the municipality nor the agent filter."""
    make_system("meebook-app", vendor=world.other_vendor)
    db.session.rollback()

    vendor_side = listing.queue_viewer(world.agent)
    assert vendor_side.vendor_side
    assert {"aalborg", "esbjerg"} <= {m.slug for m in vendor_side.municipalities}
    agents = {u.id for u in vendor_side.agents}
    assert world.agent.id in agents
    assert world.other_agent.id not in agents
    assert [s.slug for s in vendor_side.systems] == ["aula"]
    municipal = listing.queue_viewer(world.coordinator)
    assert not municipal.vendor_side
    assert municipal.municipalities == []
    assert municipal.agents == []
    assert [s.slug for s in municipal.systems] == ["aula", "meebook-app"]

    body = client_for(app, world.agent).get("/cases").get_data(as_text=True)
    assert 'name="municipality"' in body
    assert 'name="assignee"' in body
    assert '<option value="aula"' in body
    assert '<option value="meebook-app"' not in body
    body = client_for(app, world.coordinator).get("/cases").get_data(as_text=True)
    assert 'name="municipality"' not in body
    assert 'name="assignee"' not in body
    assert '<option value="meebook-app"' in body


def test_queue_priority_filter_offers_every_priority_most_urgent_first(app, world):
    body = client_for(app, world.agent).get("/cases?priority=high").get_data(as_text=True)
    select_html = body.split('name="priority"', 1)[1].split("</select>", 1)[0]
    values = re.findall(r'<option value="([^"]*)"', select_html)
    assert values == ["", "critical", "high", "normal", "low"]
    assert re.search(r'<option value="high"\s+selected>', select_html)
    assert not re.search(r'<option value="low"\s+selected>', select_html)

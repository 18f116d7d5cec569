"""Who may escalate and see cases; the vendor never sees what was not shared (HTML + API)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from supportdesk.accounts import services as account_services
from supportdesk.errors import NotEntitled, ValidationFailed
from supportdesk.escalation import services
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import db
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import TicketSource
from tests.escalation.conftest import client_for


def _token(user) -> dict[str, str]:
    _row, plain = account_services.create_token(user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def test_entitled_coordinator_escalates_over_api(app, world, make_ticket):
    ticket = make_ticket()
    response = app.test_client().post(
        f"/api/v1/tickets/{ticket.number}/escalate",
        json={"summary": "Login fejler", "share_entries": []},
        headers=_token(world.coordinator),
    )
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["case"]
    assert db.session.scalar(select(VendorCase.number)) == number


@pytest.mark.parametrize("who", ["unentitled", "superuser", "hotline"])
def test_others_who_see_the_ticket_get_403(app, world, make_ticket, who):
    ticket = make_ticket()
    if who == "hotline":
        ticket = ticket_services.create_ticket(
            world.hotline,
            ticket_services.NewTicket(
                system=world.system,
                category=None,
                subject="Forælder ringer",
                description="Kan ikke logge ind",
                source=TicketSource.hotline,
                requester_name="Forælder",
            ),
        )
        db.session.commit()
    user = getattr(world, who)
    client = app.test_client()
    response = client.post(
        f"/api/v1/tickets/{ticket.number}/escalate",
        json={"summary": "x"},
        headers=_token(user),
    )
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "not_entitled"
    html = client_for(app, user).post(f"/tickets/{ticket.number}/escalate", data={"summary": "x"})
    assert html.status_code == 403
    with pytest.raises(NotEntitled):
        services.escalate(user, ticket, services.EscalationRequest("x"))
    db.session.rollback()
    assert db.session.scalar(select(VendorCase.id)) is None


def test_coordinator_of_another_municipality_and_vendor_staff_get_404(app, world, make_ticket):
    ticket = make_ticket()
    for user in (world.other_coordinator, world.agent):
        response = app.test_client().post(
            f"/api/v1/tickets/{ticket.number}/escalate",
            json={"summary": "x"},
            headers=_token(user),
        )
        assert response.status_code == 404


def test_case_visibility(app, world, escalated):
    case = escalated()
    number = case.number
    assert client_for(app, world.agent).get(f"/cases/{number}").status_code == 200
    assert client_for(app, world.coordinator).get(f"/cases/{number}").status_code == 200
    # Another vendor's agent, another municipality, first level: not found.
    for user in (world.other_agent, world.other_coordinator, world.superuser, world.hotline):
        client = client_for(app, user)
        assert client.get(f"/cases/{number}").status_code == 404
        assert (
            app.test_client().get(f"/api/v1/cases/{number}", headers=_token(user)).status_code
            == 404
        )
    assert (
        client_for(app, world.other_agent).get("/cases").get_data(as_text=True).count(number) == 0
    )


def test_vendor_sees_only_what_was_shared(app, world, make_ticket):
    ticket = ticket_services.create_ticket(
        world.hotline,
        ticket_services.NewTicket(
            system=world.system,
            category=None,
            subject="Forælder kan ikke se beskeder",
            description="Beskrivelsen bliver ikke delt",
            source=TicketSource.hotline,
            requester_name="Hemmelig Forælder",
            requester_phone="hemmeligt-nummer",
            requester_email="hemmelig@example.dk",
        ),
    )
    shared = ticket_services.add_entry(world.coordinator, ticket, "Delt svar: prøv igen i morgen")
    unshared = ticket_services.add_entry(world.coordinator, ticket, "Ikke-delt svar om noget andet")
    note = ticket_services.add_entry(
        world.coordinator, ticket, "Intern note: skolelederen er sur", internal=True
    )
    db.session.commit()
    # An internal note can never be chosen.
    with pytest.raises(ValidationFailed):
        services.escalate(
            world.coordinator,
            ticket,
            services.EscalationRequest("Resumé", share_entry_ids=[note.id]),
        )
    db.session.rollback()
    case = services.escalate(
        world.coordinator,
        ticket,
        services.EscalationRequest("Resumé til leverandøren", share_entry_ids=[shared.id]),
    )
    db.session.commit()
    html = client_for(app, world.agent).get(f"/cases/{case.number}").get_data(as_text=True)
    api = app.test_client().get(f"/api/v1/cases/{case.number}", headers=_token(world.agent))
    assert api.status_code == 200
    text = json.dumps(api.get_json(), ensure_ascii=False)
    for page in (html, text):
        assert "Resumé til leverandøren" in page
        assert "Delt svar: prøv igen i morgen" in page
        for secret in (
            "Ikke-delt svar",
            "Intern note",
            "skolelederen",
            "Hemmelig Forælder",
            "hemmeligt-nummer",
            "hemmelig@example.dk",
            "Beskrivelsen bliver ikke delt",
            ticket.number,
        ):
            assert secret not in page, secret
    assert api.get_json()["tickets"] == []
    assert unshared.id not in [s.get("entry") for s in api.get_json()["shared"]]
    # The coordinator sees the ticket number in the same case.
    mine = app.test_client().get(f"/api/v1/cases/{case.number}", headers=_token(world.coordinator))
    assert mine.get_json()["tickets"] == [ticket.number]
    # Vendor staff never reach the municipal ticket page or its API.
    assert client_for(app, world.agent).get(f"/tickets/{ticket.number}").status_code == 404
    assert (
        app.test_client()
        .get(f"/api/v1/tickets/{ticket.number}", headers=_token(world.agent))
        .status_code
        == 404
    )


def test_vendor_agent_of_other_vendor_cannot_write(app, world, escalated):
    case = escalated()
    response = app.test_client().post(
        f"/api/v1/cases/{case.number}/messages",
        json={"body": "hej"},
        headers=_token(world.other_agent),
    )
    assert response.status_code == 404
    # An unentitled coordinator of the same municipality sees the case but may not write.
    response = app.test_client().post(
        f"/api/v1/cases/{case.number}/messages",
        json={"body": "hej"},
        headers=_token(world.unentitled),
    )
    assert response.status_code == 403

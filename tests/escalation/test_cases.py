"""Bundling, answers flowing back, status, masking and the API's case resource."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from supportdesk.accounts import services as account_services
from supportdesk.errors import Conflict, ValidationFailed
from supportdesk.escalation import cases, services
from supportdesk.escalation.models import (
    CaseStatus,
    SensitiveDataConfirmation,
    SharedItem,
    VendorCase,
)
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.sensitive import CPR_MASK
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.attachments import Upload
from supportdesk.tickets.models import EntryKind, TicketEntry, TicketStatus
from tests.escalation.conftest import client_for


def _token(user) -> dict[str, str]:
    _row, plain = account_services.create_token(user, "test")
    db.session.commit()
    return {"Authorization": f"Bearer {plain}"}


def test_bundling_two_institutions_answer_and_resolve(app, world, make_ticket):
    school_ticket = make_ticket(world.superuser, subject="Login fejler på skolen")
    daycare_ticket = make_ticket(world.superuser2, subject="Login fejler i børnehaven")
    coordinator = client_for(app, world.coordinator)
    response = coordinator.post(
        f"/tickets/{school_ticket.number}/escalate",
        data={"summary": "MitID-login fejler", "priority": "normal"},
    )
    assert response.status_code == 302
    case = db.session.scalar(select(VendorCase))
    number = case.number
    db.session.rollback()
    # The second ticket joins the open case; the form offers it.
    form = coordinator.get(f"/tickets/{daycare_ticket.number}/escalate").get_data(as_text=True)
    assert number in form
    response = coordinator.post(
        f"/tickets/{daycare_ticket.number}/escalate",
        data={"case": number, "summary": "Også i dagtilbud", "priority": "normal"},
    )
    assert response.status_code == 302
    case = db.session.scalar(select(VendorCase).where(VendorCase.number == number))
    assert {t.number for t in case.tickets} == {school_ticket.number, daycare_ticket.number}
    assert db.session.scalar(select(VendorCase.id).where(VendorCase.number != number)) is None
    db.session.rollback()

    vendor = client_for(app, world.agent)
    vendor_page = vendor.get(f"/cases/{number}").get_data(as_text=True)
    assert "Rosenvængets Skole" in vendor_page
    assert "Børnehuset Solsikken" in vendor_page
    assert (
        vendor.post(f"/cases/{number}/messages", data={"body": "Fejlen er fundet"}).status_code
        == 302
    )
    # The answer is on both tickets and the coordinator is notified.
    for ticket in (school_ticket, daycare_ticket):
        page = coordinator.get(f"/tickets/{ticket.number}").get_data(as_text=True)
        assert "Fejlen er fundet" in page
    notified = db.session.scalars(
        select(Notification).where(
            Notification.user_id == world.coordinator.id,
            Notification.event == NotificationEvent.case_message,
        )
    ).all()
    assert len(notified) == 1
    db.session.rollback()

    # Resolving the case offers resolving both tickets in one go.
    assert vendor.post(f"/cases/{number}/status", data={"status": "resolved"}).status_code == 302
    page = coordinator.get(f"/cases/{number}").get_data(as_text=True)
    assert f"/cases/{number}/resolve-tickets" in page
    assert school_ticket.number in page
    assert daycare_ticket.number in page
    case = db.session.scalar(select(VendorCase).where(VendorCase.number == number))
    ids = [str(t.id) for t in case.tickets]
    db.session.rollback()
    response = coordinator.post(f"/cases/{number}/resolve-tickets", data={"tickets": ids})
    assert response.status_code == 302
    case = db.session.scalar(select(VendorCase).where(VendorCase.number == number))
    assert {t.status for t in case.tickets} == {TicketStatus.resolved}
    assert (
        db.session.scalars(
            select(Notification.event).where(Notification.user_id == world.coordinator.id)
        )
        .all()
        .count(NotificationEvent.case_resolved)
        == 1
    )


def test_cannot_join_a_case_of_another_vendor_or_closed(world, make_ticket, escalated):
    case = escalated()
    ticket = make_ticket()
    with pytest.raises(ValidationFailed) as error:
        services.escalate(
            world.coordinator,
            ticket,
            services.EscalationRequest("x", case_number="NET-1999-000001"),
        )
    assert "case" in error.value.fields
    db.session.rollback()
    with pytest.raises(Conflict):
        services.escalate(world.coordinator, case.tickets[0], services.EscalationRequest("igen"))


def test_cpr_masked_for_vendor_unless_confirmed(app, world, make_ticket):
    ticket = make_ticket(description="Elevens cpr er 010203-1234, mor har tlf 20 30 40 50")
    entry = ticket_services.add_entry(
        world.coordinator, ticket, "Barnets cpr 0102031234 virker ikke"
    )
    db.session.commit()
    case = services.escalate(
        world.coordinator,
        ticket,
        services.EscalationRequest(
            "Eleven 010203-1234 kan ikke logge ind",
            share_entry_ids=[entry.id],
            share_description=True,
        ),
    )
    db.session.commit()
    html = client_for(app, world.agent).get(f"/cases/{case.number}").get_data(as_text=True)
    api = app.test_client().get(f"/api/v1/cases/{case.number}", headers=_token(world.agent))
    for page in (html, api.get_data(as_text=True)):
        assert "010203-1234" not in page
        assert "0102031234" not in page
        assert "20 30 40 50" not in page
        assert CPR_MASK in page
    assert all(s["masked"] for s in api.get_json()["shared"])
    assert db.session.scalar(select(SensitiveDataConfirmation.id)) is None

    # Confirmed: shared as written, and the confirmation is logged with who and when.
    other = make_ticket(description="cpr 010203-1234")
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    case2 = services.escalate(
        world.coordinator,
        other,
        services.EscalationRequest(
            "Eleven 010203-1234", share_description=True, confirm_sensitive=True
        ),
        now=now,
    )
    db.session.commit()
    api = app.test_client().get(f"/api/v1/cases/{case2.number}", headers=_token(world.agent))
    assert "010203-1234" in api.get_json()["summary"]
    assert "010203-1234" in api.get_json()["shared"][0]["text"]
    log = db.session.scalar(
        select(SensitiveDataConfirmation).where(SensitiveDataConfirmation.case_id == case2.id)
    )
    assert log.user_id == world.coordinator.id
    assert log.confirmed_at == now
    assert log.findings == 2


def test_municipal_message_masked_and_answers_waiting(app, world, escalated):
    case = escalated()
    cases.change_case_status(world.agent, case, CaseStatus.waiting_on_municipality)
    db.session.commit()
    # The coordinator answers from the ticket page; the case goes back to the vendor.
    ticket = case.tickets[0]
    page = (
        client_for(app, world.coordinator).get(f"/tickets/{ticket.number}").get_data(as_text=True)
    )
    assert f"/tickets/{ticket.number}/case-message" in page
    response = client_for(app, world.coordinator).post(
        f"/tickets/{ticket.number}/case-message",
        data={"body": "Barnets cpr er 010203-1234"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    case = db.session.get(VendorCase, case.id)
    assert case.status == CaseStatus.in_progress
    assert case.messages[-1].body == f"Barnets cpr er {CPR_MASK}"
    assert case.messages[-1].masked


def test_api_case_patch_and_messages(app, world, escalated):
    case = escalated()
    headers = _token(world.agent)
    client = app.test_client()
    data = client.get(f"/api/v1/cases/{case.number}", headers=headers).get_json()
    assert data["status"] == "new"
    assert data["vendor"] == "netcompany"
    assert data["sla"]["state"] == "ok"
    version = data["version"]
    response = client.patch(
        f"/api/v1/cases/{case.number}",
        json={"version": version, "status": "in_progress", "vendor_reference": "INC-4711"},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["vendor_reference"] == "INC-4711"
    assert response.get_json()["status"] == "in_progress"
    stale = client.patch(
        f"/api/v1/cases/{case.number}",
        json={"version": version, "priority": "high"},
        headers=headers,
    )
    assert stale.status_code == 409
    bad = client.patch(
        f"/api/v1/cases/{case.number}",
        json={"version": response.get_json()["version"], "status": "new"},
        headers=headers,
    )
    assert bad.status_code == 409
    assert bad.get_json()["error"]["code"] == "invalid_transition"
    invalid = client.post(
        f"/api/v1/cases/{case.number}/messages", json={"body": ""}, headers=headers
    )
    assert invalid.status_code == 422
    assert "body" in invalid.get_json()["error"]["fields"]
    created = client.post(
        f"/api/v1/cases/{case.number}/messages", json={"body": "Vi kigger på det"}, headers=headers
    )
    assert created.status_code == 201
    assert created.get_json()["from_vendor"] is True
    # The municipality may not set the vendor's own reference.
    mine = _token(world.coordinator)
    version = client.get(f"/api/v1/cases/{case.number}", headers=mine).get_json()["version"]
    response = client.patch(
        f"/api/v1/cases/{case.number}",
        json={"version": version, "vendor_reference": "X"},
        headers=mine,
    )
    assert response.status_code == 403
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/cases/{number}" in spec["paths"]
    assert "post" in spec["paths"]["/api/v1/tickets/{number}/escalate"]


def test_vendor_message_entry_is_staff_only_on_the_ticket(app, world, escalated):
    case = escalated()
    cases.post_message(world.agent, case, "Svar fra leverandøren")
    db.session.commit()
    entry = db.session.scalar(select(TicketEntry).where(TicketEntry.event == "vendor_message"))
    assert entry.kind == EntryKind.internal_note
    number = case.tickets[0].number
    db.session.rollback()
    superuser_view = client_for(app, world.superuser).get(f"/tickets/{number}")
    assert superuser_view.status_code == 200
    assert "Svar fra leverandøren" not in superuser_view.get_data(as_text=True)
    coordinator_view = client_for(app, world.coordinator).get(f"/tickets/{number}")
    assert "Svar fra leverandøren" in coordinator_view.get_data(as_text=True)


def test_shared_items_snapshot_does_not_follow_later_edits(world, make_ticket):
    ticket = make_ticket()
    entry = ticket_services.add_entry(world.coordinator, ticket, "Original tekst")
    db.session.commit()
    case = services.escalate(
        world.coordinator, ticket, services.EscalationRequest("x", share_entry_ids=[entry.id])
    )
    db.session.commit()
    entry.body = "Ændret bagefter"
    db.session.commit()
    item = db.session.scalar(select(SharedItem).where(SharedItem.case_id == case.id))
    assert item.text == "Original tekst"


def test_shared_attachment_download_only_when_shared(app, world, make_ticket):
    import io

    ticket = make_ticket()
    public = ticket_services.add_entry(
        world.coordinator,
        ticket,
        "Skærmbillede vedhæftet",
        uploads=[Upload("fejl 010203-1234.txt", io.BytesIO(b"fejllog linje 1\n"))],
    )
    internal = ticket_services.add_entry(
        world.coordinator,
        ticket,
        "Intern fil",
        internal=True,
        uploads=[Upload("intern.txt", io.BytesIO(b"hemmeligt\n"))],
    )
    db.session.commit()
    public_file = public.attachments[0]
    internal_file = internal.attachments[0]
    with pytest.raises(ValidationFailed):
        services.escalate(
            world.coordinator,
            ticket,
            services.EscalationRequest("x", share_attachment_ids=[internal_file.id]),
        )
    db.session.rollback()
    case = services.escalate(
        world.coordinator,
        ticket,
        services.EscalationRequest("x", share_attachment_ids=[public_file.id]),
    )
    db.session.commit()
    item = db.session.scalar(select(SharedItem).where(SharedItem.case_id == case.id))
    assert item.filename == f"fejl {CPR_MASK}.txt"
    number, item_id = case.number, item.id
    db.session.rollback()
    vendor = client_for(app, world.agent)
    response = vendor.get(f"/cases/{number}/shared/{item_id}")
    assert response.status_code == 200
    assert response.data == b"fejllog linje 1\n"
    assert "attachment" in response.headers["Content-Disposition"]
    assert "010203" not in response.headers["Content-Disposition"]
    response.close()
    assert vendor.get(f"/cases/{number}/shared/{item_id + 1}").status_code == 404
    assert (
        client_for(app, world.other_agent).get(f"/cases/{number}/shared/{item_id}").status_code
        == 404
    )

"""The answer flow: the coordinator passes a vendor answer on (with a preview of
what each reporter reads) or keeps it internal; the reporter hears of escalation, relayed
answers and resolution; a municipality may relay answers automatically; the API lists the
caller's notifications."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.escalation import cases
from supportdesk.escalation.models import CaseMessage
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.tickets import lifecycle
from supportdesk.tickets.models import EntryKind, TicketEntry, TicketStatus
from tests.escalation.conftest import client_for

ANSWER = "Vi har genstartet login-tjenesten. Intern note: kunden bruger gammel klient."
RELAYED = "Leverandøren har genstartet login-tjenesten. Prøv venligst igen."


def _notes(user, event: NotificationEvent) -> list[Notification]:
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id, Notification.event == event)
            .order_by(Notification.id)
        )
    )


def _vendor_answers(world, case, text: str = ANSWER) -> int:
    message = cases.post_message(world.agent, case, text)
    db.session.commit()
    return message.id


def test_the_reporter_is_told_when_their_ticket_is_escalated(world, make_ticket, escalated):
    ticket = make_ticket()
    case = escalated(ticket)
    [note] = _notes(world.superuser, NotificationEvent.ticket_escalated)
    assert note.url == f"/tickets/{ticket.number}"
    assert note.context["case"] == case.number
    # what was shared with the vendor is not in the reporter's notice
    assert "MitID" not in str(note.context)
    # the coordinator who escalated is not told of their own act
    assert _notes(world.coordinator, NotificationEvent.ticket_escalated) == []


def test_vendor_answer_waits_for_the_coordinators_choice(app, world, make_ticket, escalated):
    ticket = make_ticket()
    case = escalated(ticket)
    message_id = _vendor_answers(world, case)
    # on the ticket as an internal note only; the reporter sees and hears nothing yet
    entries = db.session.scalars(
        select(TicketEntry).where(TicketEntry.ticket_id == ticket.id, TicketEntry.body == ANSWER)
    ).all()
    assert [e.kind for e in entries] == [EntryKind.internal_note]
    assert _notes(world.superuser, NotificationEvent.answer_relayed) == []
    db.session.rollback()
    coordinator = client_for(app, world.coordinator)
    page = coordinator.get(f"/cases/{case.number}").get_data(as_text=True)
    # the per-message choice, and the two text areas say who reads them
    assert f"/cases/{case.number}?relay={message_id}#relay" in page
    assert f"/cases/{case.number}/messages/{message_id}/internal" in page
    assert "Besked til leverandøren" in page
    assert "Kun Netcompany læser dette. Anmelderne ser det ikke." in page
    assert "Svar til anmelderne" in page
    assert "Hvem får hvad" in page
    assert "Denne formular går kun til anmelderne af de valgte henvendelser" in page
    vendor_page = client_for(app, world.agent).get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Besked til kommunen" in vendor_page
    assert "Svar til anmelderne" not in vendor_page


def test_relay_with_preview_reaches_the_reporter(app, world, make_ticket, escalated):
    ticket = make_ticket()
    other = make_ticket(creator=world.superuser2, subject="Beskeder kommer ikke frem")
    case = escalated(ticket)
    escalated(other, case_number=case.number)
    message_id = _vendor_answers(world, case)
    coordinator = client_for(app, world.coordinator)

    # prefilled from the vendor's text, with the preview of exactly what each reporter reads
    page = coordinator.get(f"/cases/{case.number}?relay={message_id}").get_data(as_text=True)
    assert "Forhåndsvisning: det, hver anmelder læser" in page
    assert "Sanne Superbruger ser det på henvendelsen" in page
    assert "Dorte Dagtilbud ser det på henvendelsen" in page
    assert f"Svar fra leverandøren på henvendelse {ticket.number}" in page

    # previewing the edited text sends nothing
    data = {
        "body": RELAYED,
        "tickets": [str(ticket.id), str(other.id)],
        "message": str(message_id),
        "action": "preview",
    }
    response = coordinator.post(f"/cases/{case.number}/relay", data=data)
    assert response.status_code == 200
    preview = response.get_data(as_text=True)
    assert RELAYED in preview
    assert 'value="preview"' in preview
    assert db.session.scalar(select(TicketEntry).where(TicketEntry.body == RELAYED)) is None
    db.session.rollback()

    response = coordinator.post(f"/cases/{case.number}/relay", data={**data, "action": "send"})
    assert response.status_code == 302, response.get_data(as_text=True)
    for reporter, target in ((world.superuser, ticket), (world.superuser2, other)):
        [note] = _notes(reporter, NotificationEvent.answer_relayed)
        assert note.url == f"/tickets/{target.number}"
        assert note.context["excerpt"] == RELAYED
        assert note.context["case"] == case.number
        entry = db.session.scalar(
            select(TicketEntry).where(
                TicketEntry.ticket_id == target.id, TicketEntry.body == RELAYED
            )
        )
        assert entry.kind == EntryKind.reply
        assert entry.event == "answer_relayed"
    message = db.session.get(CaseMessage, message_id)
    assert message.handling == "relayed"
    assert message.handled_by_id == world.coordinator.id
    db.session.rollback()

    page = client_for(app, world.superuser).get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert RELAYED in page
    assert "Svar fra leverandøren" in page
    assert "Intern note: kunden bruger gammel klient" not in page
    case_page = coordinator.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Sendt videre til anmelderne af Karen Koordinator." in case_page


def test_keep_internal_tells_nobody(app, world, make_ticket, escalated):
    ticket = make_ticket()
    case = escalated(ticket)
    message_id = _vendor_answers(world, case)
    coordinator = client_for(app, world.coordinator)
    response = coordinator.post(f"/cases/{case.number}/messages/{message_id}/internal")
    assert response.status_code == 302
    assert db.session.get(CaseMessage, message_id).handling == "internal"
    assert _notes(world.superuser, NotificationEvent.answer_relayed) == []
    db.session.rollback()
    page = coordinator.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Beholdt internt af Karen Koordinator: ingen anmelder ser den." in page
    superuser_page = client_for(app, world.superuser).get(f"/tickets/{ticket.number}")
    assert "Vi har genstartet login-tjenesten" not in superuser_page.get_data(as_text=True)


def test_only_the_municipal_side_chooses(app, world, make_ticket, escalated, make_user):
    case = escalated(make_ticket())
    message_id = _vendor_answers(world, case)
    own_message = cases.post_message(world.coordinator, case, "Tak, vi giver det videre.")
    db.session.commit()
    own_id = own_message.id
    url = f"/cases/{case.number}/messages/{message_id}/internal"
    # another municipality's coordinator and the vendor cannot choose
    assert client_for(app, world.other_coordinator).post(url).status_code == 404
    assert client_for(app, world.agent).post(url).status_code in (403, 404)
    assert client_for(app, world.superuser).post(url).status_code in (403, 404)
    # the municipality's own messages are not the vendor's answer
    response = client_for(app, world.coordinator).post(
        f"/cases/{case.number}/messages/{own_id}/internal"
    )
    assert response.status_code == 404
    relay = client_for(app, world.other_coordinator).post(
        f"/cases/{case.number}/relay", data={"body": RELAYED, "action": "send"}
    )
    assert relay.status_code == 404
    assert db.session.get(CaseMessage, message_id).handling is None


def test_relay_refuses_a_closed_ticket(app, world, make_ticket, escalated):
    ticket = make_ticket()
    case = escalated(ticket)
    lifecycle.change_status(world.coordinator, ticket, TicketStatus.closed)
    db.session.commit()
    response = client_for(app, world.coordinator).post(
        f"/cases/{case.number}/relay",
        data={"body": RELAYED, "tickets": [str(ticket.id)], "action": "send"},
    )
    assert response.status_code == 422
    assert db.session.scalar(select(TicketEntry).where(TicketEntry.body == RELAYED)) is None


def test_the_municipality_may_relay_answers_automatically(app, world, make_ticket, escalated):
    ticket = make_ticket()
    case = escalated(ticket)
    world.coordinator.municipality.auto_relay_answers = True
    db.session.commit()
    message_id = _vendor_answers(world, case, "Rettet. Prøv igen.")
    entries = db.session.scalars(
        select(TicketEntry).where(
            TicketEntry.ticket_id == ticket.id, TicketEntry.body == "Rettet. Prøv igen."
        )
    ).all()
    assert [(e.kind, e.event) for e in entries] == [(EntryKind.reply, "answer_relayed")]
    [note] = _notes(world.superuser, NotificationEvent.answer_relayed)
    assert note.context["excerpt"] == "Rettet. Prøv igen."
    message = db.session.get(CaseMessage, message_id)
    assert message.handling == "relayed"
    assert message.handled_by_id is None
    db.session.rollback()
    page = client_for(app, world.coordinator).get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Sendt automatisk videre til anmelderne." in page


def test_the_reporter_is_told_of_the_resolution(world, make_ticket, escalated):
    ticket = make_ticket()
    escalated(ticket)
    lifecycle.change_status(world.coordinator, ticket, TicketStatus.resolved)
    db.session.commit()
    [note] = _notes(world.superuser, NotificationEvent.ticket_resolved)
    assert note.url == f"/tickets/{ticket.number}"
    # other changes keep their own event
    lifecycle.change_status(world.coordinator, ticket, TicketStatus.open)
    db.session.commit()
    assert len(_notes(world.superuser, NotificationEvent.ticket_status)) == 1


def test_municipal_admin_sets_automatic_relaying(app, world, make_user):
    admin = make_user(Role.municipal_admin, municipality=world.coordinator.municipality)
    client = client_for(app, admin)
    page = client.get("/admin/answers")
    assert page.status_code == 200
    assert "Send leverandørens svar automatisk videre til anmelderne" in page.get_data(as_text=True)
    assert client.post("/admin/answers", data={"auto_relay": "yes"}).status_code == 302
    assert world.coordinator.municipality.auto_relay_answers is True
    db.session.rollback()
    assert client.post("/admin/answers", data={}).status_code == 302
    db.session.refresh(world.coordinator.municipality)
    assert world.coordinator.municipality.auto_relay_answers is False
    db.session.rollback()
    # a coordinator, and another municipality's admin, cannot
    assert client_for(app, world.coordinator).get("/admin/answers").status_code in (403, 404)
    other_admin = make_user(Role.municipal_admin, municipality=world.other_coordinator.municipality)
    response = client_for(app, other_admin).get(
        f"/admin/answers?municipality={world.coordinator.municipality.slug}"
    )
    assert response.status_code == 404


def test_api_lists_the_callers_notifications_newest_first(app, world, make_ticket, escalated):
    ticket = make_ticket()
    case = escalated(ticket)
    message_id = _vendor_answers(world, case)
    cases.relay(world.coordinator, case, RELAYED, [ticket.id], message_id)
    lifecycle.change_status(world.coordinator, ticket, TicketStatus.resolved)
    db.session.commit()
    response = client_for(app, world.superuser).get("/api/v1/notifications")
    assert response.status_code == 200
    items = response.get_json()
    flow = ("ticket_resolved", "answer_relayed", "ticket_escalated")
    ours = [i for i in items if i["event"] in flow]  # (the survey's request comes too)
    assert [i["event"] for i in ours] == list(flow)
    first = ours[0]
    assert set(first) == {"id", "event", "ticket", "case", "text", "read", "created_at"}
    assert first["ticket"] == ticket.number
    assert ours[1]["case"] == case.number
    assert ours[1]["text"].startswith(f"Svar fra leverandøren på henvendelse {ticket.number}")
    assert first["read"] is False
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    # only the caller's own
    others = client_for(app, world.superuser2).get("/api/v1/notifications").get_json()
    assert all(i["ticket"] != ticket.number for i in others)
    assert app.test_client().get("/api/v1/notifications").status_code == 401

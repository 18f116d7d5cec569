"""Hotline intake over HTTP; who is notified of assignments, replies, notes, status."""

from __future__ import annotations

import json

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification
from supportdesk.outbox import OutboxMessage
from supportdesk.tickets import lifecycle, services
from supportdesk.tickets.models import Queue, Ticket, TicketSource


def test_hotline_takes_a_call_with_institution_lookup(
    make_user, make_institution, system, client, login
):
    hotline = make_user(Role.hotline, municipality="esbjerg")
    school = make_institution(hotline.municipality, name="Rosenvængets Skole")
    make_institution(hotline.municipality, name="Rosenvængets SFO")
    queue = Queue(
        municipality_id=hotline.municipality_id, slug="hl", name="Hotline", is_hotline=True
    )
    db.session.add(queue)
    db.session.commit()
    login(hotline)
    form = client.get("/tickets/hotline")
    assert form.status_code == 200
    assert b'list="institution-list"' in form.data
    call = {
        "requester_name": "Mette Hansen (forælder)",
        "requester_phone": "+45 20 30 40 50",
        "topic": f"c{system.categories[0].id}",
        "subject": "Kan ikke se sit barns beskeder",
        "description": "Ringede kl. 8",
        "priority": "normal",
    }
    ambiguous = client.post("/tickets/hotline", data={**call, "institution_lookup": "Rosenvæng"})
    assert ambiguous.status_code == 422
    assert b"Flere institutioner passer" in ambiguous.data
    unknown = client.post("/tickets/hotline", data={**call, "institution_lookup": "Findes ikke"})
    assert unknown.status_code == 422
    assert db.session.scalar(select(Ticket)) is None
    ok = client.post("/tickets/hotline", data={**call, "institution_lookup": school.number})
    assert ok.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert ticket.institution == school
    assert ticket.source == TicketSource.hotline
    assert ticket.requester_name == "Mette Hansen (forælder)"
    assert ticket.queue == queue  # no rule matched: the hotline queue
    by_name = client.post(
        "/tickets/hotline", data={**call, "institution_lookup": "rosenvængets skole"}
    )
    assert by_name.status_code == 302
    queue_page = client.get("/tickets?scope=queue").data.decode()
    assert ticket.number in queue_page


def test_notifications_follow_the_audience(make_user, make_ticket, db):
    ticket = make_ticket()
    creator = ticket.created_by
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    colleague = make_user(Role.coordinator, municipality=ticket.municipality)
    lifecycle.assign(coordinator, ticket, colleague)
    services.add_entry(coordinator, ticket, "FORTROLIG vurdering", internal=True)
    services.add_entry(coordinator, ticket, "Offentligt svar")
    lifecycle.change_status(coordinator, ticket, "waiting")
    db.session.commit()
    rows = db.session.scalars(select(Notification).order_by(Notification.id)).all()
    got = [(n.user_id, n.event.value) for n in rows]
    assert (colleague.id, "ticket_assigned") in got
    assert (colleague.id, "ticket_internal_note") in got
    assert (creator.id, "ticket_reply") in got
    assert (creator.id, "ticket_status") in got
    assert (creator.id, "ticket_internal_note") not in got
    for n in rows:
        if n.user_id == creator.id:
            assert "FORTROLIG" not in json.dumps(n.context)
    for message in db.session.scalars(select(OutboxMessage)):
        if creator.email in json.dumps(message.payload):
            assert "FORTROLIG" not in json.dumps(message.payload)

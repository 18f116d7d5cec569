"""The whole support chain through HTTP, one test: superuser → coordinator → vendor → back."""

from __future__ import annotations

import re

from sqlalchemy import select

from supportdesk.escalation.models import CaseMessage, VendorCase
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket, TicketStatus
from tests.escalation.conftest import client_for


def test_superuser_to_vendor_and_back(app, world):
    superuser = client_for(app, world.superuser)
    coordinator = client_for(app, world.coordinator)
    vendor = client_for(app, world.agent)
    category = world.system.categories[0]

    # 1. The superuser logs a ticket.
    response = superuser.post(
        "/tickets/new",
        data={
            "topic": f"c{category.id}",
            "subject": "Forældre kan ikke logge ind",
            "description": "Flere forældre får fejl 500 ved MitID-login.",
            "priority": "normal",
            "institution": world.school.number,
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    number = response.headers["Location"].rsplit("/", 1)[-1]
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == number))
    assert ticket is not None
    db.session.rollback()  # SQLite: do not hold the write lock while the app works

    # 2. The coordinator sees the ticket with the escalate panel and escalates it.
    page = coordinator.get(f"/tickets/{number}").get_data(as_text=True)
    assert f"/tickets/{number}/escalate" in page
    assert coordinator.get(f"/tickets/{number}/escalate").status_code == 200
    response = coordinator.post(
        f"/tickets/{number}/escalate",
        data={
            "case": "",
            "summary": "Login via MitID fejler for forældre på Rosenvængets Skole.",
            "priority": "high",
            "share_description": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    case = db.session.scalar(select(VendorCase))
    assert case is not None
    assert re.fullmatch(r"NET-\d{4}-\d{6}", case.number)
    assert db.session.get(Ticket, ticket.id).status == TicketStatus.escalated
    db.session.rollback()

    # 3. The vendor finds it in the queue, reads it and answers.
    queue = vendor.get("/cases").get_data(as_text=True)
    assert case.number in queue
    page = vendor.get(f"/cases/{case.number}").get_data(as_text=True)
    assert "Login via MitID fejler" in page
    assert "Flere forældre får fejl 500" in page
    assert vendor.get(f"/tickets/{number}").status_code == 404
    response = vendor.post(
        f"/cases/{case.number}/messages",
        data={"body": "Vi har genstartet login-tjenesten. Prøv igen."},
    )
    assert response.status_code == 302

    # The answer is on the ticket for the coordinator, not yet for the superuser.
    assert "Vi har genstartet login-tjenesten" in coordinator.get(f"/tickets/{number}").get_data(
        as_text=True
    )
    assert "Vi har genstartet login-tjenesten" not in superuser.get(f"/tickets/{number}").get_data(
        as_text=True
    )

    # 4. The coordinator relays the answer, edited, as a public reply.
    message = db.session.scalar(select(CaseMessage).where(CaseMessage.from_vendor.is_(True)))
    db.session.rollback()
    prefilled = coordinator.get(f"/cases/{case.number}?relay={message.id}").get_data(as_text=True)
    assert "Vi har genstartet login-tjenesten. Prøv igen." in prefilled
    response = coordinator.post(
        f"/cases/{case.number}/relay",
        data={
            "body": "Leverandøren har genstartet login-tjenesten. Prøv venligst igen.",
            "tickets": [str(ticket.id)],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)

    # 5. The superuser reads the answer on their ticket.
    page = superuser.get(f"/tickets/{number}").get_data(as_text=True)
    assert "Leverandøren har genstartet login-tjenesten. Prøv venligst igen." in page

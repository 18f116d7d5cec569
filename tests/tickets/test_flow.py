"""Pages: create, view, reply, note, assign, status — the way a browser drives them."""

from __future__ import annotations

from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.tickets.models import Ticket, TicketStatus, TicketView


def test_superuser_creates_ticket_through_the_form(client, login, make_user, system, db):
    user = login(make_user(Role.superuser, municipality="esbjerg"))
    page = client.get("/tickets/new")
    assert page.status_code == 200
    assert b"Aula - Login" in page.data
    # institution preset to the superuser's own
    assert f'<option selected value="{user.institution.number}">'.encode() in page.data
    category = system.categories[0]
    response = client.post(
        "/tickets/new",
        data={
            "topic": f"c{category.id}",
            "subject": "Aula viser ingen beskeder",
            "description": "Siden er **tom**.",
            "priority": "high",
            "institution": user.institution.number,
        },
    )
    assert response.status_code == 302
    ticket = db.session.scalar(select(Ticket))
    assert response.headers["Location"].endswith(f"/tickets/{ticket.number}")
    code = user.municipality.code
    assert ticket.number.startswith(f"{code}-{ticket.created_at.year}-")
    assert ticket.status == TicketStatus.new
    page = client.get(f"/tickets/{ticket.number}")
    assert page.status_code == 200
    assert b"<strong>tom</strong>" in page.data
    db.session.commit()  # the request's read snapshot is shared with the test
    assert db.session.scalar(select(func.count()).select_from(TicketView)) == 1


def test_new_ticket_form_errors_are_422_in_danish(client, login, make_user, system):
    login(make_user(Role.superuser))
    response = client.post("/tickets/new", data={"topic": "", "subject": "", "description": ""})
    assert response.status_code == 422
    assert b"error-summary" in response.data
    assert b"Skriv et kort emne." in response.data


def test_coordinator_takes_assigns_notes_and_replies_superuser_sees_only_reply(
    client, new_client, login, make_user, make_ticket, db
):
    creator = make_user(Role.superuser, municipality="esbjerg")
    ticket = make_ticket(creator)
    coordinator = make_user(Role.coordinator, municipality=creator.municipality)
    colleague = make_user(Role.coordinator, municipality=creator.municipality, name="Kollega Ko")
    login(coordinator)
    queue = client.get("/tickets?unassigned=1&status=new")
    assert ticket.number.encode() in queue.data
    page = client.get(f"/tickets/{ticket.number}")
    assert b"Kollega Ko" in page.data  # assign select offered
    response = client.post(
        f"/tickets/{ticket.number}/assign",
        data={"assignee": str(colleague.id), "version": ticket.version},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert ticket.assignee_id == colleague.id
    assert ticket.status == TicketStatus.open
    client.post(
        f"/tickets/{ticket.number}/entries",
        data={"body": "HEMMELIG intern vurdering", "internal": "y"},
    )
    client.post(f"/tickets/{ticket.number}/entries", data={"body": "Vi kigger på det nu."})
    response = client.post(
        f"/tickets/{ticket.number}/status",
        data={"status": "waiting", "version": db.session.get(Ticket, ticket.id).version},
    )
    assert response.status_code == 302
    staff_view = client.get(f"/tickets/{ticket.number}").data
    assert b"HEMMELIG intern vurdering" in staff_view
    assert "Vi kigger på det nu.".encode() in staff_view

    superuser = new_client()
    login(creator, on=superuser)
    page = superuser.get(f"/tickets/{ticket.number}")
    assert page.status_code == 200
    assert "Vi kigger på det nu.".encode() in page.data
    assert b"HEMMELIG" not in page.data
    api = superuser.get(f"/api/v1/tickets/{ticket.number}")
    assert api.status_code == 200
    assert b"HEMMELIG" not in api.data
    assert all(e["kind"] != "internal_note" for e in api.get_json()["entries"])

"""The queue and ticket page for daily work."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from supportdesk.accounts.models import Role
from supportdesk.extensions import db, utcnow
from supportdesk.tickets import lifecycle
from supportdesk.tickets.models import Priority, SavedView, Ticket, TicketStatus


def test_the_queue_hides_closed_tickets_unless_asked(client, login, make_user, make_ticket):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    open_ticket = make_ticket(municipality="esbjerg", subject="Åben sag")
    closed = make_ticket(municipality="esbjerg", subject="Lukket sag")
    lifecycle.change_status(coordinator, closed, TicketStatus.closed)
    db.session.commit()
    login(coordinator)
    default = client.get("/tickets").get_data(as_text=True)
    assert open_ticket.number in default
    assert closed.number not in default
    everything = client.get("/tickets?status=all").get_data(as_text=True)
    assert closed.number in everything
    only_closed = client.get("/tickets?status=closed").get_data(as_text=True)
    assert closed.number in only_closed
    assert open_ticket.number not in only_closed


def test_age_column_and_assign_to_me_from_the_queue(client, login, make_user, make_ticket):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    ticket = make_ticket(municipality="esbjerg")
    db.session.execute(
        update(Ticket).where(Ticket.id == ticket.id).values(created_at=utcnow() - timedelta(days=3))
    )
    db.session.commit()
    login(coordinator)
    html = client.get("/tickets").get_data(as_text=True)
    assert '<td class="age">3 dage</td>' in html
    assert f'formaction="/tickets/{ticket.number}/assign-to-me"' in html
    response = client.post(
        f"/tickets/{ticket.number}/assign-to-me", data={"next": "/tickets?status=new"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tickets?status=new")
    db.session.refresh(ticket)
    assert ticket.assignee_id == coordinator.id
    assert ticket.status == TicketStatus.open
    # a superuser cannot take tickets
    login(make_user(Role.superuser, municipality="esbjerg"))
    assert client.post(f"/tickets/{ticket.number}/assign-to-me").status_code == 404


def test_saved_views_are_per_user_and_mine_lists_my_open_tickets(
    client, login, make_user, make_ticket
):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    colleague = make_user(Role.coordinator, municipality="esbjerg")
    mine = make_ticket(municipality="esbjerg", subject="Min sag")
    theirs = make_ticket(municipality="esbjerg", subject="Kollegas sag")
    lifecycle.assign(coordinator, mine, coordinator)
    lifecycle.assign(coordinator, theirs, colleague)
    db.session.commit()
    login(coordinator)
    response = client.post(
        "/tickets/views", data={"name": "Høj prioritet", "query": "priority=high&sort=oldest"}
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tickets?priority=high&sort=oldest")
    html = client.get("/tickets").get_data(as_text=True)
    assert 'href="/tickets?priority=high&amp;sort=oldest"' in html
    assert "Høj prioritet" in html
    mine_link = f"/tickets?assignee={coordinator.id}&amp;status=new&amp;status=open"
    assert mine_link in html
    listed = client.get(
        f"/tickets?assignee={coordinator.id}&status=new&status=open&status=waiting"
    ).get_data(as_text=True)
    assert mine.number in listed
    assert theirs.number not in listed

    login(colleague)
    assert "Høj prioritet" not in client.get("/tickets").get_data(as_text=True)
    view = db.session.query(SavedView).one()
    assert client.post(f"/tickets/views/{view.id}/delete").status_code == 404
    login(coordinator)
    assert client.post(f"/tickets/views/{view.id}/delete").status_code == 302
    assert db.session.query(SavedView).count() == 0


def test_people_with_the_same_name_are_told_apart(
    client, login, make_user, make_institution, make_ticket
):
    coordinator = make_user(Role.coordinator, municipality="esbjerg", name="Anne Pedersen")
    town = coordinator.municipality
    school = make_institution(town, name="Vestre Skole")
    make_user(Role.hotline, institution=school, name="Anne Pedersen", email="anne.p@vestre.dk")
    make_user(Role.coordinator, municipality=town, name="Bo Holm")
    ticket = make_ticket(municipality="esbjerg")
    login(coordinator)
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert ">Anne Pedersen (Vestre Skole)<" in page
    assert ">Anne Pedersen (Supportberettiget)<" in page
    assert ">Bo Holm<" in page
    queue = client.get("/tickets").get_data(as_text=True)
    assert ">Anne Pedersen (Vestre Skole)<" in queue
    # two of the same name in the same place: the e-mail tells them apart
    twin = make_user(Role.coordinator, municipality=town, name="Bo Holm", email="bo2@esbjerg.dk")
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert ">Bo Holm (Supportberettiget, bo2@esbjerg.dk)<" in page
    assert twin.email in page


def test_one_side_form_changes_status_assignee_and_priority(client, login, make_user, make_ticket):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    colleague = make_user(Role.coordinator, municipality="esbjerg")
    ticket = make_ticket(municipality="esbjerg")
    login(coordinator)
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert page.count('action="/tickets/' + ticket.number + '/handling"') == 1
    for old in ("/status", "/assign", "/priority"):
        assert f'action="/tickets/{ticket.number}{old}"' not in page
    assert "Tastaturgenveje" in page
    response = client.post(
        f"/tickets/{ticket.number}/handling",
        data={
            "status": "waiting",
            "assignee": str(colleague.id),
            "priority": "high",
            "version": ticket.version,
        },
    )
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert (ticket.status, ticket.assignee_id, ticket.priority) == (
        TicketStatus.waiting,
        colleague.id,
        Priority.high,
    )
    # a stale version changes nothing and says why
    stale = client.post(
        f"/tickets/{ticket.number}/handling",
        data={"status": "open", "assignee": "", "priority": "low", "version": 1},
    )
    assert stale.status_code == 409
    db.session.refresh(ticket)
    assert ticket.priority == Priority.high

"""Canned replies on the pages: written once, inserted with placeholders
filled in, without JavaScript, keeping the draft; an FAQ article as a link."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.replies.models import CannedReply
from supportdesk.tickets import services as tickets
from tests.factories import file_ticket, published_article


def _ticket(make_user, make_institution, make_system):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    school = make_institution(coordinator.municipality, name="Vestre Skole")
    reporter = make_user(Role.superuser, institution=school, name="Karen Holm")
    system = make_system("aula")
    ticket = file_ticket(reporter, system, subject="Login", description="Virker ikke", commit=True)
    return coordinator, ticket, system


def test_write_a_canned_reply_and_insert_it_without_javascript(
    client, login, make_user, make_institution, make_system
):
    coordinator, ticket, _system = _ticket(make_user, make_institution, make_system)
    login(coordinator)
    response = client.post(
        "/canned-replies",
        data={"title": "Log ud", "body": "Hej {reporter} på {institution}. Sag {ticket}."},
    )
    assert response.status_code == 302
    reply = db.session.query(CannedReply).one()
    assert reply.municipality_id == coordinator.municipality_id

    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert f'formaction="/tickets/{ticket.number}/insert-reply"' in page
    filled = f"Hej Karen Holm på Vestre Skole. Sag {ticket.number}."
    assert f'data-text="{filled}"' in page

    inserted = client.post(
        f"/tickets/{ticket.number}/insert-reply",
        data={"body": "Min kladde", "canned": str(reply.id), "insert": "canned"},
    )
    assert inserted.status_code == 200
    html = inserted.get_data(as_text=True)
    assert f"Min kladde\n\n{filled}</textarea>" in html
    assert not tickets.visible_entries(coordinator, ticket)[1:]  # nothing was sent


def test_faq_article_inserted_as_a_link(client, login, make_user, make_institution, make_system):
    coordinator, ticket, system = _ticket(make_user, make_institution, make_system)
    published_article(system)
    login(coordinator)
    response = client.post(
        f"/tickets/{ticket.number}/insert-reply",
        data={"body": "", "article": "log-ind-med-mitid", "insert": "article"},
    )
    assert response.status_code == 200
    assert "[Log ind med MitID](/faq/log-ind-med-mitid)</textarea>" in response.get_data(
        as_text=True
    )


def test_another_municipality_s_reply_cannot_be_inserted_or_deleted(
    client, login, make_user, make_institution, make_system
):
    coordinator, ticket, _system = _ticket(make_user, make_institution, make_system)
    foreign = make_user(Role.coordinator, municipality="ribe")
    reply = CannedReply(municipality_id=foreign.municipality_id, title="Ribe", body="Hemmelig")
    db.session.add(reply)
    db.session.commit()
    login(coordinator)
    assert "Hemmelig" not in client.get("/canned-replies").get_data(as_text=True)
    response = client.post(
        f"/tickets/{ticket.number}/insert-reply",
        data={"body": "kladde", "canned": str(reply.id), "insert": "canned"},
    )
    assert response.status_code == 422
    assert "Hemmelig" not in response.get_data(as_text=True)
    assert "kladde</textarea>" in response.get_data(as_text=True)
    assert client.post(f"/canned-replies/{reply.id}/delete").status_code == 404
    login(make_user(Role.superuser, municipality="esbjerg"))
    assert client.get("/canned-replies").status_code == 404


def test_ticket_pages_read_the_canned_replies_once_until_one_changes(
    client, login, make_user, make_institution, make_system, count_queries
):
    """The reply tools' canned replies are read once per municipality for every ticket
    page, filled in per ticket, read again when one changes, and never another
    municipality's."""
    coordinator, ticket, system = _ticket(make_user, make_institution, make_system)
    other = file_ticket(
        ticket.created_by, system, subject="Beskeder", description="Væk", commit=True
    )
    reply = CannedReply(
        municipality_id=coordinator.municipality_id, title="Hej", body="Sag {ticket}"
    )
    ribe = make_user(Role.coordinator, municipality="ribe")
    db.session.add(CannedReply(municipality_id=ribe.municipality_id, title="Ribe", body="Hemmelig"))
    db.session.add(reply)
    db.session.commit()
    login(coordinator)
    with count_queries() as statements:
        first = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
        second = client.get(f"/tickets/{other.number}").get_data(as_text=True)
    assert f'data-text="Sag {ticket.number}"' in first
    assert f'data-text="Sag {other.number}"' in second
    assert "Hemmelig" not in first + second
    assert len([s for s in statements if "FROM canned_reply" in s]) == 1

    reply.body = "Sagen {ticket}"
    db.session.commit()
    third = make_user(Role.superuser, institution=ticket.institution)
    newest = file_ticket(third, system, subject="Kalender", description="Tom", commit=True)
    assert f'data-text="Sagen {newest.number}"' in client.get(f"/tickets/{newest.number}").get_data(
        as_text=True
    )

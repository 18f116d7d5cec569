""" "Det løste mit problem": confirmed on a page of its own, counted, and
the way back to the form."""

from __future__ import annotations

from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.faq.models import Article, Deflection
from supportdesk.tickets.models import Ticket
from tests.factories import published_article


def _article(db, make_system) -> Article:
    return published_article(make_system("aula"))


def test_solved_confirms_counts_and_leads_back_to_the_form(
    db, client, login, make_user, make_system
):
    _article(db, make_system)
    login(make_user(Role.superuser, municipality="esbjerg"))
    response = client.post("/faq/log-ind-med-mitid/solved", data={"next": "/tickets/new"})
    assert response.status_code == 302
    # the confirmation is a page, not a flash a script's fetch could use up on the way
    assert response.headers["Location"].endswith("/faq/log-ind-med-mitid/solved?next=/tickets/new")
    page = client.get(response.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Der er ikke oprettet nogen henvendelse" in html
    assert "har nu løst problemet 1 gang." in html
    assert 'href="/tickets/new"' in html
    client.post("/faq/log-ind-med-mitid/solved", data={"next": "/tickets/new"})
    again = client.get("/faq/log-ind-med-mitid/solved?next=/tickets/new").get_data(as_text=True)
    assert "har nu løst problemet 2 gange." in again
    assert db.session.scalar(select(func.count(Deflection.id))) == 2
    assert db.session.scalar(select(func.count(Ticket.id))) == 0


def test_the_way_back_is_only_ever_a_path_on_this_site(db, client, login, make_user, make_system):
    _article(db, make_system)
    login(make_user(Role.superuser, municipality="esbjerg"))
    response = client.post("/faq/log-ind-med-mitid/solved", data={"next": "//evil.example"})
    assert "next=" not in response.headers["Location"]
    html = client.get("/faq/log-ind-med-mitid/solved?next=//evil.example").get_data(as_text=True)
    assert 'href="//evil.example"' not in html

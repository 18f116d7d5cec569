"""The ticket list is a cached fragment: every committed change shows on the next request,
and one viewer's fragment never reaches another."""

from __future__ import annotations

import re

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket


def _count(html: str, status: str) -> int:
    match = re.search(rf"status={status}[^>]*>[^<]*<span class=\"badge\">(\d+)</span>", html)
    assert match, f"no count for {status}"
    return int(match.group(1))


def _without_tokens(html: str) -> str:
    """The page without its CSRF tokens, which are signed with the current second."""
    return re.sub(r'(name="csrf[-_]token" (?:content|value)=")[^"]+', r"\1", html)


def test_changes_show_on_the_next_request(client, login, make_user, make_ticket, app):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    first = make_ticket(municipality="esbjerg", subject="Første sag om beskeder")
    login(coordinator)
    html = client.get("/tickets").data.decode()
    assert first.number in html
    assert _count(html, "new") == 1
    # served from the cache
    assert _without_tokens(client.get("/tickets").data.decode()) == _without_tokens(html)

    # a new ticket from someone else, written through the service in its own transaction
    second = make_ticket(municipality="esbjerg", subject="Anden sag om fravær")
    html = client.get("/tickets").data.decode()
    assert second.number in html
    assert _count(html, "new") == 2

    # a status change over HTTP moves the counts
    response = client.post(
        f"/tickets/{first.number}/status", data={"status": "open", "version": first.version}
    )
    assert response.status_code == 302
    html = client.get("/tickets").data.decode()
    assert (_count(html, "new"), _count(html, "open")) == (1, 1)

    # names are part of the rows: renaming the institution shows at once
    institution = db.session.get(Ticket, second.id).institution
    institution.name = "Omdøbt Skole"
    db.session.commit()
    assert "Omdøbt Skole" in client.get("/tickets").data.decode()


def test_bulk_status_moves_the_counts(client, login, make_user, make_ticket):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    tickets = [make_ticket(municipality="esbjerg") for _ in range(3)]
    login(coordinator)
    assert _count(client.get("/tickets").data.decode(), "new") == 3
    response = client.post(
        "/tickets/bulk",
        data={"tickets": [t.number for t in tickets], "action": "status", "status": "waiting"},
    )
    assert response.status_code == 302
    html = client.get("/tickets").data.decode()
    assert (_count(html, "new"), _count(html, "waiting")) == (0, 3)


def test_a_fragment_never_reaches_another_viewer(app, client, login, make_user, make_ticket):
    esbjerg = make_user(Role.coordinator, municipality="esbjerg")
    aalborg = make_user(Role.coordinator, municipality="aalborg")
    ours = make_ticket(municipality="esbjerg")
    theirs = make_ticket(municipality="aalborg")
    superuser = make_user(Role.superuser, institution=ours.institution)
    other_school = make_user(Role.superuser, municipality="esbjerg")

    def page(user) -> str:
        other = app.test_client()
        login(user, on=other)
        return other.get("/tickets").data.decode()

    for _ in range(2):  # the second round is served from the cache
        assert ours.number in page(esbjerg)
        assert theirs.number not in page(esbjerg)
        assert theirs.number in page(aalborg)
        assert ours.number not in page(aalborg)
        assert ours.number in page(superuser)
        assert ours.number not in page(other_school)
        assert 'name="tickets"' not in page(superuser)  # no bulk controls for superusers


def test_bulk_form_token_belongs_to_the_current_session(
    app, client, login, make_user, make_ticket, monkeypatch
):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    ticket = make_ticket(municipality="esbjerg")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    tokens = []
    for _ in range(2):  # two sessions of the same coordinator see the same cached list
        browser = app.test_client()
        login(coordinator, on=browser)
        html = browser.get("/tickets").data.decode()
        token = re.search(
            r'<form method="post" action="/tickets/bulk" id="bulk-form">'
            r'<input type="hidden" name="csrf_token" value="([^"]+)"',
            html,
        )
        assert token, "the bulk form carries its own CSRF token"
        assert f'value="{ticket.number}"' in html
        assert 'form="bulk-form"' in html
        response = browser.post(
            "/tickets/bulk",
            data={
                "csrf_token": token.group(1),
                "tickets": [ticket.number],
                "action": "assign",
                "assignee": str(coordinator.id),
                "status": "open",
            },
        )
        assert response.status_code == 302, response.data.decode()[-3000:]
        tokens.append(token.group(1))
    assert tokens[0] != tokens[1]
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).assignee_id == coordinator.id


def test_list_statements_on_a_cache_hit(client, login, make_user, make_ticket, count_queries):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    for _ in range(5):
        make_ticket(municipality="esbjerg")
    login(coordinator)
    client.get("/tickets")
    with count_queries() as queries:
        assert client.get("/tickets").status_code == 200
    # the user, the generations, the unread count for the menu
    assert len(queries) <= 3, queries
    assert not any("count(" in q.lower() and "ticket" in q.lower() for q in queries)

"""The ticket page below its title is a cached fragment per ticket and viewer: replies,
vendor answers, merges, status changes, known issues and names show on the next request; a
change to one ticket leaves the other tickets' pages cached; forms carry the session's own
token."""

from __future__ import annotations

import re

import pytest
from flask import request
from sqlalchemy import text

from supportdesk.cache import fragments
from supportdesk.escalation.models import KnownIssue, KnownIssueStatus
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket, TicketStatus, ticket_page_generation
from tests.escalation.conftest import client_for


def _served_from_cache(app, client, url: str) -> str:
    """The ticket page, asserting its body was not built: the whole page or its body
    came from the store (`navigation.cached_page`)."""
    store = app.extensions["fragment_cache"]

    def counts() -> tuple[int, int]:
        hits = sum(store.hits_by_name.get(name, 0) for name in ("tickets.detail", _PAGE))
        return hits, store.misses_by_name.get("tickets.detail", 0)

    hits, misses = counts()
    html = client.get(url).get_data(as_text=True)
    assert counts() == (hits + 1, misses)
    return html


_PAGE = "tickets.detail:page"


def add_known_issue(world, title: str) -> None:
    """An active known issue of the world's system, committed."""
    db.session.add(
        KnownIssue(
            vendor_id=world.vendor.id,
            system_id=world.system.id,
            title=title,
            status=KnownIssueStatus.investigating,
        )
    )
    db.session.commit()


def _cached(app, client, url: str) -> None:
    """View the page once, so the next view is served from the cache (asserted)."""
    client.get(url)
    _served_from_cache(app, client, url)


def _tokens(html: str) -> set[str]:
    """The CSRF tokens a page's forms carry."""
    return set(re.findall(r'name="csrf_token" value="([^"]+)"', html))


def _version(ticket: Ticket) -> int:
    db.session.expire_all()
    return db.session.get(Ticket, ticket.id).version


def test_changes_reach_the_cached_ticket_page(app, world, make_ticket, escalated):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    superuser = client_for(app, world.superuser)
    url = f"/tickets/{ticket.number}"
    _cached(app, coordinator, url)

    # a reply from the superuser over HTTP
    response = superuser.post(f"{url}/entries", data={"body": "Det virker stadig ikke"})
    assert response.status_code == 302
    assert "Det virker stadig ikke" in coordinator.get(url).get_data(as_text=True)

    # an internal note shows to the coordinator, never to the superuser's cached page
    superuser.get(url)
    response = coordinator.post(
        f"{url}/entries", data={"body": "Kun for os i kommunen", "internal": "y"}
    )
    assert response.status_code == 302
    assert "Kun for os i kommunen" in coordinator.get(url).get_data(as_text=True)
    assert "Kun for os i kommunen" not in superuser.get(url).get_data(as_text=True)

    # the vendor answers in the case: the coordinator's ticket page shows the answer
    case = escalated(ticket)
    assert case.number in coordinator.get(url).get_data(as_text=True)
    vendor = client_for(app, world.agent)
    response = vendor.post(f"/cases/{case.number}/messages", data={"body": "Fejlen er fundet"})
    assert response.status_code == 302
    assert "Fejlen er fundet" in coordinator.get(url).get_data(as_text=True)
    # an answer to the vendor from the ticket page changes the case: the page is rendered
    # again once, then served from the cache until the vendor writes back
    response = coordinator.post(f"{url}/case-message", data={"body": "Chrome, nyeste version"})
    assert response.status_code == 302
    _cached(app, coordinator, url)
    vendor.post(f"/cases/{case.number}/messages", data={"body": "Rettet i version 2.1"})
    assert "Rettet i version 2.1" in coordinator.get(url).get_data(as_text=True)

    # a new known issue for the system shows in the banner
    add_known_issue(world, "Login driller i hele landet")
    assert "Login driller i hele landet" in coordinator.get(url).get_data(as_text=True)

    # a renamed institution
    world.school.name = "Rosenvængets Nye Skole"
    db.session.commit()
    assert "Rosenvængets Nye Skole" in coordinator.get(url).get_data(as_text=True)


def test_every_form_on_a_cached_page_has_the_sessions_token(app, world, make_ticket, monkeypatch):
    ticket = make_ticket()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    url = f"/tickets/{ticket.number}"
    # two sessions of the same coordinator: the second gets the first one's cached fragment
    browsers = [client_for(app, world.coordinator) for _ in range(2)]
    tokens = []
    for browser in browsers:
        html = browser.get(url).get_data(as_text=True)
        assert "\x00" not in html
        found = _tokens(html)
        # reply, status, assignment, priority, the layout's language form: one token
        assert len(found) == 1, found
        assert f'<meta name="csrf-token" content="{next(iter(found))}">' in html
        tokens.append(found.pop())
    assert tokens[0] != tokens[1]
    # the second got the first one's cached page; no stored text holds a token
    stored = [v for _at, v in app.extensions["fragment_cache"]._data.values() if isinstance(v, str)]
    assert any(fragments.CSRF_HOLE in value for value in stored)
    assert not any(token in value for token in tokens for value in stored)
    for browser, token in zip(reversed(browsers), reversed(tokens), strict=True):
        response = browser.post(f"{url}/entries", data={"body": "Svar", "csrf_token": token})
        assert response.status_code == 302


def test_a_change_to_one_ticket_leaves_the_others_pages_cached(app, world, make_ticket):
    one, other = make_ticket(), make_ticket(subject="Beskeder kommer ikke frem")
    coordinator = client_for(app, world.coordinator)
    superuser = client_for(app, world.superuser)
    for ticket in (one, other):
        coordinator.get(f"/tickets/{ticket.number}")
    response = superuser.post(f"/tickets/{one.number}/entries", data={"body": "Stadig fejl"})
    assert response.status_code == 302
    _served_from_cache(app, coordinator, f"/tickets/{other.number}")
    assert "Stadig fejl" in coordinator.get(f"/tickets/{one.number}").get_data(as_text=True)
    _served_from_cache(app, coordinator, f"/tickets/{one.number}")


def test_status_changes_show_on_the_next_view(app, world, make_ticket):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    superuser = client_for(app, world.superuser)
    url = f"/tickets/{ticket.number}"
    for client in (coordinator, superuser):
        _cached(app, client, url)
    response = coordinator.post(
        f"{url}/status", data={"status": "resolved", "version": _version(ticket)}
    )
    assert response.status_code == 302
    assert 'class="status status-resolved"' in coordinator.get(url).get_data(as_text=True)
    page = superuser.get(url).get_data(as_text=True)
    assert 'class="status status-resolved"' in page
    assert f'action="{url}/reopen"' in page  # the creator may reopen it now
    # the creator reopens it from the page
    response = superuser.post(f"{url}/reopen", data={"version": _version(ticket)})
    assert response.status_code == 302
    assert db.session.get(Ticket, ticket.id).status == TicketStatus.open
    assert 'class="status status-open"' in superuser.get(url).get_data(as_text=True)
    assert 'class="status status-open"' in coordinator.get(url).get_data(as_text=True)


def test_a_merge_shows_on_both_pages(app, world, make_ticket):
    target = make_ticket()
    duplicate = make_ticket(subject="Samme fejl på Rosenvænget", description="Også hos os.")
    coordinator = client_for(app, world.coordinator)
    for ticket in (target, duplicate):
        _cached(app, coordinator, f"/tickets/{ticket.number}")
    response = coordinator.post(f"/tickets/{duplicate.number}/merge", data={"into": target.number})
    assert response.status_code == 302
    page = coordinator.get(f"/tickets/{target.number}").get_data(as_text=True)
    assert "Samme fejl på Rosenvænget" in page
    assert "Også hos os." in page
    page = coordinator.get(f"/tickets/{duplicate.number}").get_data(as_text=True)
    assert f'href="/tickets/{target.number}"' in page
    # a reply on the merged ticket shows on the page of the ticket it is merged into
    _served_from_cache(app, coordinator, f"/tickets/{target.number}")
    db.session.expire_all()
    duplicate = db.session.get(Ticket, duplicate.id)
    duplicate.status = TicketStatus.open  # as reopening does, so a reply may be written
    db.session.commit()
    superuser = client_for(app, world.superuser)
    response = superuser.post(
        f"/tickets/{duplicate.number}/entries", data={"body": "Nu også på 3. sal"}
    )
    assert response.status_code == 302
    page = coordinator.get(f"/tickets/{target.number}").get_data(as_text=True)
    assert "Nu også på 3. sal" in page


def _change_when_the_key_is_read(monkeypatch, ticket, *, forget_read_values: bool) -> list:
    """Commit a change to `ticket` (subject and page generation, as another request
    would) when the page reads its key's generations; `forget_read_values` drops what
    the request read already, so the key's values are read after the change."""
    name = ticket_page_generation(ticket.municipality_id, ticket.id)
    read = fragments.read_generations
    writes = []

    def read_after_a_change(*names: str) -> tuple[int, ...]:
        if name in names and not writes:  # another request's change, committed just now
            with db.engine.begin() as conn:
                conn.execute(
                    text("UPDATE ticket SET subject = 'Nyt emne' WHERE id = :id"),
                    {"id": ticket.id},
                )
                conn.execute(
                    text(
                        "INSERT INTO cache_generation (name, value) VALUES (:name, 1) "
                        "ON CONFLICT (name) DO UPDATE SET value = cache_generation.value + 1"
                    ),
                    {"name": name},
                )
            writes.append(name)
            if forget_read_values:
                request.environ.pop("supportdesk.generations", None)
        return read(*names)

    monkeypatch.setattr(fragments, "read_generations", read_after_a_change)
    return writes


@pytest.mark.postgresql_only
@pytest.mark.parametrize("read_with_the_ticket", [False, True])
def test_a_change_committed_while_the_page_is_read_is_not_cached_as_new(
    app, world, make_ticket, monkeypatch, read_with_the_ticket
):
    """A change committed while the page is read (PostgreSQL reads each statement's
    newest data; SQLite one snapshot per transaction, so PostgreSQL only) is never cached
    with old data under the new generation.

    The page's generations are read in the ticket's own statement: a change committed
    after it leaves a key older than the change, and the next view is built anew. A
    generation that statement did not read (`read_with_the_ticket=False`) is read after
    the ticket, maybe after the change: so the fragment is built from the ticket read
    again, and the next view is served from the cache with the new data."""
    ticket = make_ticket(subject="Gammelt emne")
    db.session.commit()
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    writes = _change_when_the_key_is_read(
        monkeypatch, ticket, forget_read_values=not read_with_the_ticket
    )
    coordinator.get(url)
    assert writes
    if read_with_the_ticket:
        assert "</span> Nyt emne</h1>" in coordinator.get(url).get_data(as_text=True)
    # the heading is in the fragment (the page title is rendered per request)
    assert "</span> Nyt emne</h1>" in _served_from_cache(app, coordinator, url)


def test_a_sessions_token_is_signed_once_and_still_accepted(app, world, make_ticket, monkeypatch):
    """Tokens have no time limit, so the worker signs each session's token once: a later
    page carries the same token, a form sent with it is accepted, and another session
    gets its own."""
    from itsdangerous import URLSafeTimedSerializer

    ticket = make_ticket()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    url = f"/tickets/{ticket.number}"
    signed: list[object] = []
    real_dumps = URLSafeTimedSerializer.dumps

    def counting_dumps(self, obj, salt=None):
        if self.salt == b"wtf-csrf-token":  # not the session cookie's
            signed.append(obj)
        return real_dumps(self, obj, salt)

    monkeypatch.setattr(URLSafeTimedSerializer, "dumps", counting_dumps)
    browser, other = (client_for(app, world.coordinator) for _ in range(2))
    # the first page's forms sign through Flask-WTF; the next is signed and kept
    pages = [browser.get(url).get_data(as_text=True) for _ in range(2)]
    before = len(signed)
    pages += [browser.get(url).get_data(as_text=True) for _ in range(3)]
    assert len(signed) == before
    # the first page's token (Flask-WTF's) is stamped with its own second
    kept = pages[1:]
    tokens = set().union(*map(_tokens, kept))
    assert len(tokens) == 1
    (token,) = tokens
    theirs = _tokens(other.get(url).get_data(as_text=True))
    assert theirs
    assert token not in theirs
    answer = browser.post(f"{url}/entries", data={"body": "Svar", "csrf_token": token})
    assert answer.status_code == 302
    refused = browser.post(f"{url}/entries", data={"body": "Svar", "csrf_token": theirs.pop()})
    assert refused.status_code == 400


def test_a_sessions_token_follows_flask_wtfs_settings(app, world, make_ticket, monkeypatch):
    """With a time limit every view signs anew, as Flask-WTF does; the CSRF secret is read
    as Flask-WTF reads it (an empty one is still the one it checks against)."""
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    for setting, value in (("WTF_CSRF_TIME_LIMIT", 3600), ("WTF_CSRF_SECRET_KEY", "")):
        with monkeypatch.context() as patch:
            patch.setitem(app.config, setting, value)
            browser = client_for(app, world.coordinator)
            for _ in range(2):
                html = browser.get(url).get_data(as_text=True)
            (token,) = _tokens(html)
            sent = browser.post(f"{url}/entries", data={"body": "Svar", "csrf_token": token})
            assert sent.status_code == 302, setting

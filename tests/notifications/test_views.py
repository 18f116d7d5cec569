"""The bell, the list, marking read, opening and the e-mail settings page, over HTTP."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.notifications import services
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.outbox import OutboxMessage
from tests.signin import give_two_factor

URL = "/tickets/ESB-2026-000001"


def _notify(user, n=1, url=URL, event=NotificationEvent.ticket_reply):
    for i in range(n):
        services.notify(
            [user], event, url=url, context={"number": f"ESB-2026-{i:06d}", "subject": f"Emne {i}"}
        )


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r"/notifications/(\d+)/open", html)]


def test_bell_shows_the_unread_count(db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    _notify(user, 3)
    db.session.commit()
    html = client.get("/account").get_data(as_text=True)
    assert 'href="/notifications"' in html
    assert 'aria-label="3 ulæste">3</span>' in html


def test_bell_costs_one_query_whatever_the_number_of_notifications(
    db, client, login, make_user, count_queries
):
    user = login(make_user(Role.coordinator))

    def notification_queries() -> tuple[int, int]:
        with count_queries() as queries:
            assert client.get("/account").status_code == 200
        return len(queries), sum(1 for q in queries if "FROM notification" in q)

    _notify(user, 1)
    db.session.commit()
    few = notification_queries()
    _notify(user, 40)
    db.session.commit()
    many = notification_queries()
    assert few == many
    assert few[1] == 1


def test_list_query_count_does_not_grow_with_the_page(db, client, login, make_user, count_queries):
    user = login(make_user(Role.coordinator))
    _notify(user, 2)
    db.session.commit()
    with count_queries() as small:
        client.get("/notifications")
    _notify(user, 40)
    db.session.commit()
    with count_queries() as full:
        html = client.get("/notifications").get_data(as_text=True)
    assert len(_ids(html)) == services.PAGE_SIZE
    assert len(small) == len(full)


def test_keyset_pagination_walks_every_notification_once(db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    _notify(user, services.PAGE_SIZE + 5)
    db.session.commit()
    first = client.get("/notifications").get_data(as_text=True)
    cursor = re.search(r'href="/notifications\?before=(\d+)"', first).group(1)
    second = client.get(f"/notifications?before={cursor}").get_data(as_text=True)
    ids = _ids(first) + _ids(second)
    assert ids == sorted(ids, reverse=True)
    expected = db.session.scalars(select(Notification.id).where(Notification.user_id == user.id))
    assert sorted(ids) == sorted(expected)
    assert 'rel="next"' not in second


def test_open_marks_read_and_follows_the_link(db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    _notify(user)
    db.session.commit()
    note = db.session.scalar(select(Notification))
    response = client.post(f"/notifications/{note.id}/open")
    assert response.status_code == 302
    assert response.headers["Location"] == URL
    db.session.refresh(note)
    assert note.read_at is not None
    assert services.unread_count(user) == 0


def test_open_never_redirects_off_site(db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    note = Notification(user_id=user.id, event="ticket_reply", context={}, url="//evil.example/")
    db.session.add(note)
    db.session.commit()
    response = client.post(f"/notifications/{note.id}/open")
    assert response.headers["Location"] == "/notifications"


def test_mark_read_and_mark_all_read(db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    other = make_user(Role.coordinator, municipality=user.municipality)
    _notify(user, 3)
    _notify(other, 1)
    db.session.commit()
    first = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
    response = client.post(f"/notifications/{first.id}/read", data={"next": "/notifications"})
    assert response.status_code == 302
    assert services.unread_count(user) == 2
    response = client.post("/notifications/read-all", follow_redirects=True)
    assert "Alle notifikationer er markeret som læst." in response.get_data(as_text=True)
    assert services.unread_count(user) == 0
    assert services.unread_count(other) == 1


@pytest.mark.parametrize("action", ["read", "open"])
def test_someone_elses_notification_is_not_found(db, client, login, make_user, action):
    owner = make_user(Role.coordinator)
    _notify(owner)
    db.session.commit()
    note = db.session.scalar(select(Notification))
    login(make_user(Role.coordinator, municipality=owner.municipality))
    assert client.post(f"/notifications/{note.id}/{action}").status_code == 404
    db.session.refresh(note)
    assert note.read_at is None


def test_pages_need_sign_in(client):
    assert client.get("/notifications").status_code == 302
    assert client.get("/notifications/settings").status_code == 302
    assert client.post("/notifications/read-all").status_code == 302


def test_posts_need_a_csrf_token(app, db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    _notify(user)
    db.session.commit()
    note = db.session.scalar(select(Notification))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post(f"/notifications/{note.id}/read").status_code == 400
        assert client.post("/notifications/read-all").status_code == 400
        assert client.post("/notifications/settings", data={}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert services.unread_count(user) == 1


def test_settings_page_lists_the_users_events_all_on_by_default(client, login, make_user):
    login(make_user(Role.coordinator))
    html = client.get("/notifications/settings").get_data(as_text=True)
    assert html.count('type="checkbox"') == len(NotificationEvent)
    assert html.count("checked") == len(NotificationEvent)
    assert '<label for="ticket_reply">Der kommer et nyt svar på en henvendelse</label>' in html


def test_superuser_is_not_offered_internal_notes(client, login, make_user):
    login(make_user(Role.superuser))
    html = client.get("/notifications/settings").get_data(as_text=True)
    assert "ticket_internal_note" not in html
    assert 'name="ticket_reply"' in html
    assert 'name="case_message"' not in html


def test_settings_round_trip_and_email_follows_it(db, client, login, make_user):
    user = login(make_user(Role.coordinator))
    response = client.post(
        "/notifications/settings", data={"ticket_assigned": "y"}, follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert "Dine indstillinger for notifikationer er gemt." in html
    assert html.count("checked") == 1
    assert services.email_preferences(user)[NotificationEvent.ticket_assigned] is True
    assert services.email_preferences(user)[NotificationEvent.ticket_reply] is False
    _notify(user, event=NotificationEvent.ticket_reply)
    _notify(user, event=NotificationEvent.ticket_assigned)
    db.session.commit()
    queued = [m.payload["event"] for m in db.session.scalars(select(OutboxMessage))]
    assert queued == ["ticket_assigned"]
    assert services.unread_count(user) == 2


def test_profile_links_to_the_settings(client, login, make_user):
    login(make_user(Role.hotline))
    html = client.get("/account").get_data(as_text=True)
    assert 'href="/notifications/settings"' in html


def test_settings_path_used_in_emails_is_the_real_route(app):
    from supportdesk.notifications.email import SETTINGS_PATH

    with app.test_request_context():
        from flask import url_for

        assert url_for("notifications.settings") == SETTINGS_PATH


def test_empty_list_in_danish(client, login, make_user):
    login(make_user(Role.vendor_agent))
    html = client.get("/notifications").get_data(as_text=True)
    assert "Du har ingen notifikationer endnu." in html


def test_bell_sits_last_in_the_menu_next_to_the_users_name(client, login, make_user):
    login(make_user(Role.coordinator))
    html = client.get("/account").get_data(as_text=True)
    menu = html[html.index("<nav") : html.index("</nav>")]
    links = re.findall(r'<li><a href="([^"]+)"', menu)
    assert links[-2:] == ["/notifications", "/account"]


def test_cached_menu_follows_the_count_the_role_and_the_session(
    app, db, client, login, make_user, monkeypatch
):
    """The menu is a cached fragment: badge, entries and the sign-out token stay right."""
    user = login(make_user(Role.coordinator))
    _notify(user, 2)
    db.session.commit()
    assert 'aria-label="2 ulæste"' in client.get("/account").get_data(as_text=True)
    _notify(user, 1)
    db.session.commit()
    assert 'aria-label="3 ulæste"' in client.get("/account").get_data(as_text=True)

    before = client.get("/account").get_data(as_text=True)
    assert "/admin/" not in before
    user.role = Role.municipal_admin  # a new role renders the menu again
    give_two_factor(user)  # the role requires two-factor sign-in
    db.session.commit()
    assert "/admin/" in client.get("/account").get_data(as_text=True)

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    other = app.test_client()
    login(user, on=other)
    html = other.get("/account").get_data(as_text=True)
    token = re.search(
        r'action="/logout" class="inline-form">\s*<input type="hidden" name="csrf_token" '
        r'value="([^"]+)"',
        html,
    )
    assert token
    assert other.post("/logout", data={"csrf_token": token.group(1)}).status_code == 302

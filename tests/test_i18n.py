"""Every message has a Danish translation; Danish by default, English per user."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.i18n import missing_translations


def test_every_message_has_a_danish_translation():
    missing = missing_translations()
    listing = "\n".join(f"{where}: {ident!r}" for ident, where in sorted(missing.items()))
    assert not missing, f"{len(missing)} message(s) without Danish:\n{listing}"


def test_pages_are_danish_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="da">' in page
    assert "Log ind" in page


def test_user_with_english_locale_gets_english(client, db, login, make_user):
    login(make_user(Role.municipal_admin, municipality="esbjerg"))
    assert "Brugere" in client.get("/admin/users").get_data(as_text=True)
    english = make_user(Role.municipal_admin, municipality="esbjerg")
    english.locale = "en"
    db.session.commit()
    login(english)
    page = client.get("/admin/users").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Users" in page
    assert "Brugere" not in page


def test_anonymous_visitor_can_choose_english(client):
    response = client.post("/language", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert "Sign in" in client.get("/login").get_data(as_text=True)


def test_profile_language_change_is_remembered(client, db, login, make_user):
    user = login(make_user(Role.hotline))
    response = client.post("/account", data={"action": "locale", "locale": "en"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert user.locale == "en"
    assert '<html lang="en">' in client.get("/account").get_data(as_text=True)

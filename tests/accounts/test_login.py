"""Sign-in: one message for every failure, CSRF, session rotation, safe redirects."""

from __future__ import annotations

import pytest

from supportdesk.accounts.models import Role
from tests.conftest import PASSWORD


def _post_login(client, email, password, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"email": email, "password": password})


def test_login_and_logout(client, make_user):
    user = make_user(Role.coordinator)
    response = _post_login(client, user.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/logout")
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize("case", ["unknown", "wrong", "inactive"])
def test_failures_share_one_danish_message(client, make_user, case):
    user = make_user(Role.superuser, active=case != "inactive")
    email = "nobody@example.dk" if case == "unknown" else user.email
    password = "wrong-password!" if case == "wrong" else PASSWORD
    response = _post_login(client, email, password)
    assert response.status_code == 401
    assert "Forkert e-mail eller adgangskode." in response.get_data(as_text=True)
    assert client.get("/account").status_code == 302


def test_csrf_missing_is_400(app, client, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    user = make_user(Role.superuser)
    response = _post_login(client, user.email, PASSWORD)
    assert response.status_code == 400
    assert "sikkerhedsnøgle" in response.get_data(as_text=True)


def test_session_rotated_on_login(client, make_user):
    user = make_user(Role.superuser)
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by-attacker"
    _post_login(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("sid")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_only_redirects_locally(client, make_user, target, expected):
    user = make_user(Role.superuser)
    response = _post_login(client, user.email, PASSWORD, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_session_cookie_flags(client, make_user):
    user = make_user(Role.superuser)
    response = _post_login(client, user.email, PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_deactivation_ends_existing_sessions(client, db, login, make_user):
    user = make_user(Role.coordinator)
    login(user)
    assert client.get("/account").status_code == 200
    user.active = False
    user.auth_epoch += 1
    db.session.commit()
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize(
    "data",
    [{}, {"email": ""}, {"email": "x" * 300 + "@x.dk", "password": "p"}, {"password": "p"}],
)
def test_incomplete_login_form_is_422_not_500(client, data):
    response = client.post("/login", data=data)
    assert response.status_code == 422
    assert "error" in response.get_data(as_text=True)


def test_logout_needs_csrf(app, client, login, make_user, monkeypatch):
    login(make_user(Role.hotline))
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post("/logout").status_code == 400
    assert client.get("/account").status_code == 200  # still signed in


def test_session_id_changes_on_login(client, make_user):
    user = make_user(Role.superuser)
    client.get("/login")
    with client.session_transaction() as session:
        session["sid"] = "fixed-by-attacker"
    _post_login(client, user.email, PASSWORD)
    with client.session_transaction() as session:
        assert session["sid"] != "fixed-by-attacker"

"""The defects a security review found, each with the test that fails without its fix."""

from __future__ import annotations

import concurrent.futures
import dataclasses

from sqlalchemy import func, select

from supportdesk import create_app
from supportdesk.accounts.models import Role
from supportdesk.audit.models import SecurityEvent, SecurityEventKind
from supportdesk.extensions import db as _db
from tests.conftest import PASSWORD

NEW_PASSWORD = "blåbærgrød-på-en-tirsdag-9"


def test_password_change_keeps_the_worker_alive(app, make_user, live_server, http_session):
    """POST /account action=password crashed the gunicorn worker (SIGSEGV): the session
    got the LocalProxy itself, which resolved to itself."""
    user = make_user(Role.coordinator)
    other = http_session(live_server(1))
    base = other.base_url
    assert other.sign_in(user.email, PASSWORD).status == 302
    me = http_session(base)
    assert me.sign_in(user.email, PASSWORD).status == 302

    answer = me.post_form(
        "/account", {"action": "password", "pw-current": PASSWORD, "pw-new": NEW_PASSWORD}
    )

    assert answer.status == 302, answer.text[-500:]
    # the same worker answers again, and this browser is still signed in
    assert me.request("/account").status == 200
    # the other browser's session ended with the password change
    assert other.request("/account").status == 302
    assert http_session(base).sign_in(user.email, NEW_PASSWORD).status == 302


def test_replayed_cookie_after_logout_is_signed_out(client, make_user):
    """A copied cookie still opened /account after POST /logout."""
    user = make_user(Role.coordinator)
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )
    copied = client.get_cookie("session").value
    assert client.get("/account").status_code == 200

    client.post("/logout")
    client.set_cookie("session", copied)

    answer = client.get("/account")
    assert answer.status_code == 302
    assert "/login" in answer.headers["Location"]


def test_login_limit_holds_across_two_workers(app, db, live_server, http_session):
    """The limit was per worker process (memory://): 2 workers allowed twice as many."""
    base = live_server(2)

    def attempt(n: int) -> int:
        person = http_session(base)
        return person.sign_in(f"guess{n}@example.dk", "wrong-password-1").status

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        first = list(pool.map(attempt, range(20)))
    assert first == [401] * 20
    assert attempt(21) == 429
    db.session.expire_all()
    failures = db.session.scalar(
        select(func.count(SecurityEvent.id)).where(
            SecurityEvent.kind == SecurityEventKind.login_failed
        )
    )
    assert failures == 20


def test_signed_in_pages_are_not_cached(client, login, make_user):
    """Pages with personal data outside a few prefixes had no Cache-Control: no-store."""
    login(make_user(Role.coordinator))
    for path in ("/", "/notifications", "/faq", "/status"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["Cache-Control"] == "no-store", path


def test_public_pages_may_still_be_cached(client):
    answer = client.get("/faq")
    assert "no-store" not in answer.headers.get("Cache-Control", "")


def test_hsts_in_production_over_https(app):
    """No Strict-Transport-Security header was ever sent."""
    environ = {
        **app.config["TEST_ENVIRON"],
        "SUPPORTDESK_ENV": "production",
        "SUPPORTDESK_BASE_URL": "https://support.example.dk",
    }
    secure = create_app({"environ": environ})
    plain = create_app({"environ": {**environ, "SUPPORTDESK_BASE_URL": "http://x.example.dk"}})
    try:
        answer = secure.test_client().get("/healthz")
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        assert "Strict-Transport-Security" not in plain.test_client().get("/healthz").headers
    finally:
        close_app(secure, plain)


def close_app(*apps) -> None:
    """Close the database connections of apps made inside a test (no leak to later tests)."""
    for made in apps:
        with made.app_context():
            _db.session.remove()
            _db.engine.dispose()


def test_common_password_is_refused(client, db, login, make_user):
    """Any 10 characters were accepted, 'password12' and 'qwertyuiop' too."""
    user = login(make_user(Role.coordinator, name="Mette Sørensen"))
    for weak in ("password12", "qwertyuiop", "1234567890", "sommerferie2024", "mettesorensen1"):
        answer = client.post(
            "/account", data={"action": "password", "pw-current": PASSWORD, "pw-new": weak}
        )
        assert answer.status_code == 422, weak
        page = answer.get_data(as_text=True)
        assert "adgangskode" in page.lower(), weak
    db.session.refresh(user)
    assert user.auth_epoch == 0


def test_smtp_config_is_used_for_account_mail(app, smtp_server):
    assert dataclasses.is_dataclass(app.config["SUPPORTDESK"])


def test_every_page_gets_the_security_headers_once(client):
    response = client.get("/login")
    for name, value in {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
    }.items():
        assert response.headers.getlist(name) == [value]
    (policy,) = response.headers.getlist("Content-Security-Policy")
    assert policy.startswith("default-src 'self';")
    assert "frame-ancestors 'none'" in policy
    assert response.headers["Cache-Control"] == "no-store"

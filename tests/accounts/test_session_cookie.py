"""The signed session cookie: verified once per worker, never trusted beyond what Flask's
own check would accept (signature, keys, age), and every request gets a session of its
own."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from supportdesk.accounts.models import Role


@pytest.fixture
def verifications(monkeypatch):
    """How often the session cookie's signature is checked (itsdangerous' `loads` with
    Flask's cookie salt)."""
    counted = []
    loads = URLSafeTimedSerializer.loads

    def counting(self, *args, **kwargs):
        if self.salt == b"cookie-session":
            counted.append(1)
        return loads(self, *args, **kwargs)

    monkeypatch.setattr(URLSafeTimedSerializer, "loads", counting)
    return counted


def _cookie(app, data: dict, age_s: float = 0.0) -> str:
    """A cookie Flask would set for `data`, signed `age_s` seconds ago."""
    serializer = app.session_interface.get_signing_serializer(app)
    signed_at = int(time.time() - age_s)
    signer = serializer.make_signer()
    signer.get_timestamp = lambda: signed_at  # type: ignore[method-assign]
    payload = serializer.dump_payload(data)
    return signer.sign(payload).decode()


def _open(app, cookie: str):
    with app.test_request_context("/", headers={"Cookie": f"session={cookie}"}) as ctx:
        return app.session_interface.open_session(app, ctx.request)


def test_a_signed_in_page_checks_the_cookie_once_per_worker(
    client, login, make_user, verifications
):
    login(make_user(Role.coordinator))
    assert client.get("/account").status_code == 200  # the session's CSRF token is set
    verifications.clear()
    for _ in range(5):
        assert client.get("/account").status_code == 200
    assert len(verifications) <= 1  # a new cookie (the first page may set one), then none


def test_each_request_gets_a_session_of_its_own(app):
    cookie = _cookie(app, {"sid": "abc", "_flashes": [["info", "Gemt"]]})
    first = _open(app, cookie)
    first["sid"] = "changed"
    first["_flashes"].append(["info", "Igen"])
    second = _open(app, cookie)
    assert second["sid"] == "abc"
    assert second["_flashes"] == [["info", "Gemt"]]
    assert not second.modified


def test_a_cookie_verified_before_expires_as_ever(app):
    cookie = _cookie(app, {"sid": "abc"}, age_s=120)
    assert _open(app, cookie)["sid"] == "abc"
    app.permanent_session_lifetime = timedelta(seconds=60)
    assert dict(_open(app, cookie)) == {}


def test_a_cookie_verified_before_is_refused_under_another_key(app):
    cookie = _cookie(app, {"sid": "abc"})
    assert _open(app, cookie)["sid"] == "abc"
    app.secret_key = "another-secret-key-of-enough-length-for-this"
    assert dict(_open(app, cookie)) == {}


def test_a_changed_cookie_is_refused(app):
    cookie = _cookie(app, {"sid": "abc"})
    assert _open(app, cookie)["sid"] == "abc"
    payload, stamp, signature = cookie.rsplit(".", 2)
    forged = f"{payload}.{stamp}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert dict(_open(app, forged)) == {}

"""A session's CSRF token is signed once a minute per process, not on every page, and
still checks out; with a time limit it is handed out again only briefly."""

from __future__ import annotations

import re

from supportdesk.accounts.models import Role
from supportdesk.cache import fragments


def _token(client) -> str:
    html = client.get("/tickets").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


def test_a_sessions_token_is_signed_once_and_checks_out(app, client, login, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    signed: list[str] = []
    original = fragments.generate_csrf

    def counting() -> str:
        signed.append("x")
        return original()

    monkeypatch.setattr(fragments, "generate_csrf", counting)
    login(make_user(Role.coordinator, municipality="esbjerg"))
    first = _token(client)
    calls = len(signed)
    assert [_token(client) for _ in range(3)] == [first] * 3
    assert len(signed) == calls  # handed out again, not signed again
    response = client.post("/language", data={"locale": "en", "csrf_token": first})
    assert response.status_code == 302
    # with a time limit of a minute a token is handed out again for at most a second
    monkeypatch.setitem(app.config, "WTF_CSRF_TIME_LIMIT", 60)
    clock = [fragments.time.monotonic() + 2]
    monkeypatch.setattr(fragments.time, "monotonic", lambda: clock[0])
    _token(client)
    assert len(signed) == calls + 1
    clock[0] += 0.5
    _token(client)
    assert len(signed) == calls + 1
    clock[0] += 1
    _token(client)
    assert len(signed) == calls + 2

"""Account tests: a real SMTP server, a browser-like HTTP client for live servers, TOTP."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime

import pyotp
import pytest

from supportdesk.accounts.models import User
from tests.notifications.conftest import smtp_server  # noqa: F401  (the fixture, reused)

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Answer:
    status: int
    url: str
    text: str
    headers: dict[str, str]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class HttpSession:
    """One person's cookies against a real server; forms carry their CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, path: str, data: dict | None = None) -> Answer:
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        req = urllib.request.Request(self.base_url + path, data=body)  # noqa: S310
        try:
            with self.opener.open(req, timeout=30) as response:
                return Answer(
                    response.status, response.url, response.read().decode(), dict(response.headers)
                )
        except urllib.error.HTTPError as error:
            return Answer(error.code, path, error.read().decode(), dict(error.headers))

    def csrf(self, path: str) -> str:
        page = self.request(path)
        found = CSRF.search(page.text)
        assert found, f"no csrf_token on {path}: {page.status}"
        return found.group(1)

    def post_form(self, path: str, data: dict, form_page: str | None = None) -> Answer:
        return self.request(path, {**data, "csrf_token": self.csrf(form_page or path)})

    def sign_in(self, email: str, password: str) -> Answer:
        return self.post_form("/login", {"email": email, "password": password})


@pytest.fixture
def http_session():
    return HttpSession


def totp_now(user_or_secret: User | str, offset_steps: int = 0) -> str:
    secret = user_or_secret if isinstance(user_or_secret, str) else user_or_secret.totp_secret
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(datetime.now(UTC)) + offset_steps)

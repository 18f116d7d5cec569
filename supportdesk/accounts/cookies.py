"""The signed session cookie, checked once per worker.

Flask checks the cookie's signature on every request: it builds a signing serializer,
derives the key, checks the HMAC and decodes the tagged JSON, about 90 µs of a cached
ticket page's 1.3 ms (bench/RESULTS.md). A browser sends the same cookie until the
server sets a new one, so each worker keeps the cookies it has verified, with when
they were signed and under which keys. A kept cookie is taken only under the same keys
and within the same age Flask would accept (`PERMANENT_SESSION_LIFETIME`), and only if
its values are plain scalars, copied into a session of the request's own; any other
cookie is checked as Flask checks it. The server-side session row
(`accounts/sessions.py`) is still read on every request: signing out ends it at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

KEPT = 4096  # cookies per worker; the oldest goes first
_SCALARS = (str, int, float, bool, type(None))


class VerifiedCookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with the cookies a worker has verified kept."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        # cookie -> (keys it was verified with, when it was signed, its values)
        self._verified: dict[str, tuple[tuple[Any, ...], int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not app.secret_key:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        max_age = int(app.permanent_session_lifetime.total_seconds())
        known = self._verified.get(value)
        if known is not None and known[0] == keys and 0 <= int(time.time()) - known[1] <= max_age:
            return self.session_class(known[2])
        serializer = self.get_signing_serializer(app)
        try:
            data, signed_at = serializer.loads(value, max_age=max_age, return_timestamp=True)
        except BadSignature:
            return self.session_class()
        if all(isinstance(v, _SCALARS) for v in data.values()):
            self._keep(value, (keys, int(signed_at.timestamp()), dict(data)))
        return self.session_class(data)

    def _keep(self, value: str, entry: tuple[tuple[Any, ...], int, dict[str, Any]]) -> None:
        with self._lock:
            if len(self._verified) >= self._kept:
                del self._verified[next(iter(self._verified))]
            self._verified[value] = entry

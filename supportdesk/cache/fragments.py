"""Rendered fragments in a per-worker LRU store, keyed by page, viewer and generations.

The request side of the fragment cache (see `supportdesk.cache`). Entries also expire
after `FRAGMENT_TTL` seconds, which bounds staleness for anything not tracked. A cached
HTML fragment holds `CSRF_HOLE` where its template asked for `csrf_token()`; every
request fills in its own session's token.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from contextvars import ContextVar
from time import monotonic
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from supportdesk.cache import generations

FRAGMENT_TTL = 60.0
FRAGMENT_ENTRIES = 1024
SIGNED_TOKENS = 4096  # sessions whose signed CSRF token a worker keeps
# stands for the session's CSRF token inside a cached fragment; filled in per request.
# Random per process (the store is per process too), so no stored text can contain it.
CSRF_HOLE = f"\x00csrf-{secrets.token_hex(16)}\x00"
# while a `bounded` entry is built: when each entry it read expires
_PARTS_EXPIRE: ContextVar[list[float] | None] = ContextVar("fragment_parts_expire", default=None)


def read_generations(*names: str) -> tuple[int, ...]:
    """The current values of `names`, each read once per request (a page and its menu
    share the values); outside a request every call reads anew."""
    known: dict[str, int] = (
        request.environ.setdefault("supportdesk.generations", {}) if has_request_context() else {}
    )
    missing = [name for name in names if name not in known]
    if missing:
        known.update(generations.read(*missing))
    return tuple(known[name] for name in names)


def remember_generations(values: Mapping[str, int]) -> None:
    """Values read by the request already (with the signed-in user): `read_generations`
    answers them without a query. Values it read first stay."""
    if has_request_context():
        known = request.environ.setdefault("supportdesk.generations", {})
        for name, value in values.items():
            known.setdefault(name, value)


def fragment_name(key: Hashable) -> str:
    """The name a fragment's hits and misses are counted under: its key's first part."""
    return str(key[0]) if isinstance(key, tuple) and key else str(key)


class FragmentCache:
    """A least-recently-used dict of rendered fragments with a time to live.

    `hits` and `misses` count per fragment name (the key's first part) for the bench.
    """

    def __init__(self, entries: int = FRAGMENT_ENTRIES, ttl: float = FRAGMENT_TTL) -> None:
        self.entries = entries
        self.ttl = ttl
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0
        self.hits_by_name: dict[str, int] = {}
        self.misses_by_name: dict[str, int] = {}

    def get_or_build(self, key: Hashable, build: Callable[[], Any], bounded: bool = False) -> Any:
        """The entry for `key`, built on a miss. A `bounded` entry (a page around
        cached parts) expires no later than the parts it was built from, so nothing
        in it is older than the time to live."""
        now = monotonic()
        name = fragment_name(key)
        with self._lock:
            found = self._data.get(key)
            if found is not None and found[0] > now:
                self._data.move_to_end(key)
                self.hits_by_name[name] = self.hits_by_name.get(name, 0) + 1
                _read(found[0])
                return found[1]
        expires = now + self.ttl
        if bounded:
            parts: list[float] = []
            token = _PARTS_EXPIRE.set(parts)
            try:
                value = build()
            finally:
                _PARTS_EXPIRE.reset(token)
            expires = min([expires, *parts])
        else:
            value = build()
        _read(expires)
        with self._lock:
            self.misses += 1
            self.misses_by_name[name] = self.misses_by_name.get(name, 0) + 1
            self._data[key] = (expires, value)
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def _read(expires: float) -> None:
    parts = _PARTS_EXPIRE.get()
    if parts is not None:
        parts.append(expires)


def init_app(app: Flask) -> None:
    app.extensions["fragment_cache"] = FragmentCache()
    app.extensions["csrf_signed"] = {}  # session's raw token -> Flask-WTF's signed one


def fragment(key: Hashable, build: Callable[[], Any], bounded: bool = False) -> Any:
    """The cached value for `key`, built (and kept) on a miss.

    `key` must hold everything the fragment depends on: the viewer, the locale, the
    request's arguments and the generations read with `read_generations()`.
    """
    store: FragmentCache = current_app.extensions["fragment_cache"]
    return store.get_or_build(key, build, bounded)


def kept(key: tuple[Hashable, ...], names: tuple[str, ...], build: Callable[[], Any]) -> Any:
    """`fragment()` of a value built from rows that the generations `names` track: the
    key is `key` and their current values (`read_generations`), so a change to those rows
    builds it again."""
    return fragment((*key, read_generations(*names)), build)


def page_key(name: str, *parts: Hashable) -> tuple[Hashable, ...]:
    """The key of a page's fragment: its name, the locale and the query string, then
    `parts`: who sees it (the viewer, or an audience) and the generations it reads."""
    return (name, str(get_locale()), tuple(sorted(request.args.items(multi=True))), *parts)


def fragment_html(
    key: Hashable,
    build: Callable[[], str],
    fills: Mapping[str, str] | None = None,
    bounded: bool = False,
) -> Markup:
    """`fragment()` for HTML: the cached text holds `CSRF_HOLE` where a template asked
    for `csrf_token()`, and each request gets its own session's token; `fills` replaces
    other per-request placeholders the same way (text → this request's value).

    Inside another fragment being built (a page around its body and menu) the holes
    stay: the outermost fragment fills them, so no cached text holds a token, and its
    `fills` must name the holes of every part it is built from (a part whose fills the
    outermost lacks raises RuntimeError: on a hit of the outermost the part is not
    asked, and its holes would reach the reader).
    """
    if g.get("fragment_csrf_hole"):
        outer = g.get("fragment_fills", {})
        if any(outer.get(hole) != value for hole, value in (fills or {}).items()):
            raise RuntimeError(f"{key!r}: its fills are not the enclosing fragment's")
        return Markup(fragment(key, lambda: str(build()), bounded))  # noqa: S704 — rendered

    def _build() -> str:
        g.fragment_csrf_hole = True
        g.fragment_fills = dict(fills or {})
        try:
            return str(build())
        finally:
            g.pop("fragment_csrf_hole", None)
            g.pop("fragment_fills", None)

    html = fragment(key, _build, bounded)
    if CSRF_HOLE in html:
        html = html.replace(CSRF_HOLE, session_csrf_token())
    for hole, value in (fills or {}).items():
        html = html.replace(hole, value)
    return Markup(html)  # noqa: S704 — rendered template


def csrf_token() -> str:
    """The templates' `csrf_token()`: a hole inside a fragment being cached."""
    return CSRF_HOLE if g.get("fragment_csrf_hole") else session_csrf_token()


def session_csrf_token() -> str:
    """Flask-WTF's `generate_csrf`, signed once per session token in this worker.

    The app's tokens have no time limit (WTF_CSRF_TIME_LIMIT None), so a token signed
    earlier for the same session token validates exactly as one signed now; signing it
    on every request (a serializer and an HMAC) cost 0.1 ms, a twentieth of a cached
    ticket page. With a time limit set, each request signs anew, as Flask-WTF does.
    """
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = g.get(field)
    if token is not None:
        return token
    # the limit read as Flask-WTF reads it (its default is an hour)
    if current_app.config.get("WTF_CSRF_TIME_LIMIT", 3600) is not None:
        return generate_csrf()
    raw = session.get(field)
    if raw is not None and not isinstance(raw, str):
        return generate_csrf()  # Flask-WTF replaces a token it cannot sign
    signed: dict[str, str] = current_app.extensions["csrf_signed"]
    token = signed.get(raw) if raw is not None else None
    if token is not None:
        setattr(g, field, token)  # where Flask-WTF keeps it: its forms use the same token
        return token
    token = generate_csrf()  # signs, and makes the session's raw token if it had none
    if len(signed) >= SIGNED_TOKENS:
        signed.clear()
    signed[session[field]] = token
    return token


def clear(app: Flask) -> None:
    app.extensions["fragment_cache"].clear()

"""Rendered fragments cached per worker, keyed by data generations.

A *generation* is a named counter in the database ("tickets:m12" for the tickets of
municipality 12, "cases:v3" for vendor 3's cases, "reference" for names of systems,
institutions and people). Models register which generations a change touches
(`track`); the session collects them at every flush and bumps them once, just before
commit, in the same transaction as the change. A page reads the generations it
depends on in one query and puts their values in its cache key, so a fragment
rendered from old data is never served once a change is committed: the new value
makes a new key.

The store is a small LRU per worker process. Entries also expire after
`FRAGMENT_TTL` seconds, which bounds staleness for anything not tracked.
Counting the tickets per status, which grows with the number of tickets, lives
inside the cached fragment of the ticket list, so it runs once per change, not
once per request.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import get_locale
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import BigInteger, String, bindparam, event, inspect, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from supportdesk.extensions import db

FRAGMENT_TTL = 60.0
FRAGMENT_ENTRIES = 1024
REFERENCE = "reference"

_INFO_KEY = "cache_generations"
_TRACKED: dict[type, list[tuple[Callable[[Any], Iterable[str]], tuple[str, ...]]]] = {}
# stands for the session's CSRF token inside a cached fragment; filled in per request.
# Random per process (the store is per process too), so no stored text can contain it.
CSRF_HOLE = f"\x00csrf-{secrets.token_hex(16)}\x00"


class CacheGeneration(db.Model):
    """A counter bumped in the same transaction as every change to what it names."""

    __tablename__ = "cache_generation"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


# --- writers --------------------------------------------------------------------------


def track(
    model: type, generations: Callable[[Any], Iterable[str]], *, only: Iterable[str] = ()
) -> None:
    """A new, changed or deleted `model` row bumps `generations(row)`.

    `only` limits "changed" to those attributes (a login that stamps `last_login_at`
    on a user must not bump the generation of names).
    """
    _TRACKED.setdefault(model, []).append((generations, tuple(only)))


def pending(*names: str) -> bool:
    """Whether this transaction changed something under `names` (bumped only at commit)."""
    return not db.session.info.get(_INFO_KEY, set()).isdisjoint(names)


def bump(*names: str) -> None:
    """Bump generations explicitly (bulk statements the session does not see)."""
    db.session.info.setdefault(_INFO_KEY, set()).update(names)


def _changed(obj: Any, only: tuple[str, ...]) -> bool:
    state = inspect(obj)
    if not only:
        return True
    return any(state.attrs[name].history.has_changes() for name in only)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _flush_context: Any) -> None:
    # in after_flush, new/dirty/deleted and attribute history still show this flush
    found: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        for generations, only in _TRACKED.get(type(obj), ()):
            if obj in session.dirty and not (
                session.is_modified(obj, include_collections=False) and _changed(obj, only)
            ):
                continue
            found.update(name for name in generations(obj) if name)
    if found:
        session.info.setdefault(_INFO_KEY, set()).update(found)


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    session.flush()  # collect what the commit's own flush would write
    names = session.info.pop(_INFO_KEY, None)
    if not names:
        return
    # sorted, and as the last statements of the transaction: every writer takes
    # these row locks in the same order and holds them only until its commit
    statement = text(
        "INSERT INTO cache_generation (name, value) VALUES (:name, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = cache_generation.value + 1"
    )
    connection = session.connection()
    for name in sorted(names):
        connection.execute(statement, {"name": name})


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (savepoints keep them)
        session.info.pop(_INFO_KEY, None)


# --- readers --------------------------------------------------------------------------

_READ = select(CacheGeneration.name, CacheGeneration.value).where(
    CacheGeneration.name.in_(bindparam("names", expanding=True))
)


def generations(*names: str) -> tuple[int, ...]:
    """The current values of `names` (0 for one never bumped), in one query.

    Within a request each name is read once (the page and its menu share the values).
    """
    known: dict[str, int] = (
        request.environ.setdefault("supportdesk.generations", {}) if has_request_context() else {}
    )
    missing = [name for name in names if name not in known]
    if missing:
        found = dict.fromkeys(missing, 0)
        rows = db.session.execute(_READ, {"names": missing})
        found.update((name, value) for name, value in rows)
        known.update(found)
    return tuple(known[name] for name in names)


class FragmentCache:
    """A least-recently-used dict of rendered fragments with a time to live."""

    def __init__(self, entries: int = FRAGMENT_ENTRIES, ttl: float = FRAGMENT_TTL) -> None:
        self.entries = entries
        self.ttl = ttl
        self._data: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0

    def get_or_build(self, key: Hashable, build: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._data.get(key)
            if found is not None and found[0] > now:
                self._data.move_to_end(key)
                return found[1]
        value = build()
        with self._lock:
            self.misses += 1
            self._data[key] = (now + self.ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.entries:
                self._data.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def init_app(app: Flask) -> None:
    app.extensions["fragment_cache"] = FragmentCache()


def fragment(key: Hashable, build: Callable[[], Any]) -> Any:
    """The cached value for `key`, built (and kept) on a miss.

    `key` must hold everything the fragment depends on: the viewer, the locale, the
    request's arguments and the generations read with `generations()`.
    """
    store: FragmentCache = current_app.extensions["fragment_cache"]
    return store.get_or_build(key, build)


def page_key(name: str, *parts: Hashable) -> tuple[Hashable, ...]:
    """The key of a page's fragment: its name, the locale and the query string, then
    `parts`: who sees it (the viewer, or an audience) and the generations it reads."""
    return (name, str(get_locale()), tuple(sorted(request.args.items(multi=True))), *parts)


def fragment_html(
    key: Hashable, build: Callable[[], str], fills: Mapping[str, str] | None = None
) -> Markup:
    """`fragment()` for HTML: the cached text holds `CSRF_HOLE` where a template asked
    for `csrf_token()`, and each request gets its own session's token; `fills` replaces
    other per-request placeholders the same way (text → this request's value)."""

    def _build() -> str:
        g.fragment_csrf_hole = True
        try:
            return str(build())
        finally:
            g.pop("fragment_csrf_hole", None)

    html = fragment(key, _build)
    if CSRF_HOLE in html:
        html = html.replace(CSRF_HOLE, generate_csrf())
    for hole, value in (fills or {}).items():
        html = html.replace(hole, value)
    return Markup(html)  # noqa: S704 — rendered template


def csrf_token() -> str:
    """The templates' `csrf_token()`: a hole inside a fragment being cached."""
    return CSRF_HOLE if g.get("fragment_csrf_hole") else generate_csrf()


def clear(app: Flask) -> None:
    app.extensions["fragment_cache"].clear()

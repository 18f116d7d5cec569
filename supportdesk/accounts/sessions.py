"""Server-side sessions: the signed cookie names a `user_session` row, sign-out ends it.

A copied cookie is worth nothing after sign-out, "sign out everywhere", a password
change, deactivation or a two-factor reset: each ends the rows on the server. A
session also ends after `session_idle_hours` without a request and
`session_max_hours` after sign-in (SUPPORTDESK_SESSION_IDLE_HOURS / _MAX_HOURS).

Checking costs one query per request, folded into loading the user (a join on the
session's primary key); `last_seen_at` is written at most once a minute. What every
signed-in page shows besides (the bell's unread count, the menu's generations) rides
along in the same statement (`preload`), read anew on every request.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, g, has_app_context, has_request_context, request, session
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session, contains_eager

from supportdesk.accounts.models import Municipality, User, UserSession
from supportdesk.audit import events
from supportdesk.extensions import db, utcnow
from supportdesk.sqlite_locks import execute_apart

SESSION_KEY = "sid"
TOUCH_EVERY = timedelta(minutes=1)
MAX_ID = 2**31 - 1  # a forged-looking id beyond INTEGER would fail in the database
DEFAULT_IDLE = timedelta(hours=8)
DEFAULT_MAX = timedelta(hours=12)
_PRELOADED = "sd_preloaded"
# name -> a scalar subquery correlated with `User` (built once) and what to do with its
# value once read (see `preload`)
_PRELOADS: dict[str, tuple[Callable[[], Any], Callable[[User, Any], None] | None]] = {}
_PRELOAD_COLUMNS: dict[str, Any] = {}
_LOAD_STATEMENT: list[Any] = []


def preload(
    name: str,
    column: Callable[[], Any],
    loaded: Callable[[User, Any], None] | None = None,
) -> None:
    """Read `column()` (a scalar subquery correlated with `User`) with the user.

    For what every signed-in page shows: one statement per request instead of one
    more per figure. The value is as fresh as a query of its own at the start of the
    request; `preloaded` gives it back until the request's session writes or commits,
    and `loaded(user, value)` is called with it once the session is found open.
    """
    _PRELOADS[name] = (column, loaded)
    _PRELOAD_COLUMNS.clear()


def preloaded(user: Any) -> dict[str, Any] | None:
    """The values of every `preload`, read with `user` in this request, or None.

    None (ask the database) once the session has flushed a change or committed since:
    the request may have changed what a value counts.
    """
    if not has_request_context():
        return None
    found = g.get(_PRELOADED)
    if found is None or found[0] != getattr(user, "id", None):
        return None
    if found[1] is not db.session().get_transaction():
        return None
    return found[2]


def _preload_columns() -> dict[str, Any]:
    if len(_PRELOAD_COLUMNS) != len(_PRELOADS):
        _PRELOAD_COLUMNS.update(
            (name, column().label(f"preload_{index}"))
            for index, (name, (column, _loaded)) in enumerate(_PRELOADS.items())
        )
        _LOAD_STATEMENT.clear()
    return _PRELOAD_COLUMNS


def _load_statement() -> Any:
    """The user, the session and the preloads by session id and user id, built once
    (parameters, not values: no statement to build and key on every request)."""
    if not _LOAD_STATEMENT:
        _LOAD_STATEMENT.append(
            select(User, UserSession, *_preload_columns().values())
            .join(UserSession, UserSession.user_id == User.id)
            .outerjoin(Municipality, Municipality.id == User.municipality_id)
            .options(contains_eager(User.municipality))
            .where(UserSession.id == bindparam("session_id"), User.id == bindparam("user_id"))
        )
    return _LOAD_STATEMENT[0]


@event.listens_for(Session, "after_flush")
def _forget_preloaded(_session: Session, _flush_context: Any) -> None:
    if has_request_context():
        g.pop(_PRELOADED, None)


def _limits() -> tuple[timedelta, timedelta]:
    if not has_app_context():
        return DEFAULT_IDLE, DEFAULT_MAX
    settings = current_app.config["SUPPORTDESK"]
    return (
        timedelta(hours=settings.session_idle_hours),
        timedelta(hours=settings.session_max_hours),
    )


def start(user: User, *, two_factor: bool = False, now: datetime | None = None) -> UserSession:
    """A new session for a user who has just proven who they are; the caller commits."""
    ip, agent = events.client()
    record = UserSession.signed_in(user.id, now or utcnow(), ip, agent, two_factor)
    db.session.add(record)
    return record


def load(
    user_id: str, session_id: str | None, *, read_only: bool
) -> tuple[User, UserSession] | None:
    """The user and session a cookie names, if the session is still open; one query.

    `read_only`: the request's transaction is never committed (GET), so the touch of
    `last_seen_at` gets its own short transaction; otherwise the request's commit saves it.
    """
    ident, _, epoch = user_id.partition(":")
    if not ident.isdigit() or int(ident) > MAX_ID or not session_id or len(session_id) > 64:
        return None
    # the municipality comes along: whether its coordinators need two-factor sign-in is
    # asked on every request (policy.two_factor_required), and pages show its name
    preloads = _preload_columns()
    row = db.session.execute(
        _load_statement(), {"session_id": session_id, "user_id": int(ident)}
    ).first()
    if row is None:
        return None
    user, record, *values = row
    if str(user.auth_epoch) != epoch or not user.active or record.ended_at is not None:
        return None
    now = utcnow()
    idle, maximum = _limits()
    if now - record.last_seen_at > idle or now - record.created_at > maximum:
        return None
    if now - record.last_seen_at >= TOUCH_EVERY:
        if read_only:
            execute_apart(
                update(UserSession).where(UserSession.id == record.id), {"last_seen_at": now}
            )
            db.session.expire(record, ["last_seen_at"])
        else:
            record.last_seen_at = now
    if has_request_context():
        found = dict(zip(preloads, values, strict=True))
        setattr(g, _PRELOADED, (user.id, db.session().get_transaction(), found))
        for name, value in found.items():
            loaded = _PRELOADS[name][1]
            if loaded is not None:
                loaded(user, value)
    return user, record


def end(record: UserSession | None, reason: str, now: datetime | None = None) -> None:
    if record is not None and record.ended_at is None:
        record.ended_at = now or utcnow()
        record.ended_reason = reason


def end_all(user: User, reason: str, *, keep: UserSession | None = None) -> int:
    """End every open session of the user except `keep`; returns how many ended."""
    query = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)
    )
    if keep is not None:
        query = query.where(UserSession.id != keep.id)
    result = db.session.execute(
        query.values(ended_at=utcnow(), ended_reason=reason).execution_options(
            synchronize_session=False
        )
    )
    return result.rowcount or 0


def open_sessions(user: User) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .order_by(UserSession.last_seen_at.desc())
        )
    )


def reauthenticated(record: UserSession | None, now: datetime | None = None) -> None:
    """The user gave their password or a code again (step-up)."""
    if record is not None:
        record.authenticated_at = now or utcnow()


def load_current(user_id: str) -> User | None:
    """Flask-Login's user loader: the cookie's user if its server-side session is open.

    The session row is kept on `g` for step-up and sign-out.
    """
    session_id = session.get(SESSION_KEY)
    found = load(user_id, session_id, read_only=request.method in ("GET", "HEAD", "OPTIONS"))
    if found is None:
        return None
    user, record = found
    g.user_session = record
    return user

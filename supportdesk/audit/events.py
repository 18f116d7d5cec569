"""Writing the security log: one function every domain calls, inside its own transaction.

A request's address and browser are taken from the request the event happens in
(commands and the worker have none). The row joins the caller's transaction, so it
exists exactly when the change does; `record_now` writes at once for what happens
while the request's own work is refused (a failed sign-in, a denied page).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import has_request_context, request
from sqlalchemy import insert

from supportdesk.accounts.models import User
from supportdesk.audit.models import Outcome, SecurityEvent, SecurityEventKind
from supportdesk.extensions import db, utcnow
from supportdesk.sqlite_locks import execute_apart


def client_address() -> str | None:
    """The caller's address (behind a proxy, SUPPORTDESK_PROXY_FIX makes it the client's)."""
    if not has_request_context():
        return None
    return (request.remote_addr or "")[:45] or None


def client() -> tuple[str | None, str | None]:
    """The caller's address and browser, cut to their columns; (None, None) outside a request."""
    if not has_request_context():
        return None, None
    agent = request.headers.get("User-Agent", "")[:255] or None
    return client_address(), agent


def _values(
    kind: SecurityEventKind,
    outcome: Outcome,
    user: User | None,
    actor: User | None,
    email: str | None,
    detail: dict[str, Any] | None,
    at: datetime | None,
) -> dict[str, Any]:
    ip, agent = client()
    actor_id = actor.id if actor is not None and actor.is_authenticated else None
    return {
        "at": at or utcnow(),
        "kind": kind,
        "outcome": outcome,
        "user_id": user.id if user is not None else None,
        "actor_id": actor_id if actor_id != (user.id if user else None) else None,
        "municipality_id": (
            user.municipality_id
            if user is not None
            else (actor.municipality_id if actor_id is not None else None)
        ),
        "email": (email or (user.email if user is not None else None) or "")[:254] or None,
        "ip": ip,
        "user_agent": agent,
        "detail": detail or {},
    }


def record(
    kind: SecurityEventKind,
    outcome: Outcome = Outcome.success,
    *,
    user: User | None = None,
    actor: User | None = None,
    email: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> SecurityEvent:
    """Add an event to the current transaction; the caller commits."""
    event = SecurityEvent(**_values(kind, outcome, user, actor, email, detail, at))
    db.session.add(event)
    return event


def record_many(
    kind: SecurityEventKind,
    users: Iterable[Any],
    *,
    actor: User | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """The same event for many accounts in one bulk INSERT (bulk onboarding); `users` need
    `id`, `email` and `municipality_id` only (rows of a query will do)."""
    rows = [_values(kind, Outcome.success, user, actor, None, detail, at) for user in users]
    if rows:
        db.session.execute(insert(SecurityEvent), rows)


def record_now(
    kind: SecurityEventKind,
    outcome: Outcome = Outcome.failure,
    *,
    user_id: int | None = None,
    municipality_id: int | None = None,
    email: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write an event in its own short transaction (the request's may be rolled back).

    Takes plain values, read before the caller ended its transaction: the caller must
    not hold the database's write lock (on SQLite a second writer would wait for it).
    """
    values = _values(kind, outcome, None, None, email, detail, None)
    values.update(user_id=user_id, municipality_id=municipality_id)
    execute_apart(insert(SecurityEvent.__table__), values)

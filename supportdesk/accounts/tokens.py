"""API tokens: bearer tokens for /api/v1, stored as SHA-256 only and shown once."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select, update

from supportdesk.accounts.models import ApiToken, User
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEventKind
from supportdesk.errors import NotFound
from supportdesk.extensions import db, utcnow
from supportdesk.sqlite_locks import execute_apart

TOKEN_PREFIX = "sd_"  # noqa: S105 — a public prefix, not a secret


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Return the stored row and the plain token, which is never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "API").strip()[:80],
        token_hash=_token_hash(plain),
        prefix=plain[:10],
    )
    db.session.add(token)
    db.session.flush()
    events.record(SecurityEventKind.token_created, user=user, detail={"name": token.name})
    return token, plain


def user_for_token(plain: str, *, read_only: bool = False) -> User | None:
    """The active user of a valid, unrevoked token, recording when it was last used.

    The use is recorded at most once a minute. A read-only request's session is
    never committed, so there it is written in its own short transaction; a
    writing request saves it with its own commit (a separate writer would wait
    on that request's own lock on SQLite).
    """
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        if read_only:
            execute_apart(update(ApiToken).where(ApiToken.id == token.id), {"last_used_at": now})
        else:
            token.last_used_at = now
    return token.user


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(user: User, token_id: int) -> None:
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        events.record(SecurityEventKind.token_revoked, user=user, detail={"name": token.name})

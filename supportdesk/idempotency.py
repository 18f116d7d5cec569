"""Idempotency keys: a client's retry of a create gets the first answer, not a second row.

An API client that lost the answer to `POST /api/v1/tickets` (a connection reset) sends
the request again with the same `Idempotency-Key`. The key row is written in the same
transaction as what the request created, holding the answer; the unique constraint on
(user, key) lets only one of two requests in flight commit, and the other reads the
winner's answer. Keys are kept `KEEP` (24 h) and pruned by the retention job.

The request side (headers, fingerprint, replay) is `supportdesk.api.idempotency`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.extensions import db, utcnow

KEEP = timedelta(hours=24)
KEY_MAX = 200


class IdempotencyKey(db.Model):
    """The answer a user's request with this key got (2xx only: errors are not stored)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_idempotency_key_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(KEY_MAX))
    # sha256 of method, path and body: the same key with another request is refused
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column()
    body: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def find(user_id: int, key: str, now: datetime | None = None) -> IdempotencyKey | None:
    """The stored answer for this user's key, if it is younger than KEEP.

    Without autoflush: it runs before the view, while a SQLite request of a
    `reads_before_writes` view is still a reader; flushing a pending change (the token's
    last use) there would make it a writer that fails once another one committed.
    """
    now = now or utcnow()
    with db.session.no_autoflush:
        return db.session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id,
                IdempotencyKey.key == key,
                IdempotencyKey.created_at >= now - KEEP,
            )
        )


def remember(row: IdempotencyKey) -> IdempotencyKey:
    """Store the answer in the caller's transaction; flushes, so a twin fails here.

    A row of the same key older than KEEP is removed first: after 24 h the key is free.
    """
    db.session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.user_id == row.user_id,
            IdempotencyKey.key == row.key,
            IdempotencyKey.created_at < utcnow() - KEEP,
        )
    )
    db.session.add(row)
    db.session.flush()
    return row


def prune(now: datetime | None = None) -> int:
    """Delete keys older than KEEP (the retention job); how many went."""
    now = now or utcnow()
    result = db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.created_at < now - KEEP)
    )
    return result.rowcount or 0

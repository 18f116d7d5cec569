"""Transactional outbox: side effects (e-mail, search indexing, webhooks) as rows.

A service calls `enqueue(...)` inside the transaction that makes the change, so
the message exists exactly when the change does. `flask --app wsgi worker`
delivers pending messages with retry and exponential backoff.

Several workers may run (two app nodes). Each message is claimed on its own, right
before it is delivered, by a conditional UPDATE that only one worker can win (the
lease, `locked_until`, must be free or expired); it is marked sent right after. A
lease therefore only has to outlive one delivery, never a batch: with 200 messages
leased at once, a slow SMTP server let the lease run out mid-batch and a second
worker sent the rest again. Handlers that talk to the outside world also get the
message id to deduplicate on (the e-mail's Message-ID, the webhook's delivery id).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import JSON, Index, String, Text, insert, or_, select, update
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.extensions import db, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
LEASE = timedelta(minutes=2)  # default of SUPPORTDESK_OUTBOX_LEASE_SECONDS
Handler = Callable[[dict[str, Any], int], None]


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_pending", "sent_at", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Optional: a second enqueue with the same key is ignored (e.g. one SLA warning per case).
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column()
    failed_at: Mapped[datetime | None] = mapped_column()


_handlers: dict[str, Handler] = {}


@dataclass
class Periodic:
    name: str
    every: timedelta
    run: Callable[[], int]
    last_run: float = 0.0


_periodic: list[Periodic] = []


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Register the function that delivers messages of `kind`: fn(payload, message_id)."""

    def register(fn: Handler) -> Handler:
        _handlers[kind] = fn
        return fn

    return register


def periodic(name: str, every: timedelta) -> Callable[[Callable[[], int]], Callable[[], int]]:
    """Register a job the worker runs every `every` (e.g. SLA checks); it commits itself."""

    def register(fn: Callable[[], int]) -> Callable[[], int]:
        if not any(p.name == name for p in _periodic):
            _periodic.append(Periodic(name, every, fn))
        return fn

    return register


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    dedup_key: str | None = None,
    delay: timedelta | None = None,
) -> OutboxMessage | None:
    """Add a message to the current transaction; the caller commits. None if a duplicate."""
    if dedup_key is not None:
        pending = [
            m for m in db.session.new if isinstance(m, OutboxMessage) and m.dedup_key == dedup_key
        ]
        exists = db.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedup_key == dedup_key)
        )
        if pending or exists is not None:
            return None
    message = OutboxMessage(
        kind=kind,
        payload=payload,
        dedup_key=dedup_key,
        available_at=utcnow() + (delay or timedelta()),
    )
    db.session.add(message)
    return message


def enqueue_many(kind: str, payloads: list[dict[str, Any]]) -> int:
    """Many messages of one kind in one bulk INSERT of this transaction (bulk onboarding);
    the caller commits. No deduplication: each payload is a message of its own."""
    if payloads:
        now = utcnow()
        db.session.execute(
            insert(OutboxMessage),
            [
                {"kind": kind, "payload": p, "created_at": now, "available_at": now}
                for p in payloads
            ],
        )
    return len(payloads)


def lease() -> timedelta:
    """How long a claimed message stays with its worker (one delivery, not a batch)."""
    if has_app_context():
        return timedelta(seconds=current_app.config["SUPPORTDESK"].outbox_lease_seconds)
    return LEASE


def _due(limit: int) -> list[int]:
    """Up to `limit` ids due now and not leased by another worker; claims nothing."""
    now = utcnow()
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.available_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    ids = list(db.session.scalars(due))
    db.session.commit()
    return ids


def _claim(message_id: int) -> bool:
    """Lease one message for this worker; False when another worker has it (or sent it).

    One UPDATE whose WHERE repeats the "free" condition: PostgreSQL re-checks it on the
    row's newest version after waiting for a competing UPDATE, SQLite runs one writer
    at a time, so exactly one worker sees a row count of 1. Committed at once, so the
    other workers skip the message.
    """
    now = utcnow()
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.available_at <= now,
            or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
        )
        .values(locked_until=now + lease())
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return claimed == 1


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … capped at one hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(message_id: int) -> bool:
    message = db.session.get(OutboxMessage, message_id)
    if message is None or message.sent_at is not None:
        return True
    fn = _handlers.get(message.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for outbox kind {message.kind!r}")
        fn(message.payload, message.id)
    except Exception as error:
        db.session.rollback()
        message = db.session.get(OutboxMessage, message_id)
        message.attempts += 1
        message.last_error = f"{type(error).__name__}: {error}"[:2000]
        message.locked_until = None
        if message.attempts >= MAX_ATTEMPTS:
            message.failed_at = utcnow()
            log.error(
                "outbox %s gave up after %s attempts: %s", message.id, message.attempts, error
            )
        else:
            message.available_at = utcnow() + backoff(message.attempts)
            log.warning("outbox %s attempt %s failed: %s", message.id, message.attempts, error)
        db.session.commit()
        return False
    message.sent_at = utcnow()
    message.locked_until = None
    message.attempts += 1
    db.session.commit()
    return True


def run_periodic(force: bool = False) -> int:
    done = 0
    now = time.monotonic()
    for job in _periodic:
        if force or now - job.last_run >= job.every.total_seconds():
            job.last_run = now
            try:
                done += job.run() or 0
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("periodic job %s failed", job.name)
    return done


def run_once(limit: int = 200) -> tuple[int, int]:
    """Deliver what is due now, claiming each message just before it goes out;
    returns (delivered, failed). Messages another worker claimed first are skipped."""
    delivered = failed = 0
    for message_id in _due(limit):
        if not _claim(message_id):
            continue
        if deliver(message_id):
            delivered += 1
        else:
            failed += 1
    return delivered, failed

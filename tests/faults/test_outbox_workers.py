"""Issue 14.1: two outbox workers and a slow SMTP server deliver every e-mail exactly once."""

from __future__ import annotations

import collections
import time

import pytest
from sqlalchemy import func, select

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.outbox import OutboxMessage

MESSAGES = 40
SMTP_DELAY = 0.25  # seconds per message: 40 messages outlive a 2 s lease many times over
LEASE_SECONDS = 2


@pytest.mark.slow
def test_two_workers_with_a_slow_smtp_server_send_every_message_exactly_once(
    app, make_user, processes, slow_smtp
):
    smtp_url, collector = slow_smtp(SMTP_DELAY)
    user = make_user(Role.coordinator)
    for n in range(MESSAGES):
        outbox.enqueue(
            "email",
            {
                "user_id": user.id,
                "event": "ticket_reply",
                "url": "/",
                "context": {"number": f"ESB-2026-{n:06d}", "subject": "x", "excerpt": "y"},
            },
        )
    db.session.commit()
    env = {
        "SUPPORTDESK_SMTP_URL": smtp_url,
        "SUPPORTDESK_OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    workers = [processes.flask("worker", "--interval", "0.2", extra_env=env) for _ in range(2)]

    deadline = time.monotonic() + 120
    pending = MESSAGES
    while time.monotonic() < deadline:
        db.session.rollback()
        pending = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.sent_at.is_(None))
        )
        if not pending:
            break
        assert all(w.poll() is None for w in workers), "a worker died"
        time.sleep(0.3)
    # Anything a worker still had in flight arrives within one SMTP answer.
    time.sleep(SMTP_DELAY * 4)

    counts = collections.Counter(collector.message_ids)
    twice = {mid: n for mid, n in counts.items() if n > 1}
    print(
        f"outbox: {MESSAGES} queued, {len(counts)} received, "
        f"{sum(n - 1 for n in twice.values())} duplicated, {pending} pending"
    )
    assert pending == 0
    assert twice == {}
    assert len(counts) == MESSAGES
    assert sum(counts.values()) == MESSAGES

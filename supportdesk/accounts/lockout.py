"""Throttling sign-in that holds across workers, nodes and restarts: counted in the database.

Every failed sign-in (wrong password, wrong code) is a row in the security log, so
the limits below count rows, not a worker's memory:

- per address: the 21st failure within a minute from one address is refused (429);
- per account: 10 failures within 15 minutes lock the account for 15 minutes, and
  its owner gets an e-mail. An unknown address is "locked" the same way, so the
  answer does not tell which addresses have accounts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from supportdesk import outbox
from supportdesk.accounts.models import User
from supportdesk.audit import events
from supportdesk.audit.models import Outcome, SecurityEvent, SecurityEventKind
from supportdesk.extensions import db, utcnow

IP_LIMIT = 20
IP_WINDOW = timedelta(minutes=1)
ACCOUNT_LIMIT = 10
ACCOUNT_WINDOW = timedelta(minutes=15)
LOCK_FOR = timedelta(minutes=15)
FAILURES = (
    SecurityEventKind.login_failed,
    SecurityEventKind.two_factor_failed,
    SecurityEventKind.step_up_failed,
)


def address_throttled(ip: str | None, now: datetime | None = None) -> bool:
    """The address has failed IP_LIMIT times within IP_WINDOW (one indexed count)."""
    if not ip:
        return False
    now = now or utcnow()
    count = db.session.scalar(
        select(func.count(SecurityEvent.id)).where(
            SecurityEvent.ip == ip,
            SecurityEvent.kind.in_(FAILURES),
            SecurityEvent.at > now - IP_WINDOW,
        )
    )
    return (count or 0) >= IP_LIMIT


def _failures(email: str, since: datetime) -> int:
    return (
        db.session.scalar(
            select(func.count(SecurityEvent.id)).where(
                SecurityEvent.email == email,
                SecurityEvent.kind.in_(FAILURES),
                SecurityEvent.at > since,
            )
        )
        or 0
    )


def _since(user: User | None, now: datetime) -> datetime:
    """Failures count from the window's start, or from the end of the last lock."""
    since = now - ACCOUNT_WINDOW
    if user is not None and user.locked_until is not None and user.locked_until <= now:
        since = max(since, user.locked_until)
    return since


def is_locked(email: str, user: User | None, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if user is not None:
        return user.locked_until is not None and user.locked_until > now
    return _failures(email.strip().lower(), now - ACCOUNT_WINDOW) >= ACCOUNT_LIMIT


def register_failure(
    email: str,
    user: User | None,
    kind: SecurityEventKind = SecurityEventKind.login_failed,
    now: datetime | None = None,
) -> bool:
    """Log a failed sign-in; lock the account at the limit. Returns whether it locked now.

    The caller commits (also when it refuses the sign-in).
    """
    now = now or utcnow()
    email = email.strip().lower()[:254]
    events.record(kind, Outcome.failure, user=user, email=email, at=now)
    db.session.flush()
    if user is None or is_locked(email, user, now):
        return False
    if _failures(email, _since(user, now)) < ACCOUNT_LIMIT:
        return False
    user.locked_until = now + LOCK_FOR
    events.record(
        SecurityEventKind.account_locked,
        Outcome.denied,
        user=user,
        at=now,
        detail={"minutes": int(LOCK_FOR.total_seconds() // 60)},
    )
    outbox.enqueue(
        "account_email",
        {
            "user_id": user.id,
            "template": "account_locked",
            "context": {
                "minutes": int(LOCK_FOR.total_seconds() // 60),
                "failures": ACCOUNT_LIMIT,
                "ip": events.client_address() or "",
                "path": "/password/reset",
            },
        },
    )
    return True

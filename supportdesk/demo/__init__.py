"""Idempotent demo data: `flask --app wsgi demo seed [--tickets N]`.

Each step upserts by natural key (slug, e-mail, institution number), so running
the seed twice changes nothing. Domains add their own step to STEPS.
"""

from __future__ import annotations

from collections.abc import Callable

from supportdesk.demo import cases, faq_usage, organisations, report_patterns, tickets
from supportdesk.demo import notifications as demo_notifications
from supportdesk.demo.credentials import DEMO_PASSWORD, DEMO_TOTP_SECRET, Logins
from supportdesk.extensions import db

__all__ = ["DEMO_PASSWORD", "DEMO_TOTP_SECRET", "Logins", "seed"]


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> Logins:
    logins = Logins()
    organisations.seed(logins, echo)
    db.session.commit()
    for step in _later_steps():
        step(ticket_count=ticket_count, echo=echo)
        db.session.commit()
    return logins


def _later_steps() -> list[Callable[..., None]]:
    """Steps of the domains built on the organisations (tickets, cases, FAQ …)."""
    # notifications last: it fills the bells from the tickets seeded before it.
    return [
        tickets.seed,
        cases.seed,
        report_patterns.seed,
        faq_usage.seed,
        demo_notifications.seed,
    ]

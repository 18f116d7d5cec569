"""Idempotent demo data: `flask --app wsgi demo seed [--tickets N]`.

Each step upserts by natural key (slug, e-mail, institution number), so running
the seed twice changes nothing. Domains add their own step to STEPS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from supportdesk.extensions import db

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 — printed to the operator on purpose
# The demo's roles that need two-factor sign-in share this TOTP key, printed with the
# logins, so a person trying the demo can add it to an authenticator app once. Never in
# production: there such users set up their own key at first sign-in.
DEMO_TOTP_SECRET = "SUPPORTDESKDEMO2FAKEYFORTESTING2"  # noqa: S105 — printed on purpose


@dataclass
class Logins:
    password: str = DEMO_PASSWORD
    users: list[tuple[str, str]] = field(default_factory=list)
    # set when the seed gave the demo's two-factor users the shared demo key
    totp_secret: str | None = None


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> Logins:
    from supportdesk.demo import organisations

    logins = Logins()
    organisations.seed(logins, echo)
    db.session.commit()
    for step in _later_steps():
        step(ticket_count=ticket_count, echo=echo)
        db.session.commit()
    return logins


def _later_steps() -> list[Callable[..., None]]:
    """Steps of the domains built on the organisations (tickets, cases, FAQ …)."""
    from supportdesk.demo import cases, tickets
    from supportdesk.demo import notifications as demo_notifications

    # notifications last: it fills the bells from the tickets seeded before it.
    return [tickets.seed, cases.seed, demo_notifications.seed]

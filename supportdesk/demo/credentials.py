"""The demo's sign-in: one password for every demo user, one TOTP key for those who need
two-factor sign-in, and the list of logins the seed prints."""

from __future__ import annotations

from dataclasses import dataclass, field

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

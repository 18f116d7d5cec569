"""Two-factor sign-in with TOTP (RFC 6238, 30-second steps, 6 digits) and recovery codes.

A code is accepted for the current step and one step either side (clock drift), and
only for a step later than the last one used, so a code seen over someone's shoulder
or replayed from a log is refused. Ten single-use recovery codes, shown once, stand
in for the phone; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import delete, select

from supportdesk.accounts import sessions
from supportdesk.accounts.models import RecoveryCode, User, UserSession
from supportdesk.audit import events
from supportdesk.audit.models import Outcome, SecurityEventKind
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db, utcnow

ISSUER = "supportdesk"
RECOVERY_CODES = 10
STEP_SECONDS = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh 160-bit base32 key (what authenticator apps expect)."""
    return pyotp.random_base32(32)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(user: User, secret: str, label: str) -> Markup:
    """The key as a QR code, rendered here as inline SVG (no image request, no script)."""
    svg = segno.make(provisioning_uri(user, secret), error="m").svg_inline(scale=4, border=4)
    labelled = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return Markup(labelled)  # noqa: S704 — segno's own SVG, the label escaped


def grouped(secret: str) -> str:
    """The key in groups of four, easier to type into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _step(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


def matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The time step whose code this is (within the drift allowance), or None."""
    code = _clean(code)
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = _step(now or utcnow())
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _code_hash(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (the old ones stop working); shown once, stored hashed."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_code_hash(c)) for c in codes)
    return codes


def remaining_recovery_codes(user: User) -> int:
    return len(
        list(
            db.session.scalars(
                select(RecoveryCode.id).where(
                    RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
                )
            )
        )
    )


def enable(user: User, secret: str, code: str, now: datetime | None = None) -> list[str]:
    """Confirm set-up with a code from the app; returns the recovery codes to show once."""
    step = matching_step(secret, code, now)
    if step is None:
        events.record(SecurityEventKind.two_factor_failed, Outcome.failure, user=user)
        raise ValidationFailed(
            fields={"code": _l("The code is not right. Check the key and the phone's clock.")}
        )
    user.totp_secret = secret
    user.totp_enabled_at = now or utcnow()
    user.totp_last_step = step
    events.record(SecurityEventKind.two_factor_enabled, user=user)
    return new_recovery_codes(user)


def verify(user: User, code: str, now: datetime | None = None) -> bool:
    """A TOTP code not used before, or an unused recovery code; uses it up.

    The caller records a failure (it counts toward the lockout) and commits.
    """
    if not user.has_two_factor:
        return False
    step = matching_step(user.totp_secret or "", code, now)
    if step is not None:
        if user.totp_last_step is not None and step <= user.totp_last_step:
            return False  # replayed: this code (or a later one) was used already
        user.totp_last_step = step
        return True
    if len(_clean(code)) != 12:
        return False
    recovery = db.session.scalar(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _code_hash(code),
            RecoveryCode.used_at.is_(None),
        )
    )
    if recovery is None:
        return False
    recovery.used_at = now or utcnow()
    events.record(SecurityEventKind.recovery_code_used, user=user)
    return True


def reset(actor: User | None, user: User, *, keep: UserSession | None = None) -> None:
    """Remove the user's second factor (lost phone): they set it up again at next sign-in,
    and every other session of theirs ends."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    sessions.end_all(user, "two_factor_reset", keep=keep)
    events.record(SecurityEventKind.two_factor_reset, user=user, actor=actor)

"""The security event log: who did what to an account, when, from where, with what outcome."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from supportdesk.accounts.models import User, str_enum
from supportdesk.extensions import db, utcnow


class SecurityEventKind(enum.StrEnum):
    login = "login"
    login_failed = "login_failed"
    login_throttled = "login_throttled"
    account_locked = "account_locked"
    logout = "logout"
    sessions_ended = "sessions_ended"
    two_factor_enabled = "two_factor_enabled"
    two_factor_failed = "two_factor_failed"
    two_factor_reset = "two_factor_reset"
    recovery_code_used = "recovery_code_used"
    step_up = "step_up"
    step_up_failed = "step_up_failed"
    password_changed = "password_changed"  # noqa: S105 — an event name
    password_reset_requested = "password_reset_requested"  # noqa: S105 — an event name
    password_reset = "password_reset"  # noqa: S105 — an event name
    invitation_sent = "invitation_sent"
    token_created = "token_created"  # noqa: S105 — an event name
    token_revoked = "token_revoked"  # noqa: S105 — an event name
    entitlement_granted = "entitlement_granted"
    entitlement_revoked = "entitlement_revoked"
    role_changed = "role_changed"
    user_deactivated = "user_deactivated"
    user_created = "user_created"
    two_factor_policy_changed = "two_factor_policy_changed"
    access_denied = "access_denied"
    gdpr_export = "gdpr_export"
    gdpr_erase = "gdpr_erase"


class Outcome(enum.StrEnum):
    success = "success"
    failure = "failure"
    denied = "denied"


class SecurityEvent(db.Model):
    """One line of the security log (kept `audit_retention_days`, then pruned)."""

    __tablename__ = "security_event"
    __table_args__ = (
        # login throttling counts one address's recent failures (accounts/lockout.py)
        Index("ix_security_event_ip_kind_at", "ip", "kind", "at"),
        # per-account lockout counts one e-mail address's recent failures
        Index("ix_security_event_email_kind_at", "email", "kind", "at"),
        Index("ix_security_event_municipality_at", "municipality_id", "at"),
        Index("ix_security_event_user_at", "user_id", "at"),
        Index("ix_security_event_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[SecurityEventKind] = mapped_column(
        str_enum(SecurityEventKind, "security_event_kind")
    )
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome, "security_outcome"))
    # The account concerned (None for an unknown e-mail address).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Who did it when that is someone else (an administrator, the command line is None).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    # Whose municipal admins see the event: the account's municipality.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"))
    # What was typed at the sign-in form, lower-cased (also for unknown addresses).
    email: Mapped[str | None] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])


__all__ = ["Outcome", "SecurityEvent", "SecurityEventKind"]

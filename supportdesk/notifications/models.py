"""In-app notifications and each user's e-mail preference per event type."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.accounts.models import str_enum
from supportdesk.extensions import db, utcnow


class NotificationEvent(enum.StrEnum):
    """What happened; decides the wording, the e-mail template and the preference."""

    ticket_assigned = "ticket_assigned"
    ticket_reply = "ticket_reply"
    ticket_internal_note = "ticket_internal_note"
    ticket_status = "ticket_status"
    ticket_created = "ticket_created"
    case_message = "case_message"
    case_status = "case_status"
    case_resolved = "case_resolved"
    sla_warning = "sla_warning"
    sla_breach = "sla_breach"
    ticket_merged = "ticket_merged"
    survey_requested = "survey_requested"
    known_issue_resolved = "known_issue_resolved"
    # The reporter's side of the answer flow: their ticket went to the vendor,
    # the vendor's answer was passed on to them, their ticket is resolved.
    ticket_escalated = "ticket_escalated"
    answer_relayed = "answer_relayed"
    ticket_resolved = "ticket_resolved"


class Notification(db.Model):
    """One line in a user's bell; `context` holds only what that user may see."""

    __tablename__ = "notification"
    __table_args__ = (
        # The bell's unread count and the keyset-paginated list both start from user_id.
        Index("ix_notification_unread", "user_id", "read_at"),
        Index("ix_notification_user_list", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    event: Mapped[NotificationEvent] = mapped_column(
        str_enum(NotificationEvent, "notification_event")
    )
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A site-relative path such as /tickets/ESB-2026-000001; e-mails prefix settings.base_url.
    url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column()

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationPreference(db.Model):
    """A user's choice of e-mail for one event type; no row means e-mail is on."""

    __tablename__ = "notification_preference"
    __table_args__ = (UniqueConstraint("user_id", "event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    event: Mapped[NotificationEvent] = mapped_column(
        str_enum(NotificationEvent, "notification_event")
    )
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True)


__all__ = ["Notification", "NotificationEvent", "NotificationPreference"]

"""Webhook subscriptions of a vendor or a municipality, and the fixed event vocabulary."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from supportdesk.accounts.models import Municipality, User, Vendor
from supportdesk.extensions import db, utcnow


class WebhookEvent(enum.StrEnum):
    """Events a receiver may subscribe to; the value is the `event` field on the wire."""

    case_created = "case.created"
    case_ticket_added = "case.ticket_added"
    case_message = "case.message"
    case_vendor_message = "case.vendor_message"
    case_status_changed = "case.status_changed"


# What each kind of owner may hear about: a vendor follows its cases and what the
# municipality writes; a municipality follows the vendor's answers and status changes.
VENDOR_EVENTS: tuple[WebhookEvent, ...] = (
    WebhookEvent.case_created,
    WebhookEvent.case_ticket_added,
    WebhookEvent.case_message,
    WebhookEvent.case_status_changed,
)
MUNICIPALITY_EVENTS: tuple[WebhookEvent, ...] = (
    WebhookEvent.case_vendor_message,
    WebhookEvent.case_status_changed,
)


class Webhook(db.Model):
    """An HTTPS endpoint of one vendor or one municipality that receives signed events."""

    __tablename__ = "webhook"
    __table_args__ = (
        # Exactly one owner: a vendor's servicedesk tool or a municipality's own tool.
        CheckConstraint(
            "(vendor_id IS NULL AND municipality_id IS NOT NULL)"
            " OR (vendor_id IS NOT NULL AND municipality_id IS NULL)",
            name="one_owner",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"), index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    url: Mapped[str] = mapped_column(String(500))
    # Kept in clear text: it signs every delivery and the owner's admin may look it up again.
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    secret_rotated_at: Mapped[datetime | None] = mapped_column()
    # The latest delivery attempt: HTTP status (None when no answer came) or the error.
    last_delivery_at: Mapped[datetime | None] = mapped_column()
    last_delivery_status: Mapped[int | None] = mapped_column(Integer)
    last_delivery_error: Mapped[str | None] = mapped_column(String(300))
    last_success_at: Mapped[datetime | None] = mapped_column()

    vendor: Mapped[Vendor | None] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def owner_name(self) -> str:
        owner = self.vendor or self.municipality
        return owner.name if owner is not None else ""

    @property
    def allowed_events(self) -> tuple[WebhookEvent, ...]:
        return VENDOR_EVENTS if self.vendor_id is not None else MUNICIPALITY_EVENTS

    @property
    def last_delivery_ok(self) -> bool | None:
        """None before the first attempt; True when the receiver answered 2xx."""
        if self.last_delivery_at is None:
            return None
        status = self.last_delivery_status
        return status is not None and 200 <= status < 300

    def subscribes(self, event: WebhookEvent | str) -> bool:
        return self.active and str(event) in (self.events or [])

    def __repr__(self) -> str:
        return f"<Webhook {self.id} {self.url}>"


__all__ = ["MUNICIPALITY_EVENTS", "VENDOR_EVENTS", "Webhook", "WebhookEvent"]

"""A canned reply belongs to one municipality (its coordinators) or one vendor (its agents)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow


class CannedReply(db.Model):
    """Title and body; the body may hold {reporter}, {ticket} and {institution}."""

    __tablename__ = "canned_reply"
    __table_args__ = (
        CheckConstraint("(municipality_id IS NULL) <> (vendor_id IS NULL)", name="one_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def canned_replies_generation(municipality_id: int | None, vendor_id: int | None = None) -> str:
    """The cache generation of one owner's canned replies (offered on the ticket page)."""
    return f"replies:m{municipality_id}" if municipality_id is not None else f"replies:v{vendor_id}"


def _owners(reply: CannedReply) -> list[str]:
    return [
        *(canned_replies_generation(m) for m in generations.old_and_new(reply, "municipality_id")),
        *(canned_replies_generation(None, v) for v in generations.old_and_new(reply, "vendor_id")),
    ]


generations.track(CannedReply, _owners)


__all__ = ["CannedReply", "canned_replies_generation"]

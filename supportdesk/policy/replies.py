"""Canned replies: coordinators use and write their municipality's, vendor agents their vendor's."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from supportdesk.accounts.models import Role, User
from supportdesk.errors import NotFound
from supportdesk.extensions import db
from supportdesk.policy.tickets import TICKET_STAFF_ROLES
from supportdesk.replies.models import CannedReply


def can_use_canned_replies(user: User) -> bool:
    if not user.is_authenticated:
        return False
    if user.role in TICKET_STAFF_ROLES:
        return user.municipality_id is not None
    return user.role == Role.vendor_agent and user.vendor_id is not None


def canned_replies_visible_to(user: User) -> Select[tuple[CannedReply]]:
    """One owner's replies: the user's municipality (ticket staff) or vendor (agents)."""
    query = select(CannedReply).order_by(CannedReply.title, CannedReply.id)
    if not can_use_canned_replies(user):
        return query.where(false())
    if user.role == Role.vendor_agent:
        return query.where(CannedReply.vendor_id == user.vendor_id)
    return query.where(CannedReply.municipality_id == user.municipality_id)


def canned_reply_owner(user: User) -> dict[str, int | None]:
    """The owner a new canned reply of this user gets."""
    if user.role == Role.vendor_agent:
        return {"vendor_id": user.vendor_id, "municipality_id": None}
    return {"municipality_id": user.municipality_id, "vendor_id": None}


def get_canned_reply(user: User, reply_id: int) -> CannedReply:
    reply = db.session.scalar(canned_replies_visible_to(user).where(CannedReply.id == reply_id))
    if reply is None:
        raise NotFound()
    return reply

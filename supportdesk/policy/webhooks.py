"""Webhooks: who manages a vendor's or a municipality's subscriptions."""

from __future__ import annotations

from sqlalchemy import Select, select

from supportdesk.accounts.models import Municipality, Role, User, Vendor
from supportdesk.errors import NotFound
from supportdesk.escalation.models import VendorCase
from supportdesk.policy.organisations import (
    can_manage_municipality,
    get_municipality,
    is_admin,
    one_visible,
    require_municipal_admin,
    require_valid_id,
    tenant_scoped,
)
from supportdesk.webhooks.models import Webhook


def can_manage_webhooks(
    user: User, *, vendor_id: int | None = None, municipality_id: int | None = None
) -> bool:
    """A vendor's webhooks: the system admin; a municipality's: its municipal admins too."""
    if vendor_id is not None:
        return is_admin(user)
    return can_manage_municipality(user, municipality_id)


def webhooks_visible_to(user: User) -> Select[tuple[Webhook]]:
    """Admin sees every webhook; a municipal admin the own municipality's; nobody else any."""
    query = select(Webhook).order_by(Webhook.created_at, Webhook.id)
    staff = bool(
        user.is_authenticated and user.role == Role.municipal_admin and user.municipality_id
    )
    return tenant_scoped(user, query, Webhook.municipality_id, staff=staff)


def get_webhook(user: User, webhook_id: int) -> Webhook:
    """A webhook the user manages; another tenant's is not found, never forbidden."""
    require_valid_id(webhook_id)
    return one_visible(webhooks_visible_to(user).where(Webhook.id == webhook_id))


def webhook_owner(
    user: User, *, municipality: str | None = None, vendor: str | None = None
) -> tuple[Municipality | None, Vendor | None]:
    """The owner a webhook page works on: a municipal admin's own municipality (any other
    slug or a vendor is not found); admin names a vendor or a municipality, or neither for
    the overview of all webhooks."""
    require_municipal_admin(user)
    if user.role == Role.municipal_admin:
        if vendor or (municipality and municipality != user.municipality.slug):
            raise NotFound()
        return user.municipality, None
    if vendor:
        return None, one_visible(select(Vendor).where(Vendor.slug == vendor))
    return (get_municipality(user, municipality) if municipality else None), None


def webhook_reader(case: VendorCase, *, vendor_side: bool) -> User:
    """Whose eyes a webhook payload is built with: an agent of the case's vendor, or a
    coordinator of its municipality. A transient user, never saved, so the API's case JSON
    and the rules above decide what a receiver gets, exactly as for that person."""
    if vendor_side:
        return User(
            name="webhook", email="", role=Role.vendor_agent, vendor_id=case.vendor_id, active=True
        )
    return User(
        name="webhook",
        email="",
        role=Role.coordinator,
        municipality_id=case.municipality_id,
        active=True,
    )

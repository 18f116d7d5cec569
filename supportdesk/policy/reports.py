"""Reports: whose figures each role may see.

Municipality report and ticket export: coordinators and municipal admins, their own
municipality only; the system admin any municipality (named with `municipality=`).
Vendor report and case export: vendor staff, their own vendor's cases from every
municipality; the system admin any vendor. Whole rollout: the system admin only.
Everyone else, and every other tenant, is not found.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from supportdesk.accounts.models import Municipality, Role, User, Vendor
from supportdesk.errors import NotFound
from supportdesk.extensions import db
from supportdesk.policy.organisations import is_admin, is_vendor_staff

MUNICIPAL_REPORT_ROLES = frozenset({Role.coordinator, Role.municipal_admin})


def can_view_municipality_report(user: User) -> bool:
    return user.is_authenticated and (
        is_admin(user) or (user.role in MUNICIPAL_REPORT_ROLES and user.municipality_id is not None)
    )


def can_view_vendor_report(user: User) -> bool:
    return user.is_authenticated and (
        is_admin(user) or (is_vendor_staff(user) and user.vendor_id is not None)
    )


def can_view_rollout_report(user: User) -> bool:
    return is_admin(user)


def can_view_reports(user: User) -> bool:
    """Whether the menu offers "Rapporter"."""
    return can_view_municipality_report(user) or can_view_vendor_report(user)


def report_municipality(user: User, slug: str | None) -> Municipality:
    """The municipality whose report the user asks for; another one is not found.

    A coordinator or municipal admin may leave `slug` out (their own); naming another
    municipality is a 404, not a silent switch. The admin must name one.
    """
    if not can_view_municipality_report(user):
        raise NotFound()
    return _own_or_named(user, Municipality, user.municipality_id, slug)


def _own_or_named(user: User, model: type[Any], own_id: int | None, slug: str | None) -> Any:
    """Not the admin: their own row (`own_id`), naming another is not found; the admin:
    the row `slug` names, none named is not found."""
    if not is_admin(user):
        own = db.session.get(model, own_id)
        if slug and slug != own.slug:
            raise NotFound()
        return own
    found = db.session.scalar(select(model).where(model.slug == (slug or "")))
    if found is None:
        raise NotFound()
    return found


def report_ticket_scope(user: User, slug: str | None) -> list[int] | None:
    """Municipality ids the ticket export covers: the own one, or for the admin the one
    named (every municipality when none is named, returned as None)."""
    if is_admin(user) and not slug:
        return None
    return [report_municipality(user, slug).id]


def report_vendor(user: User, slug: str | None) -> Vendor:
    """The vendor whose report the user asks for: vendor staff their own, the admin any."""
    if not can_view_vendor_report(user):
        raise NotFound()
    return _own_or_named(user, Vendor, user.vendor_id, slug)


def require_rollout_report(user: User) -> None:
    if not can_view_rollout_report(user):
        raise NotFound()


def report_case_scope(
    user: User, municipality: str | None, vendor: str | None
) -> tuple[list[int] | None, list[int] | None]:
    """(vendor ids, municipality ids) the case export covers; None means every one.

    Vendor staff: their vendor's cases from every municipality; coordinators and municipal
    admins: their municipality's cases with every vendor; the admin: all, or those named.
    """
    if is_admin(user):
        vendors = [report_vendor(user, vendor).id] if vendor else None
        municipalities = [report_municipality(user, municipality).id] if municipality else None
        return vendors, municipalities
    if can_view_vendor_report(user):
        return [report_vendor(user, vendor).id], (
            [_municipality_id(municipality)] if municipality else None
        )
    return None, [report_municipality(user, municipality).id]


def _municipality_id(slug: str) -> int:
    found = db.session.scalar(select(Municipality.id).where(Municipality.slug == slug))
    if found is None:
        raise NotFound()
    return found

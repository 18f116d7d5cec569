"""Organisations, people and support entitlements: who administers whom."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from supportdesk.accounts.models import (
    MUNICIPAL_ROLES,
    Institution,
    Municipality,
    Role,
    SupportEntitlement,
    User,
    Vendor,
)
from supportdesk.errors import Forbidden, NotFound
from supportdesk.extensions import db
from supportdesk.safe_input import ID_MAX as MAX_ID  # larger ids fail in the database


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.role == Role.admin


def is_municipal(user: User) -> bool:
    return user.is_authenticated and user.role in MUNICIPAL_ROLES


def is_vendor_staff(user: User) -> bool:
    return user.is_authenticated and user.role.is_vendor


def municipalities_visible_to(user: User) -> Select[tuple[Municipality]]:
    query = select(Municipality).order_by(Municipality.name)
    if is_admin(user):
        return query
    if is_municipal(user):
        return query.where(Municipality.id == user.municipality_id)
    return query.where(false())


def institutions_visible_to(user: User) -> Select[tuple[Institution]]:
    """Municipal staff see their municipality's institutions; admin sees all."""
    query = select(Institution).order_by(Institution.name)
    if is_admin(user):
        return query
    if is_municipal(user):
        return query.where(Institution.municipality_id == user.municipality_id)
    return query.where(false())


def get_institution(user: User, number: str) -> Institution:
    institution = db.session.scalar(
        institutions_visible_to(user).where(Institution.number == number)
    )
    if institution is None:
        raise NotFound()
    return institution


def get_municipality(user: User, slug: str) -> Municipality:
    municipality = db.session.scalar(
        municipalities_visible_to(user).where(Municipality.slug == slug)
    )
    if municipality is None:
        raise NotFound()
    return municipality


# --- user administration ------------------------------------------------------


def can_manage_municipality(user: User, municipality_id: int | None) -> bool:
    """Municipal admins manage users and institutions of their own municipality."""
    if is_admin(user):
        return True
    return (
        user.is_authenticated
        and user.role == Role.municipal_admin
        and municipality_id is not None
        and municipality_id == user.municipality_id
    )


def users_visible_to(user: User) -> Select[tuple[User]]:
    """Whom a user administrator may list: admin everyone, municipal admin own municipality."""
    query = select(User).order_by(User.name)
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.municipal_admin:
        return query.where(User.municipality_id == user.municipality_id)
    return query.where(false())


def get_managed_user(actor: User, user_id: int) -> User:
    if not 0 < user_id <= MAX_ID:
        raise NotFound()
    target = db.session.scalar(users_visible_to(actor).where(User.id == user_id))
    if target is None:
        raise NotFound()
    return target


def assignable_roles(actor: User) -> list[Role]:
    """Roles the actor may give: municipal admins only create municipal roles."""
    if is_admin(actor):
        return list(Role)
    if actor.is_authenticated and actor.role == Role.municipal_admin:
        return [Role.superuser, Role.hotline, Role.coordinator, Role.municipal_admin]
    return []


def require_manage_municipality(user: User, municipality_id: int | None) -> None:
    if not can_manage_municipality(user, municipality_id):
        raise NotFound()


def require_admin(user: User) -> None:
    """System administration pages: everyone else gets 404, not a confirmation."""
    if not is_admin(user):
        raise NotFound()


def can_administer(user: User) -> bool:
    """The administration pages: municipal admins (own municipality) and the system admin."""
    return user.is_authenticated and user.role in (Role.municipal_admin, Role.admin)


def require_municipal_admin(user: User) -> None:
    if not can_administer(user):
        raise NotFound()


def managed_municipality(user: User, slug: str | None) -> Municipality | None:
    """The municipality an administration page works on: a municipal admin's own (any
    other slug is not found); admin picks any, None while none is chosen."""
    require_municipal_admin(user)
    if user.role == Role.municipal_admin:
        if slug and slug != user.municipality.slug:
            raise NotFound()
        return user.municipality
    return get_municipality(user, slug) if slug else None


def get_managed_institution(actor: User, number: str) -> Institution:
    """An institution the actor administers; anyone else's is not found."""
    institution = get_institution(actor, number)
    require_manage_municipality(actor, institution.municipality_id)
    return institution


# --- support entitlement --------------------------------------------------------


def can_hold_entitlement(user: User) -> bool:
    """Only coordinators (supportberettigede) hold support entitlements."""
    return user.role == Role.coordinator and user.active and user.municipality_id is not None


def can_grant_entitlement(actor: User, target: User) -> bool:
    return can_manage_municipality(actor, target.municipality_id)


def revoke_needs_reason(vendor: Vendor, remaining: int) -> bool:
    """Below the vendor's minimum a municipality lacks cover: revoking there takes a reason.

    The vendor's contract expects `min_entitled` support-entitled coordinators per
    municipality (DESIGN: 4-8); an administrator may still go below it (someone leaves),
    but says why, and the reason is logged and shown on the entitlement page.
    """
    return remaining < vendor.min_entitled


def is_entitled(user: User, vendor: Vendor | int) -> bool:
    """Support-entitled for this vendor (rule 2): may talk to its servicedesk."""
    vendor_id = vendor if isinstance(vendor, int) else vendor.id
    return (
        user.is_authenticated
        and user.role == Role.coordinator
        and vendor_id in user.entitled_vendor_ids
    )


def entitlements_visible_to(user: User) -> Select[tuple[SupportEntitlement]]:
    query = select(SupportEntitlement)
    if is_admin(user):
        return query
    if is_municipal(user):
        return query.where(SupportEntitlement.municipality_id == user.municipality_id)
    return query.where(false())


def require(condition: bool) -> None:
    """For objects the user can already see: a visible 'no' (403)."""
    if not condition:
        raise Forbidden()

"""Organisations, people and support entitlements: who administers whom."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, select

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

_Row = TypeVar("_Row")


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.role == Role.admin


def is_municipal(user: User) -> bool:
    return user.is_authenticated and user.role in MUNICIPAL_ROLES


def is_vendor_staff(user: User) -> bool:
    return user.is_authenticated and user.role.is_vendor


def one_visible(query: Select[tuple[_Row]]) -> _Row:
    """The one row a scoped query finds; none is *not found*, never *forbidden*."""
    row = db.session.scalar(query)
    if row is None:
        raise NotFound()
    return row


def require_valid_id(object_id: int) -> None:
    """An id outside the database's range names nothing (and would fail in the query)."""
    if not 0 < object_id <= MAX_ID:
        raise NotFound()


def tenant_scoped(
    user: User, query: Select[Any], municipality_id: ColumnElement[Any], *, staff: bool
) -> Select[Any]:
    """Admin sees every row, `staff` (who may see the municipality's rows) their own
    municipality's, everyone else none."""
    if is_admin(user):
        return query
    if staff:
        return query.where(municipality_id == user.municipality_id)
    return query.where(false())


def municipalities_visible_to(user: User) -> Select[tuple[Municipality]]:
    query = select(Municipality).order_by(Municipality.name)
    return tenant_scoped(user, query, Municipality.id, staff=is_municipal(user))


def institutions_visible_to(user: User) -> Select[tuple[Institution]]:
    """Municipal staff see their municipality's institutions; admin sees all."""
    query = select(Institution).order_by(Institution.name)
    return tenant_scoped(user, query, Institution.municipality_id, staff=is_municipal(user))


def get_institution(user: User, number: str) -> Institution:
    return one_visible(institutions_visible_to(user).where(Institution.number == number))


def get_municipality(user: User, slug: str) -> Municipality:
    return one_visible(municipalities_visible_to(user).where(Municipality.slug == slug))


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
    staff = user.is_authenticated and user.role == Role.municipal_admin
    return tenant_scoped(user, query, User.municipality_id, staff=staff)


def get_managed_user(actor: User, user_id: int) -> User:
    require_valid_id(user_id)
    return one_visible(users_visible_to(actor).where(User.id == user_id))


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
    return tenant_scoped(user, query, SupportEntitlement.municipality_id, staff=is_municipal(user))


def require(condition: bool) -> None:
    """For objects the user can already see: a visible 'no' (403)."""
    if not condition:
        raise Forbidden()

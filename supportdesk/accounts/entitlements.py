"""Support entitlements (supportberettigelse): who may talk to which vendor's servicedesk."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from supportdesk import policy
from supportdesk.accounts.models import Municipality, Role, SupportEntitlement, User, Vendor
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEventKind
from supportdesk.errors import LimitReached, NotFound, ValidationFailed
from supportdesk.extensions import db


@dataclass(frozen=True)
class EntitlementStatus:
    vendor: Vendor
    count: int

    @property
    def below_minimum(self) -> bool:
        return self.count < self.vendor.min_entitled

    @property
    def at_maximum(self) -> bool:
        return self.count >= self.vendor.max_entitled


def _lock_municipality(municipality_id: int) -> None:
    """Serialise entitlement changes per municipality (row lock on PostgreSQL).

    On SQLite, writing transactions already begin IMMEDIATE (see extensions).
    """
    db.session.execute(
        select(Municipality.id).where(Municipality.id == municipality_id).with_for_update()
    )


def entitled_count(municipality_id: int, vendor_id: int) -> int:
    return db.session.scalar(
        select(func.count(SupportEntitlement.id)).where(
            SupportEntitlement.municipality_id == municipality_id,
            SupportEntitlement.vendor_id == vendor_id,
        )
    )


def entitled_counts() -> dict[tuple[int, int], int]:
    """Support-entitled coordinators per (municipality id, vendor id), every municipality."""
    return {
        (municipality_id, vendor_id): count
        for municipality_id, vendor_id, count in db.session.execute(
            select(
                SupportEntitlement.municipality_id,
                SupportEntitlement.vendor_id,
                func.count(SupportEntitlement.id),
            ).group_by(SupportEntitlement.municipality_id, SupportEntitlement.vendor_id)
        )
    }


def grant_entitlement(actor: User | None, user: User, vendor: Vendor) -> SupportEntitlement:
    """Grant support entitlement; the vendor's maximum per municipality is enforced here."""
    if actor is not None and not policy.can_grant_entitlement(actor, user):
        raise NotFound()
    if not policy.can_hold_entitlement(user):
        raise ValidationFailed(
            _l("Only active coordinators can be support-entitled."),
            fields={"user": _l("Only active coordinators can be support-entitled.")},
        )
    _lock_municipality(user.municipality_id)
    existing = db.session.scalar(
        select(SupportEntitlement).where(
            SupportEntitlement.user_id == user.id, SupportEntitlement.vendor_id == vendor.id
        )
    )
    if existing is not None:
        return existing
    count = entitled_count(user.municipality_id, vendor.id)
    if count >= vendor.max_entitled:
        raise LimitReached(
            _l(
                "%(vendor)s allows at most %(max)s support-entitled users per municipality. "
                "Revoke one before granting another.",
                vendor=vendor.name,
                max=vendor.max_entitled,
            )
        )
    entitlement = SupportEntitlement(
        user=user,
        vendor=vendor,
        municipality_id=user.municipality_id,
        granted_by=actor,
    )
    db.session.add(entitlement)
    db.session.flush()
    events.record(
        SecurityEventKind.entitlement_granted,
        user=user,
        actor=actor,
        detail={"vendor": vendor.slug},
    )
    return entitlement


def revoke_entitlement(actor: User | None, user: User, vendor: Vendor) -> None:
    if actor is not None and not policy.can_grant_entitlement(actor, user):
        raise NotFound()
    entitlement = db.session.scalar(
        select(SupportEntitlement).where(
            SupportEntitlement.user_id == user.id, SupportEntitlement.vendor_id == vendor.id
        )
    )
    if entitlement is None:
        raise NotFound(_l("The user is not support-entitled for this vendor."))
    db.session.delete(entitlement)
    db.session.flush()
    events.record(
        SecurityEventKind.entitlement_revoked,
        user=user,
        actor=actor,
        detail={"vendor": vendor.slug},
    )


def entitlement_overview(municipality_id: int) -> list[EntitlementStatus]:
    """Per vendor: how many entitled users the municipality has (one query)."""
    counts = dict(
        db.session.execute(
            select(SupportEntitlement.vendor_id, func.count(SupportEntitlement.id))
            .where(SupportEntitlement.municipality_id == municipality_id)
            .group_by(SupportEntitlement.vendor_id)
        ).all()
    )
    vendors = db.session.scalars(select(Vendor).order_by(Vendor.name))
    return [EntitlementStatus(vendor=v, count=counts.get(v.id, 0)) for v in vendors]


def entitlements_in(actor: User, municipality: Municipality) -> list[SupportEntitlement]:
    """The municipality's entitlements with user and vendor loaded (one page, no N+1)."""
    policy.require_manage_municipality(actor, municipality.id)
    return list(
        db.session.scalars(
            policy.entitlements_visible_to(actor)
            .where(SupportEntitlement.municipality_id == municipality.id)
            .join(SupportEntitlement.user)
            .options(selectinload(SupportEntitlement.user), selectinload(SupportEntitlement.vendor))
            .order_by(SupportEntitlement.vendor_id, User.name)
        )
    )


def entitlement_candidates(actor: User, municipality: Municipality) -> list[User]:
    """Active coordinators of the municipality: the only users who can hold entitlement."""
    policy.require_manage_municipality(actor, municipality.id)
    return list(
        db.session.scalars(
            policy.users_visible_to(actor).where(
                User.municipality_id == municipality.id,
                User.role == Role.coordinator,
                User.active.is_(True),
            )
        )
    )

"""Support entitlements (supportberettigelse): who may talk to which vendor's servicedesk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from supportdesk import policy
from supportdesk.accounts.models import Municipality, Role, SupportEntitlement, User, Vendor
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEvent, SecurityEventKind
from supportdesk.errors import LimitReached, NotFound, ValidationFailed
from supportdesk.extensions import db

REASON_MAX = 500


@dataclass(frozen=True)
class RevokeReason:
    """Why an administrator went below the vendor's minimum (from the security log)."""

    reason: str
    actor: str | None
    at: datetime


@dataclass(frozen=True)
class EntitlementStatus:
    vendor: Vendor
    count: int
    # the reason given when the last revoke went below the minimum, while it still is
    revoke_reason: RevokeReason | None = None

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


class ReasonRequired(ValidationFailed):
    code = "reason_required"


def revoke_entitlement(
    actor: User | None, user: User, vendor: Vendor, reason: str | None = None
) -> None:
    """Revoke; below the vendor's minimum only with a reason, which the security log keeps."""
    if actor is not None and not policy.can_grant_entitlement(actor, user):
        raise NotFound()
    _lock_municipality(user.municipality_id)
    entitlement = db.session.scalar(
        select(SupportEntitlement).where(
            SupportEntitlement.user_id == user.id, SupportEntitlement.vendor_id == vendor.id
        )
    )
    if entitlement is None:
        raise NotFound(_l("The user is not support-entitled for this vendor."))
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX:
        raise ValidationFailed(fields={"reason": _l("At most 500 characters.")})
    remaining = entitled_count(user.municipality_id, vendor.id) - 1
    below = policy.revoke_needs_reason(vendor, remaining)
    if below and not reason:
        message = _l(
            "%(vendor)s expects at least %(min)s support-entitled users per municipality; "
            "after this there would be %(remaining)s. Give a reason to revoke anyway.",
            vendor=vendor.name,
            min=vendor.min_entitled,
            remaining=remaining,
        )
        raise ReasonRequired(message, fields={"reason": _l("Give a reason.")})
    db.session.delete(entitlement)
    db.session.flush()
    detail: dict[str, object] = {"vendor": vendor.slug}
    if reason:
        detail["reason"] = reason
    if below:
        detail.update(below_minimum=True, remaining=remaining, minimum=vendor.min_entitled)
    events.record(SecurityEventKind.entitlement_revoked, user=user, actor=actor, detail=detail)


def entitlement_overview(municipality_id: int) -> list[EntitlementStatus]:
    """Per vendor: how many entitled users the municipality has (one query)."""
    counts = dict(
        db.session.execute(
            select(SupportEntitlement.vendor_id, func.count(SupportEntitlement.id))
            .where(SupportEntitlement.municipality_id == municipality_id)
            .group_by(SupportEntitlement.vendor_id)
        ).all()
    )
    vendors = list(db.session.scalars(select(Vendor).order_by(Vendor.name)))
    below = {v.slug for v in vendors if counts.get(v.id, 0) < v.min_entitled}
    # read whether or not any vendor is below: the page's query count stays the same
    reasons = _last_revoke_reasons(municipality_id, below)
    return [
        EntitlementStatus(vendor=v, count=counts.get(v.id, 0), revoke_reason=reasons.get(v.slug))
        for v in vendors
    ]


def _last_revoke_reasons(municipality_id: int, vendor_slugs: set[str]) -> dict[str, RevokeReason]:
    """Per vendor slug, the reason of the newest revoke that went below the minimum.

    Read from the security log (the reason's one home); the JSON detail is filtered here
    rather than in SQL, which SQLite and PostgreSQL spell differently.
    """
    rows = db.session.scalars(
        select(SecurityEvent)
        .where(
            SecurityEvent.municipality_id == municipality_id,
            SecurityEvent.kind == SecurityEventKind.entitlement_revoked,
        )
        .options(joinedload(SecurityEvent.actor))
        .order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
        .limit(200)
    )
    found: dict[str, RevokeReason] = {}
    for event in rows:
        detail = event.detail or {}
        slug = detail.get("vendor")
        if slug in vendor_slugs and slug not in found and detail.get("below_minimum"):
            actor = event.actor.name if event.actor is not None else None
            reason = str(detail.get("reason", ""))
            found[slug] = RevokeReason(reason=reason, actor=actor, at=event.at)
    return found


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

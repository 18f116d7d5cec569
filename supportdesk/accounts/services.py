"""Users, sign-in, API tokens, organisations and support entitlements."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from supportdesk import policy
from supportdesk.accounts.models import (
    ApiToken,
    Category,
    Institution,
    InstitutionType,
    Municipality,
    Role,
    SupportEntitlement,
    System,
    User,
    Vendor,
)
from supportdesk.errors import LimitReached, NotFound, ValidationFailed
from supportdesk.extensions import db, utcnow

_hasher = PasswordHasher()
# Verifying against a real hash for unknown e-mails keeps timing the same.
_DUMMY_HASH = _hasher.hash("timing-equaliser")
TOKEN_PREFIX = "sd_"  # noqa: S105 — a public prefix, not a secret
MIN_PASSWORD_LENGTH = 10
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            fields={"password": _l("The password must be at least 10 characters long.")}
        )


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None; never tells which part was wrong."""
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    return user


def set_password(user: User, password: str) -> None:
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.auth_epoch += 1


# --- users -------------------------------------------------------------------------


@dataclass
class UserData:
    email: str
    name: str
    role: Role
    municipality: Municipality | None = None
    institution: Institution | None = None
    vendor: Vendor | None = None
    password: str | None = None
    locale: str = "da"


def _check_user_shape(data: UserData) -> dict[str, object]:
    errors: dict[str, object] = {}
    if not _EMAIL.match(data.email.strip()):
        errors["email"] = _l("Enter a valid e-mail address.")
    if not data.name.strip():
        errors["name"] = _l("Enter a name.")
    role = data.role
    if role.is_municipal and data.municipality is None:
        errors["municipality"] = _l("This role requires a municipality.")
    if role == Role.superuser and data.institution is None:
        errors["institution"] = _l("A superuser must belong to an institution.")
    if (
        data.institution is not None
        and data.municipality is not None
        and data.institution.municipality_id != data.municipality.id
    ):
        errors["institution"] = _l("The institution belongs to another municipality.")
    if role.is_vendor and data.vendor is None:
        errors["vendor"] = _l("This role requires a vendor.")
    if data.locale not in ("da", "en"):
        errors["locale"] = _l("Choose Danish or English.")
    return errors


def create_user(actor: User | None, data: UserData) -> User:
    """Create a user; actor None means the command line (operator)."""
    if actor is not None and data.role not in policy.assignable_roles(actor):
        raise ValidationFailed(fields={"role": _l("You may not give this role.")})
    if actor is not None and data.municipality is not None:
        policy.require_manage_municipality(actor, data.municipality.id)
    errors = _check_user_shape(data)
    if data.password is not None and len(data.password) < MIN_PASSWORD_LENGTH:
        errors["password"] = _l("The password must be at least 10 characters long.")
    email = data.email.strip().lower()
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        errors["email"] = _l("A user with this e-mail address already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    role = data.role
    user = User(
        email=email,
        name=data.name.strip(),
        role=role,
        municipality=data.municipality if role.is_municipal else None,
        institution=data.institution if role in (Role.superuser, Role.hotline) else None,
        vendor=data.vendor if role.is_vendor else None,
        locale=data.locale,
        # Without a password the account cannot sign in until one is set.
        password_hash=hash_password(data.password) if data.password else "!",
    )
    db.session.add(user)
    db.session.flush()
    return user


def update_user(actor: User, user: User, data: UserData, active: bool) -> User:
    if data.role not in policy.assignable_roles(actor):
        raise ValidationFailed(fields={"role": _l("You may not give this role.")})
    errors = _check_user_shape(data)
    email = data.email.strip().lower()
    clash = db.session.scalar(select(User.id).where(User.email == email, User.id != user.id))
    if clash is not None:
        errors["email"] = _l("A user with this e-mail address already exists.")
    if errors:
        raise ValidationFailed(fields=errors)
    user.email = email
    user.name = data.name.strip()
    user.role = data.role
    user.institution = data.institution if data.role in (Role.superuser, Role.hotline) else None
    user.locale = data.locale
    if user.active and not active:
        user.auth_epoch += 1
    user.active = active
    if not policy.can_hold_entitlement(user):
        for entitlement in list(user.entitlements):
            db.session.delete(entitlement)
    if data.password:
        set_password(user, data.password)
    db.session.flush()
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in ("da", "en"):
        raise ValidationFailed(fields={"locale": _l("Choose Danish or English.")})
    user.locale = locale


# --- API tokens -------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str = "") -> tuple[ApiToken, str]:
    """Return the stored row and the plain token, which is never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "API").strip()[:80],
        token_hash=_token_hash(plain),
        prefix=plain[:10],
    )
    db.session.add(token)
    db.session.flush()
    return token, plain


def user_for_token(plain: str) -> User | None:
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    # Write last_used at most once a minute, so reads stay cheap under load.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return token.user


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )


def revoke_token(user: User, token_id: int) -> None:
    token = db.session.scalar(
        select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)
    )
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = utcnow()


# --- support entitlements -----------------------------------------------------------


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


# --- organisations --------------------------------------------------------------------


def _check_slug(slug: str) -> None:
    if not _SLUG.match(slug):
        raise ValidationFailed(
            fields={"slug": _l("Use lower-case letters, digits and hyphens only.")}
        )


def save_institution(
    actor: User,
    municipality: Municipality,
    number: str,
    name: str,
    type_: InstitutionType,
    active: bool = True,
    institution: Institution | None = None,
) -> Institution:
    policy.require_manage_municipality(actor, municipality.id)
    number = number.strip()
    errors: dict[str, object] = {}
    if not re.fullmatch(r"\d{3,12}", number):
        errors["number"] = _l("The institution number must be 3 to 12 digits.")
    clash = db.session.scalar(select(Institution.id).where(Institution.number == number))
    if clash is not None and (institution is None or clash != institution.id):
        errors["number"] = _l("Another institution already has this number.")
    if not name.strip():
        errors["name"] = _l("Enter a name.")
    if errors:
        raise ValidationFailed(fields=errors)
    if institution is None:
        institution = Institution(municipality=municipality)
        db.session.add(institution)
    institution.number = number
    institution.name = name.strip()
    institution.type = type_
    institution.active = active
    db.session.flush()
    return institution


def save_municipality(
    actor: User | None, slug: str, name: str, code: str, retention_days: int = 730
) -> Municipality:
    if actor is not None:
        policy.require_admin(actor)
    _check_slug(slug)
    if retention_days < 30:
        raise ValidationFailed(fields={"retention_days": _l("At least 30 days.")})
    if not re.fullmatch(r"[A-ZÆØÅ]{2,6}", code):
        raise ValidationFailed(fields={"code": _l("Two to six capital letters.")})
    municipality = db.session.scalar(select(Municipality).where(Municipality.slug == slug))
    if municipality is None:
        municipality = Municipality(slug=slug)
        db.session.add(municipality)
    municipality.name = name.strip()
    municipality.code = code
    municipality.retention_days = retention_days
    db.session.flush()
    return municipality


def save_vendor(
    actor: User | None,
    slug: str,
    name: str,
    min_entitled: int = 4,
    max_entitled: int = 8,
    support_email: str | None = None,
) -> Vendor:
    if actor is not None:
        policy.require_admin(actor)
    _check_slug(slug)
    if min_entitled < 0 or max_entitled < max(min_entitled, 1):
        raise ValidationFailed(
            fields={"max_entitled": _l("The maximum must be at least the minimum and at least 1.")}
        )
    vendor = db.session.scalar(select(Vendor).where(Vendor.slug == slug))
    if vendor is None:
        vendor = Vendor(slug=slug)
        db.session.add(vendor)
    vendor.name = name.strip()
    vendor.min_entitled = min_entitled
    vendor.max_entitled = max_entitled
    vendor.support_email = support_email
    db.session.flush()
    return vendor


def save_system(actor: User | None, slug: str, name: str, vendor: Vendor) -> System:
    if actor is not None:
        policy.require_admin(actor)
    _check_slug(slug)
    system = db.session.scalar(select(System).where(System.slug == slug))
    if system is None:
        system = System(slug=slug)
        db.session.add(system)
    system.name = name.strip()
    system.vendor = vendor
    db.session.flush()
    return system


def save_category(actor: User | None, system: System, slug: str, name: str) -> Category:
    if actor is not None:
        policy.require_admin(actor)
    _check_slug(slug)
    category = db.session.scalar(
        select(Category).where(Category.system_id == system.id, Category.slug == slug)
    )
    if category is None:
        category = Category(system=system, slug=slug)
        db.session.add(category)
    category.name = name.strip()
    db.session.flush()
    return category

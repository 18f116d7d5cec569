"""Users, sign-in, API tokens, organisations and support entitlements."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import selectinload

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
    VendorClosedDay,
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
    # Bulk creation (demo seed) hashes one shared password once instead of per user.
    password_hash: str | None = None


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
        password_hash=data.password_hash
        or (hash_password(data.password) if data.password else "!"),
    )
    db.session.add(user)
    db.session.flush()
    return user


def update_user(actor: User, user: User, data: UserData, active: bool) -> User:
    policy.require_manage_municipality(actor, user.municipality_id)
    if data.role not in policy.assignable_roles(actor):
        raise ValidationFailed(fields={"role": _l("You may not give this role.")})
    errors = _check_user_shape(data)
    email = data.email.strip().lower()
    clash = db.session.scalar(select(User.id).where(User.email == email, User.id != user.id))
    if clash is not None:
        errors["email"] = _l("A user with this e-mail address already exists.")
    if actor.id == user.id and (not active or data.role != user.role):
        # An administrator who locks themselves out needs an operator to get back in.
        errors["active"] = _l("You cannot deactivate yourself or change your own role.")
    if errors:
        raise ValidationFailed(fields=errors)
    role = data.role
    municipality = data.municipality if role.is_municipal else None
    if policy.is_admin(actor):
        if municipality is None or municipality.id != user.municipality_id:
            for entitlement in list(user.entitlements):  # counted per municipality
                db.session.delete(entitlement)
        user.municipality = municipality
        user.vendor = data.vendor if role.is_vendor else None
    elif not role.is_municipal or municipality is None or municipality.id != user.municipality_id:
        raise ValidationFailed(fields={"role": _l("You may not give this role.")})
    user.email = email
    user.name = data.name.strip()
    user.role = role
    user.institution = data.institution if role in (Role.superuser, Role.hotline) else None
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


def user_for_token(plain: str, *, read_only: bool = False) -> User | None:
    """The active user of a valid, unrevoked token, recording when it was last used.

    The use is recorded at most once a minute. A read-only request's session is
    never committed, so there it is written in its own short transaction; a
    writing request saves it with its own commit (a separate writer would wait
    on that request's own lock on SQLite).
    """
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(plain)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    now = utcnow()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        if read_only:
            with db.engine.begin() as connection:
                connection.execute(
                    update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now)
                )
        else:
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


# --- lists for the administration pages --------------------------------------------

PAGE_SIZE = 50


def list_users(
    actor: User, municipality: Municipality | None, after: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[User], int | None]:
    """One keyset page of users ordered by name: (rows, id to continue after or None)."""
    query = policy.users_visible_to(actor).options(
        selectinload(User.institution), selectinload(User.vendor), selectinload(User.municipality)
    )
    query = query.order_by(None).order_by(User.name, User.id)
    if municipality is not None:
        query = query.where(User.municipality_id == municipality.id)
    if after is not None and 0 < after <= policy.MAX_ID:
        last = db.session.execute(
            policy.users_visible_to(actor)
            .order_by(None)
            .with_only_columns(User.name, User.id)
            .where(User.id == after)
        ).first()
        if last is not None:
            query = query.where(
                or_(User.name > last.name, and_(User.name == last.name, User.id > last.id))
            )
    rows = list(db.session.scalars(query.limit(limit + 1)))
    next_after = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_after


def list_institutions(actor: User, municipality: Municipality | None) -> list[Institution]:
    query = policy.institutions_visible_to(actor).options(selectinload(Institution.municipality))
    if municipality is not None:
        query = query.where(Institution.municipality_id == municipality.id)
    return list(db.session.scalars(query))


def list_municipalities(actor: User) -> list[Municipality]:
    return list(db.session.scalars(policy.municipalities_visible_to(actor)))


def list_vendors() -> list[Vendor]:
    return list(db.session.scalars(select(Vendor).order_by(Vendor.name)))


def list_systems() -> list[System]:
    return list(
        db.session.scalars(
            select(System)
            .options(selectinload(System.vendor), selectinload(System.categories))
            .order_by(System.name)
        )
    )


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


# --- organisations --------------------------------------------------------------------


def _check_slug(slug: str, errors: dict[str, object]) -> None:
    if not _SLUG.match(slug):
        errors["slug"] = _l("Use lower-case letters, digits and hyphens only.")


def _check_name(name: str, errors: dict[str, object], max_length: int = 120) -> None:
    if not name.strip():
        errors["name"] = _l("Enter a name.")
    elif len(name.strip()) > max_length:
        errors["name"] = _l("The name is too long.")


def _by_slug(model, slug: str, current, actor: User | None, errors: dict[str, object], *scope):
    """The row to save: `current` when editing; new, or the existing one for operators
    (the seed upserts by slug), when creating. A slug taken by another row (within
    `scope`, e.g. one system's categories) is an error."""
    clash = db.session.scalar(select(model).where(model.slug == slug, *scope))
    taken = clash is not None and (
        (current is not None and clash.id != current.id) or (current is None and actor is not None)
    )
    if taken:
        errors["slug"] = _l("This short name is already in use.")
    return current if current is not None else clash


def _checked_slug_and_name(
    actor: User | None, slug: str, name: str
) -> tuple[str, dict[str, object]]:
    """System administration of named rows: the admin, or an operator (actor None); the
    trimmed slug and the errors of slug and name so far."""
    if actor is not None:
        policy.require_admin(actor)
    slug = slug.strip()
    errors: dict[str, object] = {}
    _check_slug(slug, errors)
    _check_name(name, errors)
    return slug, errors


def _named_row(target, new: Callable[[], Any], slug: str, name: str, errors: dict[str, object]):
    """Every error at once, or the row to save (`new()` added) with its slug and name."""
    if errors:
        raise ValidationFailed(fields=errors)
    if target is None:
        target = new()
        db.session.add(target)
    target.slug = slug
    target.name = name.strip()
    return target


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
    if institution is not None:
        policy.require_manage_municipality(actor, institution.municipality_id)
    number = number.strip()
    errors: dict[str, object] = {}
    if not re.fullmatch(r"\d{3,12}", number):
        errors["number"] = _l("The institution number must be 3 to 12 digits.")
    clash = db.session.scalar(select(Institution.id).where(Institution.number == number))
    if clash is not None and (institution is None or clash != institution.id):
        errors["number"] = _l("Another institution already has this number.")
    _check_name(name, errors, 160)
    if not isinstance(type_, InstitutionType):
        errors["type"] = _l("Choose a type.")
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
    actor: User | None,
    slug: str,
    name: str,
    code: str,
    retention_days: int = 730,
    municipality: Municipality | None = None,
) -> Municipality:
    """Create or edit a municipality; operators (actor None) upsert by slug."""
    slug, errors = _checked_slug_and_name(actor, slug, name)
    code = code.strip()
    if retention_days < 30 or retention_days > 36500:
        errors["retention_days"] = _l("Between 30 and 36500 days.")
    if not re.fullmatch(r"[A-ZÆØÅ]{2,6}", code):
        errors["code"] = _l("Two to six capital letters.")
    target = _by_slug(Municipality, slug, municipality, actor, errors)
    code_owner = db.session.scalar(select(Municipality.id).where(Municipality.code == code))
    if code_owner is not None and (target is None or code_owner != target.id):
        errors["code"] = _l("Another municipality already uses this code.")
    target = _named_row(target, Municipality, slug, name, errors)
    target.code = code
    target.retention_days = retention_days
    db.session.flush()
    return target


@dataclass
class VendorCalendar:
    """Business hours for SLA clocks; None fields keep the current (or default) value."""

    business_days: str | None = None
    business_start: time | None = None
    business_end: time | None = None
    timezone: str | None = None
    closed_days: list[tuple[date, str]] | None = None


def _check_calendar(calendar: VendorCalendar, errors: dict[str, object]) -> None:
    if calendar.business_days is not None:
        days = [d.strip() for d in calendar.business_days.split(",") if d.strip()]
        if (
            not days
            or any(d not in "1234567" or len(d) != 1 for d in days)
            or len(set(days)) != len(days)
        ):
            errors["business_days"] = _l(
                "Weekdays as numbers 1 (Monday) to 7 (Sunday), separated by commas."
            )
    if (
        calendar.business_start is not None
        and calendar.business_end is not None
        and calendar.business_start >= calendar.business_end
    ):
        errors["business_end"] = _l("The end must be after the start.")
    if calendar.timezone is not None:
        try:
            ZoneInfo(calendar.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = _l("Unknown time zone, e.g. Europe/Copenhagen.")
    if calendar.closed_days is not None:
        seen = [day for day, _reason in calendar.closed_days]
        if len(set(seen)) != len(seen):
            errors["closed_days"] = _l("A day is listed twice.")
        elif any(len(reason) > 120 for _day, reason in calendar.closed_days):
            errors["closed_days"] = _l("A reason is longer than 120 characters.")


def save_vendor(
    actor: User | None,
    slug: str,
    name: str,
    min_entitled: int = 4,
    max_entitled: int = 8,
    support_email: str | None = None,
    calendar: VendorCalendar | None = None,
    vendor: Vendor | None = None,
) -> Vendor:
    """Create or edit a vendor; operators (actor None) upsert by slug."""
    slug, errors = _checked_slug_and_name(actor, slug, name)
    calendar = calendar or VendorCalendar()
    if min_entitled < 0:
        errors["min_entitled"] = _l("The minimum cannot be negative.")
    if max_entitled < max(min_entitled, 1):
        errors["max_entitled"] = _l("The maximum must be at least the minimum and at least 1.")
    support_email = (support_email or "").strip() or None
    if support_email is not None and not _EMAIL.match(support_email):
        errors["support_email"] = _l("Enter a valid e-mail address.")
    _check_calendar(calendar, errors)
    target = _named_row(_by_slug(Vendor, slug, vendor, actor, errors), Vendor, slug, name, errors)
    target.min_entitled = min_entitled
    target.max_entitled = max_entitled
    target.support_email = support_email
    if calendar.business_days is not None:
        days = sorted({int(d) for d in calendar.business_days.split(",") if d.strip()})
        target.business_days = ",".join(str(d) for d in days)
    for attr in ("business_start", "business_end", "timezone"):
        if getattr(calendar, attr) is not None:
            setattr(target, attr, getattr(calendar, attr))
    if calendar.closed_days is not None:
        wanted = dict(calendar.closed_days)
        for closed in list(target.closed_days):
            if closed.day not in wanted:
                target.closed_days.remove(closed)
            else:
                closed.reason = wanted.pop(closed.day)
        for day, reason in sorted(wanted.items()):
            target.closed_days.append(VendorClosedDay(day=day, reason=reason))
    db.session.flush()
    return target


def save_system(
    actor: User | None, slug: str, name: str, vendor: Vendor, system: System | None = None
) -> System:
    """Create or edit a system; operators (actor None) upsert by slug."""
    slug, errors = _checked_slug_and_name(actor, slug, name)
    target = _named_row(_by_slug(System, slug, system, actor, errors), System, slug, name, errors)
    target.vendor = vendor
    db.session.flush()
    return target


def save_category(
    actor: User | None, system: System, slug: str, name: str, category: Category | None = None
) -> Category:
    """Create or edit a category of a system; operators (actor None) upsert by slug."""
    slug, errors = _checked_slug_and_name(actor, slug, name)
    target = _by_slug(Category, slug, category, actor, errors, Category.system_id == system.id)
    target = _named_row(target, lambda: Category(system=system), slug, name, errors)
    db.session.flush()
    return target


def get_category(system: System, category_id: int) -> Category:
    if not 0 < category_id <= policy.MAX_ID:
        raise NotFound()
    category = db.session.scalar(
        select(Category).where(Category.system_id == system.id, Category.id == category_id)
    )
    if category is None:
        raise NotFound()
    return category


def get_by_slug(model, slug: str):
    """A vendor or system for the admin pages (no tenant: admin-only objects)."""
    row = db.session.scalar(select(model).where(model.slug == slug))
    if row is None:
        raise NotFound()
    return row

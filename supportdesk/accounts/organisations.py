"""Organisations: municipalities, institutions, vendors with their calendars, systems and
categories, and the lists the administration pages show."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from supportdesk import policy
from supportdesk.accounts.models import (
    Category,
    Institution,
    InstitutionType,
    Municipality,
    System,
    User,
    Vendor,
    VendorClosedDay,
)
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,58}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

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


# --- organisations ------------------------------------------------------------------


def _check_slug(slug: str, errors: dict[str, object]) -> None:
    if not SLUG.match(slug):
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
    if support_email is not None and not EMAIL.match(support_email):
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


def _save_slugged(model, actor: User | None, slug: str, name: str, current, *scope, **values):
    """Create or edit a row named by slug and name, then set `values`; operators (actor
    None) upsert by slug within `scope`."""
    slug, errors = _checked_slug_and_name(actor, slug, name)
    target = _named_row(
        _by_slug(model, slug, current, actor, errors, *scope), model, slug, name, errors
    )
    for attr, value in values.items():
        setattr(target, attr, value)
    db.session.flush()
    return target


def save_system(
    actor: User | None, slug: str, name: str, vendor: Vendor, system: System | None = None
) -> System:
    """Create or edit a system; operators (actor None) upsert by slug."""
    return _save_slugged(System, actor, slug, name, system, vendor=vendor)


def save_category(
    actor: User | None, system: System, slug: str, name: str, category: Category | None = None
) -> Category:
    """Create or edit a category of a system; operators (actor None) upsert by slug."""
    scope = Category.system_id == system.id
    return _save_slugged(Category, actor, slug, name, category, scope, system=system)


def get_category(system: System, category_id: int) -> Category:
    policy.require_valid_id(category_id)
    return policy.one_visible(
        select(Category).where(Category.system_id == system.id, Category.id == category_id)
    )


def get_by_slug(model, slug: str):
    """A vendor or system for the admin pages (no tenant: admin-only objects)."""
    return policy.one_visible(select(model).where(model.slug == slug))

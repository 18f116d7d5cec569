"""Tenants, organisations, users, support entitlements and API tokens."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime, time
from typing import Any, Self

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Time,
    UniqueConstraint,
    bindparam,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship, validates

from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow


class LabelledEnum(enum.StrEnum):
    """A string enum whose members carry their label (`low = "low", _l("Low")`), so a new
    member cannot come without one."""

    label: Any

    def __new__(cls, value: str, label: Any) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def labels(cls) -> dict[Self, Any]:
        """Member → label, for templates and forms."""
        return {member: member.label for member in cls}


def str_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """Store enums by value as a plain string (no native ENUM type to migrate)."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Role(enum.StrEnum):
    superuser = "superuser"
    hotline = "hotline"
    coordinator = "coordinator"
    municipal_admin = "municipal_admin"
    vendor_agent = "vendor_agent"
    vendor_editor = "vendor_editor"
    admin = "admin"

    @property
    def is_municipal(self) -> bool:
        return self in MUNICIPAL_ROLES

    @property
    def is_vendor(self) -> bool:
        return self in VENDOR_ROLES


MUNICIPAL_ROLES = frozenset({Role.superuser, Role.hotline, Role.coordinator, Role.municipal_admin})
VENDOR_ROLES = frozenset({Role.vendor_agent, Role.vendor_editor})


class InstitutionType(enum.StrEnum):
    skole = "skole"
    dagtilbud = "dagtilbud"
    sfo = "sfo"
    klub = "klub"
    dagpleje = "dagpleje"


class Municipality(db.Model):
    """A tenant: owns institutions, users and tickets."""

    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # Short prefix for ticket numbers, e.g. ESB-2026-000123.
    code: Mapped[str] = mapped_column(String(6), unique=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=730)
    # Two-factor sign-in is always required for admins and vendor staff; the municipal
    # admin may require it for the municipality's coordinators too.
    require_2fa_coordinators: Mapped[bool] = mapped_column(Boolean, default=False)
    # Rollout (supportdesk/onboarding): the wave it is onboarded in (0 for the pilots) and
    # the day its schools or daycare go live; None while not planned.
    wave: Mapped[int | None] = mapped_column(Integer)
    go_live: Mapped[date | None] = mapped_column(Date)
    # Issue 16: a vendor's answer reaches the linked tickets at once, without a coordinator.
    auto_relay_answers: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    institutions: Mapped[list[Institution]] = relationship(
        back_populates="municipality", order_by="Institution.name"
    )

    __table_args__ = (CheckConstraint("retention_days >= 30", name="retention_min"),)

    def __repr__(self) -> str:
        return f"<Municipality {self.slug}>"


class MunicipalityOwned:
    """A row one municipality owns (a tenant's row): its indexed `municipality_id`.

    A table whose own composite indexes lead with the column declares it itself, unindexed.
    """

    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)


class Institution(MunicipalityOwned, db.Model):
    """A school or daycare institution where superusers work."""

    __tablename__ = "institution"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(160))
    type: Mapped[InstitutionType] = mapped_column(str_enum(InstitutionType, "institution_type"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    municipality: Mapped[Municipality] = relationship(back_populates="institutions")

    def __repr__(self) -> str:
        return f"<Institution {self.number} {self.name}>"


class Vendor(db.Model):
    """Runs a servicedesk for one or more systems and owns their FAQ."""

    __tablename__ = "vendor"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    min_entitled: Mapped[int] = mapped_column(Integer, default=4)
    max_entitled: Mapped[int] = mapped_column(Integer, default=8)
    # Business-hours calendar for SLA clocks; weekdays as ISO numbers "1,2,3,4,5".
    business_days: Mapped[str] = mapped_column(String(20), default="1,2,3,4,5")
    business_start: Mapped[time] = mapped_column(Time, default=time(8, 0))
    business_end: Mapped[time] = mapped_column(Time, default=time(16, 0))
    timezone: Mapped[str] = mapped_column(String(40), default="Europe/Copenhagen")
    support_email: Mapped[str | None] = mapped_column(String(254))

    systems: Mapped[list[System]] = relationship(back_populates="vendor", order_by="System.name")
    closed_days: Mapped[list[VendorClosedDay]] = relationship(
        back_populates="vendor", order_by="VendorClosedDay.day", cascade="all, delete-orphan"
    )

    __table_args__ = (
        CheckConstraint("min_entitled >= 0 AND max_entitled >= min_entitled", name="limits"),
    )

    def __repr__(self) -> str:
        return f"<Vendor {self.slug}>"


class VendorClosedDay(db.Model):
    """A day the vendor's servicedesk is closed beyond weekends and public holidays."""

    __tablename__ = "vendor_closed_day"
    __table_args__ = (UniqueConstraint("vendor_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    day: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(120), default="")

    vendor: Mapped[Vendor] = relationship(back_populates="closed_days")


class System(db.Model):
    """An IT system (Aula, læringsplatform, …) supported by one vendor."""

    __tablename__ = "system"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)

    vendor: Mapped[Vendor] = relationship(back_populates="systems")
    categories: Mapped[list[Category]] = relationship(
        back_populates="system", order_by="Category.name", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<System {self.slug}>"


class Category(db.Model):
    __tablename__ = "category"
    __table_args__ = (UniqueConstraint("system_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    slug: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))

    system: Mapped[System] = relationship(back_populates="categories")


class User(UserMixin, db.Model):
    """A person who signs in; the role decides which organisation fields are set."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored lower-cased, so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(5), default="da")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    # Bumped on password change or deactivation: every existing session ends.
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()
    # TOTP (RFC 6238): the base32 key once confirmed, and the last time step used, so a
    # code is accepted once only (replay refused).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column()
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Per-account lockout after repeated failed sign-ins (accounts/lockout.py).
    locked_until: Mapped[datetime | None] = mapped_column()

    municipality: Mapped[Municipality | None] = relationship()
    institution: Mapped[Institution | None] = relationship()
    vendor: Mapped[Vendor | None] = relationship()
    entitlements: Mapped[list[SupportEntitlement]] = relationship(
        back_populates="user",
        foreign_keys="SupportEntitlement.user_id",
        cascade="all, delete-orphan",
    )

    @validates("email")
    def _normalise_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.auth_epoch}"

    @property
    def has_two_factor(self) -> bool:
        return bool(self.totp_secret) and self.totp_enabled_at is not None

    @property
    def entitled_vendor_ids(self) -> frozenset[int]:
        """The vendors this user is support-entitled for. Unless the entitlements are
        loaded already, one narrow query of vendor ids: loading the rows lazily cost
        0.4 ms of a ticket page's first view."""
        session = object_session(self)
        if "entitlements" in self.__dict__ or session is None or self.id is None:
            return frozenset(e.vendor_id for e in self.entitlements)
        return frozenset(session.scalars(_ENTITLED_VENDOR_IDS, {"user_id": self.id}))

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role}>"


class SupportEntitlement(MunicipalityOwned, db.Model):
    """A coordinator's right to talk to one vendor's servicedesk (supportberettiget).

    Its municipality is denormalised from the user, so limits are counted and locked per
    municipality.
    """

    __tablename__ = "support_entitlement"
    __table_args__ = (UniqueConstraint("user_id", "vendor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="entitlements", foreign_keys=[user_id])
    vendor: Mapped[Vendor] = relationship()
    granted_by: Mapped[User | None] = relationship(foreign_keys=[granted_by_id])


# built once: a statement built anew per call cost more to key than to run
_ENTITLED_VENDOR_IDS = select(SupportEntitlement.vendor_id).where(
    SupportEntitlement.user_id == bindparam("user_id")
)


class ApiToken(db.Model):
    """A bearer token for /api/v1. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class UserSession(db.Model):
    """A signed-in browser: the signed cookie names it, sign-out ends it on the server."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_open", "user_id", "ended_at"),)

    # Random, unguessable; the cookie that carries it is signed as well.
    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Password (or TOTP code) last given in this session: step-up asks again after a while.
    authenticated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    # logout, everywhere, password, deactivated, two_factor_reset, idle, expired, erased
    ended_reason: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(255))
    two_factor: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()

    @classmethod
    def signed_in(
        cls, user_id: int, at: datetime, ip: str | None, user_agent: str | None, two_factor: bool
    ) -> UserSession:
        """A session for a user who has just proven who they are: a new random id, and
        signing in at `at` is when it was created, last authenticated and last seen."""
        record = cls(user_id=user_id, ip=ip, user_agent=user_agent, two_factor=two_factor)
        record.id = secrets.token_urlsafe(32)
        record.created_at = record.authenticated_at = record.last_seen_at = at
        return record


class RecoveryCode(db.Model):
    """A single-use code that stands in for the TOTP code (the phone is lost)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class LinkPurpose(enum.StrEnum):
    reset = "reset"
    invitation = "invitation"


class PasswordLink(db.Model):
    """A single-use link that lets its holder set the user's password (reset, invitation).

    Only the SHA-256 of the token is stored; the link is in the e-mail only.
    """

    __tablename__ = "password_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[LinkPurpose] = mapped_column(str_enum(LinkPurpose, "link_purpose"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])


# Names shown in cached pages (supportdesk/cache/): a change renders them again. Each
# change bumps the narrowest names: a municipality's own rows only its pages.
def _user_references(user: User) -> list[str]:
    """A person shows on their municipality's or vendor's pages; one of neither
    (an administrator) may show anywhere."""
    municipalities = generations.old_and_new(user, "municipality_id", "municipality")
    vendors = generations.old_and_new(user, "vendor_id", "vendor")
    if not municipalities and not vendors:
        return [generations.REFERENCE]
    return [generations.municipality_reference(m) for m in municipalities] + [
        generations.vendor_reference(v) for v in vendors
    ]


def _municipality_references(row: Institution) -> list[str]:
    return [
        generations.municipality_reference(m)
        for m in generations.old_and_new(row, "municipality_id", "municipality")
    ]


for _model in (Vendor, System, Category):
    generations.track(_model, lambda _row: [generations.REFERENCE])
# the municipality's own pages show its settings; every tenant's pages may show its name
generations.track(Municipality, lambda row: [generations.municipality_reference(row.id)])
generations.track(Municipality, lambda _row: [generations.REFERENCE], only=("name", "slug"))
generations.track(Institution, _municipality_references)
generations.track(
    User,
    _user_references,
    # what menus, choices and names in cached pages depend on (keys and relationships:
    # services set either)
    only=(
        "name",
        "email",  # tells people of the same name apart in the ticket page's assignee list
        "active",
        "role",
        "municipality_id",
        "municipality",
        "institution_id",
        "institution",
        "vendor_id",
        "vendor",
    ),
)
# who may escalate shows on the ticket page and in the menu
generations.track(
    SupportEntitlement,
    lambda row: [
        generations.municipality_reference(m)
        for m in generations.old_and_new(row, "municipality_id")
    ],
)

"""Users: creating and editing accounts; the other account services live beside this.

Sign-in and passwords are in `passwords`, sessions in `sessions`, two-factor in
`twofactor`, API tokens in `tokens`, support entitlements in `entitlements` and
organisations in `organisations`; their public names are re-exported here for callers
that use `accounts.services` as the one entry point.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from supportdesk import policy
from supportdesk.accounts import passwords, sessions
from supportdesk.accounts.entitlements import (
    EntitlementStatus,
    entitled_count,
    entitlement_candidates,
    entitlement_overview,
    entitlements_in,
    grant_entitlement,
    revoke_entitlement,
)
from supportdesk.accounts.models import Institution, Municipality, Role, User, Vendor
from supportdesk.accounts.organisations import (
    EMAIL,
    PAGE_SIZE,
    VendorCalendar,
    get_by_slug,
    get_category,
    list_institutions,
    list_municipalities,
    list_systems,
    list_users,
    list_vendors,
    save_category,
    save_institution,
    save_municipality,
    save_system,
    save_vendor,
)
from supportdesk.accounts.passwords import (
    MIN_PASSWORD_LENGTH,
    authenticate,
    check_password_strength,
    hash_password,
    set_password,
)
from supportdesk.accounts.tokens import (
    TOKEN_PREFIX,
    create_token,
    revoke_token,
    tokens_of,
    user_for_token,
)
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEventKind
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.extensions import db

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PAGE_SIZE",
    "TOKEN_PREFIX",
    "EntitlementStatus",
    "UserData",
    "VendorCalendar",
    "authenticate",
    "check_password_strength",
    "create_token",
    "create_user",
    "entitled_count",
    "entitlement_candidates",
    "entitlement_overview",
    "entitlements_in",
    "get_by_slug",
    "get_category",
    "grant_entitlement",
    "hash_password",
    "list_institutions",
    "list_municipalities",
    "list_systems",
    "list_users",
    "list_vendors",
    "revoke_entitlement",
    "revoke_token",
    "save_category",
    "save_institution",
    "save_municipality",
    "save_system",
    "save_vendor",
    "set_locale",
    "set_password",
    "tokens_of",
    "update_user",
    "user_for_token",
]
_EMAIL = EMAIL


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
    if data.password is not None and data.password_hash is None:
        try:
            passwords.check_password_strength(
                data.password, extra_words=(data.name.lower(), *data.email.lower().split("@"))
            )
        except ValidationFailed as error:
            errors.update(error.fields)
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
        or (passwords.hash_password(data.password) if data.password else "!"),
    )
    db.session.add(user)
    db.session.flush()
    if actor is not None:
        events.record(
            SecurityEventKind.user_created, user=user, actor=actor, detail={"role": role.value}
        )
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
    if user.role != role:
        events.record(
            SecurityEventKind.role_changed,
            user=user,
            actor=actor,
            detail={"from": user.role.value, "to": role.value},
        )
    user.email = email
    user.name = data.name.strip()
    user.role = role
    user.institution = data.institution if role in (Role.superuser, Role.hotline) else None
    user.locale = data.locale
    if user.active and not active:
        user.auth_epoch += 1
        sessions.end_all(user, "deactivated")
        events.record(SecurityEventKind.user_deactivated, user=user, actor=actor)
    user.active = active
    if not policy.can_hold_entitlement(user):
        for entitlement in list(user.entitlements):
            db.session.delete(entitlement)
    if data.password:
        passwords.set_password(user, data.password)
        sessions.end_all(user, "password")
        events.record(SecurityEventKind.password_changed, user=user, actor=actor)
    db.session.flush()
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in ("da", "en"):
        raise ValidationFailed(fields={"locale": _l("Choose Danish or English.")})
    user.locale = locale


def set_auto_relay_answers(actor: User, municipality: Municipality, enabled: bool) -> None:
    """The municipality's choice: vendor answers reach the linked tickets at once."""
    if not policy.can_manage_municipality(actor, municipality.id):
        raise NotFound()
    municipality.auto_relay_answers = bool(enabled)
    db.session.flush()


def user_document(user: User) -> dict[str, str | None]:
    """Who a user is, as the API's `/me` and the data export show it."""
    return {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "municipality": user.municipality.slug if user.municipality else None,
        "institution": user.institution.number if user.institution else None,
        "vendor": user.vendor.slug if user.vendor else None,
    }

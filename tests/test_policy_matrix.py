"""The access matrix: every role x relation x action, checked over HTTP.

One table, MATRIX: a row is (action, relation) and its columns are the roles in
ROLES order. Each cell is OK (2xx or a redirect after a write), NF (404: the
object is in another tenant or invisible), FB (403: visible but not allowed) or RF
(422: allowed to ask, but a rule refuses this request, e.g. a revoke below the vendor's
minimum without a reason).
ACTIONS says how an action is performed for a relation: it may create what it
needs in the world (per-action setup) and returns the HTTP call plus, for writes,
a check that tells whether the write happened. A later domain adds its rows to
MATRIX and its actions to ACTIONS; nothing else changes.

Relations name the target object relative to the actor: own/other municipality,
own/other institution (the other one is in the actor's own municipality),
own/other vendor, or "-" when the action has no target.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from supportdesk.accounts.models import (
    Institution,
    InstitutionType,
    Municipality,
    Role,
    SupportEntitlement,
    System,
    User,
    Vendor,
)
from supportdesk.extensions import db as _db
from supportdesk.tickets.models import Ticket

OK, NF, FB, RF = "ok", 404, 403, 422
ROLES = [
    Role.superuser,
    Role.hotline,
    Role.coordinator,
    Role.municipal_admin,
    Role.vendor_agent,
    Role.vendor_editor,
    Role.admin,
]
RELATIONS = (
    "own_municipality",
    "other_municipality",
    "own_institution",
    "other_institution",
    "own_vendor",
    "other_vendor",
)
NONE = "-"

# fmt: off
#                                                super   hotline coord  mun_adm v_agent v_edit admin
MATRIX: dict[tuple[str, str], tuple[Any, ...]] = {
    ("view_admin_home", NONE):                  (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_system_admin", NONE):                (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("list_users", "own_municipality"):         (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("list_users", "other_municipality"):       (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("view_user", "own_municipality"):          (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_user", "other_municipality"):        (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("view_user", "own_institution"):           (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_user", "other_institution"):         (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_user", "own_vendor"):                (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("view_user", "other_vendor"):              (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("manage_user", "own_municipality"):        (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("manage_user", "other_municipality"):      (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("manage_user", "own_institution"):         (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("manage_user", "other_institution"):       (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("manage_user", "own_vendor"):              (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("manage_user", "other_vendor"):            (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("create_user", "own_municipality"):        (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("create_user", "other_municipality"):      (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("view_institution", "own_institution"):    (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_institution", "other_institution"):  (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_institution", "other_municipality"): (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("manage_institution", "own_institution"):  (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("manage_institution", "other_institution"):(NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("manage_institution", "other_municipality"):(NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("create_institution", "own_municipality"): (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("create_institution", "other_municipality"):(NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("view_entitlements", "own_municipality"):  (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_entitlements", "other_municipality"):(NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("grant_entitlement", "own_municipality"):  (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("grant_entitlement", "other_municipality"):(NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("revoke_entitlement", "own_municipality"): (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("revoke_entitlement", "other_municipality"):(NF,     NF,     NF,    NF,     NF,     NF,    OK),
    # below the vendor's minimum a revoke needs a reason
    ("revoke_below_minimum_no_reason", "own_municipality"):   (NF, NF, NF, RF, NF, NF, RF),
    ("revoke_below_minimum_no_reason", "other_municipality"): (NF, NF, NF, NF, NF, NF, RF),
    # a superuser logs tickets for their own institution only
    ("create_ticket_for", "own_institution"):   (OK,      OK,     OK,    OK,     NF,     NF,    NF),
    ("create_ticket_for", "other_institution"): (RF,      OK,     OK,    OK,     NF,     NF,    NF),
    ("create_ticket_for", "other_municipality"):(RF,      RF,     RF,    RF,     NF,     NF,    NF),
    ("manage_vendor", "own_vendor"):            (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("manage_vendor", "other_vendor"):          (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("manage_municipality", "own_municipality"):(NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("api_institutions", "own_municipality"):   (OK,      OK,     OK,    OK,     NF,     NF,    OK),
    ("api_institutions", "other_municipality"): (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("api_me", NONE):                           (OK,      OK,     OK,    OK,     OK,     OK,    OK),
    ("api_systems", NONE):                      (OK,      OK,     OK,    OK,     OK,     OK,    OK),
    # escalation (issue 5): only entitled coordinators escalate; vendors see cases, not tickets
    ("escalate", "own_vendor"):                 (FB,      NF,     OK,    FB,     NF,     NF,    NF),
    ("escalate", "other_vendor"):               (FB,      NF,     FB,    FB,     NF,     NF,    NF),
    ("escalate", "other_municipality"):         (NF,      NF,     NF,    NF,     NF,     NF,    NF),
    ("view_case", "own_vendor"):                (NF,      NF,     OK,    OK,     OK,     NF,    NF),
    ("view_case", "other_vendor"):              (NF,      NF,     OK,    OK,     NF,     NF,    NF),
    ("view_case", "other_municipality"):        (NF,      NF,     NF,    NF,     OK,     NF,    NF),
    ("api_case", "own_vendor"):                 (NF,      NF,     OK,    OK,     OK,     NF,    NF),
    ("api_case", "other_municipality"):         (NF,      NF,     NF,    NF,     OK,     NF,    NF),
    ("message_case", "own_vendor"):             (NF,      NF,     OK,    FB,     OK,     NF,    NF),
    ("message_case", "other_vendor"):           (NF,      NF,     FB,    FB,     NF,     NF,    NF),
    ("case_ticket_page", "own_vendor"):         (OK,      NF,     OK,    OK,     NF,     NF,    NF),
    ("edit_known_issue", "own_vendor"):         (NF,      NF,     NF,    NF,     OK,     OK,    NF),
    ("edit_known_issue", "other_vendor"):       (NF,      NF,     NF,    NF,     NF,     NF,    NF),
    ("status_page", NONE):                      (OK,      OK,     OK,    OK,     OK,     OK,    OK),
    # webhooks: the system admin manages any (vendors' too), municipal admins their own
    ("view_webhook", "own_municipality"):       (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_webhook", "other_municipality"):     (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("view_webhook", "own_vendor"):             (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("rotate_webhook_secret", "own_municipality"):(NF,    NF,     NF,    OK,     NF,     NF,    OK),
    ("rotate_webhook_secret", "other_municipality"):(NF,  NF,     NF,    NF,     NF,     NF,    OK),
    ("rotate_webhook_secret", "own_vendor"):    (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("create_webhook", "own_municipality"):     (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("create_webhook", "other_municipality"):   (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("create_webhook", "own_vendor"):           (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    # trust: audit logs, GDPR tools, two-factor administration (rows of another municipality
    # are never shown: tests/audit/test_logs.py)
    ("view_security_log", NONE):                (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("api_audit_security", NONE):               (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_access_log", "own_municipality"):    (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("view_access_log", "other_municipality"):  (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("api_audit_access", "own_municipality"):   (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("api_audit_access", "other_municipality"): (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("personal_data", NONE):                    (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("two_factor_policy", "own_municipality"):  (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("two_factor_policy", "other_municipality"):(NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("reset_two_factor", "own_municipality"):   (NF,      NF,     NF,    OK,     NF,     NF,    OK),
    ("reset_two_factor", "other_municipality"): (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("reset_two_factor", "own_vendor"):         (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("own_two_factor_page", NONE):              (OK,      OK,     OK,    OK,     OK,     OK,    OK),
    # onboarding: only the system admin imports waves and sees their readiness
    ("onboard_import_page", NONE):              (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("onboard_import", NONE):                   (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("wave_overview", NONE):                    (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    ("wave_overview_csv", NONE):                (NF,      NF,     NF,    NF,     NF,     NF,    OK),
    # merging duplicates (ticket staff, own municipality), "Fik du hjælp?" (the
    # ticket's creator only: own_institution = the actor created it, other_institution =
    # someone else did), canned replies (coordinators: municipality's; agents: vendor's)
    ("merge_ticket", "own_municipality"):       (NF,      NF,     OK,    OK,     NF,     NF,    NF),
    ("merge_ticket", "other_municipality"):     (NF,      NF,     NF,    NF,     NF,     NF,    NF),
    ("answer_survey", "own_institution"):       (OK,      OK,     OK,    OK,     NF,     NF,    NF),
    ("answer_survey", "other_institution"):     (NF,      NF,     NF,    NF,     NF,     NF,    NF),
    ("canned_replies_page", NONE):              (NF,      NF,     OK,    OK,     OK,     NF,    NF),
    ("create_canned_reply", NONE):              (NF,      NF,     OK,    OK,     OK,     NF,    NF),
    ("delete_canned_reply", "own_municipality"):(NF,      NF,     OK,    OK,     NF,     NF,    NF),
    ("delete_canned_reply", "other_municipality"):(NF,    NF,     NF,    NF,     NF,     NF,    NF),
    ("delete_canned_reply", "own_vendor"):      (NF,      NF,     NF,    NF,     OK,     NF,    NF),
    ("delete_canned_reply", "other_vendor"):    (NF,      NF,     NF,    NF,     NF,     NF,    NF),
    # reports: municipal staff their municipality, vendor staff their vendor's
    # cases from every municipality, the admin everything; CSV and XLSX the same as JSON
    ("api_rep_mun", "own_municipality"):        (NF,     NF,     OK,    OK,     NF,     NF,    OK),
    ("api_rep_mun", "other_municipality"):      (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_mun_csv", "own_municipality"):    (NF,     NF,     OK,    OK,     NF,     NF,    OK),
    ("api_rep_mun_csv", "other_municipality"):  (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_mun_xlsx", "other_municipality"): (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_vendor", "own_vendor"):           (NF,     NF,     NF,    NF,     OK,     OK,    OK),
    ("api_rep_vendor", "other_vendor"):         (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_vendor_csv", "own_vendor"):       (NF,     NF,     NF,    NF,     OK,     OK,    OK),
    ("api_rep_vendor_csv", "other_vendor"):     (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_rollout", NONE):                  (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_rollout_csv", NONE):              (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_tickets", "own_municipality"):    (NF,     NF,     OK,    OK,     NF,     NF,    OK),
    ("api_rep_tickets", "other_municipality"):  (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_tickets_csv", "own_municipality"):(NF,     NF,     OK,    OK,     NF,     NF,    OK),
    ("api_rep_tickets_csv", "other_municipality"):(NF,   NF,     NF,    NF,     NF,     NF,    OK),
    ("api_rep_cases", "own_municipality"):      (NF,     NF,     OK,    OK,     OK,     OK,    OK),
    ("api_rep_cases", "other_municipality"):    (NF,     NF,     NF,    NF,     OK,     OK,    OK),
    ("api_rep_cases", "own_vendor"):            (NF,     NF,     OK,    OK,     OK,     OK,    OK),
    ("api_rep_cases_csv", "other_vendor"):      (NF,     NF,     OK,    OK,     NF,     NF,    OK),
    ("rep_page_mun", "own_municipality"):       (NF,     NF,     OK,    OK,     NF,     NF,    OK),
    ("rep_page_mun", "other_municipality"):     (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("rep_page_vendor", "own_vendor"):          (NF,     NF,     NF,    NF,     OK,     OK,    OK),
    ("rep_page_vendor", "other_vendor"):        (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("rep_page_vendor_xlsx", "other_vendor"):   (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("rep_page_rollout", NONE):                 (NF,     NF,     NF,    NF,     NF,     NF,    OK),
    ("rep_ticket_list_export", NONE):           (OK,     OK,     OK,    OK,     NF,     NF,    NF),
    ("rep_case_list_export", NONE):             (NF,     NF,     OK,    OK,     OK,     NF,    NF),
}
# fmt: on


@dataclass
class World:
    """Two municipalities, two institutions in the own one, two vendors, one actor."""

    actor: User
    own: Municipality
    other: Municipality
    own_institution: Institution
    other_institution: Institution
    foreign_institution: Institution
    own_vendor: Vendor
    other_vendor: Vendor
    password_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    def user(self, role: Role, **org: Any) -> User:
        """A target user, committed."""
        n = len(self.extra) + 1
        self.extra[f"user{n}"] = user = User(
            email=f"target{n}-{role.value}@matrix.dk",
            name=f"Target {n}",
            role=role,
            password_hash=self.password_hash,
            **org,
        )
        _db.session.add(user)
        _db.session.commit()
        return user

    def municipality_of(self, relation: str) -> Municipality:
        return self.other if relation == "other_municipality" else self.own


@dataclass
class Call:
    method: str
    url: str
    data: dict[str, Any] | None = None
    # For writes: did the change happen? Must be True exactly when the cell is OK.
    effect: Callable[[], bool] | None = None


def _target_user(world: World, relation: str) -> User:
    match relation:
        case "own_municipality":
            return world.user(Role.coordinator, municipality=world.own)
        case "other_municipality":
            return world.user(Role.coordinator, municipality=world.other)
        case "own_institution":
            return world.user(
                Role.superuser, municipality=world.own, institution=world.own_institution
            )
        case "other_institution":
            return world.user(
                Role.superuser, municipality=world.own, institution=world.other_institution
            )
        case "own_vendor":
            return world.user(Role.vendor_agent, vendor=world.own_vendor)
        case "other_vendor":
            return world.user(Role.vendor_agent, vendor=world.other_vendor)
    raise AssertionError(relation)


def _user_form(user: User, **changes: Any) -> dict[str, Any]:
    data = {
        "email": user.email,
        "name": user.name,
        "role": user.role.value,
        "institution": user.institution_id or "",
        "municipality": user.municipality_id or "",
        "vendor": user.vendor_id or "",
        "locale": user.locale,
        "active": "y",
    }
    return {**data, **changes}


def _institution(world: World, relation: str) -> Institution:
    return {
        "own_institution": world.own_institution,
        "other_institution": world.other_institution,
        "other_municipality": world.foreign_institution,
    }[relation]


def _renamed(model, ident: int, name: str) -> Callable[[], bool]:
    def check() -> bool:
        _db.session.expire_all()
        return _db.session.get(model, ident).name == name

    return check


def _entitlement_exists(user_id: int, vendor_id: int) -> Callable[[], bool]:
    def check() -> bool:
        _db.session.expire_all()
        return (
            _db.session.scalar(
                select(SupportEntitlement.id).where(
                    SupportEntitlement.user_id == user_id, SupportEntitlement.vendor_id == vendor_id
                )
            )
            is not None
        )

    return check


def _view_user(world: World, relation: str) -> Call:
    return Call("GET", f"/admin/users/{_target_user(world, relation).id}")


def _manage_user(world: World, relation: str) -> Call:
    user = _target_user(world, relation)
    return Call(
        "POST",
        f"/admin/users/{user.id}",
        _user_form(user, name="Changed Name"),
        effect=_renamed(User, user.id, "Changed Name"),
    )


def _create_user(world: World, relation: str) -> Call:
    municipality = world.municipality_of(relation)
    email = f"created-{relation}@matrix.dk"

    def created() -> bool:
        return _db.session.scalar(select(User.id).where(User.email == email)) is not None

    return Call(
        "POST",
        f"/admin/users/new?municipality={municipality.slug}",
        {
            "email": email,
            "name": "Created",
            "role": "hotline",
            "municipality": municipality.id,
            "locale": "da",
            "password": "a-long-enough-password",
            "active": "y",
        },
        effect=created,
    )


def _manage_institution(world: World, relation: str) -> Call:
    institution = _institution(world, relation)
    return Call(
        "POST",
        f"/admin/institutions/{institution.number}",
        {"number": institution.number, "name": "Renamed", "type": "skole", "active": "y"},
        effect=_renamed(Institution, institution.id, "Renamed"),
    )


def _create_institution(world: World, relation: str) -> Call:
    municipality = world.municipality_of(relation)

    def created() -> bool:
        return _db.session.scalar(select(Institution.id).where(Institution.number == "777777"))

    return Call(
        "POST",
        f"/admin/institutions/new?municipality={municipality.slug}",
        {"number": "777777", "name": "Ny", "type": "klub", "active": "y"},
        effect=lambda: created() is not None,
    )


def _grant(world: World, relation: str) -> Call:
    municipality = world.municipality_of(relation)
    coordinator = world.user(Role.coordinator, municipality=municipality)
    return Call(
        "POST",
        f"/admin/entitlements/grant?municipality={municipality.slug}",
        {"user": coordinator.id, "vendor": world.own_vendor.id},
        effect=_entitlement_exists(coordinator.id, world.own_vendor.id),
    )


def _revoke(world: World, relation: str) -> Call:
    municipality = world.municipality_of(relation)
    coordinator = world.user(Role.coordinator, municipality=municipality)
    _db.session.add(
        SupportEntitlement(
            user=coordinator, vendor=world.own_vendor, municipality_id=municipality.id
        )
    )
    _db.session.commit()
    gone = _entitlement_exists(coordinator.id, world.own_vendor.id)
    return Call(
        "POST",
        f"/admin/entitlements/revoke?municipality={municipality.slug}",
        # the only entitled coordinator: below the vendor's minimum, so with a reason
        {"user": coordinator.id, "vendor": world.own_vendor.id, "reason": "Fratrådt"},
        effect=lambda: not gone(),
    )


def _revoke_without_reason(world: World, relation: str) -> Call:
    call = _revoke(world, relation)
    data = {k: v for k, v in (call.data or {}).items() if k != "reason"}
    return Call(call.method, call.url, data, effect=call.effect)


def _create_ticket_for(world: World, relation: str) -> Call:
    """The ticket form, naming the relation's institution."""
    system = System(slug="matrix-system", name="Matrix", vendor=world.own_vendor)
    _db.session.add(system)
    _db.session.commit()
    subject = f"Henvendelse for {relation}"

    def created() -> bool:
        _db.session.expire_all()
        return _db.session.scalar(select(Ticket.id).where(Ticket.subject == subject)) is not None

    return Call(
        "POST",
        "/tickets/new",
        {
            "topic": f"s{system.id}",
            "subject": subject,
            "description": "Forældre kan ikke logge ind.",
            "priority": "normal",
            "institution": _institution(world, relation).number,
        },
        effect=created,
    )


def _vendor(world: World, relation: str) -> Vendor:
    return world.own_vendor if relation == "own_vendor" else world.other_vendor


def _escalation_setup(world: World, relation: str):
    """A ticket by a superuser at the own institution, on a system of the relation's vendor,
    in the relation's municipality; returns (ticket, entitled coordinator there)."""
    from supportdesk.accounts.models import System
    from supportdesk.tickets import services as ticket_services

    vendor = world.other_vendor if relation == "other_vendor" else world.own_vendor
    municipality = world.municipality_of(relation)
    system = _db.session.scalar(select(System).where(System.vendor_id == vendor.id))
    if system is None:
        system = System(slug=f"sys-{vendor.slug}", name=f"System {vendor.name}", vendor=vendor)
        _db.session.add(system)
    institution = (
        world.foreign_institution if municipality is world.other else world.own_institution
    )
    creator = world.user(Role.superuser, municipality=municipality, institution=institution)
    coordinator = world.user(Role.coordinator, municipality=municipality)
    _db.session.add(
        SupportEntitlement(user=coordinator, vendor=vendor, municipality_id=municipality.id)
    )
    _db.session.commit()
    ticket = ticket_services.create_ticket(
        creator,
        ticket_services.NewTicket(
            system=system, category=None, subject="Login", description="Fejl"
        ),
    )
    _db.session.commit()
    return ticket, coordinator


def _case(world: World, relation: str):
    from supportdesk.escalation import services as escalation

    ticket, coordinator = _escalation_setup(world, relation)
    case = escalation.escalate(coordinator, ticket, escalation.EscalationRequest("Resumé"))
    _db.session.commit()
    return case


def _escalate(world: World, relation: str) -> Call:
    ticket, _coordinator = _escalation_setup(world, relation)
    ident = ticket.id

    def escalated() -> bool:
        from supportdesk.tickets.models import Ticket

        _db.session.expire_all()
        return _db.session.get(Ticket, ident).vendor_case_id is not None

    return Call(
        "POST",
        f"/tickets/{ticket.number}/escalate",
        {"summary": "Resumé", "priority": "normal"},
        effect=escalated,
    )


def _message_case(world: World, relation: str) -> Call:
    from supportdesk.escalation.models import CaseMessage

    case = _case(world, relation)
    ident = case.id

    def written() -> bool:
        return (
            _db.session.scalar(select(CaseMessage.id).where(CaseMessage.case_id == ident))
            is not None
        )

    return Call("POST", f"/cases/{case.number}/messages", {"body": "Hej"}, effect=written)


def _known_issue(world: World, relation: str) -> Call:
    from supportdesk.escalation.models import KnownIssue

    ticket, _coordinator = _escalation_setup(world, relation)
    issue = KnownIssue(
        vendor_id=ticket.system.vendor_id, system_id=ticket.system_id, title="Driftsforstyrrelse"
    )
    _db.session.add(issue)
    _db.session.commit()
    return Call("GET", f"/known-issues/{issue.id}")


def _webhook(world: World, relation: str):
    from supportdesk.webhooks.models import Webhook

    owner = (
        {"vendor": world.own_vendor}
        if relation == "own_vendor"
        else {"municipality": world.municipality_of(relation)}
    )
    webhook = Webhook(
        name="ITSM",
        url="https://itsm.example.dk/hook",
        secret="old-secret",
        events=["case.status_changed"],
        **owner,
    )
    _db.session.add(webhook)
    _db.session.commit()
    return webhook


def _rotate_webhook_secret(world: World, relation: str) -> Call:
    from supportdesk.webhooks.models import Webhook

    ident = _webhook(world, relation).id

    def rotated() -> bool:
        _db.session.expire_all()
        return _db.session.get(Webhook, ident).secret != "old-secret"

    return Call("POST", f"/admin/webhooks/{ident}/secret", {}, effect=rotated)


def _create_webhook(world: World, relation: str) -> Call:
    from supportdesk.webhooks.models import Webhook

    if relation == "own_vendor":
        query, event = f"vendor={world.own_vendor.slug}", "case.created"
    else:
        query, event = f"municipality={world.municipality_of(relation).slug}", "case.vendor_message"
    return Call(
        "POST",
        f"/admin/webhooks/new?{query}",
        {"name": "ITSM", "url": "https://itsm.example.dk/hook", "events": [event]},
        effect=lambda: _db.session.scalar(select(Webhook.id)) is not None,
    )


def _audit_ticket(world: World, relation: str) -> str:
    ticket, _coordinator = _escalation_setup(world, relation)
    return ticket.number


def _reset_two_factor(world: World, relation: str) -> Call:
    from tests.signin import give_two_factor

    user = _target_user(world, relation)
    give_two_factor(user)
    ident = user.id

    def reset() -> bool:
        _db.session.expire_all()
        return not _db.session.get(User, ident).has_two_factor

    return Call("POST", f"/admin/users/{ident}/reset-2fa", {}, effect=reset)


def _onboard_import(world: World, relation: str) -> Call:
    def imported() -> bool:
        slug = select(Municipality.id).where(Municipality.slug == "matrix-ny")
        return _db.session.scalar(slug) is not None

    workbook = io.BytesIO(b"slug;name;wave;go_live;retention_days\nmatrix-ny;Ny Kommune;1;;\n")
    return Call(
        "POST",
        "/admin/onboarding/import",
        {"files": (workbook, "municipalities.csv")},
        effect=imported,
    )


def _merge_ticket(world: World, relation: str) -> Call:
    from supportdesk.tickets.models import Ticket

    duplicate, _coordinator = _escalation_setup(world, relation)
    target, _coordinator = _escalation_setup(world, relation)
    ident = duplicate.id

    def merged() -> bool:
        _db.session.expire_all()
        return _db.session.get(Ticket, ident).merged_into_id is not None

    return Call("POST", f"/tickets/{duplicate.number}/merge", {"into": target.number}, merged)


def _answer_survey(world: World, relation: str) -> Call:
    from supportdesk.accounts.models import System
    from supportdesk.tickets import lifecycle
    from supportdesk.tickets import services as ticket_services
    from supportdesk.tickets.models import SurveyResponse, TicketStatus

    creator = world.actor
    if relation == "other_institution" or not creator.role.is_municipal or creator.role.is_vendor:
        creator = world.user(
            Role.superuser, municipality=world.own, institution=world.other_institution
        )
    system = System(slug="sys-survey", name="Survey system", vendor=world.own_vendor)
    _db.session.add(system)
    _db.session.commit()
    ticket = ticket_services.create_ticket(
        creator,
        ticket_services.NewTicket(
            system=system,
            category=None,
            subject="Login",
            description="Fejl",
            institution=world.other_institution if relation == "other_institution" else None,
        ),
    )
    staff = world.user(Role.coordinator, municipality=world.own)
    lifecycle.change_status(staff, ticket, TicketStatus.resolved)
    _db.session.commit()
    ident = ticket.id

    def answered() -> bool:
        return (
            _db.session.scalar(select(SurveyResponse.id).where(SurveyResponse.ticket_id == ident))
            is not None
        )

    return Call("POST", f"/tickets/{ticket.number}/survey", {"score": "4"}, answered)


def _canned_reply(world: World, relation: str) -> Call:
    from supportdesk.replies.models import CannedReply

    owner: dict[str, Any] = {}
    if relation in ("own_vendor", "other_vendor"):
        owner["vendor_id"] = _vendor(world, relation).id
    else:
        owner["municipality_id"] = world.municipality_of(relation).id
    reply = CannedReply(title="Svar", body="Hej {reporter}", **owner)
    _db.session.add(reply)
    _db.session.commit()
    ident = reply.id

    def deleted() -> bool:
        _db.session.expire_all()
        return _db.session.get(CannedReply, ident) is None

    return Call("POST", f"/canned-replies/{ident}/delete", {}, deleted)


def _create_canned_reply(world: World, relation: str) -> Call:
    from supportdesk.replies.models import CannedReply

    def created() -> bool:
        return _db.session.scalar(select(CannedReply.id)) is not None

    return Call("POST", "/canned-replies", {"title": "Ny", "body": "Tekst"}, created)


def _report(
    world: World, relation: str, name: str, fmt: str = "json", prefix: str = "/api/v1"
) -> Call:
    """A report about the relation's municipality or vendor (named as the admin must)."""
    args = "from=2026-01-01&to=2026-03-31" + (f"&format={fmt}" if fmt else "")
    if relation in ("own_municipality", "other_municipality"):
        args += f"&municipality={world.municipality_of(relation).slug}"
    elif relation in ("own_vendor", "other_vendor"):
        args += f"&vendor={_vendor(world, relation).slug}"
    return Call("GET", f"{prefix}/reports/{name}?{args}")


ACTIONS: dict[str, Callable[[World, str], Call]] = {
    "view_admin_home": lambda w, r: Call("GET", "/admin/"),
    "view_system_admin": lambda w, r: Call("GET", "/admin/vendors"),
    "list_users": lambda w, r: Call(
        "GET", f"/admin/users?municipality={w.municipality_of(r).slug}"
    ),
    "view_user": _view_user,
    "manage_user": _manage_user,
    "create_user": _create_user,
    "view_institution": lambda w, r: Call(
        "GET", f"/admin/institutions/{_institution(w, r).number}"
    ),
    "manage_institution": _manage_institution,
    "create_institution": _create_institution,
    "view_entitlements": lambda w, r: Call(
        "GET", f"/admin/entitlements?municipality={w.municipality_of(r).slug}"
    ),
    "grant_entitlement": _grant,
    "revoke_entitlement": _revoke,
    "revoke_below_minimum_no_reason": _revoke_without_reason,
    "create_ticket_for": _create_ticket_for,
    "manage_vendor": lambda w, r: Call("GET", f"/admin/vendors/{_vendor(w, r).slug}"),
    "manage_municipality": lambda w, r: Call(
        "GET", f"/admin/municipalities/{w.municipality_of(r).slug}"
    ),
    "api_institutions": lambda w, r: Call(
        "GET", f"/api/v1/institutions?municipality={w.municipality_of(r).slug}"
    ),
    "api_me": lambda w, r: Call("GET", "/api/v1/me"),
    "api_systems": lambda w, r: Call("GET", "/api/v1/systems"),
    "escalate": _escalate,
    "view_case": lambda w, r: Call("GET", f"/cases/{_case(w, r).number}"),
    "api_case": lambda w, r: Call("GET", f"/api/v1/cases/{_case(w, r).number}"),
    "message_case": _message_case,
    "case_ticket_page": lambda w, r: Call("GET", f"/tickets/{_case(w, r).tickets[0].number}"),
    "edit_known_issue": _known_issue,
    "status_page": lambda w, r: Call("GET", "/status"),
    "view_webhook": lambda w, r: Call("GET", f"/admin/webhooks/{_webhook(w, r).id}"),
    "rotate_webhook_secret": _rotate_webhook_secret,
    "create_webhook": _create_webhook,
    "view_security_log": lambda w, r: Call("GET", "/admin/security-log"),
    "api_audit_security": lambda w, r: Call("GET", "/api/v1/audit/security"),
    "view_access_log": lambda w, r: Call("GET", f"/admin/access-log?ticket={_audit_ticket(w, r)}"),
    "api_audit_access": lambda w, r: Call(
        "GET", f"/api/v1/audit/access?ticket={_audit_ticket(w, r)}"
    ),
    "personal_data": lambda w, r: Call("GET", "/admin/personal-data"),
    "two_factor_policy": lambda w, r: Call(
        "GET", f"/admin/two-factor?municipality={w.municipality_of(r).slug}"
    ),
    "reset_two_factor": _reset_two_factor,
    "own_two_factor_page": lambda w, r: Call("GET", "/account/2fa"),
    "onboard_import_page": lambda w, r: Call("GET", "/admin/onboarding/import"),
    "onboard_import": _onboard_import,
    "wave_overview": lambda w, r: Call("GET", "/admin/onboarding/waves"),
    "wave_overview_csv": lambda w, r: Call("GET", "/admin/onboarding/waves.csv"),
    "merge_ticket": _merge_ticket,
    "answer_survey": _answer_survey,
    "canned_replies_page": lambda w, r: Call("GET", "/canned-replies"),
    "create_canned_reply": _create_canned_reply,
    "delete_canned_reply": _canned_reply,
    "api_rep_mun": lambda w, r: _report(w, r, "municipality"),
    "api_rep_mun_csv": lambda w, r: _report(w, r, "municipality", "csv"),
    "api_rep_mun_xlsx": lambda w, r: _report(w, r, "municipality", "xlsx"),
    "api_rep_vendor": lambda w, r: _report(w, r, "vendor"),
    "api_rep_vendor_csv": lambda w, r: _report(w, r, "vendor", "csv"),
    "api_rep_rollout": lambda w, r: _report(w, r, "rollout"),
    "api_rep_rollout_csv": lambda w, r: _report(w, r, "rollout", "csv"),
    "api_rep_tickets": lambda w, r: _report(w, r, "tickets"),
    "api_rep_tickets_csv": lambda w, r: _report(w, r, "tickets", "csv"),
    "api_rep_cases": lambda w, r: _report(w, r, "cases"),
    "api_rep_cases_csv": lambda w, r: _report(w, r, "cases", "csv"),
    "rep_page_mun": lambda w, r: _report(w, r, "municipality", "", prefix=""),
    "rep_page_vendor": lambda w, r: _report(w, r, "vendor", "", prefix=""),
    "rep_page_vendor_xlsx": lambda w, r: _report(w, r, "vendor", "xlsx", prefix=""),
    "rep_page_rollout": lambda w, r: _report(w, r, "rollout", "", prefix=""),
    "rep_ticket_list_export": lambda w, r: Call("GET", "/reports/export/tickets?format=csv"),
    "rep_case_list_export": lambda w, r: Call("GET", "/reports/export/cases?format=xlsx"),
}

CELLS = [
    pytest.param(role, action, relation, expected, id=f"{action}-{relation}-{role.value}")
    for (action, relation), row in MATRIX.items()
    for role, expected in zip(ROLES, row, strict=True)
]


def test_matrix_is_complete():
    """Every row has a cell per role, a known relation and an action that performs it."""
    for (action, relation), row in MATRIX.items():
        assert len(row) == len(ROLES), action
        assert relation in (*RELATIONS, NONE), relation
        assert action in ACTIONS, action
        assert all(cell in (OK, NF, FB, RF) for cell in row), action
    assert {action for action, _ in MATRIX} == set(ACTIONS)


@pytest.fixture
def world_for(app, password_hash) -> Callable[[Role], World]:
    def build(role: Role) -> World:
        own = Municipality(slug="egen", name="Egen Kommune", code="EGN")
        other = Municipality(slug="anden", name="Anden Kommune", code="AND")
        own_inst = Institution(
            municipality=own, number="100001", name="Egen skole", type=InstitutionType.skole
        )
        other_inst = Institution(
            municipality=own, number="100002", name="Anden skole", type=InstitutionType.dagtilbud
        )
        foreign_inst = Institution(
            municipality=other, number="200001", name="Fremmed skole", type=InstitutionType.skole
        )
        own_vendor = Vendor(slug="egen-lev", name="Egen leverandør")
        other_vendor = Vendor(slug="anden-lev", name="Anden leverandør")
        org: dict[str, Any] = {}
        if role.is_municipal:
            org["municipality"] = own
        if role in (Role.superuser, Role.hotline):
            org["institution"] = own_inst
        if role.is_vendor:
            org["vendor"] = own_vendor
        actor = User(
            email=f"actor-{role.value}@matrix.dk",
            name="Actor",
            role=role,
            password_hash=password_hash,
            **org,
        )
        _db.session.add_all(
            [own, other, own_inst, other_inst, foreign_inst, own_vendor, other_vendor, actor]
        )
        _db.session.flush()
        if role == Role.coordinator:
            _db.session.add(
                SupportEntitlement(user=actor, vendor=own_vendor, municipality_id=own.id)
            )
        _db.session.commit()
        return World(
            actor,
            own,
            other,
            own_inst,
            other_inst,
            foreign_inst,
            own_vendor,
            other_vendor,
            password_hash,
        )

    return build


@pytest.mark.parametrize(("role", "action", "relation", "expected"), CELLS)
def test_access(client, login, world_for, role, action, relation, expected):
    world = world_for(role)
    call = ACTIONS[action](world, relation)
    login(world.actor)
    response = client.open(call.url, method=call.method, data=call.data)
    if expected == OK:
        assert response.status_code in (200, 201, 204, 302, 303), response.status_code
        if response.status_code in (302, 303):
            assert "/login" not in response.headers["Location"]
    else:
        assert response.status_code == expected
        if call.url.startswith("/api/"):
            assert response.get_json()["error"]["code"] in ("not_found", "forbidden")
    if call.effect is not None:
        assert call.effect() is (expected == OK)

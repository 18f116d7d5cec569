"""Demo municipalities, institutions, vendors, systems, categories, users, entitlements."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from supportdesk import policy
from supportdesk.accounts import services
from supportdesk.accounts.models import (
    Institution,
    InstitutionType,
    Role,
    SupportEntitlement,
    User,
)
from supportdesk.demo.credentials import DEMO_TOTP_SECRET
from supportdesk.extensions import db, utcnow

# The organisations themselves are data: organisations.json beside this module.
_DATA = json.loads((Path(__file__).parent / "organisations.json").read_text(encoding="utf-8"))

# slug, name, code, retention days
MUNICIPALITIES = [
    (m["slug"], m["name"], m["code"], m["retention_days"]) for m in _DATA["municipalities"]
]
# municipality slug -> (institution number, name, type)
INSTITUTIONS = {
    slug: [(i["number"], i["name"], InstitutionType(i["type"])) for i in rows]
    for slug, rows in _DATA["institutions"].items()
}
# slug, name, support e-mail
VENDORS = [(v["slug"], v["name"], v["support_email"]) for v in _DATA["vendors"]]
# slug, name, vendor slug, [(category slug, category name)]
SYSTEMS = [
    (s["slug"], s["name"], s["vendor"], [(c["slug"], c["name"]) for c in s["categories"]])
    for s in _DATA["systems"]
]
FIRST = _DATA["first_names"]
LAST = _DATA["last_names"]
# Coordinators per municipality and how many of them hold each vendor's entitlement:
# esbjerg is fully staffed, aalborg is below the minimum so its warning shows.
COORDINATORS = {slug: (c["total"], c["entitled"]) for slug, c in _DATA["coordinators"].items()}

# The staff accounts of every municipality and vendor, in the order they are made:
# e-mail local part, role, label in the printed demo logins ("" lists none).
MUNICIPAL_STAFF = [
    ("admin", Role.municipal_admin, "Kommunal administrator, {org}"),
    ("hotline", Role.hotline, "Hotline, {org}"),
]
VENDOR_STAFF = [
    ("agent", Role.vendor_agent, "Servicedesk, {org}"),
    ("agent2", Role.vendor_agent, ""),
    ("redaktor", Role.vendor_editor, "FAQ-redaktør, {org}"),
]


def _name(seed: int) -> str:
    return f"{FIRST[seed % len(FIRST)]} {LAST[(seed * 7 + 3) % len(LAST)]}"


_HASHES: dict[str, str] = {}


def _user(logins, label: str, email: str, role: Role, **org) -> User:
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        # argon2 takes ~0.1-0.3 s: hash the shared demo password once, not per user.
        if logins.password not in _HASHES:
            _HASHES[logins.password] = services.hash_password(logins.password)
        org["password_hash"] = _HASHES[logins.password]
        user = services.create_user(
            None,
            services.UserData(
                email=email,
                name=org.pop("name"),
                role=role,
                password=logins.password,
                **org,
            ),
        )
    if policy.two_factor_required(user) and not user.has_two_factor and _demo_keys_allowed():
        user.totp_secret = DEMO_TOTP_SECRET
        user.totp_enabled_at = utcnow()
        logins.totp_secret = DEMO_TOTP_SECRET
    elif user.totp_secret == DEMO_TOTP_SECRET:
        logins.totp_secret = DEMO_TOTP_SECRET
    if label:
        logins.users.append((email, label))
    return user


def _demo_keys_allowed() -> bool:
    """The shared demo TOTP key is for trying the demo, never for a production install."""
    return current_app.config["SUPPORTDESK"].env != "production"


def seed(logins, echo: Callable[[str], None]) -> None:
    municipalities = {
        slug: services.save_municipality(None, slug, name, code, days)
        for slug, name, code, days in MUNICIPALITIES
    }
    institutions: dict[str, list[Institution]] = {}
    for slug, rows in INSTITUTIONS.items():
        municipality = municipalities[slug]
        institutions[slug] = []
        for number, name, type_ in rows:
            existing = db.session.scalar(select(Institution).where(Institution.number == number))
            institution = existing or Institution(
                municipality=municipality, number=number, name=name, type=type_
            )
            db.session.add(institution)
            institutions[slug].append(institution)
    vendors = {
        slug: services.save_vendor(None, slug, name, support_email=email)
        for slug, name, email in VENDORS
    }
    for slug, name, vendor_slug, categories in SYSTEMS:
        system = services.save_system(None, slug, name, vendors[vendor_slug])
        for cat_slug, cat_name in categories:
            services.save_category(None, system, cat_slug, cat_name)
    db.session.flush()

    _user(
        logins,
        "Systemadministrator",
        "admin@supportdesk.sd-demo.dk",
        Role.admin,
        name="Driftsansvarlig Admin",
    )
    n = 0
    for slug, municipality in municipalities.items():
        domain = f"{slug}.sd-demo.dk"
        shown = slug in ("esbjerg", "aalborg")
        for local_part, role, label in MUNICIPAL_STAFF:
            _user(
                logins,
                label.format(org=municipality.name) if shown else "",
                f"{local_part}@{domain}",
                role,
                municipality=municipality,
                name=_name(n := n + 1),
            )
        for index, institution in enumerate(institutions[slug]):
            label = ""
            if shown and index < 2:
                label = f"Superbruger, {institution.name}"
            _user(
                logins,
                label,
                f"superbruger.{institution.number}@{domain}",
                Role.superuser,
                municipality=municipality,
                institution=institution,
                name=_name(n := n + 1),
            )
        total, entitled = COORDINATORS[slug]
        coordinators = [
            _user(
                logins,
                f"Supportberettiget {i + 1}, {municipality.name}" if shown and i < 2 else "",
                f"koordinator{i + 1}@{domain}",
                Role.coordinator,
                municipality=municipality,
                name=_name(n := n + 1),
            )
            for i in range(total)
        ]
        for vendor in vendors.values():
            for coordinator in coordinators[:entitled]:
                has = db.session.scalar(
                    select(SupportEntitlement.id).where(
                        SupportEntitlement.user_id == coordinator.id,
                        SupportEntitlement.vendor_id == vendor.id,
                    )
                )
                if has is None:
                    services.grant_entitlement(None, coordinator, vendor)
    for slug, vendor in vendors.items():
        for local_part, role, label in VENDOR_STAFF:
            _user(
                logins,
                label.format(org=vendor.name),
                f"{local_part}@{slug}.sd-demo.dk",
                role,
                vendor=vendor,
                name=_name(n := n + 1),
            )
    db.session.flush()
    echo(
        f"Organisations: {len(municipalities)} municipalities, "
        f"{sum(len(v) for v in institutions.values())} institutions, {len(vendors)} vendors"
    )

"""Demo municipalities, institutions, vendors, systems, categories, users, entitlements."""

from __future__ import annotations

from collections.abc import Callable

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

MUNICIPALITIES = [
    # slug, name, code, retention days
    ("esbjerg", "Esbjerg Kommune", "ESB", 730),
    ("aalborg", "Aalborg Kommune", "AAL", 730),
    ("odense", "Odense Kommune", "ODE", 1095),
    ("vejle", "Vejle Kommune", "VEJ", 730),
    ("viborg", "Viborg Kommune", "VIB", 365),
]

S, D, F, K, P = (
    InstitutionType.skole,
    InstitutionType.dagtilbud,
    InstitutionType.sfo,
    InstitutionType.klub,
    InstitutionType.dagpleje,
)
INSTITUTIONS = {
    "esbjerg": [
        ("561001", "Rosenvængets Skole", S),
        ("561002", "Kvaglundskolen", S),
        ("561003", "Danmarksgades Skole", S),
        ("561004", "Bakkeskolen", S),
        ("561005", "Spangsbjerg Skole", S),
        ("561006", "Bohrs Skole", S),
        ("561101", "Børnehuset Solsikken", D),
        ("561102", "Vuggestuen Mælkebøtten", D),
        ("561103", "Naturbørnehaven Granly", D),
        ("561104", "Børnehaven Kernehuset", D),
        ("561201", "SFO Rosenvænget", F),
        ("561202", "SFO Kvaglund", F),
        ("561301", "Klub Spangsbjerg", K),
        ("561302", "Ungdomsklubben Gredstedbro", K),
        ("561401", "Dagplejen Esbjerg Nord", P),
        ("561402", "Dagplejen Esbjerg Syd", P),
    ],
    "aalborg": [
        ("851001", "Vestbjerg Skole", S),
        ("851002", "Gug Skole", S),
        ("851003", "Vejgaard Østre Skole", S),
        ("851004", "Sønderbroskolen", S),
        ("851005", "Svenstrup Skole", S),
        ("851101", "Børnehuset Stjernen", D),
        ("851102", "Vuggestuen Guldklumpen", D),
        ("851103", "Skovbørnehaven Egernet", D),
        ("851201", "SFO Vestbjerg", F),
        ("851202", "SFO Gug", F),
        ("851301", "Klub Vejgaard", K),
        ("851401", "Dagplejen Aalborg Øst", P),
        ("851402", "Dagplejen Aalborg Vest", P),
    ],
    "odense": [
        ("461001", "Rosengårdskolen", S),
        ("461002", "Tarup Skole", S),
        ("461101", "Børnehuset Bøgen", D),
        ("461201", "SFO Tarup", F),
        ("461301", "Klub Vollsmose", K),
        ("461401", "Dagplejen Odense Nord", P),
    ],
    "vejle": [
        ("630001", "Petersmindeskolen", S),
        ("630101", "Børnehaven Humlebien", D),
        ("630201", "SFO Petersminde", F),
        ("630401", "Dagplejen Vejle Midt", P),
    ],
    "viborg": [
        ("791001", "Overlund Skole", S),
        ("791101", "Vuggestuen Lærkereden", D),
        ("791301", "Klub Overlund", K),
    ],
}

VENDORS = [
    # slug, name, support e-mail
    ("netcompany", "Netcompany (Aula)", "servicedesk@aula.sd-demo.dk"),
    ("meebook", "Meebook", "support@meebook.sd-demo.dk"),
    ("skolecloud", "SkoleCloud ApS", "help@skolecloud.sd-demo.dk"),
    ("stil", "Styrelsen for It og Læring", "unilogin@stil.sd-demo.dk"),
]

SYSTEMS = [
    (
        "aula",
        "Aula",
        "netcompany",
        [
            ("login", "Log ind, UNI-Login og MitID"),
            ("beskeder", "Beskeder"),
            ("kalender", "Kalender og begivenheder"),
            ("komme-gaa", "Komme/gå"),
            ("grupper", "Grupper"),
            ("samtykker", "Samtykker og tilladelser"),
            ("galleri", "Galleri og billeder"),
            ("opslag", "Opslag og overblik"),
            ("sikre-filer", "Sikre filer og dokumenter"),
            ("notifikationer", "Notifikationer"),
            ("app", "Aula-appen"),
            ("stamkort", "Profil og stamkort"),
        ],
    ),
    (
        "laeringsplatform",
        "Læringsplatform",
        "meebook",
        [
            ("login", "Log ind"),
            ("forloeb", "Forløb og årsplaner"),
            ("elevplaner", "Elevplaner"),
            ("opgaver", "Opgaver og aflevering"),
            ("skoleaarsskift", "Skoleårsskift"),
            ("integrationer", "Integrationer"),
            ("laeringsmaal", "Læringsmål"),
        ],
    ),
    (
        "fildeling",
        "Fildeling",
        "skolecloud",
        [
            ("deling", "Deling af filer og mapper"),
            ("adgang", "Adgang og rettigheder"),
            ("synkronisering", "Synkronisering"),
            ("lagerplads", "Lagerplads"),
            ("login", "Log ind"),
        ],
    ),
    (
        "brugeradministration",
        "Brugeradministration (UNI-Login)",
        "stil",
        [
            ("brugeroprettelse", "Brugeroprettelse"),
            ("uni-login", "UNI-Login og adgangskoder"),
            ("roller", "Roller og rettigheder"),
            ("skoleaarsskift", "Skoleårsskift"),
            ("dataimport", "Dataimport fra elevadministration"),
            ("relationer", "Forældrerelationer og kontaktpersoner"),
        ],
    ),
]

FIRST = [
    "Mette",
    "Lars",
    "Anne",
    "Jens",
    "Hanne",
    "Peter",
    "Susanne",
    "Morten",
    "Camilla",
    "Thomas",
    "Louise",
    "Søren",
    "Pia",
    "Henrik",
    "Maria",
    "Rasmus",
    "Birgitte",
    "Anders",
]
LAST = [
    "Nielsen",
    "Jensen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
]

# Coordinators per municipality and how many of them hold each vendor's entitlement:
# esbjerg is fully staffed, aalborg is below the minimum so its warning shows.
COORDINATORS = {
    "esbjerg": (6, 5),
    "aalborg": (3, 3),
    "odense": (4, 4),
    "vejle": (4, 4),
    "viborg": (4, 4),
}


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
        _user(
            logins,
            f"Kommunal administrator, {municipality.name}" if shown else "",
            f"admin@{domain}",
            Role.municipal_admin,
            municipality=municipality,
            name=_name(n := n + 1),
        )
        _user(
            logins,
            f"Hotline, {municipality.name}" if shown else "",
            f"hotline@{domain}",
            Role.hotline,
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
        _user(
            logins,
            f"Servicedesk, {vendor.name}",
            f"agent@{slug}.sd-demo.dk",
            Role.vendor_agent,
            vendor=vendor,
            name=_name(n := n + 1),
        )
        _user(
            logins,
            "",
            f"agent2@{slug}.sd-demo.dk",
            Role.vendor_agent,
            vendor=vendor,
            name=_name(n := n + 1),
        )
        _user(
            logins,
            f"FAQ-redaktør, {vendor.name}",
            f"redaktor@{slug}.sd-demo.dk",
            Role.vendor_editor,
            vendor=vendor,
            name=_name(n := n + 1),
        )
    db.session.flush()
    echo(
        f"Organisations: {len(municipalities)} municipalities, "
        f"{sum(len(v) for v in institutions.values())} institutions, {len(vendors)} vendors"
    )

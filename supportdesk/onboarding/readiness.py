"""The wave overview: per wave and municipality, go-live, weeks to go and readiness.

Every figure comes from the data, in grouped queries: a fixed number of statements
however many municipalities there are (one per figure, each grouped by municipality).
Each check is green, amber or red with its reason in words; a municipality is as red as
its worst check. Missing set-up turns red from two weeks before go-live.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, exists, false, func, or_, select

from supportdesk.accounts.entitlements import entitled_counts
from supportdesk.accounts.models import (
    Institution,
    Municipality,
    Role,
    User,
    Vendor,
)
from supportdesk.extensions import db
from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.tickets.models import RoutingRule, Ticket

URGENT = timedelta(weeks=2)  # missing set-up is red from here on
FIRST_WEEKS = 4  # "tickets in the first weeks after go-live"
QUIET = timedelta(weeks=2)  # live this long without a ticket: is the desk used?
ACCEPTED_TARGET = 90  # % of invitations accepted for green
ACCEPTED_FLOOR = 50  # below this close to go-live: red
NO_PASSWORD = ("!", "")  # password hashes of people who cannot sign in yet


DANISH_TIME = ZoneInfo("Europe/Copenhagen")


def today() -> date:
    """Go-live dates are Danish calendar days."""
    return datetime.now(DANISH_TIME).date()


class Light(enum.StrEnum):
    green = "green"
    amber = "amber"
    red = "red"


LIGHT_LABELS = {Light.green: _l("Green"), Light.amber: _l("Amber"), Light.red: _l("Red")}
_SEVERITY = {Light.green: 0, Light.amber: 1, Light.red: 2}

CHECK_LABELS = {
    "admins": _l("Municipal administrator"),
    "coordinators": _l("Support-entitled coordinators"),
    "superusers": _l("Superusers at every institution"),
    "routing": _l("Routing rules"),
    "guides": _l("Local guides"),
    "invitations": _l("Invitations accepted"),
    "tickets": _l("Tickets after go-live"),
}


@dataclass(frozen=True)
class Check:
    key: str
    light: Light
    detail: str  # in the reader's language

    @property
    def label(self) -> Any:
        return CHECK_LABELS[self.key]


@dataclass
class Readiness:
    slug: str
    name: str
    wave: int | None
    go_live: date | None
    days_to_go: int | None
    checks: list[Check]
    ready: str = "Ready"  # the word for no problem, in the reader's language

    @property
    def weeks_to_go(self) -> int | None:
        """Whole weeks until go-live; negative once live (-2: live for two weeks)."""
        if self.days_to_go is None:
            return None
        weeks = abs(self.days_to_go) // 7
        return weeks if self.days_to_go >= 0 else -weeks

    @property
    def light(self) -> Light:
        return max((c.light for c in self.checks), key=_SEVERITY.__getitem__)

    @property
    def reason(self) -> str:
        problems = [c.detail for c in self.checks if c.light != Light.green]
        return "; ".join(problems) if problems else self.ready


@dataclass
class Wave:
    number: int | None
    municipalities: list[Readiness] = field(default_factory=list)

    def count(self, light: Light) -> int:
        return sum(1 for m in self.municipalities if m.light == light)


@dataclass
class _Figures:
    """Every figure per municipality id, one grouped query each."""

    admins: dict[int, int]
    entitled: dict[int, dict[int, int]]  # municipality → vendor → count
    institutions: dict[int, tuple[int, int]]  # (active institutions, with a superuser)
    routing: dict[int, int]
    guides: dict[int, int]
    invitations: dict[int, tuple[int, int]]  # (active people, who have chosen a password)
    tickets: dict[int, int]  # in the first weeks after go-live


def _grouped(query) -> dict[int, int]:
    return {key: count for key, count in db.session.execute(query)}


def _window(municipality: Any) -> tuple[datetime, datetime]:
    """The first weeks after go-live, from midnight UTC of the go-live day."""
    start = datetime.combine(municipality.go_live, time(), tzinfo=UTC)
    return start, start + timedelta(weeks=FIRST_WEEKS)


def _figures(municipalities: list[Any], today: date) -> _Figures:
    # one pass over the people: administrators, and who has chosen a password (an
    # imported or invited person has none until they accept the invitation)
    admins: dict[int, int] = {}
    invitations: dict[int, tuple[int, int]] = {}
    active = User.active.is_(True)
    chosen = and_(active, User.password_hash.not_in(NO_PASSWORD))
    for municipality_id, admin_count, people, with_password in db.session.execute(
        select(
            User.municipality_id,
            func.count(case((and_(active, User.role == Role.municipal_admin), 1))),
            func.count(case((active, 1))),
            func.count(case((chosen, 1))),
        )
        .where(User.municipality_id.is_not(None))
        .group_by(User.municipality_id)
    ):
        admins[municipality_id] = admin_count
        invitations[municipality_id] = (people, with_password)
    entitled: dict[int, dict[int, int]] = defaultdict(dict)
    for (municipality_id, vendor_id), count in entitled_counts().items():
        entitled[municipality_id][vendor_id] = count
    staffed = exists().where(
        User.institution_id == Institution.id,
        User.role == Role.superuser,
        User.active.is_(True),
    )
    institutions = {
        municipality_id: (total, covered)
        for municipality_id, total, covered in db.session.execute(
            select(
                Institution.municipality_id,
                func.count(Institution.id),
                func.count(case((staffed, 1))),
            )
            .where(Institution.active.is_(True))
            .group_by(Institution.municipality_id)
        )
    }
    routing = _grouped(
        select(RoutingRule.municipality_id, func.count(RoutingRule.id))
        .where(RoutingRule.active.is_(True))
        .group_by(RoutingRule.municipality_id)
    )
    guides = _grouped(
        select(Article.municipality_id, func.count(Article.id))
        .where(Article.audience == Audience.municipal, Article.state == ArticleState.published)
        .group_by(Article.municipality_id)
    )
    # one statement for every live municipality's own window
    windows = [
        and_(Ticket.municipality_id == m.id, Ticket.created_at >= start, Ticket.created_at < end)
        for m in municipalities
        if m.go_live is not None and m.go_live <= today
        for start, end in [_window(m)]
    ]
    tickets = _grouped(
        select(Ticket.municipality_id, func.count(Ticket.id))
        .where(or_(*windows) if windows else false())
        .group_by(Ticket.municipality_id)
    )
    return _Figures(admins, entitled, institutions, routing, guides, invitations, tickets)


# The checks' words, translated once per overview (a page shows hundreds of them).
ACTIVE = _l("Active: %(count)s")
NO_ADMIN = _l("No municipal administrator")
NO_COORDINATORS = _l("No support-entitled coordinators yet")
OUTSIDE_LIMITS = _l("%(vendor)s %(count)s (should be %(min)s to %(max)s)")
NO_INSTITUTIONS = _l("No institutions")
UNSTAFFED = _l("Institutions without a superuser: %(missing)s of %(total)s")
STAFFED = _l("Every institution has a superuser (%(total)s)")
NO_RULES = _l("No routing rules: every ticket waits in the common queue")
PUBLISHED = _l("Published: %(count)s")
NO_GUIDES = _l("No local guides published")
NOBODY = _l("No invitations sent")
ACCEPTED = _l("%(accepted)s of %(invited)s have chosen a password (%(percent)s %%)")
NOT_LIVE = _l("Not live yet")
FIRST_TICKETS = _l("%(count)s in the first %(weeks)s weeks")
QUIET_START = _l("No tickets in the first weeks: do the superusers use the desk?")
READY = _l("Ready")


class Words:
    """The messages above in the current language, each looked up once."""

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}

    def __call__(self, message: Any, **values: Any) -> str:
        text = self._texts.get(id(message))
        if text is None:
            text = self._texts[id(message)] = str(message)
        return text % values if values else text


def _missing(urgent: bool) -> Light:
    return Light.red if urgent else Light.amber


def _coordinators(used: dict[int, int], vendors: dict[int, Any], urgent: bool, say: Words):
    """4 to 8 per vendor the municipality uses (has entitled anyone for)."""
    if not used:
        return Check("coordinators", _missing(urgent), say(NO_COORDINATORS))
    parts, outside = [], False
    for vendor_id, count in sorted(used.items(), key=lambda item: vendors[item[0]].name):
        vendor = vendors[vendor_id]
        if vendor.min_entitled <= count <= vendor.max_entitled:
            parts.append(f"{vendor.name} {count}")
        else:
            outside = True
            low, high = vendor.min_entitled, vendor.max_entitled
            parts.append(say(OUTSIDE_LIMITS, vendor=vendor.name, count=count, min=low, max=high))
    return Check("coordinators", _missing(urgent) if outside else Light.green, ", ".join(parts))


def _superusers(total: int, covered: int, urgent: bool, say: Words) -> Check:
    if not total:
        return Check("superusers", _missing(urgent), say(NO_INSTITUTIONS))
    if covered < total:
        detail = say(UNSTAFFED, missing=total - covered, total=total)
        return Check("superusers", _missing(urgent), detail)
    return Check("superusers", Light.green, say(STAFFED, total=total))


def _checks(m: Any, f: _Figures, vendors: dict[int, Any], today: date, say: Words):
    urgent = m.go_live is not None and m.go_live - today <= URGENT
    admins = f.admins.get(m.id, 0)
    rules = f.routing.get(m.id, 0)
    guides = f.guides.get(m.id, 0)
    return [
        Check("admins", Light.green, say(ACTIVE, count=admins))
        if admins
        else Check("admins", Light.red, say(NO_ADMIN)),
        _coordinators(f.entitled.get(m.id, {}), vendors, urgent, say),
        _superusers(*f.institutions.get(m.id, (0, 0)), urgent, say),
        Check("routing", Light.green, say(ACTIVE, count=rules))
        if rules
        else Check("routing", _missing(urgent), say(NO_RULES)),
        Check("guides", Light.green, say(PUBLISHED, count=guides))
        if guides
        else Check("guides", Light.amber, say(NO_GUIDES)),
        _invitations(f.invitations.get(m.id, (0, 0)), urgent, say),
        _tickets(m, f.tickets.get(m.id, 0), today, say),
    ]


def _invitations(figures: tuple[int, int], urgent: bool, say: Words) -> Check:
    """Who has accepted the invitation: chosen a password, so they can sign in."""
    people, accepted = figures
    if not people:
        return Check("invitations", Light.green, say(NOBODY))
    percent = round(100 * accepted / people)
    detail = say(ACCEPTED, accepted=accepted, invited=people, percent=percent)
    if percent >= ACCEPTED_TARGET:
        return Check("invitations", Light.green, detail)
    light = Light.red if urgent and percent < ACCEPTED_FLOOR else Light.amber
    return Check("invitations", light, detail)


def _tickets(m: Any, count: int, today: date, say: Words) -> Check:
    if m.go_live is None or m.go_live > today:
        return Check("tickets", Light.green, say(NOT_LIVE))
    if not count and today - m.go_live >= QUIET:
        return Check("tickets", Light.amber, say(QUIET_START))
    return Check("tickets", Light.green, say(FIRST_TICKETS, count=count, weeks=FIRST_WEEKS))


def overview(today: date) -> list[Wave]:
    """Every municipality by wave (pilots first, those without a wave last), then by
    go-live date and name."""
    municipalities = list(
        db.session.execute(
            select(
                Municipality.id,
                Municipality.slug,
                Municipality.name,
                Municipality.wave,
                Municipality.go_live,
            )
        )
    )
    vendors = {
        v.id: v
        for v in db.session.execute(
            select(Vendor.id, Vendor.name, Vendor.min_entitled, Vendor.max_entitled)
        )
    }
    figures = _figures(municipalities, today)
    say = Words()
    waves: dict[int | None, Wave] = {}
    municipalities.sort(
        key=lambda m: (m.wave is None, m.wave or 0, m.go_live is None, m.go_live or today, m.name)
    )
    for m in municipalities:
        wave = waves.setdefault(m.wave, Wave(m.wave))
        wave.municipalities.append(
            Readiness(
                slug=m.slug,
                name=m.name,
                wave=m.wave,
                go_live=m.go_live,
                days_to_go=(m.go_live - today).days if m.go_live is not None else None,
                checks=_checks(m, figures, vendors, today, say),
                ready=say(READY),
            )
        )
    return list(waves.values())


CSV_HEADER = [
    "wave",
    "municipality",
    "name",
    "go_live",
    "weeks_to_go",
    "status",
    "reason",
    *(f"{key}{suffix}" for key in CHECK_LABELS for suffix in ("", "_detail")),
]


def csv_rows(waves: list[Wave]) -> list[list[Any]]:
    """One row per municipality for the CSV export (lights as green/amber/red)."""
    rows = []
    for wave in waves:
        for m in wave.municipalities:
            rows.append(
                [
                    "" if m.wave is None else m.wave,
                    m.slug,
                    m.name,
                    m.go_live.isoformat() if m.go_live else "",
                    "" if m.weeks_to_go is None else m.weeks_to_go,
                    m.light.value,
                    m.reason,
                    *(value for c in m.checks for value in (c.light.value, c.detail)),
                ]
            )
    return rows

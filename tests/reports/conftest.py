"""A known world for the reports: two municipalities, two vendors, tickets and cases with
fixed timestamps, so every figure can be asserted exactly (tests/reports/test_figures.py
lists what each one must be and why)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from supportdesk.accounts.models import (
    Category,
    Institution,
    InstitutionType,
    Municipality,
    Role,
    System,
    User,
    Vendor,
)
from supportdesk.escalation.models import (
    CaseStatus,
    KnownIssue,
    KnownIssueStatus,
    KnownIssueTicket,
    VendorCase,
)
from supportdesk.extensions import db as _db
from supportdesk.faq.models import Article, Audience, Deflection, TicketShownArticle
from supportdesk.reports.durations import fill_business_times
from supportdesk.tickets.history import fill_from_history
from supportdesk.tickets.models import (
    EntryKind,
    Priority,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
)

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
PERIOD = {"from": "2026-03-02", "to": "2026-03-15"}


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A UTC moment in 2026 (Danish time is UTC+1 until 29 March)."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    alfa: Municipality
    beta: Municipality
    v1: Vendor
    v2: Vendor
    aula: System
    fildeling: System
    school: Institution
    daycare: Institution
    coordinator: User
    superuser: User
    tickets: dict[str, Ticket]
    cases: dict[str, VendorCase]


@pytest.fixture
def world(app, password_hash) -> World:
    s = _db.session
    alfa = Municipality(slug="alfa", name="Alfa Kommune", code="ALF")
    beta = Municipality(slug="beta", name="Beta Kommune", code="BET")
    v1 = Vendor(slug="lev-en", name="Leverandør En")
    v2 = Vendor(slug="lev-to", name="Leverandør To")
    aula = System(slug="aula", name="Aula", vendor=v1)
    login_cat = Category(slug="login", name="Login")
    messages_cat = Category(slug="beskeder", name="Beskeder")
    aula.categories.extend([login_cat, messages_cat])
    fildeling = System(slug="fildeling", name="Fildeling", vendor=v2)
    school = Institution(
        municipality=alfa, number="310001", name="Alfa Skole", type=InstitutionType.skole
    )
    daycare = Institution(
        municipality=alfa, number="310002", name="Alfa Børnehus", type=InstitutionType.dagtilbud
    )
    beta_school = Institution(
        municipality=beta, number="320001", name="Beta Skole", type=InstitutionType.skole
    )
    users = {
        "coordinator": User(role=Role.coordinator, municipality=alfa),
        "superuser": User(role=Role.superuser, municipality=alfa, institution=school),
        "beta_superuser": User(role=Role.superuser, municipality=beta, institution=beta_school),
    }
    for key, user in users.items():
        user.email = f"{key}@rapport.dk"
        user.name = key.title()
        user.password_hash = password_hash
    s.add_all([alfa, beta, v1, v2, aula, fildeling, school, daycare, beta_school, *users.values()])
    s.flush()
    coordinator, superuser = users["coordinator"], users["superuser"]

    def ticket(key, created, system=aula, category=login_cat, institution=school, **kw):
        municipality = kw.pop("municipality", alfa)
        t = Ticket(
            number=f"T-{key}",
            municipality=municipality,
            institution=institution,
            system=system,
            category=category,
            created_by=kw.pop("created_by", superuser),
            subject=kw.pop("subject", f"Henvendelse {key}"),
            created_at=created,
            updated_at=created,
            **kw,
        )
        s.add(t)
        return t

    tickets = {
        "T1": ticket("T1", at(2, 8), status=TicketStatus.resolved, resolved_at=at(2, 10)),
        "T2": ticket(
            "T2", at(2, 14, 30), source=TicketSource.hotline, status=TicketStatus.escalated
        ),
        "T3": ticket(
            "T3",
            at(3, 23, 30),
            category=messages_cat,
            institution=daycare,
            status=TicketStatus.resolved,
            resolved_at=at(4, 9),
        ),
        "T4": ticket(
            "T4",
            at(9, 10),
            system=fildeling,
            category=None,
            status=TicketStatus.closed,
            closed_at=at(10, 8),
        ),
        # Sunday 15 March 23:30 UTC is Monday 16 March in Denmark: after the period
        "T5": ticket("T5", at(15, 23, 30)),
        # Sunday 1 March 23:30 UTC is Monday 2 March in Denmark: inside the period
        "T6": ticket("T6", at(1, 23, 30), institution=None, source=TicketSource.hotline),
        "T7": ticket("T7", at(13, 13), status=TicketStatus.open),
        "T8": ticket(
            "T8",
            at(2, 9),
            municipality=beta,
            institution=beta_school,
            created_by=users["beta_superuser"],
            status=TicketStatus.escalated,
        ),
    }
    s.flush()

    def entry(t, when, author, kind=EntryKind.reply, **kw):
        s.add(
            TicketEntry(
                ticket=t,
                municipality_id=t.municipality_id,
                kind=kind,
                author=author,
                created_at=when,
                body="svar",
                **kw,
            )
        )

    entry(tickets["T1"], at(2, 8, 30), coordinator)
    entry(tickets["T1"], at(2, 8, 15), coordinator, kind=EntryKind.internal_note)
    entry(tickets["T2"], at(3, 7, 30), coordinator)
    entry(tickets["T7"], at(13, 13, 10), superuser)  # the requester's own reply: not a response
    entry(tickets["T7"], at(13, 15), coordinator)
    entry(tickets["T8"], at(2, 9, 5), coordinator)
    for change in ({"from": "new", "to": "resolved"}, {"from": "resolved", "to": "open"}):
        entry(
            tickets["T1"], at(2, 9), coordinator, kind=EntryKind.event, event="status", data=change
        )
    entry(
        tickets["T4"],
        at(9, 11),
        coordinator,
        kind=EntryKind.event,
        event="status",
        data={"from": "open", "to": "waiting"},
    )

    def vcase(key, vendor, municipality, system, created, priority=Priority.normal, **kw):
        c = VendorCase(
            number=f"C-{key}",
            vendor=vendor,
            municipality=municipality,
            system=system,
            subject=f"Sag {key}",
            priority=priority,
            created_at=created,
            updated_at=created,
            **kw,
        )
        s.add(c)
        return c

    cases = {
        "C1": vcase(
            "C1", v1, alfa, aula, at(3, 8),
            first_response_at=at(3, 8, 30), response_due_at=at(3, 15),
            resolved_at=at(4, 9), resolution_due_at=at(10, 15), status=CaseStatus.resolved,
        ),
        "C2": vcase(
            "C2", v1, alfa, aula, at(5, 9), priority=Priority.high,
            first_response_at=at(5, 15), response_due_at=at(5, 13),
            resolution_breached_at=at(10, 12), paused_seconds=3600,
            status=CaseStatus.in_progress,
        ),
        "C3": vcase(
            "C3", v1, beta, aula, at(6, 8), priority=Priority.critical,
            response_breached_at=at(6, 10), resolved_at=at(12, 10),
            resolution_due_at=at(12, 12), status=CaseStatus.resolved,
        ),
        "C4": vcase("C4", v2, alfa, fildeling, at(9, 12)),
        "C5": vcase(
            "C5", v1, alfa, aula, at(20, 9, month=2), resolved_at=at(3, 10),
            status=CaseStatus.resolved,
        ),
    }  # fmt: skip
    s.flush()
    tickets["T2"].vendor_case_id = cases["C1"].id
    tickets["T3"].vendor_case_id = cases["C1"].id
    tickets["T8"].vendor_case_id = cases["C3"].id

    issue = KnownIssue(
        vendor=v1, system=aula, title="Login fejler", status=KnownIssueStatus.monitoring,
        started_at=at(4, 7),
    )  # fmt: skip
    old_issue = KnownIssue(
        vendor=v1, system=aula, title="Gammel fejl", status=KnownIssueStatus.resolved,
        started_at=at(10, 7, month=1), ended_at=at(1, 7, month=2),
    )  # fmt: skip
    s.add_all([issue, old_issue])
    s.flush()
    for key in ("T2", "T3"):
        s.add(
            KnownIssueTicket(known_issue=issue, ticket_id=tickets[key].id, municipality_id=alfa.id)
        )
    s.add(
        KnownIssueTicket(known_issue=old_issue, ticket_id=tickets["T8"].id, municipality_id=beta.id)
    )

    articles = [
        Article(
            slug=f"artikel-{n}",
            title=f"Artikel {n}",
            system=aula,
            category=login_cat,
            audience=Audience.public,
            updated=date(2026, 1, 1),
        )
        for n in (1, 2)
    ]
    s.add_all(articles)
    s.flush()
    for when, municipality in (
        (at(5, 9), alfa),
        (at(14, 9), alfa),
        (at(20, 9), alfa),
        (at(5, 9), beta),
    ):
        s.add(
            Deflection(
                article=articles[0], system_id=aula.id, municipality_id=municipality.id,
                created_at=when,
            )
        )  # fmt: skip
    s.add_all(
        [
            TicketShownArticle(ticket_id=tickets["T1"].id, article_id=articles[0].id),
            TicketShownArticle(ticket_id=tickets["T1"].id, article_id=articles[1].id),
            TicketShownArticle(ticket_id=tickets["T7"].id, article_id=articles[0].id),
        ]
    )
    s.flush()
    # entries written here, not through a reply: filled as the migration fills old rows
    fill_from_history()
    fill_business_times(s)
    s.commit()
    return World(
        alfa, beta, v1, v2, aula, fildeling, school, daycare, coordinator, superuser,
        tickets, cases,
    )  # fmt: skip

"""Demo vendor cases in every state, bundled tickets, known issues and SLA states.

Runs after the organisations (and the tickets step, when there is one). It makes
its own tickets through the ticket service so it does not depend on demo ticket
content; resolved cases have their answer relayed and their tickets resolved. The bulk
tickets whose status says escalated are escalated through the service too. Idempotent:
once any demo case exists, only tickets topped up since are escalated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from supportdesk.accounts.models import Institution, System, User, Vendor
from supportdesk.demo.report_patterns import (
    SPIKE_DESCRIPTION,
    SPIKE_ISSUE,
    SPIKE_SYSTEM,
    spike_window,
)
from supportdesk.errors import DomainError
from supportdesk.escalation import cases, known_issues
from supportdesk.escalation.models import (
    CaseMessage,
    CaseStatus,
    KnownIssue,
    KnownIssueStatus,
    VendorCase,
)
from supportdesk.escalation.services import EscalationRequest, escalate
from supportdesk.escalation.sla import business_seconds_between
from supportdesk.escalation.sla_alerts import check_sla
from supportdesk.escalation.sla_clock import calendar_for, seed_default_sla_targets, sla_targets
from supportdesk.extensions import db, utcnow
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets import surveys
from supportdesk.tickets.models import Priority, Ticket, TicketStatus

HOUR = 3600
SEEDED_ESCALATIONS_MAX = 60
VENDOR_RECEIPT = (
    "Tak, vi har modtaget sagen og undersøger fejlen. Vi vender tilbage med en løsning."
)


@dataclass(frozen=True)
class DemoCase:
    municipality: str
    system: str
    institutions: tuple[str, ...]
    subject: str
    description: str
    summary: str
    priority: Priority
    # Business seconds of the resolution target already used (fraction), for the SLA state.
    used: float
    status: CaseStatus
    vendor_answer: str | None = None
    known_issue: str | None = None


CASES = [
    DemoCase(
        "esbjerg",
        "aula",
        ("561001", "561002", "561101"),
        "Forældre kan ikke logge ind med MitID",
        "Flere forældre får en fejlside efter MitID-login i Aula-appen. Det virker i browseren.",
        "Forældre på tre institutioner får fejl efter MitID-login i appen (iOS og Android). "
        "Browser-login virker. Startede i morges omkring kl. 7.",
        Priority.high,
        0.85,
        CaseStatus.in_progress,
        "Vi kan genskabe fejlen og har eskaleret til vores app-team. Vi vender tilbage i dag.",
        "Login via MitID i Aula-appen fejler for nogle forældre",
    ),
    DemoCase(
        "esbjerg",
        "laeringsplatform",
        ("561003",),
        "Elevplaner kan ikke gemmes",
        "Lærerne får 'Der opstod en fejl' når de gemmer elevplaner i 5. klasse.",
        "Elevplaner for 5.a og 5.b kan ikke gemmes; fejlen kommer ved klik på Gem.",
        Priority.normal,
        0.1,
        CaseStatus.new,
    ),
    DemoCase(
        "aalborg",
        "aula",
        ("851001", "851101"),
        "Beskeder forsvinder i appen",
        "Sendte beskeder vises ikke i indbakken i appen, men kan ses på web.",
        "Beskeder sendt fra web vises ikke i appens indbakke for personale på to institutioner.",
        Priority.normal,
        0.3,
        CaseStatus.waiting_on_municipality,
        "Kan I oplyse hvilke app-versioner personalet bruger, og om de har genstartet appen?",
    ),
    DemoCase(
        "aalborg",
        "brugeradministration",
        ("851002", "851003", "851004"),
        "Forældrerelationer mangler efter import",
        "Efter nattens import fra elevadministrationen mangler mange forældre adgang.",
        "Forældrerelationer for elever på tre skoler mangler efter import natten til i dag.",
        Priority.high,
        1.25,
        CaseStatus.in_progress,
        "Vi undersøger importloggen for jeres kommune.",
    ),
    DemoCase(
        "esbjerg",
        "fildeling",
        ("561004", "561201"),
        "Delte mapper er tomme for elever",
        "Eleverne kan se de delte mapper, men de er tomme.",
        "Delte mapper vises tomme for elever på to institutioner siden fredag.",
        Priority.normal,
        0.5,
        CaseStatus.resolved,
        "Rettigheds-synkroniseringen var gået i stå. Den er genstartet, og mapperne er synlige "
        "igen.",
    ),
    DemoCase(
        "aalborg",
        "laeringsplatform",
        ("851005",),
        "Forløb blev ikke flyttet ved skoleårsskift",
        "Ved skoleårsskiftet blev forløbene ikke flyttet med til de nye klasser.",
        "Forløb for 3. årgang blev ikke flyttet ved skoleårsskiftet.",
        Priority.low,
        0.2,
        CaseStatus.closed,
        "Forløbene er flyttet manuelt. Fejlen er rettet i version 24.3.",
    ),
    DemoCase(
        "esbjerg",
        "aula",
        ("561002", "561003"),
        "Fravær registreres ikke fra komme/gå",
        "Børn, der er tjekket ind på komme/gå-skærmen, står som fraværende i fraværslisten.",
        "Fravær fra komme/gå overføres ikke til fraværslisten på to skoler siden mandag.",
        Priority.high,
        0.7,
        CaseStatus.resolved,
        "Overførslen fra komme/gå stod i kø efter en opdatering. Den er kørt igen, og fraværet "
        "er nu korrekt.",
    ),
    DemoCase(
        "esbjerg",
        "brugeradministration",
        ("561001", "561101", "561201"),
        "Nye medarbejdere får ikke adgang",
        "Medarbejdere oprettet i denne uge kan ikke logge ind.",
        "Medarbejdere oprettet efter mandag får ingen brugerkonto; det gælder tre institutioner.",
        Priority.normal,
        0.9,
        CaseStatus.closed,
        "Oprettelsesjobbet fejlede på grund af et udløbet certifikat. Det er fornyet, og "
        "brugerne er oprettet.",
    ),
    DemoCase(
        "aalborg",
        "aula",
        ("851001", "851002"),
        "Billeder kan ikke uploades i galleriet",
        "Upload af billeder fra appen stopper ved 99 %.",
        "Upload af billeder fra appen til galleriet fejler for personale på to institutioner.",
        Priority.normal,
        0.6,
        CaseStatus.resolved,
        "En fejl i app-version 3.12 er rettet i 3.12.1. Opdatér appen, så virker upload igen.",
    ),
]

KNOWN_ISSUES = [
    # system, title, description, status, hours since start
    (
        "aula",
        "Login via MitID i Aula-appen fejler for nogle forældre",
        "Nogle forældre ser en fejlside efter MitID-login i appen. Log ind via browseren "
        "som midlertidig løsning.",
        KnownIssueStatus.identified,
        5,
    ),
    (
        "laeringsplatform",
        "Langsom indlæsning af årsplaner",
        "Årsplaner kan tage op til et minut at åbne. Vi overvåger efter en rettelse.",
        KnownIssueStatus.monitoring,
        26,
    ),
    (
        "aula",
        "Kalenderinvitationer blev sendt dobbelt",
        "Invitationer blev sendt to gange i et par timer. Rettet.",
        KnownIssueStatus.resolved,
        72,
    ),
    # the morning login failure the reports show as a spike (demo/report_patterns.py)
    (
        SPIKE_SYSTEM,
        SPIKE_ISSUE,
        SPIKE_DESCRIPTION,
        KnownIssueStatus.resolved,
        None,  # hours: from the spike's window
    ),
]


def _escalate_seeded(now: datetime) -> int:
    """The bulk-seeded tickets whose status says escalated go to their vendor for real (a
    ticket is escalated by a case, never by its status alone): per municipality and vendor
    the coordinator opens one case and bundles the others into it, and the vendor answers.
    The most recent SEEDED_ESCALATIONS_MAX only, so a large seed stays fast."""
    tickets = db.session.scalars(
        select(Ticket)
        .where(Ticket.status == TicketStatus.escalated, Ticket.vendor_case_id.is_(None))
        .order_by(Ticket.created_at.desc())
        .limit(SEEDED_ESCALATIONS_MAX)
    ).all()
    opened: dict[tuple[int, int], VendorCase] = {}
    people: dict[tuple[int, int], tuple[User | None, User | None]] = {}
    done = 0
    for ticket in sorted(tickets, key=lambda t: t.created_at):
        vendor = ticket.system.vendor
        key = (ticket.municipality_id, vendor.id)
        if key not in people:  # looked up once per municipality and vendor, not per ticket
            people[key] = (
                _one(User, email=f"koordinator1@{ticket.municipality.slug}.sd-demo.dk"),
                _one(User, email=f"agent@{vendor.slug}.sd-demo.dk"),
            )
        coordinator, agent = people[key]
        if coordinator is None:
            continue
        joined = opened.get(key)
        request = EscalationRequest(
            ticket.subject,
            case_number=joined.number if joined is not None else None,
            share_description=True,
            priority=ticket.priority,
        )
        when = ticket.updated_at  # the seeded moment it went to the vendor
        try:
            with db.session.begin_nested():
                case = escalate(coordinator, ticket, request, now=when)
        except DomainError:  # not entitled, or the case is closed: leave the ticket
            continue
        done += 1
        if joined is None:
            opened[key] = case
            if agent is not None:
                answered = min(when + timedelta(hours=2), now)
                cases.post_message(agent, case, VENDOR_RECEIPT, now=answered)
    return done


def _answer_and_resolve(coordinator: User, case: VendorCase, answer: CaseMessage | None) -> None:
    """The coordinator passes the vendor's answer on to the reporters, resolves the linked
    tickets, and the first reporter answers "Fik du hjælp?" (the reports' escalated and
    resolved tickets, and their satisfaction)."""
    if answer is not None and not case.municipality.auto_relay_answers:
        cases.relay(coordinator, case, answer.body, message_id=answer.id)
    resolved = cases.resolve_linked_tickets(coordinator, case)
    if resolved:
        ticket = resolved[0]
        surveys.answer(ticket.created_by, ticket, 4, "Leverandørens svar løste problemet.")


def _ago(calendar, business_seconds: float, now: datetime) -> datetime:
    """The moment that lies `business_seconds` of the calendar's working time before now."""
    start = now
    for _ in range(24 * 120):
        if business_seconds_between(calendar, start, now) >= business_seconds:
            return start
        start -= timedelta(minutes=30)
    return start


def _one(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> None:
    now = utcnow()
    if db.session.scalar(select(VendorCase.id).limit(1)) is not None:
        # tickets topped up since (demo seed --tickets N) still go to their vendor
        escalated = _escalate_seeded(now)
        check_sla(now=now)
        echo(f"Vendor cases: already seeded, {escalated} seeded tickets escalated")
        return
    for vendor in db.session.scalars(select(Vendor)):
        seed_default_sla_targets(vendor)
    issues: dict[str, KnownIssue] = {}
    for system_slug, title, description, status, hours in KNOWN_ISSUES:
        if hours is None:
            hours = (now - spike_window(now)[0]).total_seconds() / 3600
        system = _one(System, slug=system_slug)
        editor = _one(User, email=f"redaktor@{system.vendor.slug}.sd-demo.dk")
        if system is None or editor is None:
            continue
        issues[title] = known_issues.save_known_issue(
            editor,
            None,
            system=system,
            title=title,
            description=description,
            status=KnownIssueStatus.investigating,
            started_at=now - timedelta(hours=hours),
            now=now - timedelta(hours=hours),
        )
        if status != KnownIssueStatus.investigating:
            known_issues.save_known_issue(
                editor,
                issues[title],
                system=system,
                title=title,
                description=description,
                status=status,
                started_at=issues[title].started_at,
                now=now - timedelta(hours=max(hours - 2, 0)),
            )
    made = 0
    for demo in CASES:
        made += _seed_case(demo, issues, now)
    escalated = _escalate_seeded(now)
    check_sla(now=now)
    echo(
        f"Vendor cases: {made} cases, {escalated} seeded tickets escalated, "
        f"{len(issues)} known issues"
    )


def _seed_case(demo: DemoCase, issues: dict[str, KnownIssue], now: datetime) -> int:
    system = _one(System, slug=demo.system)
    if system is None:
        return 0
    vendor = system.vendor
    coordinator = _one(User, email=f"koordinator1@{demo.municipality}.sd-demo.dk")
    agent = _one(User, email=f"agent@{vendor.slug}.sd-demo.dk")
    if coordinator is None or agent is None:
        return 0
    calendar = calendar_for(vendor)
    _response, resolution = sla_targets(vendor.id, demo.priority)
    start = _ago(calendar, resolution * demo.used, now)
    tickets: list[Ticket] = []
    for number in demo.institutions:
        institution = _one(Institution, number=number)
        creator = _one(User, email=f"superbruger.{number}@{demo.municipality}.sd-demo.dk")
        if institution is None or creator is None:
            continue
        new = ticket_services.NewTicket(
            system=system,
            category=system.categories[0] if system.categories else None,
            subject=demo.subject,
            description=demo.description,
            priority=demo.priority,
            institution=institution,
        )
        ticket = ticket_services.create_ticket(creator, new)
        ticket.created_at = start - timedelta(hours=1)
        tickets.append(ticket)
    if not tickets:
        return 0
    db.session.flush()
    first = EscalationRequest(demo.summary, share_description=True, priority=demo.priority)
    case = escalate(coordinator, tickets[0], first, now=start)
    for ticket in tickets[1:]:
        also = EscalationRequest(
            f"Samme fejl på {ticket.institution.name}.",
            case_number=case.number,
            share_description=True,
        )
        escalate(coordinator, ticket, also, now=start + timedelta(minutes=10))
    cases.assign_case(agent, case, agent)
    step = (now - start) / 4
    answer = None
    if demo.vendor_answer:
        answer = cases.post_message(agent, case, demo.vendor_answer, now=start + step)
    if demo.status == CaseStatus.waiting_on_municipality:
        cases.change_case_status(agent, case, demo.status, now=start + step * 2)
    elif demo.status in (CaseStatus.resolved, CaseStatus.closed):
        cases.change_case_status(agent, case, CaseStatus.resolved, now=start + step * 2)
        _answer_and_resolve(coordinator, case, answer)
        if demo.status == CaseStatus.closed:
            cases.change_case_status(coordinator, case, CaseStatus.closed, now=start + step * 3)
    elif demo.status == CaseStatus.in_progress and case.status == CaseStatus.new:
        cases.change_case_status(agent, case, demo.status, now=start + step)
    if demo.known_issue and demo.known_issue in issues:
        issue = issues[demo.known_issue]
        known_issues.link_case_to_known_issue(agent, case, issue)
        for ticket in tickets:
            known_issues.link_ticket_to_known_issue(coordinator, ticket, issue)
    db.session.flush()
    return 1

"""Two municipalities and two vendors with one escalated ticket that shows everything a
cached page can show (entries, attachment, case, vendor answer, known issue, shares)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from supportdesk.accounts.models import (
    Category,
    Institution,
    Municipality,
    Role,
    System,
    User,
    Vendor,
)
from supportdesk.escalation import services as escalation_services
from supportdesk.escalation.models import (
    CaseMessage,
    KnownIssue,
    KnownIssueTicket,
    SharedItem,
    ShareKind,
    SlaTarget,
    VendorCase,
)
from supportdesk.extensions import db
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import Attachment, Priority, Queue, Ticket, TicketEntry
from tests.factories import file_ticket


@dataclass
class Town:
    """`b` is the municipality whose pages are looked at; `a` is somewhere else."""

    a: Municipality
    b: Municipality
    vendor: Vendor  # serves `system`, the ticket's
    other_vendor: Vendor
    system: System
    category: Category
    other_system: System
    school: Institution  # in b
    a_school: Institution
    queue: Queue  # in b
    a_queue: Queue
    superuser: User  # in b
    coordinator: User  # in b, entitled for `vendor`, the ticket's assignee
    a_coordinator: User
    agent: User  # `vendor`'s, the case's assignee
    other_agent: User
    ticket: Ticket
    entry: TicketEntry
    attachment: Attachment
    case: VendorCase
    message: CaseMessage
    share: SharedItem
    issue: KnownIssue
    issue_link: KnownIssueTicket
    sla_target: SlaTarget


@pytest.fixture
def town(make_municipality, make_vendor, make_system, make_institution, make_user) -> Town:
    a, b = make_municipality("aalborg"), make_municipality("esbjerg")
    vendor, other_vendor = make_vendor("netcompany"), make_vendor("meebook")
    system = make_system("aula", vendor=vendor)
    other_system = make_system("laeringsplatform", vendor=other_vendor, categories=("grupper",))
    school, a_school = make_institution(b), make_institution(a)
    queue = Queue(municipality=b, slug="skole-it", name="Skole-IT")
    a_queue = Queue(municipality=a, slug="hotline", name="Hotline")
    db.session.add_all([queue, a_queue])
    superuser = make_user(Role.superuser, institution=school)
    coordinator = make_user(Role.coordinator, municipality=b, entitled=[vendor])
    a_coordinator = make_user(Role.coordinator, municipality=a, entitled=[vendor])
    agent = make_user(Role.vendor_agent, vendor=vendor)
    other_agent = make_user(Role.vendor_agent, vendor=other_vendor)

    ticket = file_ticket(superuser, system)
    # a second ticket: a row the first one's keys can point at instead
    ticket_services.create_ticket(
        superuser,
        ticket_services.NewTicket(
            system=other_system,
            category=None,
            subject="Kalenderen er tom",
            description="Ingen aftaler.",
            institution=school,
        ),
    )
    db.session.flush()
    ticket.assignee, ticket.queue = coordinator, queue
    entry = ticket_services.add_entry(superuser, ticket, "Det virker stadig ikke")
    db.session.flush()
    attachment = Attachment(
        ticket=ticket,
        entry=entry,
        municipality_id=b.id,
        uploaded_by=superuser,
        filename="skærm.png",
        storage_name="cache-town-attachment",
        content_type="image/png",
        size=10,
    )
    issue = KnownIssue(vendor=vendor, system=system, title="Login driller")
    sla_target = SlaTarget(
        vendor=vendor, priority=Priority.normal, first_response_minutes=60, resolution_minutes=600
    )
    other_issue = KnownIssue(vendor=other_vendor, system=other_system, title="Kalender nede")
    db.session.add_all([attachment, issue, other_issue, sla_target])
    db.session.commit()
    case = escalation_services.escalate(
        coordinator, ticket, escalation_services.EscalationRequest("Mange kan ikke logge ind.")
    )
    case.assignee = agent
    with db.session.no_autoflush:
        message = CaseMessage(case=case, author=agent, from_vendor=True, body="Fejlen er fundet")
        share = SharedItem(
            case=case, municipality_id=b.id, ticket=ticket, kind=ShareKind.entry, entry=entry
        )
        issue_link = KnownIssueTicket(
            known_issue=issue, ticket=ticket, municipality_id=b.id, linked_by=coordinator
        )
        db.session.add_all([message, share, issue_link])
    db.session.commit()
    return Town(
        a=a,
        b=b,
        vendor=vendor,
        other_vendor=other_vendor,
        system=system,
        category=system.categories[0],
        other_system=other_system,
        school=school,
        a_school=a_school,
        queue=queue,
        a_queue=a_queue,
        superuser=superuser,
        coordinator=coordinator,
        a_coordinator=a_coordinator,
        agent=agent,
        other_agent=other_agent,
        ticket=ticket,
        entry=entry,
        attachment=attachment,
        case=case,
        message=message,
        share=share,
        issue=issue,
        issue_link=issue_link,
        sla_target=sla_target,
    )

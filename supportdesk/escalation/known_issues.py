"""Known issues (kendte fejl / driftsstatus): a vendor's incidents, and what links to them.

Rule 7: a vendor posts an incident for a system; superusers see it while they write a
ticket about that system; tickets and cases link to it; resolving it notifies everyone
linked. Services change and flush; the caller commits.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import selectinload

from supportdesk import events, policy
from supportdesk.accounts.models import Role, System, User
from supportdesk.errors import Forbidden, NotFound, ValidationFailed
from supportdesk.escalation.models import (
    KnownIssue,
    KnownIssueStatus,
    KnownIssueTicket,
    VendorCase,
)
from supportdesk.extensions import db, utcnow
from supportdesk.notifications import caller_email
from supportdesk.notifications import services as notifications
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets import history as ticket_history
from supportdesk.tickets.models import Ticket

TITLE_MAX = 200


def active_known_issues(system_id: int | None = None) -> list[KnownIssue]:
    query = (
        select(KnownIssue)
        .where(KnownIssue.status != KnownIssueStatus.resolved)
        .options(selectinload(KnownIssue.system), selectinload(KnownIssue.vendor))
        .order_by(KnownIssue.started_at.desc(), KnownIssue.id.desc())
    )
    if system_id is not None:
        query = query.where(KnownIssue.system_id == system_id)
    return list(db.session.scalars(query))


# The ticket page's two statements, built once (parameters, not values): keying a
# statement built anew on every first view cost more than running it.
_FOR_TICKET = (
    select(KnownIssue)
    .join(KnownIssueTicket, KnownIssueTicket.known_issue_id == KnownIssue.id)
    .where(KnownIssueTicket.ticket_id == bindparam("ticket_id"))
)
_ACTIVE_CHOICES = (
    select(KnownIssue.id, KnownIssue.title)
    .where(
        KnownIssue.system_id == bindparam("system_id"),
        KnownIssue.status != KnownIssueStatus.resolved,
    )
    .order_by(KnownIssue.started_at.desc(), KnownIssue.id.desc())
)


def active_known_issue_choices(system_id: int) -> list[tuple[int, str]]:
    """Id and title of the system's active issues: one narrow query for every ticket page.

    The ticket page only needs the choices of its link form; loading whole issues with
    their system and vendor cost ORM work on every page view.
    """
    rows = db.session.execute(_ACTIVE_CHOICES, {"system_id": system_id})
    return [(issue_id, title) for issue_id, title in rows]


def recent_known_issues(user: User, limit: int = 50) -> list[KnownIssue]:
    """The latest, active and resolved, of the issues the user's list shows."""
    query = (
        policy.known_issues_listed_for(user)
        .options(selectinload(KnownIssue.system), selectinload(KnownIssue.vendor))
        .order_by(KnownIssue.started_at.desc(), KnownIssue.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))


def save_known_issue(
    actor: User,
    issue: KnownIssue | None,
    *,
    system: System | None,
    title: str,
    description: str,
    status: KnownIssueStatus | str,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    now: datetime | None = None,
) -> KnownIssue:
    """Post or update an incident; resolving it tells everyone linked (rule 7)."""
    now = now if now is not None else utcnow()
    errors: dict[str, str] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = str(_l("Write a title."))
    elif len(title) > TITLE_MAX:
        errors["title"] = str(_l("The title may be at most 200 characters."))
    if system is None:
        errors["system"] = str(_l("Choose a system."))
    try:
        status = KnownIssueStatus(status)
    except ValueError:
        errors["status"] = str(_l("Unknown status."))
    if started_at and ended_at and ended_at < started_at:
        errors["ended_at"] = str(_l("The end must be after the start."))
    if errors:
        raise ValidationFailed(fields=errors)
    assert system is not None  # noqa: S101 — narrowed above
    if not policy.can_manage_known_issues(actor, system.vendor_id):
        raise NotFound() if issue is not None else Forbidden()
    was_active = issue is None or issue.is_active
    if issue is None:
        issue = KnownIssue(created_by=actor, created_at=now, vendor_id=system.vendor_id)
        db.session.add(issue)
    issue.system = system
    issue.vendor_id = system.vendor_id
    issue.title = title
    issue.description = (description or "").strip()
    issue.status = KnownIssueStatus(status)
    issue.started_at = started_at or issue.started_at or now
    if issue.status == KnownIssueStatus.resolved:
        issue.ended_at = ended_at or issue.ended_at or now
    else:
        issue.ended_at = ended_at
    issue.updated_at = now
    db.session.flush()
    if was_active and issue.status == KnownIssueStatus.resolved:
        _announce_known_issue_resolved(actor, issue)
    return issue


def linked_tickets(issue: KnownIssue) -> list[Ticket]:
    """Tickets linked directly or through a linked case."""
    direct = select(KnownIssueTicket.ticket_id).where(KnownIssueTicket.known_issue_id == issue.id)
    via_case = (
        select(Ticket.id)
        .join(VendorCase, VendorCase.id == Ticket.vendor_case_id)
        .where(VendorCase.known_issue_id == issue.id)
    )
    return list(
        db.session.scalars(
            select(Ticket)
            .where(or_(Ticket.id.in_(direct), Ticket.id.in_(via_case)))
            .options(selectinload(Ticket.assignee), selectinload(Ticket.created_by))
            .order_by(Ticket.id)
        )
    )


def _announce_known_issue_resolved(actor: User, issue: KnownIssue) -> None:
    tickets = linked_tickets(issue)
    by_municipality: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        ticket_history.add_system_event(
            ticket,
            actor,
            "known_issue_resolved",
            {"known_issue": issue.id, "title": issue.title},
        )
        by_municipality.setdefault(ticket.municipality_id, []).append(ticket)
    for municipality_id, group in by_municipality.items():
        coordinators = db.session.scalars(
            policy.entitled_coordinators(issue.vendor_id, municipality_id)
        )
        assignees = [
            t.assignee
            for t in group
            if t.assignee is not None and t.assignee.role == Role.coordinator
        ]
        staff = [*assignees, *coordinators]
        notifications.notify(
            staff,
            NotificationEvent.known_issue_resolved,
            # One ticket: straight to it; several: the municipality's ticket list.
            url=f"/tickets/{group[0].number}" if len(group) == 1 else "/tickets",
            context={"title": issue.title, "system": issue.system.name, "count": len(group)},
            actor=actor,
        )
        _tell_reporters(actor, issue, group, {u.id for u in staff})


def _tell_reporters(actor: User, issue: KnownIssue, tickets: list[Ticket], told: set[int]) -> None:
    """Every reporter of a linked ticket hears of it, pointed at their own ticket."""
    for ticket in tickets:
        # a caller the hotline logged with an address is a reporter too (their own e-mail)
        caller_email.queue(
            ticket.requester_email,
            ticket.requester_name,
            caller_email.FIXED,
            number=ticket.number,
            subject=ticket.subject,
            answer=issue.title,
        )
        reporter = ticket.created_by
        if reporter is None or reporter.id in told:
            continue
        told.add(reporter.id)
        notifications.notify(
            [reporter],
            NotificationEvent.known_issue_resolved,
            url=f"/tickets/{ticket.number}",
            context={
                "title": issue.title,
                "system": issue.system.name,
                "ticket": ticket.number,
                "number": ticket.number,
                "subject": ticket.subject,
            },
            actor=actor,
        )


@events.ticket_created.connect
def _link_new_call(ticket: Ticket, actor: User, known_issue: int | None = None, **_kw) -> None:
    """The hotline tied the call it logged to a known issue (events.ticket_created)."""
    if known_issue is None:
        return
    issue = db.session.get(KnownIssue, known_issue)
    if issue is None or not issue.is_active:
        raise ValidationFailed(fields={"known_issue": str(_l("Choose an active known issue."))})
    link_ticket_to_known_issue(actor, ticket, issue)


def link_ticket_to_known_issue(actor: User, ticket: Ticket, issue: KnownIssue) -> bool:
    """Mark a ticket as the known issue; returns False when the link already existed."""
    if not policy.can_link_call_to_known_issue(actor, ticket):
        raise Forbidden()
    if issue.system_id != ticket.system_id:
        raise ValidationFailed(
            fields={"known_issue": str(_l("The known issue is about another system."))}
        )
    exists = db.session.scalar(
        select(KnownIssueTicket.id).where(
            KnownIssueTicket.known_issue_id == issue.id, KnownIssueTicket.ticket_id == ticket.id
        )
    )
    if exists is not None:
        return False
    db.session.add(
        KnownIssueTicket(
            known_issue=issue,
            ticket=ticket,
            municipality_id=ticket.municipality_id,
            linked_by=actor,
        )
    )
    ticket_history.add_system_event(
        ticket,
        actor,
        "known_issue",
        {"known_issue": issue.id, "title": issue.title},
    )
    return True


ticket_history.describe_as("known_issue", _l("Linked to the known issue: %(title)s"))
ticket_history.describe_as("known_issue_resolved", _l("The known issue is resolved: %(title)s"))


def link_case_to_known_issue(actor: User, case: VendorCase, issue: KnownIssue | None) -> None:
    if not policy.can_link_case_known_issue(actor, case):
        raise Forbidden()
    if issue is not None and issue.vendor_id != case.vendor_id:
        raise ValidationFailed(
            fields={"known_issue": str(_l("The known issue belongs to another vendor."))}
        )
    case.known_issue = issue
    case.updated_at = utcnow()
    db.session.flush()


def known_issues_for_ticket(ticket: Ticket) -> list[KnownIssue]:
    return list(db.session.scalars(_FOR_TICKET, {"ticket_id": ticket.id}))

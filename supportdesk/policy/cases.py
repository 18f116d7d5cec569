"""Vendor cases and known issues: the two sides of an escalation."""

from __future__ import annotations

from typing import NoReturn

from sqlalchemy import Select, false, select

from supportdesk.accounts.models import Role, SupportEntitlement, System, User, Vendor
from supportdesk.errors import Forbidden, NotEntitled, NotFound
from supportdesk.escalation.models import (
    OPEN_CASE_STATUSES,
    CaseStatus,
    KnownIssue,
    VendorCase,
    next_case_statuses,
)
from supportdesk.extensions import db
from supportdesk.policy.organisations import is_entitled, is_municipal, is_vendor_staff
from supportdesk.policy.tickets import is_own_call, is_ticket_staff
from supportdesk.tickets.models import Ticket


def can_escalate(user: User, vendor: Vendor | int) -> bool:
    """Only a coordinator entitled for the vendor talks to its servicedesk (rule 3)."""
    return is_entitled(user, vendor)


def require_escalate(user: User, ticket: Ticket) -> None:
    """Another municipality's ticket is not found; seeing a ticket without the entitlement
    for its system's vendor is a visible 'no' (403 not entitled)."""
    if user.municipality_id != ticket.municipality_id:
        raise NotFound()
    if not can_escalate(user, ticket.system.vendor):
        raise NotEntitled()


def can_follow_escalation(user: User, ticket: Ticket) -> bool:
    """Ticket staff of the ticket's municipality see its escalation (vendor, case, SLA)."""
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def entitled_coordinators(vendor_id: int, municipality_id: int) -> Select[tuple[User]]:
    """The municipality's active coordinators entitled for the vendor: who speaks to it."""
    return (
        select(User)
        .join(SupportEntitlement, SupportEntitlement.user_id == User.id)
        .where(
            SupportEntitlement.vendor_id == vendor_id,
            SupportEntitlement.municipality_id == municipality_id,
            User.active.is_(True),
        )
    )


def is_vendor_agent(user: User, vendor_id: int | None = None) -> bool:
    return (
        user.is_authenticated
        and user.role == Role.vendor_agent
        and user.vendor_id is not None
        and (vendor_id is None or user.vendor_id == vendor_id)
    )


def cases_visible_to(user: User) -> Select[tuple[VendorCase]]:
    """Vendor agents see their vendor's cases from every municipality; coordinators and
    municipal admins their own municipality's. Nobody else sees cases."""
    query = select(VendorCase)
    if is_vendor_agent(user):
        return query.where(VendorCase.vendor_id == user.vendor_id)
    if is_ticket_staff(user) and user.municipality_id is not None:
        return query.where(VendorCase.municipality_id == user.municipality_id)
    return query.where(false())


def get_case(user: User, number: str) -> VendorCase:
    case = db.session.scalar(cases_visible_to(user).where(VendorCase.number == number))
    if case is None:
        raise NotFound()
    return case


def cases_joinable_by(user: User, ticket: Ticket) -> Select[tuple[VendorCase]]:
    """Open cases the ticket may join (can_join_case), among those the user sees."""
    return cases_visible_to(user).where(
        VendorCase.municipality_id == ticket.municipality_id,
        VendorCase.vendor_id == ticket.system.vendor_id,
        VendorCase.status.in_(list(OPEN_CASE_STATUSES)),
    )


def can_join_case(ticket: Ticket, case: VendorCase) -> bool:
    """A ticket joins only an open case of its own municipality and its system's vendor."""
    return (
        case.municipality_id == ticket.municipality_id
        and case.vendor_id == ticket.system.vendor_id
        and case.status.is_open
    )


def can_see_cases(user: User) -> bool:
    return is_vendor_agent(user) or (is_ticket_staff(user) and user.municipality_id is not None)


def is_case_vendor_side(user: User, case: VendorCase) -> bool:
    return is_vendor_agent(user, case.vendor_id)


def is_case_municipal_side(user: User, case: VendorCase) -> bool:
    """An entitled coordinator of the case's municipality speaks for the municipality."""
    return user.municipality_id == case.municipality_id and is_entitled(user, case.vendor_id)


def can_see_case_tickets(user: User, case: VendorCase) -> bool:
    """The municipality's ticket staff see the linked tickets' numbers, subjects and shares'
    tickets; the vendor sees shared snapshots and masked subjects only."""
    return is_ticket_staff(user) and user.municipality_id == case.municipality_id


def can_message_case(user: User, case: VendorCase) -> bool:
    if case.status == CaseStatus.closed:  # a resolved case can still be discussed (and reopened)
        return False
    return is_case_vendor_side(user, case) or is_case_municipal_side(user, case)


def refuse_case_outsider(user: User) -> NoReturn:
    """Someone who sees a case but may not act in it: municipal staff lack the vendor's
    entitlement (403 not entitled), anyone else is simply forbidden."""
    raise NotEntitled() if is_municipal(user) else Forbidden()


def is_case_party(user: User, case: VendorCase) -> bool:
    """The vendor's agents and the municipality's entitled coordinators act in a case."""
    return can_manage_case(user, case) or is_case_municipal_side(user, case)


def require_case_party(user: User, case: VendorCase) -> None:
    if not is_case_party(user, case):
        refuse_case_outsider(user)


def allowed_case_statuses(user: User, case: VendorCase) -> list[CaseStatus]:
    """The statuses this user may move the case to (the state machine of each side)."""
    if can_manage_case(user, case):
        return next_case_statuses(case.status, vendor_side=True)
    if is_case_municipal_side(user, case):
        return next_case_statuses(case.status, vendor_side=False)
    return []


def can_manage_case(user: User, case: VendorCase) -> bool:
    """Status, assignment and the vendor's own reference: the vendor's agents."""
    return is_case_vendor_side(user, case)


def can_relay_case(user: User, case: VendorCase) -> bool:
    """Relaying answers to tickets and resolving them: the municipality's entitled side."""
    return is_case_municipal_side(user, case)


def vendor_agents(vendor_id: int | None) -> Select[tuple[User]]:
    """The vendor's active servicedesk agents."""
    return (
        select(User)
        .where(
            User.vendor_id == vendor_id,
            User.role == Role.vendor_agent,
            User.active.is_(True),
        )
        .order_by(User.name)
    )


def case_agents(case: VendorCase) -> Select[tuple[User]]:
    """Whom a case can be assigned to: the vendor's active agents."""
    return vendor_agents(case.vendor_id)


def systems_managed_by(user: User) -> Select[tuple[System]]:
    """The systems of the vendor a vendor user works for (nothing for anyone else)."""
    if not (is_vendor_staff(user) and user.vendor_id is not None):
        return select(System).where(false())
    return select(System).where(System.vendor_id == user.vendor_id).order_by(System.name)


def can_view_known_issues(user: User) -> bool:
    """Municipal staff read the known issues; vendor staff also publish them."""
    return can_manage_known_issues(user) or is_municipal(user)


def can_manage_known_issues(user: User, vendor_id: int | None = None) -> bool:
    """Vendor agents and FAQ editors publish incidents for their own vendor's systems."""
    return (
        user.is_authenticated
        and user.role in (Role.vendor_agent, Role.vendor_editor)
        and user.vendor_id is not None
        and (vendor_id is None or user.vendor_id == vendor_id)
    )


def known_issues_listed_for(user: User) -> Select[tuple[KnownIssue]]:
    """Known issues are public (the status page); vendor staff list only their vendor's."""
    query = select(KnownIssue)
    if is_vendor_staff(user):
        return query.where(KnownIssue.vendor_id == user.vendor_id)
    return query


def can_link_case_known_issue(user: User, case: VendorCase) -> bool:
    """Either side of the case ties it to one of the vendor's known issues."""
    return is_case_party(user, case)


def can_link_known_issue(user: User, ticket: Ticket) -> bool:
    """Ticket staff tie a ticket to a known issue ("Det er den kendte fejl")."""
    return is_ticket_staff(user) and user.municipality_id == ticket.municipality_id


def can_link_call_to_known_issue(user: User, ticket: Ticket) -> bool:
    """The hotline ties the call it just logged to a known issue; ticket staff any ticket."""
    return can_link_known_issue(user, ticket) or is_own_call(user, ticket)


def get_managed_known_issue(user: User, issue_id: int) -> KnownIssue:
    issue = db.session.get(KnownIssue, issue_id)
    if issue is None or not can_manage_known_issues(user, issue.vendor_id):
        raise NotFound()
    return issue

"""Trust: two-factor sign-in, audit logs and personal data."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, false, select

from supportdesk.accounts.models import Role, User
from supportdesk.audit.models import SecurityEvent
from supportdesk.errors import NotFound
from supportdesk.escalation.models import SensitiveDataConfirmation
from supportdesk.extensions import db
from supportdesk.policy.organisations import can_administer, can_manage_municipality, is_admin
from supportdesk.sensitive import has_cpr
from supportdesk.tickets.models import Ticket, TicketView

TWO_FACTOR_ROLES = frozenset(
    {Role.vendor_agent, Role.vendor_editor, Role.municipal_admin, Role.admin}
)


def two_factor_required(user: User) -> bool:
    """Admins and vendor staff always; coordinators where their municipality asks for it."""
    if not user.is_authenticated:
        return False
    if user.role in TWO_FACTOR_ROLES:
        return True
    return (
        user.role == Role.coordinator
        and user.municipality is not None
        and user.municipality.require_2fa_coordinators
    )


def must_set_up_two_factor(user: User) -> bool:
    """Such a user may reach only the set-up page and sign-out until they have done it."""
    return two_factor_required(user) and not user.has_two_factor


def can_set_two_factor_policy(user: User, municipality_id: int | None) -> bool:
    return can_manage_municipality(user, municipality_id)


def can_reset_two_factor(actor: User, target: User) -> bool:
    """Support for a lost phone: an administrator of the user's municipality (vendor staff
    and admins: the system admin), never for oneself here."""
    return actor.id != target.id and can_manage_municipality(actor, target.municipality_id)


def can_view_audit_logs(user: User) -> bool:
    """The security log and the access log: municipal admins (own municipality), admin."""
    return can_administer(user)


def _audit_rows(user: User, query: Select, municipality_column) -> Select:
    """A log's rows: a municipal admin's own municipality, everything for the admin."""
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.municipal_admin and user.municipality_id:
        return query.where(municipality_column == user.municipality_id)
    return query.where(false())


def security_events_visible_to(user: User) -> Select[tuple[SecurityEvent]]:
    """A municipal admin sees the events of the municipality's accounts; admin all."""
    return _audit_rows(user, select(SecurityEvent), SecurityEvent.municipality_id)


def ticket_views_visible_to(user: User) -> Select[tuple[TicketView]]:
    """Who looked at which ticket: the municipality's admins for its tickets; admin all."""
    return _audit_rows(user, select(TicketView), TicketView.municipality_id)


def sensitive_confirmations_visible_to(user: User) -> Select[tuple[SensitiveDataConfirmation]]:
    """Who let CPR numbers reach a vendor: the same readers as the access log."""
    return _audit_rows(
        user, select(SensitiveDataConfirmation), SensitiveDataConfirmation.municipality_id
    )


def audit_ticket(user: User, number: str) -> Ticket:
    """A ticket whose access log the user may read; another municipality's is not found."""
    if not can_view_audit_logs(user):
        raise NotFound()
    query = select(Ticket).where(Ticket.number == number)
    if not is_admin(user):
        query = query.where(Ticket.municipality_id == user.municipality_id)
    ticket = db.session.scalar(query)
    if ticket is None:
        raise NotFound()
    return ticket


def can_use_personal_data_tools(user: User) -> bool:
    """Export and erasure of one person's data (GDPR): municipal admins, admin."""
    return can_administer(user)


def personal_data_scope(user: User) -> int | None:
    """The municipality whose data the user's GDPR tools reach; None means every one."""
    if not can_use_personal_data_tools(user):
        raise NotFound()
    return None if is_admin(user) else user.municipality_id


def sharing_needs_step_up(confirm_unmasked: bool, texts: Iterable[str | None]) -> bool:
    """Sending a detected CPR number unmasked to a vendor asks for the password again
    (when the last sign-in is older than accounts.stepup.STEP_UP_AFTER)."""
    return confirm_unmasked and has_cpr(*texts)

"""Reading the audit logs (security events; ticket views and CPR confirmations), CSV, pruning.

Every query starts in `policy`, so a municipal admin never reads another
municipality's rows; pages, CSV and the API read the same functions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.orm import aliased, selectinload

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.audit.models import Outcome, SecurityEvent, SecurityEventKind
from supportdesk.errors import ValidationFailed
from supportdesk.escalation.models import SensitiveDataConfirmation, VendorCase
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import Ticket, TicketView

CPH = ZoneInfo("Europe/Copenhagen")
PAGE_SIZE = 100
EXPORT_LIMIT = 50_000

KIND_LABELS = {
    SecurityEventKind.login: _l("Signed in"),
    SecurityEventKind.login_failed: _l("Failed sign-in"),
    SecurityEventKind.login_throttled: _l("Sign-in refused (too many attempts)"),
    SecurityEventKind.account_locked: _l("Account locked"),
    SecurityEventKind.logout: _l("Signed out"),
    SecurityEventKind.sessions_ended: _l("Signed out everywhere"),
    SecurityEventKind.two_factor_enabled: _l("Two-factor sign-in set up"),
    SecurityEventKind.two_factor_failed: _l("Wrong two-factor code"),
    SecurityEventKind.two_factor_reset: _l("Two-factor sign-in reset"),
    SecurityEventKind.recovery_code_used: _l("Recovery code used"),
    SecurityEventKind.step_up: _l("Identity confirmed again"),
    SecurityEventKind.step_up_failed: _l("Confirmation failed"),
    SecurityEventKind.password_changed: _l("Password changed"),
    SecurityEventKind.password_reset_requested: _l("Password reset requested"),
    SecurityEventKind.password_reset: _l("Password set by link"),
    SecurityEventKind.invitation_sent: _l("Invitation sent"),
    SecurityEventKind.token_created: _l("API token created"),
    SecurityEventKind.token_revoked: _l("API token revoked"),
    SecurityEventKind.entitlement_granted: _l("Support entitlement granted"),
    SecurityEventKind.entitlement_revoked: _l("Support entitlement revoked"),
    SecurityEventKind.role_changed: _l("Role changed"),
    SecurityEventKind.user_deactivated: _l("User deactivated"),
    SecurityEventKind.user_created: _l("User created"),
    SecurityEventKind.two_factor_policy_changed: _l("Two-factor requirement changed"),
    SecurityEventKind.access_denied: _l("Access denied"),
    SecurityEventKind.gdpr_export: _l("Personal data exported"),
    SecurityEventKind.gdpr_erase: _l("Personal data erased"),
}
OUTCOME_LABELS = {
    Outcome.success: _l("Success"),
    Outcome.failure: _l("Failure"),
    Outcome.denied: _l("Refused"),
}
ACCESS_LABELS = {
    "page": _l("Opened the ticket page"),
    "api": _l("Read the ticket over the API"),
    "cpr_escalation": _l("Sent CPR or phone numbers unmasked to the vendor (escalation)"),
    "cpr_message": _l("Sent CPR or phone numbers unmasked to the vendor (message)"),
}


@dataclass(frozen=True)
class Period:
    start: datetime | None = None
    end: datetime | None = None


def parse_period(start: str | None, end: str | None) -> Period:
    """Days as YYYY-MM-DD in Danish time; the end day is included. Bad input is a 422."""
    errors: dict[str, Any] = {}

    def day(name: str, value: str | None, shift: int) -> datetime | None:
        if not value:
            return None
        try:
            parsed = date.fromisoformat(value.strip())
        except ValueError:
            errors[name] = _l("Write the date as YYYY-MM-DD.")
            return None
        return datetime.combine(parsed + timedelta(days=shift), time(), tzinfo=CPH)

    period = Period(day("from", start, 0), day("to", end, 1))
    if errors:
        raise ValidationFailed(fields=errors)
    return period


def _in_period(column, period: Period):
    conditions = []
    if period.start is not None:
        conditions.append(column >= period.start)
    if period.end is not None:
        conditions.append(column < period.end)
    return conditions


# --- security events -----------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilters:
    kind: str | None = None
    email: str | None = None
    period: Period = Period()
    before: int | None = None  # keyset: rows with a smaller id


def event_filters(args: Mapping[str, str]) -> EventFilters:
    """From a query string (page, CSV and API alike)."""
    before = args.get("before")
    return EventFilters(
        kind=args.get("kind") or None,
        email=args.get("email") or None,
        period=parse_period(args.get("from"), args.get("to")),
        before=int(before) if before and before.isdigit() else None,
    )


def security_events(
    actor: User, filters: EventFilters, limit: int = PAGE_SIZE
) -> tuple[list[SecurityEvent], int | None]:
    """One page, newest first: (rows, id to continue before, or None)."""
    query = (
        policy.security_events_visible_to(actor)
        .options(selectinload(SecurityEvent.user), selectinload(SecurityEvent.actor))
        .order_by(SecurityEvent.id.desc())
    )
    if filters.kind:
        try:
            query = query.where(SecurityEvent.kind == SecurityEventKind(filters.kind))
        except ValueError:
            raise ValidationFailed(fields={"kind": _l("Unknown event type.")}) from None
    if filters.email:
        query = query.where(SecurityEvent.email == filters.email.strip().lower())
    query = query.where(*_in_period(SecurityEvent.at, filters.period))
    if filters.before is not None and 0 < filters.before <= policy.MAX_ID:
        query = query.where(SecurityEvent.id < filters.before)
    rows = list(db.session.scalars(query.limit(limit + 1)))
    more = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], more


def event_json(event: SecurityEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "kind": event.kind.value,
        "outcome": event.outcome.value,
        "email": event.email,
        "user": event.user.email if event.user else None,
        "actor": event.actor.email if event.actor else None,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "detail": event.detail or {},
    }


# --- the access log: who looked at which child's ticket --------------------------------------


@dataclass(frozen=True)
class AccessFilters:
    ticket: str | None = None
    email: str | None = None
    period: Period = Period()


@dataclass(frozen=True)
class AccessRow:
    at: datetime
    ticket: str
    user_name: str
    user_email: str
    action: str  # a key of ACCESS_LABELS
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "ticket": self.ticket,
            "user": self.user_email,
            "name": self.user_name,
            "action": self.action,
            "detail": self.detail,
        }


def access_filters(args: Mapping[str, str]) -> AccessFilters:
    return AccessFilters(
        ticket=args.get("ticket") or None,
        email=args.get("email") or None,
        period=parse_period(args.get("from"), args.get("to")),
    )


def access_log(actor: User, filters: AccessFilters, limit: int = PAGE_SIZE) -> list[AccessRow]:
    """Ticket views and unmasked CPR sharing, newest first, within the actor's municipality."""
    if not policy.can_view_audit_logs(actor):
        return []
    viewer = aliased(User)
    views = (
        policy.ticket_views_visible_to(actor)
        .join(Ticket, Ticket.id == TicketView.ticket_id)
        .join(viewer, viewer.id == TicketView.user_id)
        .with_only_columns(
            TicketView.at, Ticket.number, viewer.name, viewer.email, TicketView.channel
        )
        .where(*_in_period(TicketView.at, filters.period))
        .order_by(TicketView.at.desc(), TicketView.id.desc())
    )
    confirmer = aliased(User)
    shared = (
        policy.sensitive_confirmations_visible_to(actor)
        .join(VendorCase, VendorCase.id == SensitiveDataConfirmation.case_id)
        .outerjoin(Ticket, Ticket.id == SensitiveDataConfirmation.ticket_id)
        .join(confirmer, confirmer.id == SensitiveDataConfirmation.user_id)
        .with_only_columns(
            SensitiveDataConfirmation.confirmed_at,
            Ticket.number,
            confirmer.name,
            confirmer.email,
            SensitiveDataConfirmation.context,
            VendorCase.number,
            SensitiveDataConfirmation.findings,
        )
        .where(*_in_period(SensitiveDataConfirmation.confirmed_at, filters.period))
        .order_by(SensitiveDataConfirmation.confirmed_at.desc())
    )
    if filters.ticket:
        ticket = policy.audit_ticket(actor, filters.ticket.strip())
        views = views.where(TicketView.ticket_id == ticket.id)
        in_case = select(Ticket.vendor_case_id).where(Ticket.id == ticket.id).scalar_subquery()
        shared = shared.where(
            (SensitiveDataConfirmation.ticket_id == ticket.id)
            | (
                SensitiveDataConfirmation.ticket_id.is_(None)
                & (SensitiveDataConfirmation.case_id == in_case)
            )
        )
    if filters.email:
        email = filters.email.strip().lower()
        views = views.where(viewer.email == email)
        shared = shared.where(confirmer.email == email)
    rows = [
        AccessRow(at, number, name, email, channel if channel in ("page", "api") else "page")
        for at, number, name, email, channel in db.session.execute(views.limit(limit))
    ]
    rows.extend(
        AccessRow(
            at,
            number or "",
            name,
            email,
            "cpr_message" if context == "message" else "cpr_escalation",
            f"{case_number} ({findings})",
        )
        for at, number, name, email, context, case_number, findings in db.session.execute(
            shared.limit(limit)
        )
    )
    rows.sort(key=lambda row: row.at, reverse=True)
    return rows[:limit]


# --- CSV ------------------------------------------------------------------------------------


def to_csv(header: list[str], rows: Iterable[list[Any]]) -> str:
    """Semicolon-separated with a BOM: what Danish spreadsheet programs open directly."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(header)
    for row in rows:
        # a cell starting with = + - @ would be run as a formula by spreadsheets
        writer.writerow(
            ["'" + str(cell) if str(cell)[:1] in ("=", "+", "-", "@") else cell for cell in row]
        )
    return buffer.getvalue()


def local_time(moment: datetime) -> str:
    return moment.astimezone(CPH).strftime("%Y-%m-%d %H:%M:%S")


# --- retention --------------------------------------------------------------------------------


def prune(retention_days: int, now: datetime | None = None) -> tuple[int, int]:
    """Delete security events and ticket views older than the retention period (flushes)."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    events = db.session.execute(delete(SecurityEvent).where(SecurityEvent.at < cutoff))
    views = db.session.execute(delete(TicketView).where(TicketView.at < cutoff))
    return events.rowcount or 0, views.rowcount or 0

"""Escalation: a coordinator sends a ticket to its system's vendor (DESIGN §3.3).

The ticket opens a new vendor case or joins an open one of the same municipality and
vendor, so many tickets become one case ("collect, sort, coordinate"). Only what the
coordinator chose is shared, masked unless sensitive data is confirmed (logged).

`escalate` is a pipeline of named steps: validate → choose or open the case → share →
link the ticket → tell the vendor. The page and the API parse their input into an
`EscalationRequest`; the service checks it against the ticket, changes and flushes;
the caller commits once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from supportdesk import policy, sensitive
from supportdesk.accounts.models import User, Vendor
from supportdesk.errors import Conflict, InvalidTransition, ValidationFailed
from supportdesk.escalation import notify
from supportdesk.escalation.cases import log_confirmation, municipal_message
from supportdesk.escalation.models import CaseMessage, CaseStatus, SharedItem, ShareKind, VendorCase
from supportdesk.escalation.sla_clock import recompute_due, refresh_sla
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import NotificationEvent
from supportdesk.numbering import next_value
from supportdesk.tickets import lifecycle as ticket_lifecycle
from supportdesk.tickets.models import (
    ESCALATABLE,
    Attachment,
    EntryKind,
    Priority,
    Ticket,
    TicketEntry,
)
from supportdesk.webhooks import services as webhooks
from supportdesk.webhooks.models import WebhookEvent

SUMMARY_MAX = 20000
SUBJECT_MAX = 200
CPH = ZoneInfo("Europe/Copenhagen")


@dataclass(frozen=True)
class EscalationRequest:
    """What a coordinator asks for, as the escalation page or the API parsed it."""

    summary: str
    share_entry_ids: Sequence[int] = ()
    share_attachment_ids: Sequence[int] = ()
    case_number: str | None = None  # an open case to join; None opens a new one
    confirm_sensitive: bool = False
    share_description: bool = False
    priority: Priority | str | None = None


# --- case numbers ------------------------------------------------------------------------


def case_prefix(vendor: Vendor) -> str:
    letters = "".join(c for c in vendor.slug.upper() if "A" <= c <= "Z")
    return (letters or "SAG")[:3]


def allocate_case_number(vendor: Vendor, now: datetime) -> str:
    """E.g. NET-2026-000042; vendors sharing a prefix share the counter, so never reused."""
    prefix = case_prefix(vendor)
    year = now.astimezone(CPH).year
    value = next_value("vendor_case", f"{prefix}-{year}")
    return f"{prefix}-{year}-{value:06d}"


# --- what can be chosen ------------------------------------------------------------------


def open_cases_for(actor: User, ticket: Ticket) -> list[VendorCase]:
    """Open cases this ticket could join: same municipality and vendor."""
    return list(
        db.session.scalars(
            policy.cases_joinable_by(actor, ticket).order_by(VendorCase.created_at.desc())
        )
    )


def shareable_entries(ticket: Ticket) -> list[TicketEntry]:
    """Public replies only: internal notes and system events never leave the municipality."""
    replies = db.session.scalars(
        select(TicketEntry)
        .where(TicketEntry.ticket_id == ticket.id, TicketEntry.kind == EntryKind.reply)
        .options(selectinload(TicketEntry.author))
        .order_by(TicketEntry.created_at, TicketEntry.id)
    )
    return [e for e in replies if e.body.strip()]


def shareable_attachments(ticket: Ticket) -> list[Attachment]:
    return [
        a for a in ticket.attachments if a.entry is None or a.entry.kind != EntryKind.internal_note
    ]


# --- the pipeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Checked:
    """The request checked against the ticket: what to share, and the case to join."""

    summary: str
    priority: Priority | None
    entries: list[TicketEntry]  # chosen order, each once
    attachments: list[Attachment]
    case: VendorCase | None


@dataclass
class _Protection:
    """Masks what leaves the municipality unless confirmed, counting the findings."""

    confirmed: bool
    findings: int = 0

    def protect(self, text: str) -> tuple[str, bool, int]:
        protected, masked, found = sensitive.protect(text, self.confirmed)
        self.findings += found
        return protected, masked, found


@dataclass(frozen=True)
class _Escalation:
    """One run of the pipeline: the case it ends in and the message that bundled it."""

    case: VendorCase
    created: bool
    protection: _Protection
    bundled: CaseMessage | None = None


def shared_texts(ticket: Ticket, request: EscalationRequest) -> list[str]:
    """The texts an escalation would send, as typed (before masking): what step-up reads."""
    chosen = {int(i) for i in request.share_entry_ids if str(i).isdigit()}
    texts = [ticket.subject, request.summary]
    if request.share_description:
        texts.append(ticket.description)
    return texts + [entry.body for entry in ticket.entries if entry.id in chosen]


def escalate(
    actor: User, ticket: Ticket, request: EscalationRequest, *, now: datetime | None = None
) -> VendorCase:
    """Send a ticket to its system's vendor: a new case, or an open one of the same
    municipality and vendor (DESIGN §3.3)."""
    now = now if now is not None else utcnow()
    policy.require_escalate(actor, ticket)
    checked = _validate(actor, ticket, request)
    run = _choose_case(actor, ticket, request, checked, now)
    _share(run, actor, ticket, request, checked, now)
    _link(run.case, actor, ticket, now)
    _tell_vendor(run, actor, now)
    return run.case


def _validate(actor: User, ticket: Ticket, request: EscalationRequest) -> _Checked:
    """Every field error at once; an open case elsewhere is a conflict of its own."""
    errors: dict[str, str] = {}
    summary = (request.summary or "").strip()
    if not summary:
        errors["summary"] = str(_l("Write a summary for the vendor."))
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = str(_l("The summary is too long."))
    entries, attachments = _chosen_shares(ticket, request, errors)
    priority = None
    if request.priority is not None:
        try:
            priority = Priority(request.priority)
        except ValueError:
            errors["priority"] = str(_l("Choose a valid priority."))
    case = _chosen_case(actor, ticket, request.case_number, errors)
    if errors:
        raise ValidationFailed(fields=errors)
    if ticket.status not in ESCALATABLE:
        raise InvalidTransition(_l("Only an unresolved ticket can be escalated. Reopen it first."))
    return _Checked(summary, priority, entries, attachments, case)


def _chosen_shares(
    ticket: Ticket, request: EscalationRequest, errors: dict[str, str]
) -> tuple[list[TicketEntry], list[Attachment]]:
    """Only the ticket's public replies and attachments not on an internal note."""
    allowed_entries = {e.id: e for e in shareable_entries(ticket)}
    allowed_attachments = {a.id: a for a in shareable_attachments(ticket)}
    try:
        entry_ids = [int(i) for i in request.share_entry_ids]
        attachment_ids = [int(i) for i in request.share_attachment_ids]
    except (TypeError, ValueError):
        entry_ids, attachment_ids = [], []
        errors["share_entries"] = str(_l("Choose entries from the ticket."))
    if any(i not in allowed_entries for i in entry_ids):
        errors["share_entries"] = str(
            _l("Only public replies on this ticket can be shared; internal notes never.")
        )
    if any(i not in allowed_attachments for i in attachment_ids):
        errors["share_attachments"] = str(_l("Choose attachments from this ticket."))
    return (
        [allowed_entries[i] for i in dict.fromkeys(entry_ids) if i in allowed_entries],
        [allowed_attachments[i] for i in dict.fromkeys(attachment_ids) if i in allowed_attachments],
    )


def _chosen_case(
    actor: User, ticket: Ticket, case_number: str | None, errors: dict[str, str]
) -> VendorCase | None:
    """The open case to join, if one was named; a ticket is in one open case at a time."""
    case: VendorCase | None = None
    if case_number:
        case = db.session.scalar(
            policy.cases_visible_to(actor).where(VendorCase.number == case_number.strip())
        )
        if case is None or not policy.can_join_case(ticket, case):
            errors["case"] = str(
                _l("Choose an open case with the same vendor in your municipality.")
            )
    current = ticket.vendor_case
    if current is not None and current.status.is_open:
        if case is not None and case.id == ticket.vendor_case_id:
            errors["case"] = str(_l("The ticket is already part of this case."))
        else:
            raise Conflict(
                _l("The ticket is already escalated in case %(number)s.", number=current.number)
            )
    return case


def _choose_case(
    actor: User, ticket: Ticket, request: EscalationRequest, checked: _Checked, now: datetime
) -> _Escalation:
    """Open a new case with the protected subject and summary, or join the chosen one with
    the summary as the municipality's message (a higher priority raises the case's)."""
    protection = _Protection(request.confirm_sensitive)
    subject, _subject_masked, _found = protection.protect(ticket.subject)
    summary, summary_masked, found = protection.protect(checked.summary)
    wanted = checked.priority or ticket.priority
    if checked.case is None:
        case = VendorCase(
            number=allocate_case_number(ticket.system.vendor, now),
            vendor=ticket.system.vendor,
            municipality_id=ticket.municipality_id,
            system_id=ticket.system_id,
            status=CaseStatus.new,
            priority=wanted,
            subject=subject[:SUBJECT_MAX],
            summary=summary,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        db.session.add(case)
        db.session.flush()
        recompute_due(case)
        return _Escalation(case, True, protection)
    case = checked.case
    if wanted.rank > case.priority.rank:
        case.priority = wanted
        recompute_due(case)
    confirmed = request.confirm_sensitive and found > 0
    bundled = municipal_message(case, actor, summary, summary_masked, confirmed, now)
    case.updated_at = now
    return _Escalation(case, False, protection, bundled)


def _share(
    run: _Escalation,
    actor: User,
    ticket: Ticket,
    request: EscalationRequest,
    checked: _Checked,
    now: datetime,
) -> None:
    """A snapshot of each chosen item as the vendor gets it; confirmations are logged."""

    def snapshot(kind: ShareKind, text: str, filename: str | None = None, **refs: Any) -> None:
        protected, masked, found = run.protection.protect(text)
        if filename:
            filename, name_masked, _name_found = run.protection.protect(filename)
            masked = masked or name_masked
        db.session.add(
            SharedItem(
                case=run.case,
                municipality_id=ticket.municipality_id,
                ticket=ticket,
                kind=kind,
                text=protected,
                filename=filename,
                masked=masked,
                sensitive_confirmed=request.confirm_sensitive and found > 0,
                shared_by=actor,
                shared_at=now,
                **refs,
            )
        )

    if request.share_description and ticket.description.strip():
        snapshot(ShareKind.description, ticket.description)
    for entry in checked.entries:
        snapshot(ShareKind.entry, entry.body, entry=entry)
    for attachment in checked.attachments:
        snapshot(ShareKind.attachment, "", attachment.filename, attachment=attachment)
    findings = run.protection.findings
    if request.confirm_sensitive and findings:
        log_confirmation(run.case, actor, "escalation", findings, now, ticket_id=ticket.id)


def _link(case: VendorCase, actor: User, ticket: Ticket, now: datetime) -> None:
    """The ticket now waits on the case; the case's clock takes it in."""
    ticket.vendor_case = case
    ticket_lifecycle.mark_escalated(ticket, actor, case)
    refresh_sla(case, now)
    db.session.flush()


def _tell_vendor(run: _Escalation, actor: User, now: datetime) -> None:
    """The vendor's agents hear of a new case, or of another ticket in an open one."""
    notify.notify(
        notify.vendor_recipients(run.case),
        NotificationEvent.case_status if run.created else NotificationEvent.case_message,
        run.case,
        actor,
    )
    if run.created:
        event = webhooks.CaseEvent(WebhookEvent.case_created)
    else:
        event = webhooks.CaseEvent(WebhookEvent.case_ticket_added, run.bundled)
    webhooks.case_events(run.case, actor, [event], now=now)

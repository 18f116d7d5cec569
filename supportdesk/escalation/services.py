"""Escalation to vendor servicedesks, messages both ways, SLA clocks and known issues.

Services take the acting user, check rules through `policy`, change and flush;
the caller commits once. Every function that depends on the time takes `now`
so tests pass a fixed clock instead of patching one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from supportdesk import outbox, policy
from supportdesk.accounts.models import Municipality, Role, SupportEntitlement, System, User, Vendor
from supportdesk.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotEntitled,
    NotFound,
    ValidationFailed,
)
from supportdesk.escalation import masking
from supportdesk.escalation.models import (
    CASE_TRANSITIONS,
    DEFAULT_SLA_MINUTES,
    OPEN_CASE_STATUSES,
    CaseMessage,
    CaseStatus,
    KnownIssue,
    KnownIssueStatus,
    KnownIssueTicket,
    SensitiveDataConfirmation,
    SharedItem,
    ShareKind,
    SlaState,
    SlaTarget,
    VendorCase,
)
from supportdesk.escalation.sla import (
    BusinessCalendar,
    add_business_seconds,
    business_seconds_between,
)
from supportdesk.extensions import db, utcnow
from supportdesk.numbering import next_value
from supportdesk.tickets import history as ticket_history
from supportdesk.tickets import lifecycle as ticket_lifecycle
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import (
    ESCALATABLE,
    Attachment,
    EntryKind,
    Priority,
    Ticket,
    TicketEntry,
    TicketStatus,
)

SUMMARY_MAX = 20000
BODY_MAX = 20000
REFERENCE_MAX = 60
TITLE_MAX = 200
WARNING_FRACTION = 0.8
CPH = ZoneInfo("Europe/Copenhagen")
PAGE_SIZE = 25

CASE_STATUS_LABELS = {
    CaseStatus.new: _l("New"),
    CaseStatus.in_progress: _l("In progress"),
    CaseStatus.waiting_on_municipality: _l("Waiting on the municipality"),
    CaseStatus.resolved: _l("Resolved"),
    CaseStatus.closed: _l("Closed"),
}
SLA_STATE_LABELS = {
    SlaState.ok: _l("On track"),
    SlaState.warning: _l("Close to deadline"),
    SlaState.breached: _l("Overdue"),
    SlaState.paused: _l("Paused"),
    SlaState.met: _l("Met"),
}
KNOWN_ISSUE_STATUS_LABELS = {
    KnownIssueStatus.investigating: _l("Investigating"),
    KnownIssueStatus.identified: _l("Identified"),
    KnownIssueStatus.monitoring: _l("Monitoring"),
    KnownIssueStatus.resolved: _l("Resolved"),
}


def _now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


# --- numbers ---------------------------------------------------------------------------


def case_prefix(vendor: Vendor) -> str:
    letters = "".join(c for c in vendor.slug.upper() if "A" <= c <= "Z")
    return (letters or "SAG")[:3]


def allocate_case_number(vendor: Vendor, now: datetime) -> str:
    """E.g. NET-2026-000042; vendors sharing a prefix share the counter, so never reused."""
    prefix = case_prefix(vendor)
    year = now.astimezone(CPH).year
    value = next_value("vendor_case", f"{prefix}-{year}")
    return f"{prefix}-{year}-{value:06d}"


# --- SLA -----------------------------------------------------------------------------


def calendar_for(vendor: Vendor) -> BusinessCalendar:
    return BusinessCalendar.from_vendor(vendor)


def sla_targets(vendor_id: int, priority: Priority) -> tuple[int, int]:
    """(first response, resolution) in business seconds for this vendor and priority."""
    row = db.session.scalar(
        select(SlaTarget).where(SlaTarget.vendor_id == vendor_id, SlaTarget.priority == priority)
    )
    minutes = (
        (row.first_response_minutes, row.resolution_minutes)
        if row is not None
        else DEFAULT_SLA_MINUTES[Priority(priority)]
    )
    return minutes[0] * 60, minutes[1] * 60


def seed_default_sla_targets(vendor: Vendor) -> int:
    """Give a vendor the default targets for every priority it lacks; returns rows added."""
    existing = set(
        db.session.scalars(select(SlaTarget.priority).where(SlaTarget.vendor_id == vendor.id))
    )
    added = 0
    for priority, (response, resolution) in DEFAULT_SLA_MINUTES.items():
        if priority not in existing:
            db.session.add(
                SlaTarget(
                    vendor_id=vendor.id,
                    priority=priority,
                    first_response_minutes=response,
                    resolution_minutes=resolution,
                )
            )
            added += 1
    db.session.flush()
    return added


@dataclass(frozen=True)
class SlaView:
    """What a case page shows about its clock."""

    state: SlaState
    phase: str | None  # "response", "resolution" or None when stopped
    due_at: datetime | None
    seconds_left: int | None  # business seconds; negative when overdue
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    fraction: float

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left < 0

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state.value,
            "phase": self.phase,
            "due_at": _iso(self.due_at),
            "seconds_left": self.seconds_left,
            "response_due_at": _iso(self.response_due_at),
            "resolution_due_at": _iso(self.resolution_due_at),
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _paused_total(case: VendorCase, calendar: BusinessCalendar, now: datetime) -> int:
    running = business_seconds_between(calendar, case.paused_at, now) if case.paused_at else 0
    return (case.paused_seconds or 0) + running


def _elapsed(case: VendorCase, calendar: BusinessCalendar, now: datetime) -> int:
    """Business seconds the vendor has had the case, pauses excluded."""
    return business_seconds_between(calendar, case.created_at, now) - _paused_total(
        case, calendar, now
    )


def _recompute_due(case: VendorCase, calendar: BusinessCalendar | None = None) -> None:
    """Due times move by the paused business time; unknown while paused."""
    calendar = calendar or calendar_for(case.vendor)
    response, resolution = sla_targets(case.vendor_id, case.priority)
    if case.paused_at is not None:
        case.resolution_due_at = None
        if case.first_response_at is None:
            case.response_due_at = None
        return
    paused = case.paused_seconds or 0
    if case.first_response_at is None:
        case.response_due_at = add_business_seconds(calendar, case.created_at, response + paused)
    case.resolution_due_at = add_business_seconds(calendar, case.created_at, resolution + paused)


def sla_view(case: VendorCase, now: datetime | None = None) -> SlaView:
    now = _now(now)
    calendar = calendar_for(case.vendor)
    response, resolution = sla_targets(case.vendor_id, case.priority)
    breached_before = case.response_breached_at or case.resolution_breached_at
    if not case.status.is_open:
        state = SlaState.breached if breached_before else SlaState.met
        return SlaView(state, None, None, None, case.response_due_at, case.resolution_due_at, 0)
    elapsed = _elapsed(case, calendar, now)
    if case.first_response_at is None:
        phase, target = "response", response
    else:
        phase, target = "resolution", resolution
    fraction = max(
        elapsed / response if case.first_response_at is None else 0.0,
        elapsed / resolution,
    )
    if case.paused_at is not None:
        state = SlaState.paused
    elif fraction >= 1 or breached_before:
        state = SlaState.breached
    elif fraction >= WARNING_FRACTION:
        state = SlaState.warning
    else:
        state = SlaState.ok
    due = case.response_due_at if phase == "response" else case.resolution_due_at
    return SlaView(
        state,
        phase,
        due,
        target - elapsed,
        case.response_due_at,
        case.resolution_due_at,
        fraction,
    )


def refresh_sla(case: VendorCase, now: datetime | None = None) -> list[tuple[str, str]]:
    """Update the stored state and flags; returns newly crossed (phase, level) pairs."""
    now = _now(now)
    crossed: list[tuple[str, str]] = []
    if case.status.is_open and case.paused_at is None:
        calendar = calendar_for(case.vendor)
        response, resolution = sla_targets(case.vendor_id, case.priority)
        elapsed = _elapsed(case, calendar, now)
        phases = [("resolution", resolution)]
        if case.first_response_at is None:
            phases.insert(0, ("response", response))
        for phase, target in phases:
            warned, breached = f"{phase}_warned_at", f"{phase}_breached_at"
            if elapsed >= target and getattr(case, breached) is None:
                # A breach found in the same run as the warning makes the warning moot.
                setattr(case, breached, now)
                if getattr(case, warned) is None:
                    setattr(case, warned, now)
                crossed.append((phase, "breach"))
            elif elapsed >= target * WARNING_FRACTION and getattr(case, warned) is None:
                setattr(case, warned, now)
                crossed.append((phase, "warning"))
    state = sla_view(case, now).state
    if case.sla_state != state:
        case.sla_state = state
    return crossed


def check_sla(now: datetime | None = None) -> int:
    """Worker job: warn at 80 %, report a breach at 100 %, once each per case and phase."""
    now = _now(now)
    cases = db.session.scalars(
        select(VendorCase)
        .where(VendorCase.status.in_(list(OPEN_CASE_STATUSES)))
        .options(
            selectinload(VendorCase.vendor).selectinload(Vendor.closed_days),
            selectinload(VendorCase.tickets),
        )
        .order_by(VendorCase.id)
    ).all()
    raised = 0
    for case in cases:
        for phase, level in refresh_sla(case, now):
            raised += 1
            _announce_sla(case, phase, level)
    db.session.flush()
    return raised


def _announce_sla(case: VendorCase, phase: str, level: str) -> None:
    from supportdesk.notifications.models import NotificationEvent

    event = "sla_warning" if level == "warning" else "sla_breach"
    for ticket in case.tickets:
        text = (
            _l("Vendor case %(case)s is close to its SLA deadline.", case=case.number)
            if level == "warning"
            else _l("Vendor case %(case)s has passed its SLA deadline.", case=case.number)
        )
        ticket_history.add_system_event(
            ticket, None, event, {"case": case.number, "phase": phase, "text": str(text)}
        )
    recipients = [*_vendor_recipients(case), *_coordinators(case)]
    _notify(
        recipients,
        NotificationEvent(event),
        case,
        None,
        extra={"phase": phase, "due_at": _iso(sla_view(case).due_at)},
    )


@outbox.periodic("sla_check", every=timedelta(minutes=5))
def _sla_job() -> int:
    return check_sla()


# --- recipients and notifications -----------------------------------------------------


def _coordinators(case: VendorCase) -> list[User]:
    """The municipality's coordinators entitled for this vendor."""
    return list(
        db.session.scalars(
            select(User)
            .join(SupportEntitlement, SupportEntitlement.user_id == User.id)
            .where(
                SupportEntitlement.vendor_id == case.vendor_id,
                SupportEntitlement.municipality_id == case.municipality_id,
                User.active.is_(True),
            )
        )
    )


def _vendor_recipients(case: VendorCase) -> list[User]:
    """The assignee, or every active agent of the vendor while nobody has the case."""
    if case.assignee is not None and case.assignee.active:
        return [case.assignee]
    return list(db.session.scalars(policy.case_agents(case)))


def _notify(
    recipients: Iterable[User],
    event: Any,
    case: VendorCase,
    actor: User | None,
    extra: dict[str, Any] | None = None,
) -> None:
    from supportdesk.notifications import services as notifications

    context = {
        "number": case.number,
        "subject": case.subject,
        "status": case.status.value,
        **(extra or {}),
    }
    notifications.notify(
        list(recipients), event, url=f"/cases/{case.number}", context=context, actor=actor
    )


def _webhook_events(
    case: VendorCase,
    actor: User | None,
    *events: tuple[str, CaseMessage | None, dict[str, Any]],
    now: datetime | None = None,
) -> None:
    """Signed webhooks of the vendor / municipality, in this transaction (outbox):
    (event, message or None, details) per event of this change."""
    from supportdesk.webhooks import services as webhooks
    from supportdesk.webhooks.models import WebhookEvent

    webhooks.case_events(
        case,
        actor,
        [webhooks.CaseEvent(WebhookEvent(name), message, data) for name, message, data in events],
        now=now,
    )


# --- escalation ----------------------------------------------------------------------


@dataclass
class Shared:
    """What a coordinator chose to pass on, after masking."""

    items: list[SharedItem] = field(default_factory=list)
    findings: int = 0


def _protect(text: str, confirmed: bool) -> tuple[str, bool, int]:
    """(text as the vendor gets it, masked?, number of findings)."""
    findings = len(masking.find_sensitive(text or ""))
    if findings and not confirmed:
        return masking.mask(text), True, findings
    return text or "", False, findings


def open_cases_for(actor: User, ticket: Ticket) -> list[VendorCase]:
    """Open cases this ticket could join: same municipality and vendor."""
    vendor_id = ticket.system.vendor_id
    return list(
        db.session.scalars(
            policy.cases_visible_to(actor)
            .where(
                VendorCase.municipality_id == ticket.municipality_id,
                VendorCase.vendor_id == vendor_id,
                VendorCase.status.in_(list(OPEN_CASE_STATUSES)),
            )
            .order_by(VendorCase.created_at.desc())
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


def escalate(
    actor: User,
    ticket: Ticket,
    summary: str,
    share_entry_ids: Sequence[int] = (),
    share_attachment_ids: Sequence[int] = (),
    case_number: str | None = None,
    confirm_sensitive: bool = False,
    *,
    share_description: bool = False,
    priority: Priority | str | None = None,
    now: datetime | None = None,
) -> VendorCase:
    """Send a ticket to its system's vendor: a new case, or an open one of the same
    municipality and vendor (DESIGN §3.3). Only chosen items are shared, masked unless
    the coordinator confirms sensitive data (logged)."""
    now = _now(now)
    if actor.municipality_id != ticket.municipality_id:
        raise NotFound()
    vendor = ticket.system.vendor
    if not policy.can_escalate(actor, vendor):
        raise NotEntitled()
    errors: dict[str, str] = {}
    summary = (summary or "").strip()
    if not summary:
        errors["summary"] = str(_l("Write a summary for the vendor."))
    elif len(summary) > SUMMARY_MAX:
        errors["summary"] = str(_l("The summary is too long."))
    allowed_entries = {e.id: e for e in shareable_entries(ticket)}
    allowed_attachments = {a.id: a for a in shareable_attachments(ticket)}
    try:
        entry_ids = [int(i) for i in share_entry_ids]
        attachment_ids = [int(i) for i in share_attachment_ids]
    except (TypeError, ValueError):
        entry_ids, attachment_ids = [], []
        errors["share_entries"] = str(_l("Choose entries from the ticket."))
    if any(i not in allowed_entries for i in entry_ids):
        errors["share_entries"] = str(
            _l("Only public replies on this ticket can be shared; internal notes never.")
        )
    if any(i not in allowed_attachments for i in attachment_ids):
        errors["share_attachments"] = str(_l("Choose attachments from this ticket."))
    if priority is not None:
        try:
            priority = Priority(priority)
        except ValueError:
            errors["priority"] = str(_l("Choose a valid priority."))
    case: VendorCase | None = None
    if case_number:
        case = db.session.scalar(
            policy.cases_visible_to(actor).where(VendorCase.number == case_number.strip())
        )
        if (
            case is None
            or case.vendor_id != vendor.id
            or case.municipality_id != ticket.municipality_id
            or not case.status.is_open
        ):
            errors["case"] = str(
                _l("Choose an open case with the same vendor in your municipality.")
            )
    if ticket.vendor_case is not None and ticket.vendor_case.status.is_open:
        if case is not None and case.id == ticket.vendor_case_id:
            errors["case"] = str(_l("The ticket is already part of this case."))
        else:
            raise Conflict(
                _l(
                    "The ticket is already escalated in case %(number)s.",
                    number=ticket.vendor_case.number,
                )
            )
    if errors:
        raise ValidationFailed(fields=errors)
    if ticket.status not in ESCALATABLE:
        raise InvalidTransition(_l("Only an unresolved ticket can be escalated. Reopen it first."))

    findings = 0
    subject, _subject_masked, found = _protect(ticket.subject, confirm_sensitive)
    findings += found
    shared_summary, summary_masked, found = _protect(summary, confirm_sensitive)
    findings += found
    if case is None:
        case = VendorCase(
            number=allocate_case_number(vendor, now),
            vendor=vendor,
            municipality_id=ticket.municipality_id,
            system_id=ticket.system_id,
            status=CaseStatus.new,
            priority=priority or ticket.priority,
            subject=subject[:TITLE_MAX],
            summary=shared_summary,
            created_by=actor,
            created_at=now,
            updated_at=now,
        )
        db.session.add(case)
        db.session.flush()
        _recompute_due(case)
        created = True
    else:
        created = False
        wanted = Priority(priority or ticket.priority)
        if wanted.rank > case.priority.rank:
            case.priority = wanted
            _recompute_due(case)
        bundled = _municipal_message(
            case, actor, shared_summary, summary_masked, confirm_sensitive and found > 0, now
        )
        case.updated_at = now

    def share(kind: ShareKind, text: str, **refs: Any) -> None:
        nonlocal findings
        protected, was_masked, found = _protect(text, confirm_sensitive)
        findings += found
        filename = refs.pop("filename", None)
        if filename:
            filename, name_masked, name_found = _protect(filename, confirm_sensitive)
            findings += name_found
            was_masked = was_masked or name_masked
        db.session.add(
            SharedItem(
                case=case,
                municipality_id=ticket.municipality_id,
                ticket=ticket,
                kind=kind,
                text=protected,
                filename=filename,
                masked=was_masked,
                sensitive_confirmed=confirm_sensitive and found > 0,
                shared_by=actor,
                shared_at=now,
                **refs,
            )
        )

    if share_description and ticket.description.strip():
        share(ShareKind.description, ticket.description)
    for entry_id in dict.fromkeys(entry_ids):
        share(ShareKind.entry, allowed_entries[entry_id].body, entry=allowed_entries[entry_id])
    for attachment_id in dict.fromkeys(attachment_ids):
        attachment = allowed_attachments[attachment_id]
        share(ShareKind.attachment, "", attachment=attachment, filename=attachment.filename)
    if confirm_sensitive and findings:
        _log_confirmation(case, actor, "escalation", findings, now, ticket_id=ticket.id)
    ticket.vendor_case = case
    ticket_lifecycle.mark_escalated(ticket, actor, case)
    refresh_sla(case, now)
    db.session.flush()
    from supportdesk.notifications.models import NotificationEvent

    _notify(
        _vendor_recipients(case),
        NotificationEvent.case_status if created else NotificationEvent.case_message,
        case,
        actor,
    )
    if created:
        _webhook_events(case, actor, ("case.created", None, {}), now=now)
    else:
        _webhook_events(case, actor, ("case.ticket_added", bundled, {}), now=now)
    return case


def _municipal_message(
    case: VendorCase, actor: User, text: str, masked: bool, confirmed: bool, now: datetime
) -> CaseMessage:
    """A message from the municipality to the vendor; `text` is already protected."""
    message = CaseMessage(
        case=case,
        author=actor,
        from_vendor=False,
        body=text,
        masked=masked,
        sensitive_confirmed=confirmed,
        created_at=now,
    )
    db.session.add(message)
    return message


def _log_confirmation(
    case: VendorCase,
    actor: User,
    context: str,
    findings: int,
    now: datetime,
    ticket_id: int | None = None,
) -> None:
    """DESIGN §3.9: who let CPR/phone numbers reach the vendor, when, and how many."""
    db.session.add(
        SensitiveDataConfirmation(
            case_id=case.id,
            municipality_id=case.municipality_id,
            ticket_id=ticket_id,
            user_id=actor.id,
            context=context,
            findings=findings,
            confirmed_at=now,
        )
    )


# --- messages and status ---------------------------------------------------------------


def _ticket_note(
    case: VendorCase, actor: User, event: str, body: str, data: dict, now: datetime
) -> None:
    """A vendor answer on every linked ticket, for municipal staff only (relay decides)."""
    for ticket in case.tickets:
        db.session.add(
            TicketEntry(
                ticket=ticket,
                municipality_id=ticket.municipality_id,
                kind=EntryKind.internal_note,
                author=actor,
                body=body,
                event=event,
                data={"case": case.number, **data},
                created_at=now,
            )
        )
        ticket.updated_at = now


def _first_response(case: VendorCase, now: datetime) -> None:
    if case.first_response_at is None:
        case.first_response_at = now


def _pause(case: VendorCase, now: datetime) -> None:
    if case.paused_at is None:
        case.paused_at = now
        _recompute_due(case)


def _resume(case: VendorCase, now: datetime) -> None:
    if case.paused_at is not None:
        calendar = calendar_for(case.vendor)
        case.paused_seconds = (case.paused_seconds or 0) + business_seconds_between(
            calendar, case.paused_at, now
        )
        case.paused_at = None
        _recompute_due(case, calendar)


def post_message(
    actor: User,
    case: VendorCase,
    body: str,
    *,
    confirm_sensitive: bool = False,
    now: datetime | None = None,
) -> CaseMessage:
    """Vendor answers flow back to every linked ticket; municipal messages are masked."""
    now = _now(now)
    if not policy.can_message_case(actor, case):
        if case.status == CaseStatus.closed:
            raise InvalidTransition(_l("The case is closed."))
        raise NotEntitled() if policy.is_municipal(actor) else Forbidden()
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    if len(body) > BODY_MAX:
        raise ValidationFailed(fields={"body": str(_l("The message is too long."))})
    from supportdesk.notifications.models import NotificationEvent

    from_vendor = policy.is_case_vendor_side(actor, case)
    previous = case.status
    if from_vendor:
        message = CaseMessage(case=case, author=actor, from_vendor=True, body=body, created_at=now)
        db.session.add(message)
        db.session.flush()
        _first_response(case, now)
        if case.status == CaseStatus.new:
            case.status = CaseStatus.in_progress
        _ticket_note(case, actor, "vendor_message", body, {"message": message.id}, now)
        recipients = _coordinators(case)
        event = NotificationEvent.case_message
    else:
        text, was_masked, findings = _protect(body, confirm_sensitive)
        message = _municipal_message(
            case, actor, text, was_masked, confirm_sensitive and findings > 0, now
        )
        if confirm_sensitive and findings:
            _log_confirmation(case, actor, "message", findings, now)
        # Answering while the vendor waits on the municipality restarts the clock.
        if case.status == CaseStatus.waiting_on_municipality:
            case.status = CaseStatus.in_progress
            _resume(case, now)
        recipients = _vendor_recipients(case)
        event = NotificationEvent.case_message
    case.updated_at = now
    refresh_sla(case, now)
    db.session.flush()
    _notify(recipients, event, case, actor, extra={"excerpt": message.body[:200]})
    events = [("case.vendor_message" if from_vendor else "case.message", message, {})]
    if case.status != previous:
        events.append(
            ("case.status_changed", None, {"from": previous.value, "to": case.status.value})
        )
    _webhook_events(case, actor, *events, now=now)
    return message


def allowed_case_statuses(actor: User, case: VendorCase) -> list[CaseStatus]:
    targets = CASE_TRANSITIONS[case.status]
    if policy.can_manage_case(actor, case):
        return [s for s in CaseStatus if s in targets]
    if policy.is_case_municipal_side(actor, case) and case.status == CaseStatus.resolved:
        # The municipality closes a resolved case or reopens it when the fix did not hold.
        return [CaseStatus.in_progress, CaseStatus.closed]
    return []


def change_case_status(
    actor: User, case: VendorCase, target: CaseStatus | str, *, now: datetime | None = None
) -> VendorCase:
    """Move along DESIGN §4; pauses the SLA clock while waiting on the municipality."""
    now = _now(now)
    try:
        target = CaseStatus(target)
    except ValueError:
        raise ValidationFailed(fields={"status": str(_l("Unknown status."))}) from None
    if target == case.status:
        return case
    if not (policy.can_manage_case(actor, case) or policy.is_case_municipal_side(actor, case)):
        raise NotEntitled() if policy.is_municipal(actor) else Forbidden()
    if target not in allowed_case_statuses(actor, case):
        raise InvalidTransition(
            _l(
                "A case cannot go from %(current)s to %(target)s.",
                current=CASE_STATUS_LABELS[case.status],
                target=CASE_STATUS_LABELS[target],
            )
        )
    previous = case.status
    if policy.can_manage_case(actor, case):
        _first_response(case, now)
    if target == CaseStatus.waiting_on_municipality:
        _pause(case, now)
    elif previous == CaseStatus.waiting_on_municipality:
        _resume(case, now)
    case.status = target
    case.updated_at = now
    if target == CaseStatus.resolved:
        case.resolved_at = now
    elif target == CaseStatus.closed:
        case.closed_at = now
    elif previous == CaseStatus.resolved:
        case.resolved_at = None
    for ticket in case.tickets:
        ticket_history.add_system_event(
            ticket,
            actor,
            "case_status",
            {
                "case": case.number,
                "from": previous.value,
                "to": target.value,
                "text": str(
                    _l(
                        "Vendor case %(case)s is now: %(status)s.",
                        case=case.number,
                        status=CASE_STATUS_LABELS[target],
                    )
                ),
            },
        )
    refresh_sla(case, now)
    db.session.flush()
    from supportdesk.notifications.models import NotificationEvent

    if policy.can_manage_case(actor, case):
        event = (
            NotificationEvent.case_resolved
            if target == CaseStatus.resolved
            else NotificationEvent.case_status
        )
        _notify(_coordinators(case), event, case, actor)
    else:
        _notify(_vendor_recipients(case), NotificationEvent.case_status, case, actor)
    _webhook_events(
        case,
        actor,
        ("case.status_changed", None, {"from": previous.value, "to": target.value}),
        now=now,
    )
    return case


def assign_case(actor: User, case: VendorCase, assignee: User | None) -> VendorCase:
    if not policy.can_manage_case(actor, case):
        raise Forbidden()
    if assignee is not None:
        allowed = db.session.scalar(
            policy.case_agents(case).where(User.id == assignee.id).with_only_columns(User.id)
        )
        if allowed is None:
            raise ValidationFailed(
                fields={"assignee": str(_l("Choose one of the vendor's active agents."))}
            )
    case.assignee = assignee
    case.updated_at = utcnow()
    db.session.flush()
    return case


def update_case(
    actor: User,
    case: VendorCase,
    *,
    version: int | None = None,
    status: str | None = None,
    priority: str | None = None,
    vendor_reference: str | None = None,
    assignee: User | bool | None = False,
    now: datetime | None = None,
) -> VendorCase:
    """PATCH semantics for the API and the case page: only the given fields change."""
    now = _now(now)
    if version is not None and int(version) != case.version:
        raise Conflict()
    errors: dict[str, str] = {}
    new_priority = None
    if priority is not None:
        try:
            new_priority = Priority(priority)
        except ValueError:
            errors["priority"] = str(_l("Choose a valid priority."))
    if vendor_reference is not None and len(vendor_reference.strip()) > REFERENCE_MAX:
        errors["vendor_reference"] = str(_l("At most 60 characters."))
    if errors:
        raise ValidationFailed(fields=errors)
    is_vendor = policy.can_manage_case(actor, case)
    is_municipal = policy.is_case_municipal_side(actor, case)
    if not (is_vendor or is_municipal):
        raise NotEntitled() if policy.is_municipal(actor) else Forbidden()
    if vendor_reference is not None:
        if not is_vendor:
            raise Forbidden(_l("Only the vendor sets its own reference number."))
        case.vendor_reference = vendor_reference.strip() or None
    if new_priority is not None and new_priority != case.priority:
        if not case.status.is_open:
            raise InvalidTransition(_l("The priority of a resolved case cannot change."))
        case.priority = new_priority
        _recompute_due(case)
    if assignee is not False:
        assign_case(actor, case, assignee)  # type: ignore[arg-type]
    if status is not None:
        change_case_status(actor, case, status, now=now)
    case.updated_at = now
    refresh_sla(case, now)
    db.session.flush()
    return case


def relay(
    actor: User,
    case: VendorCase,
    body: str,
    ticket_ids: Sequence[int] | None = None,
) -> list[Ticket]:
    """The coordinator passes (an edited) vendor answer on as a public reply."""
    if not policy.can_relay_case(actor, case):
        raise NotEntitled()
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    tickets = _linked(case, ticket_ids)
    for ticket in tickets:
        ticket_services.add_entry(actor, ticket, body)
    return tickets


def _linked(case: VendorCase, ticket_ids: Sequence[int] | None) -> list[Ticket]:
    tickets = list(case.tickets)
    if ticket_ids is not None:
        wanted = {int(i) for i in ticket_ids}
        if not wanted <= {t.id for t in tickets}:
            raise ValidationFailed(fields={"tickets": str(_l("Choose tickets in this case."))})
        tickets = [t for t in tickets if t.id in wanted]
    if not tickets:
        raise ValidationFailed(fields={"tickets": str(_l("Choose at least one ticket."))})
    return tickets


def resolvable_tickets(case: VendorCase) -> list[Ticket]:
    return [t for t in case.tickets if t.status not in (TicketStatus.resolved, TicketStatus.closed)]


def resolve_linked_tickets(
    actor: User, case: VendorCase, ticket_ids: Sequence[int] | None = None
) -> list[Ticket]:
    """When the vendor has resolved the case, resolve its tickets in one go (rule 4)."""
    if not policy.can_relay_case(actor, case):
        raise NotEntitled()
    if case.status not in (CaseStatus.resolved, CaseStatus.closed):
        raise InvalidTransition(_l("The vendor has not resolved the case yet."))
    tickets = [t for t in _linked(case, ticket_ids) if t in resolvable_tickets(case)]
    for ticket in tickets:
        ticket_lifecycle.change_status(actor, ticket, TicketStatus.resolved)
    return tickets


# --- reading ---------------------------------------------------------------------------


def case_for_page(user: User, number: str) -> VendorCase:
    case = db.session.scalar(
        policy.cases_visible_to(user)
        .where(VendorCase.number == number)
        .options(
            selectinload(VendorCase.messages).selectinload(CaseMessage.author),
            selectinload(VendorCase.shares)
            .selectinload(SharedItem.ticket)
            .selectinload(Ticket.institution),
            selectinload(VendorCase.tickets).selectinload(Ticket.institution),
            selectinload(VendorCase.vendor).selectinload(Vendor.closed_days),
        )
    )
    if case is None:
        raise NotFound()
    return case


@dataclass(frozen=True)
class TicketSummary:
    """A linked ticket as the vendor may see it: no number, no requester, masked subject."""

    number: str | None
    subject: str
    institution: str | None
    status: str
    created_at: datetime


def ticket_summaries(user: User, case: VendorCase) -> list[TicketSummary]:
    municipal = policy.is_ticket_staff(user) and user.municipality_id == case.municipality_id
    return [
        TicketSummary(
            number=t.number if municipal else None,
            subject=t.subject if municipal else masking.mask(t.subject),
            institution=t.institution.name if t.institution else None,
            status=t.status.value,
            created_at=t.created_at,
        )
        for t in case.tickets
    ]


@dataclass
class CaseFilters:
    status: str | None = None
    priority: str | None = None
    municipality: str | None = None
    system: str | None = None
    sla: str | None = None
    assignee: str | None = None  # user id, "me" or "none"
    cursor: str | None = None


@dataclass
class CasePage:
    cases: list[VendorCase]
    next_cursor: str | None


def _encode_cursor(case: VendorCase) -> str:
    raw = json.dumps([case.created_at.isoformat(), case.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, ident = json.loads(raw)
        moment = datetime.fromisoformat(created)
        if moment.tzinfo is None:
            raise ValueError
        return moment, int(ident)
    except (ValueError, TypeError):
        raise ValidationFailed(fields={"cursor": str(_l("Invalid page cursor."))}) from None


def list_cases(user: User, filters: CaseFilters, size: int = PAGE_SIZE) -> CasePage:
    """Newest first, keyset on (created_at, id); every filter is optional."""
    query = policy.cases_visible_to(user)
    errors: dict[str, str] = {}
    if filters.status:
        if filters.status == "open":
            query = query.where(VendorCase.status.in_(list(OPEN_CASE_STATUSES)))
        elif filters.status in CaseStatus.__members__:
            query = query.where(VendorCase.status == CaseStatus(filters.status))
        else:
            errors["status"] = str(_l("Unknown status."))
    if filters.priority:
        if filters.priority in Priority.__members__:
            query = query.where(VendorCase.priority == Priority(filters.priority))
        else:
            errors["priority"] = str(_l("Choose a valid priority."))
    if filters.sla:
        if filters.sla in SlaState.__members__:
            query = query.where(VendorCase.sla_state == SlaState(filters.sla))
        else:
            errors["sla"] = str(_l("Unknown SLA state."))
    if errors:
        raise ValidationFailed(fields=errors)
    if filters.municipality:
        query = query.join(Municipality, Municipality.id == VendorCase.municipality_id).where(
            Municipality.slug == filters.municipality
        )
    if filters.system:
        query = query.join(System, System.id == VendorCase.system_id).where(
            System.slug == filters.system
        )
    if filters.assignee == "me":
        query = query.where(VendorCase.assignee_id == user.id)
    elif filters.assignee == "none":
        query = query.where(VendorCase.assignee_id.is_(None))
    elif filters.assignee and filters.assignee.isdigit():
        query = query.where(VendorCase.assignee_id == int(filters.assignee))
    if filters.cursor:
        created, ident = _decode_cursor(filters.cursor)
        query = query.where(
            or_(
                VendorCase.created_at < created,
                and_(VendorCase.created_at == created, VendorCase.id < ident),
            )
        )
    query = (
        query.options(
            selectinload(VendorCase.municipality),
            selectinload(VendorCase.system),
            selectinload(VendorCase.assignee),
            selectinload(VendorCase.vendor),
        )
        .order_by(VendorCase.created_at.desc(), VendorCase.id.desc())
        .limit(size + 1)
    )
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    return CasePage(rows, _encode_cursor(rows[-1]) if more and rows else None)


def case_counts_by_state(user: User) -> dict[str, int]:
    """For the queue header: open cases per SLA state."""
    visible = (
        policy.cases_visible_to(user)
        .where(VendorCase.status.in_(list(OPEN_CASE_STATUSES)))
        .subquery()
    )
    rows = db.session.execute(
        select(visible.c.sla_state, func.count()).group_by(visible.c.sla_state)
    ).all()
    return {str(state): count for state, count in rows}


# --- known issues ----------------------------------------------------------------------


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


def active_known_issue_choices(system_id: int) -> list[tuple[int, str]]:
    """Id and title of the system's active issues: one narrow query for every ticket page.

    The ticket page only needs the choices of its link form; loading whole issues with
    their system and vendor cost ORM work on every page view.
    """
    rows = db.session.execute(
        select(KnownIssue.id, KnownIssue.title)
        .where(
            KnownIssue.system_id == system_id,
            KnownIssue.status != KnownIssueStatus.resolved,
        )
        .order_by(KnownIssue.started_at.desc(), KnownIssue.id.desc())
    )
    return [(issue_id, title) for issue_id, title in rows]


def recent_known_issues(user: User, limit: int = 50) -> list[KnownIssue]:
    """Active and recently resolved; vendor staff see their own vendor's first."""
    query = (
        select(KnownIssue)
        .options(selectinload(KnownIssue.system), selectinload(KnownIssue.vendor))
        .order_by(KnownIssue.started_at.desc(), KnownIssue.id.desc())
        .limit(limit)
    )
    if policy.is_vendor_staff(user):
        query = query.where(KnownIssue.vendor_id == user.vendor_id)
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
    now = _now(now)
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
            .options(selectinload(Ticket.assignee))
            .order_by(Ticket.id)
        )
    )


def _announce_known_issue_resolved(actor: User, issue: KnownIssue) -> None:
    from supportdesk.notifications import services as notifications
    from supportdesk.notifications.models import NotificationEvent

    tickets = linked_tickets(issue)
    by_municipality: dict[int, list[Ticket]] = {}
    for ticket in tickets:
        ticket_history.add_system_event(
            ticket,
            actor,
            "known_issue_resolved",
            {
                "known_issue": issue.id,
                "title": issue.title,
                "text": str(_l("The known issue is resolved: %(title)s", title=issue.title)),
            },
        )
        by_municipality.setdefault(ticket.municipality_id, []).append(ticket)
    for municipality_id, group in by_municipality.items():
        coordinators = list(
            db.session.scalars(
                select(User)
                .join(SupportEntitlement, SupportEntitlement.user_id == User.id)
                .where(
                    SupportEntitlement.vendor_id == issue.vendor_id,
                    SupportEntitlement.municipality_id == municipality_id,
                )
            )
        )
        assignees = [
            t.assignee
            for t in group
            if t.assignee is not None and t.assignee.role == Role.coordinator
        ]
        notifications.notify(
            [*assignees, *coordinators],
            NotificationEvent.known_issue_resolved,
            # One ticket: straight to it; several: the municipality's ticket list.
            url=f"/tickets/{group[0].number}" if len(group) == 1 else "/tickets",
            context={"title": issue.title, "system": issue.system.name, "count": len(group)},
            actor=actor,
        )


def link_ticket_to_known_issue(actor: User, ticket: Ticket, issue: KnownIssue) -> bool:
    """Mark a ticket as the known issue; returns False when the link already existed."""
    if not policy.can_link_known_issue(actor, ticket):
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
        {
            "known_issue": issue.id,
            "title": issue.title,
            "text": str(_l("Linked to the known issue: %(title)s", title=issue.title)),
        },
    )
    return True


def link_case_to_known_issue(actor: User, case: VendorCase, issue: KnownIssue | None) -> None:
    if not (policy.can_manage_case(actor, case) or policy.is_case_municipal_side(actor, case)):
        raise Forbidden()
    if issue is not None and issue.vendor_id != case.vendor_id:
        raise ValidationFailed(
            fields={"known_issue": str(_l("The known issue belongs to another vendor."))}
        )
    case.known_issue = issue
    case.updated_at = utcnow()
    db.session.flush()


def known_issues_for_ticket(ticket: Ticket) -> list[KnownIssue]:
    return list(
        db.session.scalars(
            select(KnownIssue)
            .join(KnownIssueTicket, KnownIssueTicket.known_issue_id == KnownIssue.id)
            .where(KnownIssueTicket.ticket_id == ticket.id)
        )
    )

"""Working a vendor case: messages both ways, status, assignment, and the way back to tickets.

Rule 4: the vendor answers in the case; the answer reaches every linked ticket as a note
the coordinator can relay, and resolving the case proposes resolving its tickets.
Services take the acting user, check rules through `policy`, change and flush; the
caller commits once. Every function that depends on the time takes `now`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload

from supportdesk import policy
from supportdesk.accounts.models import User, Vendor
from supportdesk.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotEntitled,
    NotFound,
    ValidationFailed,
)
from supportdesk.escalation import notify
from supportdesk.escalation.models import (
    CASE_STATUS_LABELS,
    CaseMessage,
    CaseStatus,
    SensitiveDataConfirmation,
    SharedItem,
    VendorCase,
)
from supportdesk.escalation.sla_clock import (
    first_response,
    pause,
    recompute_due,
    refresh_sla,
    resume,
)
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import NotificationEvent
from supportdesk.sensitive import protect
from supportdesk.tickets import history as ticket_history
from supportdesk.tickets import lifecycle as ticket_lifecycle
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import EntryKind, Priority, Ticket, TicketStatus
from supportdesk.webhooks import services as webhooks
from supportdesk.webhooks.models import WebhookEvent

BODY_MAX = 20000
REFERENCE_MAX = 60


def case_for_page(user: User, number: str) -> VendorCase:
    """One case the user may see, with what its page and API document show."""
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


# --- messages ----------------------------------------------------------------------------


def municipal_message(
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


def log_confirmation(
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


def _ticket_note(
    case: VendorCase, actor: User, event: str, body: str, data: dict, now: datetime
) -> None:
    """A vendor answer on every linked ticket, for municipal staff only (relay decides)."""
    for ticket in case.tickets:
        ticket_history.new_entry(
            ticket,
            EntryKind.internal_note,
            actor,
            body=body,
            event=event,
            data={"case": case.number, **data},
            created_at=now,
        )
        ticket.updated_at = now


def post_message(
    actor: User,
    case: VendorCase,
    body: str,
    *,
    confirm_sensitive: bool = False,
    now: datetime | None = None,
) -> CaseMessage:
    """Vendor answers flow back to every linked ticket; municipal messages are masked."""
    now = now if now is not None else utcnow()
    if not policy.can_message_case(actor, case):
        if case.status == CaseStatus.closed:
            raise InvalidTransition(_l("The case is closed."))
        policy.refuse_case_outsider(actor)
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    if len(body) > BODY_MAX:
        raise ValidationFailed(fields={"body": str(_l("The message is too long."))})
    from_vendor = policy.is_case_vendor_side(actor, case)
    previous = case.status
    if from_vendor:
        message = _vendor_answer(case, actor, body, now)
        recipients = notify.coordinators(case)
    else:
        message = _municipal_answer(case, actor, body, confirm_sensitive, now)
        recipients = notify.vendor_recipients(case)
    case.updated_at = now
    refresh_sla(case, now)
    db.session.flush()
    excerpt = {"excerpt": message.body[:200]}
    notify.notify(recipients, NotificationEvent.case_message, case, actor, extra=excerpt)
    kind = WebhookEvent.case_vendor_message if from_vendor else WebhookEvent.case_message
    events = [webhooks.CaseEvent(kind, message)]
    if case.status != previous:
        events.append(_status_event(previous, case.status))
    webhooks.case_events(case, actor, events, now=now)
    return message


def _vendor_answer(case: VendorCase, actor: User, body: str, now: datetime) -> CaseMessage:
    """The vendor's answer stops the response clock and reaches every linked ticket."""
    message = CaseMessage(case=case, author=actor, from_vendor=True, body=body, created_at=now)
    db.session.add(message)
    db.session.flush()
    first_response(case, now)
    if case.status == CaseStatus.new:
        case.status = CaseStatus.in_progress
    if case.municipality.auto_relay_answers:
        # the municipality's setting: the answer reaches the reporters without a coordinator
        _relay_to(None, case, message.body, relayable_tickets(case), message, now)
    else:
        _ticket_note(case, actor, "vendor_message", body, {"message": message.id}, now)
    return message


def _municipal_answer(
    case: VendorCase, actor: User, body: str, confirm_sensitive: bool, now: datetime
) -> CaseMessage:
    text, was_masked, findings = protect(body, confirm_sensitive)
    message = municipal_message(
        case, actor, text, was_masked, confirm_sensitive and findings > 0, now
    )
    if confirm_sensitive and findings:
        log_confirmation(case, actor, "message", findings, now)
    # Answering while the vendor waits on the municipality restarts the clock.
    if case.status == CaseStatus.waiting_on_municipality:
        case.status = CaseStatus.in_progress
        resume(case, now)
    return message


def _status_event(previous: CaseStatus, current: CaseStatus) -> webhooks.CaseEvent:
    return webhooks.CaseEvent(
        WebhookEvent.case_status_changed, None, {"from": previous.value, "to": current.value}
    )


# --- status ------------------------------------------------------------------------------


def change_case_status(
    actor: User, case: VendorCase, target: CaseStatus | str, *, now: datetime | None = None
) -> VendorCase:
    """Move along DESIGN §4; pauses the SLA clock while waiting on the municipality."""
    now = now if now is not None else utcnow()
    try:
        target = CaseStatus(target)
    except ValueError:
        raise ValidationFailed(fields={"status": str(_l("Unknown status."))}) from None
    if target == case.status:
        return case
    policy.require_case_party(actor, case)
    if target not in policy.allowed_case_statuses(actor, case):
        raise InvalidTransition(
            _l(
                "A case cannot go from %(current)s to %(target)s.",
                current=CASE_STATUS_LABELS[case.status],
                target=CASE_STATUS_LABELS[target],
            )
        )
    previous = case.status
    if policy.can_manage_case(actor, case):
        first_response(case, now)
    _move(case, previous, target, now)
    for ticket in case.tickets:
        ticket_history.add_system_event(
            ticket, actor, "case_status", _status_line(case, previous, target)
        )
    refresh_sla(case, now)
    db.session.flush()
    _announce_status(case, actor, target)
    webhooks.case_events(case, actor, [_status_event(previous, target)], now=now)
    return case


def _move(case: VendorCase, previous: CaseStatus, target: CaseStatus, now: datetime) -> None:
    """The new status with its clock: paused while waiting, stamped when resolved/closed."""
    if target == CaseStatus.waiting_on_municipality:
        pause(case, now)
    elif previous == CaseStatus.waiting_on_municipality:
        resume(case, now)
    case.status = target
    case.updated_at = now
    if target == CaseStatus.resolved:
        case.resolved_at = now
    elif target == CaseStatus.closed:
        case.closed_at = now
    elif previous == CaseStatus.resolved:
        case.resolved_at = None


def _status_line(case: VendorCase, previous: CaseStatus, target: CaseStatus) -> dict[str, Any]:
    """The history event every linked ticket gets (worded by `_status_wording`)."""
    return {"case": case.number, "from": previous.value, "to": target.value}


@ticket_history.describes("case_status")
def _status_wording(data: dict[str, Any]) -> Any:
    return _l(
        "Vendor case %(case)s is now: %(status)s.",
        case=data["case"],
        status=CASE_STATUS_LABELS[CaseStatus(data["to"])],
    )


def _announce_status(case: VendorCase, actor: User, target: CaseStatus) -> None:
    """The other side hears of it: the vendor's change reaches the coordinators."""
    if policy.can_manage_case(actor, case):
        event = (
            NotificationEvent.case_resolved
            if target == CaseStatus.resolved
            else NotificationEvent.case_status
        )
        notify.notify(notify.coordinators(case), event, case, actor)
    else:
        notify.notify(notify.vendor_recipients(case), NotificationEvent.case_status, case, actor)


# --- assignment and details --------------------------------------------------------------


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
    now = now if now is not None else utcnow()
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
    policy.require_case_party(actor, case)
    if vendor_reference is not None:
        if not policy.can_manage_case(actor, case):
            raise Forbidden(_l("Only the vendor sets its own reference number."))
        case.vendor_reference = vendor_reference.strip() or None
    if new_priority is not None and new_priority != case.priority:
        if not case.status.is_open:
            raise InvalidTransition(_l("The priority of a resolved case cannot change."))
        case.priority = new_priority
        recompute_due(case)
    if assignee is not False:
        assign_case(actor, case, assignee)  # type: ignore[arg-type]
    if status is not None:
        change_case_status(actor, case, status, now=now)
    case.updated_at = now
    refresh_sla(case, now)
    db.session.flush()
    return case


# --- back to the tickets -----------------------------------------------------------------


def relay(
    actor: User,
    case: VendorCase,
    body: str,
    ticket_ids: Sequence[int] | None = None,
    message_id: int | None = None,
) -> list[Ticket]:
    """The coordinator passes (an edited) vendor answer on as a public reply to every
    chosen ticket; each reporter is told with the answer (answer_relayed). With
    `message_id` the vendor message is marked relayed."""
    if not policy.can_relay_case(actor, case):
        raise NotEntitled()
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    if len(body) > BODY_MAX:
        raise ValidationFailed(fields={"body": str(_l("The message is too long."))})
    message = vendor_message(case, message_id) if message_id else None
    tickets = _linked(case, ticket_ids)
    closed = ", ".join(t.number for t in tickets if t.status == TicketStatus.closed)
    if closed:
        text = _l("Closed tickets cannot get an answer: %(numbers)s", numbers=closed)
        raise ValidationFailed(fields={"tickets": str(text)})
    _relay_to(actor, case, body, tickets, message, utcnow())
    return tickets


def _relay_to(
    actor: User | None,
    case: VendorCase,
    body: str,
    tickets: Sequence[Ticket],
    message: CaseMessage | None,
    now: datetime,
) -> None:
    for ticket in tickets:
        ticket_services.relay_answer(actor, ticket, body, case.number)
    if message is not None:
        _handled(message, actor, "relayed", now)


def _handled(message: CaseMessage, actor: User | None, handling: str, now: datetime) -> None:
    message.handling = handling
    message.handled_by = actor
    message.handled_at = now
    db.session.flush()


def vendor_message(case: VendorCase, message_id: int) -> CaseMessage:
    """One of the vendor's messages in this case (another case's is not found)."""
    message = next((m for m in case.messages if m.id == message_id and m.from_vendor), None)
    if message is None:
        raise NotFound()
    return message


def keep_internal(actor: User, case: VendorCase, message_id: int) -> CaseMessage:
    """The coordinator's other choice: the vendor's message stays with the municipal staff
    (it is on every linked ticket as an internal note); nothing reaches the reporters."""
    if not policy.can_relay_case(actor, case):
        raise NotEntitled()
    message = vendor_message(case, message_id)
    _handled(message, actor, "internal", utcnow())
    return message


def relayable_tickets(case: VendorCase) -> list[Ticket]:
    """The linked tickets an answer can still reach (a closed ticket takes no reply)."""
    return [t for t in case.tickets if t.status != TicketStatus.closed]


def relay_recipients(case: VendorCase, tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
    """Who reads a relayed answer, ticket by ticket: the reporter (and a caller's address)."""
    return [
        {
            "ticket": t,
            "reporter": t.created_by,
            "caller": t.requester_name if t.requester_email else None,
            "caller_email": t.requester_email,
        }
        for t in tickets
    ]


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

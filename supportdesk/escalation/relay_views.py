"""The answer flow's preview on the case page: exactly what each reporter will read.

Used by views.py (the case page and its relay form): the answer as it will stand on
every chosen ticket (the ticket page's own entry template), who reads it there, and
the e-mail subject each gets. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk import policy
from supportdesk.errors import Forbidden
from supportdesk.escalation import cases
from supportdesk.escalation.forms import RelayForm
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import utcnow
from supportdesk.notifications import services as notifications
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets.models import EntryKind, TicketEntry


def relay_preview(case: VendorCase, body: str, ticket_ids: Sequence[int]) -> dict[str, Any]:
    """The entry each reporter will see (not saved) and, ticket by ticket, who reads it."""
    body = (body or "").strip()
    chosen = [t for t in cases.relayable_tickets(case) if t.id in set(ticket_ids or ())]
    entry = TicketEntry(
        kind=EntryKind.reply,
        author=current_user._get_current_object(),
        body=body,
        event="answer_relayed",
        data={"case": case.number},
        created_at=utcnow(),
        attachments=[],
    )
    readers = []
    for row in cases.relay_recipients(case, chosen):
        ticket = row["ticket"]
        context = {"number": ticket.number, "subject": ticket.subject}
        row["email_subject"] = notifications.summary(NotificationEvent.answer_relayed, context)
        readers.append(row)
    return {"entry": entry, "readers": readers, "body": body}


def preview_page(number: str, case_context: Callable[..., dict[str, Any]]) -> ResponseReturnValue:
    """The case page with the relay form as typed and its preview (200; 422 if invalid)."""
    case = cases.case_for_page(current_user, number)
    if not policy.can_relay_case(current_user, case):
        raise Forbidden()
    form = RelayForm()
    form.tickets.choices = [(t.id, t.number) for t in cases.relayable_tickets(case)]
    valid = form.validate_on_submit()
    message = None
    if (form.message.data or "").isdigit():
        message = next(
            (m for m in case.messages if m.id == int(form.message.data) and m.from_vendor), None
        )
    context = case_context(case, relay_form=form, relay_message=message)
    if valid:
        context["preview"] = relay_preview(case, form.body.data or "", form.tickets.data or [])
    return render_template("escalation/detail.html", **context), (200 if valid else 422)

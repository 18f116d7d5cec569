"""What each side sees of a vendor case, built once for pages, the API, e-mail and webhooks.

A document is plain data (JSON-ready dicts, or small dataclasses for pages) built with
the eyes of one reader: the vendor gets shared snapshots and masked subjects, never the
municipality's tickets; the municipality's ticket staff also see their tickets. The API
serialises these documents, webhook bodies are the same documents built for the
receiver's side (policy.webhook_reader), and notices carry only what every recipient
may see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from supportdesk import policy, sensitive
from supportdesk.accounts.models import User
from supportdesk.escalation.models import CaseMessage, VendorCase
from supportdesk.escalation.sla_clock import SlaView, sla_view
from supportdesk.extensions import db
from supportdesk.markup import render_markdown
from supportdesk.tickets.models import Ticket


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class TicketSummary:
    """A linked ticket as the vendor may see it: no number, no requester, masked subject."""

    number: str | None
    subject: str
    institution: str | None
    status: str
    created_at: datetime


def ticket_summaries(user: User, case: VendorCase) -> list[TicketSummary]:
    municipal = policy.can_see_case_tickets(user, case)
    return [
        TicketSummary(
            number=t.number if municipal else None,
            subject=t.subject if municipal else sensitive.mask(t.subject),
            institution=t.institution.name if t.institution else None,
            status=t.status.value,
            created_at=t.created_at,
        )
        for t in case.tickets
    ]


def message_document(message: CaseMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "from_vendor": message.from_vendor,
        "author": message.author.name if message.author else None,
        "body": message.body,
        "body_html": str(render_markdown(message.body)),
        "masked": message.masked,
        "created_at": _iso(message.created_at),
    }


def case_document(case: VendorCase, viewer: User, *, url: str) -> dict[str, Any]:
    """The case as `viewer` may see it: vendors get shared snapshots, never tickets.

    Webhook bodies are this document as stored bytes, so the keys keep their order.
    """
    visible_numbers = list(
        db.session.scalars(
            policy.tickets_visible_to(viewer)
            .where(Ticket.vendor_case_id == case.id)
            .with_only_columns(Ticket.number)
            .order_by(Ticket.id)
        )
    )
    return {
        "number": case.number,
        "vendor": case.vendor.slug,
        "municipality": case.municipality.slug,
        "system": case.system.slug,
        "status": case.status.value,
        "priority": case.priority.value,
        "vendor_reference": case.vendor_reference,
        "subject": case.subject,
        "summary": case.summary,
        "assignee": case.assignee.email if case.assignee else None,
        "known_issue": case.known_issue_id,
        "created_at": _iso(case.created_at),
        "updated_at": _iso(case.updated_at),
        "first_response_at": _iso(case.first_response_at),
        "resolved_at": _iso(case.resolved_at),
        "version": case.version,
        "tickets": visible_numbers,
        "ticket_summaries": [_summary_document(s) for s in ticket_summaries(viewer, case)],
        "shared": _shared_documents(case, viewer),
        "messages": [message_document(m) for m in case.messages],
        "sla": sla_document(sla_view(case)),
        "url": url,
    }


def _summary_document(summary: TicketSummary) -> dict[str, Any]:
    return {
        "number": summary.number,
        "subject": summary.subject,
        "institution": summary.institution,
        "status": summary.status,
        "created_at": _iso(summary.created_at),
    }


def _shared_documents(case: VendorCase, viewer: User) -> list[dict[str, Any]]:
    """The snapshots shared into the case; which ticket each came from is municipal."""
    municipal = policy.can_see_case_tickets(viewer, case)
    return [
        {
            "kind": item.kind.value,
            "text": item.text,
            "filename": item.filename,
            "masked": item.masked,
            "sensitive_confirmed": item.sensitive_confirmed,
            "shared_at": _iso(item.shared_at),
            **({"ticket": item.ticket.number} if municipal else {}),
        }
        for item in case.shares
    ]


def sla_document(view: SlaView) -> dict[str, Any]:
    return {
        "state": view.state.value,
        "phase": view.phase,
        "due_at": _iso(view.due_at),
        "seconds_left": view.seconds_left,
        "response_due_at": _iso(view.response_due_at),
        "resolution_due_at": _iso(view.resolution_due_at),
    }


def case_list_item(case: VendorCase) -> dict[str, Any]:
    """One row of the case queue: what both sides may see of every case they list."""
    return {
        "number": case.number,
        "subject": case.subject,
        "vendor": case.vendor.slug,
        "municipality": case.municipality.slug,
        "system": case.system.slug,
        "status": case.status.value,
        "priority": case.priority.value,
        "sla_state": case.sla_state.value,
        "resolution_due_at": _iso(case.resolution_due_at),
        "vendor_reference": case.vendor_reference,
        "assignee": case.assignee.email if case.assignee else None,
        "created_at": _iso(case.created_at),
        "version": case.version,
    }


def case_notice(case: VendorCase, **extra: Any) -> dict[str, Any]:
    """What a notification or e-mail about the case says: only what every recipient, on
    either side, may see (the subject is the one shared with the vendor)."""
    return {"number": case.number, "subject": case.subject, "status": case.status.value, **extra}

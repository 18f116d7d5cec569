"""Anonymise closed tickets past their municipality's retention period (DESIGN §3.9).

What identifies a child, a parent or a staff member goes: subject, description,
requester contact, the text of replies and internal notes, attachments (rows and
files), what was shared with the vendor from the ticket, and the in-app
notifications that quote it. What stays is the skeleton that reports need:
number, municipality, institution, system, category, priority, status, times
and the system events of the life cycle. Cases whose tickets are all anonymised
and that are closed lose their summary and messages too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update

from supportdesk.accounts.models import Municipality
from supportdesk.audit.services import prune as prune_audit_logs
from supportdesk.cache import generations
from supportdesk.escalation.models import (
    CaseMessage,
    CaseStatus,
    SharedItem,
    VendorCase,
    municipal_case_generation,
    vendor_case_generation,
)
from supportdesk.extensions import db, utcnow
from supportdesk.idempotency import prune as prune_idempotency_keys
from supportdesk.notifications.models import Notification
from supportdesk.outbox import OutboxMessage
from supportdesk.tickets import surveys
from supportdesk.tickets.models import (
    Attachment,
    EntryKind,
    SurveyResponse,
    Ticket,
    TicketEntry,
    TicketStatus,
    case_page_generation,
    ticket_generation,
    ticket_pages,
)
from supportdesk.tickets.upload_store import remove_on_commit, sweep_orphans

ANONYMISED_SUBJECT = "[anonymiseret]"
# Delivered outbox rows quote subjects and replies; they are kept only this long.
SENT_OUTBOX_KEEP = timedelta(days=30)
BATCH = 500


@dataclass
class RetentionReport:
    tickets: int = 0
    attachments: int = 0
    cases: int = 0
    outbox: int = 0
    audit_events: int = 0
    ticket_views: int = 0
    idempotency_keys: int = 0
    orphaned_files: int = 0
    per_municipality: dict[str, int] = field(default_factory=dict)


def _expired_ticket_ids(municipality: Municipality, now: datetime) -> list[int]:
    cutoff = now - timedelta(days=municipality.retention_days)
    return list(
        db.session.scalars(
            select(Ticket.id)
            .where(
                Ticket.municipality_id == municipality.id,
                Ticket.status == TicketStatus.closed,
                Ticket.closed_at.is_not(None),
                Ticket.closed_at < cutoff,
                Ticket.anonymised_at.is_(None),
            )
            .order_by(Ticket.id)
        )
    )


def _anonymise_tickets(ids: list[int], now: datetime, report: RetentionReport) -> None:
    rows = db.session.execute(
        select(
            Ticket.id,
            Ticket.number,
            Ticket.created_by_id,
            Ticket.municipality_id,
            Ticket.merged_into_id,
        ).where(Ticket.id.in_(ids))
    ).all()
    numbers = [row.number for row in rows]
    # the survey's bell entries point to its signed link, not to the ticket
    survey_links = [f"/survey/{surveys.token_for(row.id, row.created_by_id)}" for row in rows]
    attachments = list(db.session.scalars(select(Attachment).where(Attachment.ticket_id.in_(ids))))
    db.session.execute(
        update(SharedItem)
        .where(SharedItem.ticket_id.in_(ids))
        .values(text="", filename=None, attachment_id=None, entry_id=None)
    )
    remove_on_commit([attachment.storage_name for attachment in attachments])
    db.session.execute(delete(Attachment).where(Attachment.ticket_id.in_(ids)))
    report.attachments += len(attachments)
    db.session.execute(
        update(TicketEntry)
        .where(
            TicketEntry.ticket_id.in_(ids),
            TicketEntry.kind.in_([EntryKind.reply, EntryKind.internal_note]),
        )
        .values(body="")
    )
    db.session.execute(
        update(SurveyResponse).where(SurveyResponse.ticket_id.in_(ids)).values(comment="")
    )
    db.session.execute(
        update(Ticket)
        .where(Ticket.id.in_(ids))
        .values(
            subject=ANONYMISED_SUBJECT,
            description="",
            requester_name=None,
            requester_phone=None,
            requester_email=None,
            anonymised_at=now,
            version=Ticket.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    _anonymise_merged_from_lines([row for row in rows if row.merged_into_id is not None])
    generations.bump(
        *{ticket_generation(row.municipality_id) for row in rows},
        # each ticket's page, and the page of the ticket it is merged into (which lists it)
        *(
            name
            for row in rows
            for name in ticket_pages(row.municipality_id, (row.id, row.merged_into_id))
        ),
    )
    db.session.execute(
        delete(Notification).where(
            Notification.url.in_([f"/tickets/{n}" for n in numbers] + survey_links)
        )
    )


def _anonymise_merged_from_lines(rows: list[Any]) -> None:
    """The ticket a ticket was merged into keeps a "merged from" line with the merged
    ticket's subject: it goes with the merged ticket's other text."""
    if not rows:
        return
    numbers = {row.number for row in rows}
    lines = db.session.scalars(
        select(TicketEntry).where(
            TicketEntry.ticket_id.in_({row.merged_into_id for row in rows}),
            TicketEntry.event == "merged_from",
        )
    )
    for line in lines:
        if (line.data or {}).get("ticket") in numbers:
            line.data = {**line.data, "subject": ANONYMISED_SUBJECT}


def _anonymise_in_batches(ids: list[int], now: datetime, report: RetentionReport) -> None:
    for start in range(0, len(ids), BATCH):
        _anonymise_tickets(ids[start : start + BATCH], now, report)
    report.tickets += len(ids)


def anonymise_tickets(ids: list[int], now: datetime) -> RetentionReport:
    """Anonymise these tickets now, as the retention job does (GDPR erasure); flushes."""
    report = RetentionReport()
    _anonymise_in_batches(ids, now, report)
    db.session.flush()
    return report


def _anonymise_finished_cases(report: RetentionReport) -> None:
    """Closed cases whose every ticket is anonymised lose their text as well."""
    has_live_ticket = (
        select(Ticket.id)
        .where(Ticket.vendor_case_id == VendorCase.id, Ticket.anonymised_at.is_(None))
        .exists()
    )
    ids = list(
        db.session.scalars(
            select(VendorCase.id).where(
                VendorCase.status == CaseStatus.closed,
                VendorCase.summary != "",
                ~has_live_ticket,
                select(Ticket.id).where(Ticket.vendor_case_id == VendorCase.id).exists(),
            )
        )
    )
    if not ids:
        return
    db.session.execute(delete(CaseMessage).where(CaseMessage.case_id.in_(ids)))
    db.session.execute(
        update(VendorCase)
        .where(VendorCase.id.in_(ids))
        .values(summary="", subject=ANONYMISED_SUBJECT, version=VendorCase.version + 1)
        .execution_options(synchronize_session=False)
    )
    owners = db.session.execute(
        select(VendorCase.id, VendorCase.vendor_id, VendorCase.municipality_id).where(
            VendorCase.id.in_(ids)
        )
    ).all()
    generations.bump(
        *{vendor_case_generation(owner.vendor_id) for owner in owners},
        *{municipal_case_generation(owner.municipality_id) for owner in owners},
        # the ticket pages show the case's latest vendor message
        *(case_page_generation(owner.municipality_id, owner.id) for owner in owners),
    )
    report.cases += len(ids)


def run_retention(now: datetime | None = None) -> RetentionReport:
    """Anonymise every expired ticket; flushes, the caller commits."""
    now = now or utcnow()
    report = RetentionReport()
    for municipality in db.session.scalars(select(Municipality).order_by(Municipality.slug)):
        ids = _expired_ticket_ids(municipality, now)
        _anonymise_in_batches(ids, now, report)
        report.per_municipality[municipality.slug] = len(ids)
    _anonymise_finished_cases(report)
    result = db.session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.sent_at.is_not(None), OutboxMessage.sent_at < now - SENT_OUTBOX_KEEP
        )
    )
    report.outbox = result.rowcount or 0
    # the security event log and the ticket access log are kept as long as configured
    report.audit_events, report.ticket_views = prune_audit_logs(
        current_app.config["SUPPORTDESK"].audit_retention_days, now
    )
    # the answers kept for API retries (they quote tickets) live 24 hours
    report.idempotency_keys = prune_idempotency_keys(now)
    # upload files no row points to (a process killed before its commit), after a day
    report.orphaned_files = sweep_orphans()
    db.session.flush()
    return report

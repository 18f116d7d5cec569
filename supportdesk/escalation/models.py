"""Vendor cases (leverandørsager), what was shared into them, SLA targets, known issues."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy import inspect as inspect_row
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from supportdesk.accounts.models import (
    LabelledEnum,
    Municipality,
    MunicipalityOwned,
    System,
    User,
    Vendor,
    str_enum,
)
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import (
    Attachment,
    Priority,
    Ticket,
    TicketEntry,
    case_page_generation,
    in_session,
    pages_of_ticket_row,
)


class CaseStatus(LabelledEnum):
    new = "new", _l("New")
    in_progress = "in_progress", _l("In progress")
    waiting_on_municipality = "waiting_on_municipality", _l("Waiting on the municipality")
    resolved = "resolved", _l("Resolved")
    closed = "closed", _l("Closed")

    @property
    def is_open(self) -> bool:
        return self in OPEN_CASE_STATUSES


OPEN_CASE_STATUSES = frozenset(
    {CaseStatus.new, CaseStatus.in_progress, CaseStatus.waiting_on_municipality}
)

# DESIGN §4: new → in_progress → waiting_on_municipality → resolved → closed; a resolved
# case may be reopened (back to in_progress) until it is closed. The vendor's agents move
# the case along these; the municipality only closes a resolved case or reopens it when
# the fix did not hold (MUNICIPAL_CASE_TRANSITIONS).
CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.new: frozenset(
        {CaseStatus.in_progress, CaseStatus.waiting_on_municipality, CaseStatus.resolved}
    ),
    CaseStatus.in_progress: frozenset({CaseStatus.waiting_on_municipality, CaseStatus.resolved}),
    CaseStatus.waiting_on_municipality: frozenset({CaseStatus.in_progress, CaseStatus.resolved}),
    CaseStatus.resolved: frozenset({CaseStatus.in_progress, CaseStatus.closed}),
    CaseStatus.closed: frozenset(),
}
MUNICIPAL_CASE_TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.resolved: frozenset({CaseStatus.in_progress, CaseStatus.closed}),
}

CASE_STATUS_LABELS = CaseStatus.labels()


def next_case_statuses(current: CaseStatus, *, vendor_side: bool) -> list[CaseStatus]:
    """Where one side may move a case from `current`, in the order of CaseStatus."""
    table = CASE_TRANSITIONS if vendor_side else MUNICIPAL_CASE_TRANSITIONS
    targets = table.get(current, frozenset())
    return [status for status in CaseStatus if status in targets]


class SlaState(LabelledEnum):
    """Stored so the vendor queue can filter on it; the worker keeps it current."""

    ok = "ok", _l("On track")
    warning = "warning", _l("Close to deadline")
    breached = "breached", _l("Overdue")
    paused = "paused", _l("Paused")
    met = "met", _l("Met")


SLA_STATE_LABELS = SlaState.labels()


class ShareKind(enum.StrEnum):
    description = "description"
    entry = "entry"
    attachment = "attachment"


class KnownIssueStatus(LabelledEnum):
    investigating = "investigating", _l("Investigating")  # undersøges
    identified = "identified", _l("Identified")  # identificeret
    monitoring = "monitoring", _l("Monitoring")  # overvåges
    resolved = "resolved", _l("Resolved")  # løst

    @property
    def is_active(self) -> bool:
        return self != KnownIssueStatus.resolved


KNOWN_ISSUE_STATUS_LABELS = KnownIssueStatus.labels()


class KnownIssue(db.Model):
    """A vendor-published incident (driftsstatus) that many tickets and cases link to."""

    __tablename__ = "known_issue"
    __table_args__ = (Index("ix_known_issue_system_status", "system_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[KnownIssueStatus] = mapped_column(
        str_enum(KnownIssueStatus, "known_issue_status"), default=KnownIssueStatus.investigating
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    vendor: Mapped[Vendor] = relationship()
    system: Mapped[System] = relationship()
    created_by: Mapped[User | None] = relationship()
    ticket_links: Mapped[list[KnownIssueTicket]] = relationship(
        back_populates="known_issue", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_active(self) -> bool:
        return self.status.is_active


class KnownIssueTicket(MunicipalityOwned, db.Model):
    """A ticket linked to a known issue ("Det er den kendte fejl")."""

    __tablename__ = "known_issue_ticket"
    __table_args__ = (UniqueConstraint("known_issue_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    known_issue_id: Mapped[int] = mapped_column(ForeignKey("known_issue.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)

    known_issue: Mapped[KnownIssue] = relationship(back_populates="ticket_links")
    ticket: Mapped[Ticket] = relationship()
    linked_by: Mapped[User | None] = relationship()


class SlaTarget(db.Model):
    """A vendor's promise per priority, in business minutes of its own calendar."""

    __tablename__ = "sla_target"
    __table_args__ = (UniqueConstraint("vendor_id", "priority"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "priority"))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)

    vendor: Mapped[Vendor] = relationship()


# Used when a vendor has no row for a priority: business minutes (8-hour days).
DEFAULT_SLA_MINUTES: dict[Priority, tuple[int, int]] = {
    Priority.critical: (60, 8 * 60),
    Priority.high: (4 * 60, 3 * 8 * 60),
    Priority.normal: (8 * 60, 5 * 8 * 60),
    Priority.low: (2 * 8 * 60, 10 * 8 * 60),
}


class VendorCase(MunicipalityOwned, db.Model):
    """An escalation to a vendor's servicedesk; bundles tickets of one municipality."""

    __tablename__ = "vendor_case"
    __table_args__ = (
        # The vendor queue: its cases by status, keyset on (created_at, id).
        Index("ix_vendor_case_vendor_status_created", "vendor_id", "status", "created_at", "id"),
        Index("ix_vendor_case_municipality_status", "municipality_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))
    # no index of its own: the (municipality_id, status) index above leads with it
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    status: Mapped[CaseStatus] = mapped_column(
        str_enum(CaseStatus, "case_status"), default=CaseStatus.new
    )
    priority: Mapped[Priority] = mapped_column(
        str_enum(Priority, "priority"), default=Priority.normal
    )
    # What the vendor sees as the title and the coordinator's summary (masked unless confirmed).
    subject: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    vendor_reference: Mapped[str | None] = mapped_column(String(60))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    known_issue_id: Mapped[int | None] = mapped_column(ForeignKey("known_issue.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # SLA clock (business time of the vendor's calendar).
    first_response_at: Mapped[datetime | None] = mapped_column()
    response_due_at: Mapped[datetime | None] = mapped_column()
    resolution_due_at: Mapped[datetime | None] = mapped_column()
    paused_seconds: Mapped[int] = mapped_column(Integer, default=0)
    paused_at: Mapped[datetime | None] = mapped_column()
    sla_state: Mapped[SlaState] = mapped_column(
        str_enum(SlaState, "sla_state"), default=SlaState.ok, index=True
    )
    response_warned_at: Mapped[datetime | None] = mapped_column()
    response_breached_at: Mapped[datetime | None] = mapped_column()
    resolution_warned_at: Mapped[datetime | None] = mapped_column()
    resolution_breached_at: Mapped[datetime | None] = mapped_column()
    # A stale save raises StaleDataError; errors.py answers 409.
    version: Mapped[int] = mapped_column(Integer, default=1)

    vendor: Mapped[Vendor] = relationship()
    municipality: Mapped[Municipality] = relationship()
    system: Mapped[System] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    known_issue: Mapped[KnownIssue | None] = relationship()
    # Declared here only (Ticket.vendor_case is the backref), so the ticket domain does
    # not know about the escalation domain above it.
    tickets: Mapped[list[Ticket]] = relationship(
        backref=backref("vendor_case"), order_by="Ticket.id"
    )
    messages: Mapped[list[CaseMessage]] = relationship(
        back_populates="case", order_by="CaseMessage.id", cascade="all, delete-orphan"
    )
    shares: Mapped[list[SharedItem]] = relationship(
        back_populates="case", order_by="SharedItem.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<VendorCase {self.number}>"


class CaseMessage(db.Model):
    """A message between the municipality's coordinators and the vendor's agents."""

    __tablename__ = "case_message"
    __table_args__ = (Index("ix_case_message_case_created", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("vendor_case.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    from_vendor: Mapped[bool] = mapped_column(Boolean, default=False)
    body: Mapped[str] = mapped_column(Text)
    # Municipal messages: CPR/phone numbers were masked, or the author confirmed sharing them.
    masked: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A vendor message's way on: None while the coordinator has not chosen,
    # "relayed" (passed on to the linked tickets) or "internal" (kept for the staff).
    handling: Mapped[str | None] = mapped_column(String(12))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    handled_at: Mapped[datetime | None] = mapped_column()

    case: Mapped[VendorCase] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    handled_by: Mapped[User | None] = relationship(foreign_keys=[handled_by_id])


class SharedItem(MunicipalityOwned, db.Model):
    """One piece of a ticket a coordinator chose to share, as the vendor sees it."""

    __tablename__ = "case_shared_item"
    __table_args__ = (Index("ix_case_shared_item_case", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("vendor_case.id"))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    kind: Mapped[ShareKind] = mapped_column(str_enum(ShareKind, "share_kind"))
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_entry.id"))
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachment.id"))
    # Snapshot taken when shared: masked unless the coordinator confirmed.
    text: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str | None] = mapped_column(String(255))
    masked: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    shared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    shared_at: Mapped[datetime] = mapped_column(default=utcnow)

    case: Mapped[VendorCase] = relationship(back_populates="shares")
    ticket: Mapped[Ticket] = relationship()
    entry: Mapped[TicketEntry | None] = relationship()
    attachment: Mapped[Attachment | None] = relationship()
    shared_by: Mapped[User | None] = relationship()


class SensitiveDataConfirmation(MunicipalityOwned, db.Model):
    """Log row: who confirmed that CPR/phone numbers may reach the vendor, and when."""

    __tablename__ = "sensitive_data_confirmation"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("vendor_case.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # "escalation" or "message".
    context: Mapped[str] = mapped_column(String(20))
    findings: Mapped[int] = mapped_column(Integer, default=0)
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


def vendor_case_generation(vendor_id: int) -> str:
    """The cache generation of one vendor's case queue (see supportdesk/cache/generations.py)."""
    return f"cases:v{vendor_id}"


def municipal_case_generation(municipality_id: int) -> str:
    """The cache generation of one municipality's cases with every vendor."""
    return f"cases:m{municipality_id}"


def _case_generations(case: VendorCase) -> list[str]:
    # Old values too: a case moved to another vendor or municipality leaves both queues.
    state = inspect_row(case)
    vendors = {case.vendor_id, *state.attrs.vendor_id.history.deleted}
    municipalities = {case.municipality_id, *state.attrs.municipality_id.history.deleted}
    return [vendor_case_generation(v) for v in vendors if v is not None] + [
        municipal_case_generation(m) for m in municipalities if m is not None
    ]


# What the case queue shows or filters on; other changes (messages stamping updated_at,
# SLA warning flags, paused seconds) leave the cached queue as it is.
generations.track(
    VendorCase,
    _case_generations,
    only=(
        "number",
        "subject",
        "status",
        "priority",
        "sla_state",
        "resolution_due_at",
        "created_at",
        # both the keys and the relationships: services set either
        "assignee_id",
        "assignee",
        "system_id",
        "system",
        "municipality_id",
        "municipality",
        "vendor_id",
        "vendor",
    ),
)


__all__ = [
    "CASE_STATUS_LABELS",
    "CASE_TRANSITIONS",
    "DEFAULT_SLA_MINUTES",
    "KNOWN_ISSUE_STATUS_LABELS",
    "MUNICIPAL_CASE_TRANSITIONS",
    "OPEN_CASE_STATUSES",
    "SLA_STATE_LABELS",
    "CaseMessage",
    "CaseStatus",
    "KnownIssue",
    "KnownIssueStatus",
    "KnownIssueTicket",
    "SensitiveDataConfirmation",
    "ShareKind",
    "SharedItem",
    "SlaState",
    "SlaTarget",
    "VendorCase",
    "municipal_case_generation",
    "next_case_statuses",
    "vendor_case_generation",
]


# The ticket page shows its linked case (status, SLA, the latest vendor message), the
# known issues linked to it and what was shared (see tickets.models.ticket_page_generation).
def _case_pages(case: VendorCase) -> list[str]:
    session = inspect_row(case).session
    if session is not None and case in session.new:
        return []  # no ticket page shows a case new in this flush yet
    return [
        case_page_generation(m, case.id)
        for m in generations.old_and_new(case, "municipality_id", "municipality")
    ]


def _case_pages_of_message(message: CaseMessage) -> list[str]:
    session = inspect_row(message).session
    if session is None:
        return []
    names = []
    for case_id in generations.old_and_new(message, "case_id", "case"):
        case = in_session(session, VendorCase, case_id)
        if case is not None and case in session.new:
            continue  # a case new in this flush: no ticket page shows it yet
        municipality_id = (
            case.municipality_id
            if case is not None
            else session.scalar(select(VendorCase.municipality_id).where(VendorCase.id == case_id))
        )
        names.append(case_page_generation(municipality_id, case_id))
    return names


generations.track(VendorCase, _case_pages)
generations.track(CaseMessage, _case_pages_of_message)
generations.track(SharedItem, pages_of_ticket_row)
generations.track(KnownIssueTicket, pages_of_ticket_row)


# A vendor's known issues and SLA targets show on the pages of that vendor's tickets
# and cases only.
def _vendor_references(row: KnownIssue | SlaTarget) -> list[str]:
    return [
        generations.vendor_reference(v) for v in generations.old_and_new(row, "vendor_id", "vendor")
    ]


generations.track(KnownIssue, _vendor_references)
generations.track(SlaTarget, _vendor_references)

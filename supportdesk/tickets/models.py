"""Tickets (henvendelser), their history entries, attachments, queues and routing rules."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session, relationship
from sqlalchemy.orm.util import identity_key

from supportdesk.accounts.models import (
    Category,
    InstitutionType,
    LabelledEnum,
    Municipality,
    MunicipalityOwned,
    System,
    User,
    str_enum,
)
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow

if TYPE_CHECKING:  # the relationship's target, resolved by SQLAlchemy's registry
    from supportdesk.accounts.models import Institution


class TicketStatus(LabelledEnum):
    new = "new", _l("New")
    open = "open", _l("Open")
    waiting = "waiting", _l("Waiting for requester")
    escalated = "escalated", _l("Escalated")
    resolved = "resolved", _l("Resolved")
    closed = "closed", _l("Closed")


_S = TicketStatus

# DESIGN §4. `escalated` is entered only through lifecycle.mark_escalated (the escalation
# service); a status change never targets it.
TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    _S.new: frozenset({_S.open, _S.waiting, _S.resolved, _S.closed}),
    _S.open: frozenset({_S.waiting, _S.resolved, _S.closed}),
    _S.waiting: frozenset({_S.open, _S.resolved, _S.closed}),
    _S.escalated: frozenset({_S.open, _S.waiting, _S.resolved, _S.closed}),
    _S.resolved: frozenset({_S.open, _S.closed}),
    _S.closed: frozenset({_S.open}),
}
# The statuses a ticket can be sent to a vendor from (or added to another case from).
ESCALATABLE = frozenset({_S.new, _S.open, _S.waiting, _S.escalated})
# What staff may pick by hand, in the list's bulk action: every status but `escalated`.
SETTABLE_STATUSES = tuple(s for s in TicketStatus if s != _S.escalated)

STATUS_LABELS = TicketStatus.labels()


class Priority(LabelledEnum):
    low = "low", _l("Low")
    normal = "normal", _l("Normal")
    high = "high", _l("High")
    critical = "critical", _l("Critical")

    @property
    def rank(self) -> int:
        return PRIORITY_RANK[self]


PRIORITY_RANK = {Priority.low: 0, Priority.normal: 1, Priority.high: 2, Priority.critical: 3}
PRIORITY_LABELS = Priority.labels()


class TicketSource(LabelledEnum):
    web = "web", _l("Web")
    hotline = "hotline", _l("Hotline")
    api = "api", _l("API")


SOURCE_LABELS = TicketSource.labels()


class EntryKind(enum.StrEnum):
    reply = "reply"
    internal_note = "internal_note"
    event = "event"


class Queue(MunicipalityOwned, db.Model):
    """A municipal work queue (e.g. "Hotline", "Skole-IT"); routing rules fill it."""

    __tablename__ = "queue"
    __table_args__ = (UniqueConstraint("municipality_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60))
    name: Mapped[str] = mapped_column(String(120))
    # The hotline's own queue: hotline staff see every ticket in it.
    is_hotline: Mapped[bool] = mapped_column(Boolean, default=False)

    municipality: Mapped[Municipality] = relationship()

    def __repr__(self) -> str:
        return f"<Queue {self.slug}>"


class Ticket(MunicipalityOwned, db.Model):
    """A request logged at first level; always owned by one municipality."""

    __tablename__ = "ticket"
    __table_args__ = (
        # The triage list: municipality + status, newest first, keyset by (created_at, id).
        Index("ix_ticket_municipality_status_created", "municipality_id", "status", "created_at"),
        Index("ix_ticket_municipality_created", "municipality_id", "created_at", "id"),
        # Reports over every municipality (the whole rollout): a period is a range of
        # creation times, contiguous on disk as tickets arrive in time order; with the
        # municipality the volume per day is read from the index alone.
        Index("ix_ticket_created", "created_at", "municipality_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    # no index of its own: the (municipality_id, …) indexes above lead with it
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    institution_id: Mapped[int | None] = mapped_column(ForeignKey("institution.id"), index=True)
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id"), index=True)
    # The vendor case this ticket is escalated in; the escalation domain declares the
    # relationship (VendorCase.tickets, backref Ticket.vendor_case).
    vendor_case_id: Mapped[int | None] = mapped_column(ForeignKey("vendor_case.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus, "ticket_status"), default=TicketStatus.new
    )
    priority: Mapped[Priority] = mapped_column(
        str_enum(Priority, "priority"), default=Priority.normal
    )
    source: Mapped[TicketSource] = mapped_column(
        str_enum(TicketSource, "ticket_source"), default=TicketSource.web
    )
    # Hotline tickets: the parent or staff member who phoned.
    requester_name: Mapped[str | None] = mapped_column(String(120))
    requester_phone: Mapped[str | None] = mapped_column(String(40))
    requester_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # The first public reply by someone other than the creator (history.touch keeps it):
    # the reports' time to first response without looking through every ticket's entries.
    first_response_at: Mapped[datetime | None] = mapped_column()
    # The last move from resolved or closed back to open (lifecycle.apply_status keeps
    # it): the reports' reopen rate without reading every ticket's status events.
    reopened_at: Mapped[datetime | None] = mapped_column()
    # Business seconds (municipal calendar) from creation to the first answer and to the
    # resolution (None while open), stored by reports/durations.py when they happen.
    response_business_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_business_seconds: Mapped[int | None] = mapped_column(Integer)
    # Set when `retention run` removed the personal content (DESIGN §3.9).
    anonymised_at: Mapped[datetime | None] = mapped_column()
    # A duplicate merged into another ticket of the municipality (closed, links there).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    # A stale save raises StaleDataError; errors.py answers 409.
    version: Mapped[int] = mapped_column(Integer, default=1)

    municipality: Mapped[Municipality] = relationship()
    institution: Mapped[Institution | None] = relationship()
    system: Mapped[System] = relationship()
    category: Mapped[Category | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    queue: Mapped[Queue | None] = relationship()
    merged_into: Mapped[Ticket | None] = relationship(
        remote_side=[id], foreign_keys=[merged_into_id]
    )
    entries: Mapped[list[TicketEntry]] = relationship(
        back_populates="ticket",
        order_by="TicketEntry.id",
        cascade="all, delete-orphan",
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="ticket", order_by="Attachment.id", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def in_hotline_queue(self) -> bool:
        return self.queue is not None and self.queue.is_hotline

    def __repr__(self) -> str:
        return f"<Ticket {self.number}>"


class TicketEntry(MunicipalityOwned, db.Model):
    """One item of a ticket's history: public reply, internal note or system event.

    Its municipality is denormalised so tenant checks and retention never need the join.
    """

    __tablename__ = "ticket_entry"
    __table_args__ = (Index("ix_ticket_entry_ticket_created", "ticket_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    kind: Mapped[EntryKind] = mapped_column(str_enum(EntryKind, "entry_kind"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    # Machine-readable event ("status", "assigned", "routed", "escalated", …) and its data.
    event: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict | None] = mapped_column(db.JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="entries")
    author: Mapped[User | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="entry", order_by="Attachment.id"
    )

    @property
    def is_public(self) -> bool:
        return self.kind != EntryKind.internal_note


class Attachment(MunicipalityOwned, db.Model):
    """An uploaded file, stored outside static/ under a generated name."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_entry.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    filename: Mapped[str] = mapped_column(String(255))
    storage_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")
    entry: Mapped[TicketEntry | None] = relationship(back_populates="attachments")
    uploaded_by: Mapped[User | None] = relationship()


class RoutingRule(MunicipalityOwned, db.Model):
    """Ordered rule; the first whose conditions all match decides queue and/or assignee."""

    __tablename__ = "routing_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Conditions: None matches anything.
    system_id: Mapped[int | None] = mapped_column(ForeignKey("system.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    institution_type: Mapped[InstitutionType | None] = mapped_column(
        str_enum(InstitutionType, "institution_type")
    )
    source: Mapped[TicketSource | None] = mapped_column(str_enum(TicketSource, "ticket_source"))
    # Outcome.
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    system: Mapped[System | None] = relationship()
    category: Mapped[Category | None] = relationship()
    queue: Mapped[Queue | None] = relationship()
    assignee: Mapped[User | None] = relationship()


class TicketView(MunicipalityOwned, db.Model):
    """Access log: who opened which ticket when (DESIGN §3.9, data about children).

    The foreign keys are checked at COMMIT (deferred): on PostgreSQL the ticket page
    inserts the row with its read of the ticket, before the page is rendered, and the
    rows it refers to are then locked (key share) only while the view commits, not
    while the page renders (`access_log.read_ticket`).
    """

    __tablename__ = "ticket_view"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", deferrable=True, initially="DEFERRED"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", deferrable=True, initially="DEFERRED"), index=True
    )
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipality.id", deferrable=True, initially="DEFERRED"), index=True
    )
    # "page" or "api".
    channel: Mapped[str] = mapped_column(String(10), default="page")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketFollower(db.Model):
    """A reporter who follows a ticket they did not create (a merged duplicate's reporter):
    they see it as their own and hear about its replies and status."""

    __tablename__ = "ticket_follower"
    __table_args__ = (UniqueConstraint("ticket_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()


class SavedView(db.Model):
    """A named set of queue filters one user keeps (the query string of the list)."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyResponse(MunicipalityOwned, db.Model):
    """ "Fik du hjælp?": the reporter's answer (1-5 and a comment) to a resolved ticket; one
    per ticket."""

    __tablename__ = "survey_response"
    __table_args__ = (
        UniqueConstraint("ticket_id"),
        Index("ix_survey_response_municipality_created", "municipality_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    # no index of its own: the (municipality_id, created_at) index above leads with it
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def ticket_generation(municipality_id: int) -> str:
    """The cache generation of one municipality's tickets (see supportdesk/cache/generations.py)."""
    return f"tickets:m{municipality_id}"


def routing_generation(municipality_id: int) -> str:
    """The cache generation of one municipality's routing rules (routing.active_routes)."""
    return f"routing:m{municipality_id}"


# The ticket page is cached per ticket: its generation names one of `TICKET_PAGE_SLOTS`
# per municipality (ticket id modulo), so the table stays bounded and a change to one
# ticket empties its page (and the few it shares a slot with), not the municipality's.
TICKET_PAGE_SLOTS = 1024


def ticket_page_generation(municipality_id: int, ticket_id: int) -> str:
    """The cache generation of one ticket's page: the ticket, its entries, attachments,
    survey answer, known-issue links and shared items, and the tickets merged into it."""
    return f"ticket:m{municipality_id}:{ticket_id % TICKET_PAGE_SLOTS}"


def ticket_page_generation_of(municipality_id: Any, ticket_id: Any) -> Any:
    """`ticket_page_generation` in SQL, of columns (read with the ticket itself)."""
    return generations.name_of("ticket:m", municipality_id, ":", ticket_id % TICKET_PAGE_SLOTS)


def case_page_generation_of(municipality_id: Any, case_id: Any) -> Any:
    """`case_page_generation` in SQL, of columns; NULL for a ticket without a case."""
    return generations.name_of("case:m", municipality_id, ":", case_id % TICKET_PAGE_SLOTS)


def case_page_generation(municipality_id: int, case_id: int) -> str:
    """The cache generation of a vendor case as its tickets' pages show it (status, SLA,
    messages); a case bundles tickets of one municipality, so it is named like them."""
    return f"case:m{municipality_id}:{case_id % TICKET_PAGE_SLOTS}"


def ticket_pages(municipality_id: int, ticket_ids: Iterable[int | None]) -> list[str]:
    """The page generations of these tickets (explicit bumps after bulk statements)."""
    return sorted({ticket_page_generation(municipality_id, i) for i in ticket_ids if i is not None})


def in_session(session: Session, model: type, ident: Any) -> Any | None:
    """The `model` row with this id as `session` holds it (persistent, or new in the flush
    being collected), without loading it: the session listeners run inside a flush."""
    found = session.identity_map.get(identity_key(model, ident))
    if found is None:
        found = next((o for o in session.new if type(o) is model and o.id == ident), None)
    return found


def _pages_of_ticket(ticket: Ticket) -> list[str]:
    # its own page (a ticket new in this flush has none cached yet), and the page of the
    # ticket it is (or was) merged into, which lists it
    ids = generations.old_and_new(ticket, "merged_into_id", "merged_into")
    session = object_session(ticket)
    if session is None or ticket not in session.new:
        ids.add(ticket.id)
    return ticket_pages(ticket.municipality_id, ids)


def pages_of_ticket_row(row: Any) -> list[str]:
    """The pages a row of a ticket (entry, attachment, survey answer, link) shows on: its
    ticket's, and once that ticket is merged, the page of the ticket it is merged into.
    A row of a ticket new in this flush bumps nothing: that page was never cached."""
    session = object_session(row)
    ids: set[Any] = set()
    for ticket_id in generations.old_and_new(row, "ticket_id"):
        ticket = in_session(session, Ticket, ticket_id) if session is not None else None
        if ticket is None:
            merged_into = _merged_into(session, ticket_id) if session is not None else None
        elif ticket in session.new:
            continue
        else:
            merged_into = ticket.merged_into_id
        ids.update((ticket_id, merged_into))
    return ticket_pages(row.municipality_id, ids)


_MERGED_INTO = "tickets_merged_into"  # session.info, during one flush's collection


def _merged_into(session: Session, ticket_id: int) -> int | None:
    """`merged_into_id` of a ticket the session does not hold, read in one statement for
    every such ticket of the rows in this flush (a bulk link or share adds many)."""
    known: dict[int, int | None] = session.info.setdefault(_MERGED_INTO, {})
    if ticket_id not in known:
        wanted = {ticket_id}
        for obj in (*session.new, *session.dirty, *session.deleted):
            if any(fn is pages_of_ticket_row for fn, _only in generations.tracked(type(obj))):
                wanted.update(
                    i
                    for i in generations.old_and_new(obj, "ticket_id")
                    if i not in known and in_session(session, Ticket, i) is None
                )
        known.update(dict.fromkeys(wanted))
        known.update(
            session.execute(
                select(Ticket.id, Ticket.merged_into_id).where(Ticket.id.in_(sorted(wanted)))
            ).all()
        )
    return known[ticket_id]


@event.listens_for(Session, "before_flush")
@event.listens_for(Session, "after_flush_postexec")
def _forget_merged_into(session: Session, *_args: Any) -> None:
    # read anew for each flush (also after one that failed)
    session.info.pop(_MERGED_INTO, None)


generations.track(Ticket, lambda ticket: [ticket_generation(ticket.municipality_id)])
generations.track(Ticket, _pages_of_ticket)
for _model in (TicketEntry, Attachment, SurveyResponse):
    generations.track(_model, pages_of_ticket_row)
# a queue's name shows on its municipality's pages only
generations.track(
    Queue,
    lambda queue: [
        generations.municipality_reference(m)
        for m in generations.old_and_new(queue, "municipality_id", "municipality")
    ],
)


def saved_views_generation(user_id: int) -> str:
    """The cache generation of one user's saved queue views (shown in the cached list)."""
    return f"saved_views:u{user_id}"


generations.track(SavedView, lambda view: [saved_views_generation(view.user_id)])
generations.track(RoutingRule, lambda rule: [routing_generation(rule.municipality_id)])

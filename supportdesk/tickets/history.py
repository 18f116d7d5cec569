"""A ticket's history: the system events (status, assignment, routing, escalation, …).

Every change to a ticket writes one event entry here; replies and notes are in services.
An event is stored as its name and parameters, never as a sentence: the line is written
when the page is shown, in the reader's language. The ticket page words the tickets'
own events (templates/tickets/_entry.html); a domain that writes events of its own on
tickets (escalation: case status, SLA, known issues) registers their wording with
`describes`, or with `describe_as` when the line is one message filled in with the event's
parameters. Rows written before that kept a Danish or English `text`: it is shown only
when an event has no registered wording or its parameters are missing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import case, func, inspect, or_, select, update
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from supportdesk import events
from supportdesk.accounts.models import User
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import (
    EntryKind,
    Ticket,
    TicketEntry,
    TicketStatus,
    ticket_generation,
    ticket_page_generation,
)

# event name → its line from the event's parameters, in the current locale
EventWording = Callable[[dict[str, Any]], Any]
EVENT_LINES: dict[str, EventWording] = {}


def describes(*events: str) -> Callable[[EventWording], EventWording]:
    """Register how the named events read in a ticket's history."""

    def register(wording: EventWording) -> EventWording:
        for event in events:
            EVENT_LINES[event] = wording
        return wording

    return register


def describe_as(event: str, message: Any) -> None:
    """Register an event whose line is `message` (lazy) filled in with its parameters."""
    EVENT_LINES[event] = lambda data: message % data


def event_line(entry: TicketEntry) -> str:
    """The history line of an event entry in the reader's language."""
    data = entry.data or {}
    wording = EVENT_LINES.get(entry.event or "")
    if wording is not None:
        try:
            return str(wording(data))
        except (KeyError, ValueError):  # an old row without the parameters: its text
            pass
    return str(data.get("text") or entry.event or "")


def new_entry(ticket: Ticket, kind: EntryKind, author: User | None, **fields: Any) -> TicketEntry:
    """A new entry (reply, note or event) on the ticket, in its municipality; the caller
    flushes. `fields` are the rest of the entry's columns (`created_at` defaults to now)."""
    fields.setdefault("created_at", utcnow())
    # known: serialising the new entry does not query for its attachments
    fields.setdefault("attachments", [])
    entry = TicketEntry(
        ticket=ticket, municipality_id=ticket.municipality_id, kind=kind, author=author, **fields
    )
    db.session.add(entry)
    return entry


def assignee_data(name: str | None, person_id: int | None) -> dict[str, Any]:
    """An assignment's data: the name as the line shows it, and whose it is, so that
    erasing the person can rewrite the line (`rename_assignee`)."""
    if person_id is None:
        return {"assignee": name}
    return {"assignee": name, "assignee_id": person_id}


def rename_assignee(user: User, former_name: str) -> int:
    """Every history line naming `user` as assignee now shows their current name (after
    erasure: the placeholder); returns the lines rewritten. Lines are found by the person's
    id, never by the name alone, which a colleague may share. Lines written before events
    carried the id (`assignee_data`) name `former_name` only: those on the person's
    municipality's tickets are theirs when no one else there has that name, and are left
    alone when someone has. Their tickets come along: the page cache's flush listener
    (`pages_of_ticket_row`) then finds each in the session instead of querying it per
    line."""
    found = TicketEntry.data["assignee_id"].as_integer() == user.id
    if user.municipality_id is not None:
        namesake = select(User.id).where(
            User.municipality_id == user.municipality_id,
            User.name == former_name,
            User.id != user.id,
        )
        found = or_(
            found,
            (Ticket.municipality_id == user.municipality_id)
            & TicketEntry.data["assignee_id"].as_integer().is_(None)
            & (TicketEntry.data["assignee"].as_string() == former_name)
            & ~namesake.exists(),
        )
    entries = db.session.scalars(
        select(TicketEntry)
        .join(TicketEntry.ticket)
        .where(TicketEntry.kind == EntryKind.event, found)
        .options(contains_eager(TicketEntry.ticket))
    ).all()
    for entry in entries:
        entry.data = {**(entry.data or {}), "assignee": user.name, "assignee_id": user.id}
    return len(entries)


def record_event(
    ticket: Ticket, actor: User | None, event: str, data: dict[str, Any]
) -> TicketEntry:
    """One event entry; the caller flushes (with the change it records)."""
    return new_entry(ticket, EntryKind.event, actor, event=event, data=data)


def add_system_event(
    ticket: Ticket, actor: User | None, event: str, data: dict[str, Any]
) -> TicketEntry:
    """For other domains (escalation, SLA, known issues): one history line on the ticket."""
    entry = record_event(ticket, actor, event, data)
    touch(ticket)
    db.session.flush()
    return entry


def touch(ticket: Ticket, reply: TicketEntry | None = None) -> None:
    """Stamp `updated_at` for something new beside the ticket (a reply, a history line).

    Not through the versioned row: that UPDATE checks and bumps `version`, so every other
    write in flight on the ticket (four clients replying at once) would get a 409 although
    none of them changed what a `version` protects. Only writes that name one may conflict.
    A public `reply` that answers the ticket (see `answers`) stamps `first_response_at`
    in the same UPDATE if no earlier answer did (the reports' time to first response).
    """
    now = utcnow()
    answered_at = reply.created_at if reply is not None and answers(ticket, reply) else None
    if ticket.id is None or inspect(ticket).pending:
        ticket.updated_at = now  # not written yet: the INSERT carries it
        if answered_at is not None and ticket.first_response_at is None:
            ticket.first_response_at = answered_at
            events.ticket_times_changed.send(ticket, what="response")
        return
    values: dict[str, Any] = {"updated_at": now}
    if answered_at is not None:
        values["first_response_at"] = case(
            (
                or_(Ticket.first_response_at.is_(None), Ticket.first_response_at > answered_at),
                answered_at,
            ),
            else_=Ticket.first_response_at,
        )
    stored = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id)
        .values(**values)
        .returning(Ticket.first_response_at),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    set_committed_value(ticket, "updated_at", now)
    # what the UPDATE kept: this reply's time, or an earlier answer's
    set_committed_value(ticket, "first_response_at", stored)
    if answered_at is not None:
        events.ticket_times_changed.send(ticket, what="response")
    generations.bump(
        ticket_generation(ticket.municipality_id),
        ticket_page_generation(ticket.municipality_id, ticket.id),
    )


def answers(ticket: Ticket, entry: TicketEntry) -> bool:
    """A first response is a public reply by someone other than the ticket's creator (an
    answer relayed automatically has no author and is not one)."""
    author_id = entry.author.id if entry.author is not None else entry.author_id
    return (
        entry.kind == EntryKind.reply
        and author_id is not None
        and author_id != ticket.created_by_id
    )


def _first_response_of(ticket: Any) -> Any:
    """SQL: the first answer's time of `ticket` from its entries (what `touch` keeps)."""
    return (
        select(func.min(TicketEntry.created_at))
        .where(
            TicketEntry.ticket_id == ticket.id,
            TicketEntry.kind == EntryKind.reply,
            TicketEntry.author_id.is_not(None),
            TicketEntry.author_id != ticket.created_by_id,
        )
        .correlate(ticket)
        .scalar_subquery()
    )


def _last_reopen_of(ticket: Any) -> Any:
    """SQL: when `ticket` was last moved from resolved or closed back to open, from its
    status events (what lifecycle.apply_status keeps)."""
    return (
        select(func.max(TicketEntry.created_at))
        .where(
            TicketEntry.ticket_id == ticket.id,
            TicketEntry.event == "status",
            TicketEntry.data["to"].as_string() == TicketStatus.open.value,
            TicketEntry.data["from"]
            .as_string()
            .in_([TicketStatus.resolved.value, TicketStatus.closed.value]),
        )
        .correlate(ticket)
        .scalar_subquery()
    )


def fill_from_history(*where: Any) -> None:
    """Set `first_response_at` and `reopened_at` from the entries of the tickets `where`
    selects (all when empty): for rows written without `touch` and `apply_status` (bulk
    seeding, data from before the columns; migration 0012_ticket_report_times does the same)."""
    db.session.execute(
        update(Ticket)
        .where(*where)
        .values(first_response_at=_first_response_of(Ticket), reopened_at=_last_reopen_of(Ticket))
        .execution_options(synchronize_session=False)
    )

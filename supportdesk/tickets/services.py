"""Ticket rules: creating a ticket (numbered, routed, announced) and writing in it.

Services take the acting user, check policy, change and flush; the caller commits.
The rest of the domain has a module per concern: routing, attachments, listing,
lifecycle, history, access_log, lookups, notices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from supportdesk import events, policy
from supportdesk.accounts.models import Category, Institution, System, User
from supportdesk.errors import Forbidden, InvalidTransition, ValidationFailed
from supportdesk.extensions import db, utcnow
from supportdesk.notifications import caller_email
from supportdesk.notifications.models import NotificationEvent
from supportdesk.numbering import next_value
from supportdesk.safe_input import column_length
from supportdesk.sqlite_locks import start_writing
from supportdesk.tickets import notices
from supportdesk.tickets.attachments import (
    CheckedUpload,
    Upload,
    add_attachment,
    check_upload,
    visible_attachments,
)
from supportdesk.tickets.history import assignee_data, new_entry, record_event, touch
from supportdesk.tickets.lifecycle import apply_status, open_on_reply
from supportdesk.tickets.listing import SHOWN_RELATIONS
from supportdesk.tickets.models import (
    Attachment,
    EntryKind,
    Priority,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
)
from supportdesk.tickets.routing import Placement, place

SUBJECT_MAX = 200
BODY_MAX = 20000

# --- numbering -----------------------------------------------------------------------


def format_number(code: str, year: int, value: int) -> str:
    return f"{code}-{year}-{value:06d}"


def allocate_number(municipality_code: str, year: int) -> str:
    """Counter per municipality and year: concurrency-safe and never reused (numbering.py)."""
    return format_number(
        municipality_code, year, next_value("ticket", f"{municipality_code}-{year}")
    )


# --- creation ------------------------------------------------------------------------


@dataclass(frozen=True)
class NewTicket:
    """A ticket as the edge (web form, hotline, API, demo) read it: objects found, text as typed.

    `create_ticket` checks it as a whole; `shown_articles` are the FAQ slugs suggested while
    it was written (the FAQ domain remembers them, tickets do not know FAQ).
    """

    system: System | None
    category: Category | None
    subject: str
    description: str
    priority: Priority | str = Priority.normal
    institution: Institution | None = None
    source: TicketSource = TicketSource.web
    requester_name: str | None = None
    requester_phone: str | None = None
    requester_email: str | None = None
    uploads: tuple[Upload | CheckedUpload, ...] = ()
    shown_articles: tuple[str, ...] = ()
    # the hotline ties the call to a known issue (the escalation domain links it)
    known_issue_id: int | None = None


def create_ticket(actor: User, new: NewTicket) -> Ticket:
    """A numbered, routed ticket in the actor's municipality; steps before _write only read."""
    if not policy.can_create_ticket(actor):
        raise Forbidden()
    new = _validated(actor, new)
    assert new.system is not None  # noqa: S101 — narrowed by the validation
    placement = place(actor.municipality_id, new.system, new.category, new.institution, new.source)
    ticket = _write(actor, new, placement)
    for upload in new.uploads:
        add_attachment(actor, ticket, None, upload)
    db.session.flush()
    _announce(actor, ticket, placement, new)
    return ticket


def ticket_errors(actor: User, new: NewTicket) -> dict[str, str]:
    """Every field error of a new ticket at once, so a form or the API shows them together."""
    new = _with_defaults(actor, new)
    errors: dict[str, str] = {}
    if not new.subject:
        errors["subject"] = str(_l("Write a short subject."))
    elif len(new.subject) > SUBJECT_MAX:
        errors["subject"] = str(_l("The subject may be at most 200 characters."))
    if not new.description:
        errors["description"] = str(_l("Describe the problem."))
    elif len(new.description) > BODY_MAX:
        errors["description"] = str(_l("The description is too long."))
    if new.system is None:
        errors["system"] = str(_l("Choose a system."))
    category, system = new.category, new.system
    if category is not None and system is not None and category.system_id != system.id:
        errors["category"] = str(_l("The category does not belong to the chosen system."))
    if _priority(new.priority) is None:
        errors["priority"] = str(_l("Choose a valid priority."))
    institution = new.institution
    if institution is not None and not policy.can_file_ticket_for(actor, institution):
        if institution.municipality_id == actor.municipality_id:  # a superuser's other one
            errors["institution"] = str(_l("You can log tickets only for your own institution."))
        else:
            errors["institution"] = str(_l("Choose an institution in your municipality."))
    if new.source == TicketSource.hotline and not (new.requester_name or "").strip():
        errors["requester_name"] = str(_l("Write the caller's name."))
    errors.update(_requester_errors(new))
    return errors


_REQUESTER_FIELDS = ("requester_name", "requester_phone", "requester_email")


def _requester_errors(new: NewTicket) -> dict[str, str]:
    """The caller's details fit their columns (the API has no form to cut them short)."""
    errors: dict[str, str] = {}
    for name in _REQUESTER_FIELDS:
        value = _clean(getattr(new, name))
        if value is None:
            continue
        limit = column_length(getattr(Ticket, name))
        if len(value) > limit:
            errors[name] = str(_l("At most %(max)s characters.", max=limit))
        elif name == "requester_email" and not _valid_email(value):
            errors[name] = str(_l("Write a valid e-mail address."))
    return errors


def _valid_email(value: str) -> bool:
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def _priority(value: Priority | str) -> Priority | None:
    try:
        return Priority(value)
    except ValueError:
        return None


def _with_defaults(actor: User, new: NewTicket) -> NewTicket:
    """Text trimmed; a superuser's ticket is about their institution unless they chose one."""
    return replace(
        new,
        subject=(new.subject or "").strip(),
        description=(new.description or "").strip(),
        institution=new.institution or policy.ticket_institution_default(actor),
    )


def _validated(actor: User, new: NewTicket) -> NewTicket:
    """The ticket with defaults, a Priority and uploads checked by content; or field errors."""
    errors = ticket_errors(actor, new)
    if errors:
        raise ValidationFailed(fields=errors)
    new = _with_defaults(actor, new)
    # every file is checked before anything is written
    uploads = tuple(check_upload(upload) for upload in new.uploads)
    return replace(new, priority=Priority(new.priority), uploads=uploads)


def _write(actor: User, new: NewTicket, placement: Placement) -> Ticket:
    """Number and add the ticket with its history under the write lock, taken as late as this."""
    municipality = actor.municipality  # read before the lock, like every other lookup
    # on SQLite only from here on is the write lock held (sqlite_locks.start_writing)
    start_writing()
    now = utcnow()
    ticket = Ticket(
        number=allocate_number(municipality.code, now.year),
        municipality_id=actor.municipality_id,
        institution=new.institution,
        system=new.system,
        category=new.category,
        created_by=actor,
        assignee=placement.assignee,
        queue_id=placement.queue_id,
        subject=new.subject,
        description=new.description,
        priority=new.priority,
        source=new.source,
        status=TicketStatus.new,
        requester_name=_clean(new.requester_name),
        requester_phone=_clean(new.requester_phone),
        requester_email=_clean(new.requester_email),
        created_at=now,
        updated_at=now,
    )
    db.session.add(ticket)
    record_event(ticket, actor, "created", {"source": new.source.value})
    route = placement.route
    if route is not None:
        data = {"rule": route.name, "queue": route.queue_name}
        data |= assignee_data(route.assignee_name, route.assignee_id)
        record_event(ticket, None, "routed", data)
    return ticket


def _announce(actor: User, ticket: Ticket, placement: Placement, new: NewTicket) -> None:
    """Tell the assignee the rule chose, and let other domains react (events.ticket_created)."""
    assignee = placement.assignee
    if assignee is not None and assignee.id != actor.id:
        notices.notify([assignee], NotificationEvent.ticket_assigned, ticket, actor)
    events.ticket_created.send(
        ticket,
        actor=actor,
        shown_articles=list(new.shown_articles),
        known_issue=new.known_issue_id,
    )


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


# --- entries -------------------------------------------------------------------------


def add_entry(
    actor: User,
    ticket: Ticket,
    body: str,
    *,
    internal: bool = False,
    uploads: Sequence[Upload] = (),
    mail_caller: bool = True,
) -> TicketEntry:
    """A public reply or an internal note; replies may move the ticket along, and reach a
    caller who gave the hotline an e-mail address (unless `mail_caller` is off)."""
    _check_may_write(actor, ticket, internal)
    body = (body or "").strip()
    if not body and not uploads:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    if len(body) > BODY_MAX:
        raise ValidationFailed(fields={"body": str(_l("The message is too long."))})
    checked = [check_upload(u) for u in uploads]
    kind = EntryKind.internal_note if internal else EntryKind.reply
    entry = new_entry(ticket, kind, actor, body=body)
    for upload in checked:
        add_attachment(actor, ticket, entry, upload)
    # Neither step checks the version: replies never conflict (history.touch).
    touch(ticket, reply=entry)
    if not internal:
        # Staff answering a new ticket opens it; the requester answering un-waits it.
        if policy.is_ticket_staff(actor) and ticket.status == TicketStatus.new:
            open_on_reply(ticket, actor, TicketStatus.new)
        elif ticket.created_by_id == actor.id and ticket.status == TicketStatus.waiting:
            open_on_reply(ticket, actor, TicketStatus.waiting)
    db.session.flush()
    _announce_entry(actor, ticket, body, internal)
    if not internal and mail_caller and body:
        _mail_caller(ticket, caller_email.ANSWER, body)
    return entry


def _mail_caller(ticket: Ticket, template: str, answer: str | None) -> None:
    """The caller's own e-mail (receipt or answer): number, subject and public text only."""
    caller_email.queue(
        ticket.requester_email,
        ticket.requester_name,
        template,
        number=ticket.number,
        subject=ticket.subject,
        answer=answer,
    )


# --- the answer flow ----------------------------------------------------------


def relay_answer(actor: User | None, ticket: Ticket, body: str, case_number: str) -> TicketEntry:
    """The vendor's answer as a public reply on a linked ticket; the escalation domain has
    checked who may relay (no actor: relayed automatically by the municipality's setting).
    The reporter is told with the answer itself (bell, and e-mail per their settings)."""
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(fields={"body": str(_l("Write a message."))})
    if len(body) > BODY_MAX:
        raise ValidationFailed(fields={"body": str(_l("The message is too long."))})
    data = {"case": case_number}
    entry = new_entry(ticket, EntryKind.reply, actor, body=body, event="answer_relayed", data=data)
    touch(ticket, reply=entry)
    db.session.flush()
    notices.notify(
        notices.reporters(ticket),
        NotificationEvent.answer_relayed,
        ticket,
        actor,
        excerpt=body,
        extra={"case": case_number},
        excerpt_max=BODY_MAX,
    )
    _mail_caller(ticket, caller_email.ANSWER, body)
    return entry


# --- a phone call --------------------------------------------------------------------------


def take_call(actor: User, new: NewTicket, *, solved: bool = False, answer: str = "") -> Ticket:
    """A hotline call: the ticket; "Løst i telefonen" writes the answer given on the phone
    as a public reply and resolves it at once. A caller who gave an e-mail address gets
    a receipt (with the answer when solved), never any internal content."""
    answer = (answer or "").strip()
    errors = ticket_errors(actor, new)
    if solved and not answer:
        errors["answer"] = str(_l("Write the answer you gave on the phone."))
    elif len(answer) > BODY_MAX:
        errors["answer"] = str(_l("The message is too long."))
    if errors:
        raise ValidationFailed(fields=errors)
    ticket = create_ticket(actor, new)
    if solved:
        if not policy.can_resolve_call(actor, ticket):
            raise Forbidden()
        add_entry(actor, ticket, answer, mail_caller=False)
        apply_status(ticket, actor, TicketStatus.resolved)
        db.session.flush()
    _mail_caller(ticket, caller_email.RECEIPT, answer if solved else None)
    return ticket


def _check_may_write(actor: User, ticket: Ticket, internal: bool) -> None:
    if internal:
        if not policy.can_add_internal_note(actor, ticket):
            raise Forbidden(_l("Only municipal ticket staff can write internal notes."))
    elif not policy.can_reply(actor, ticket):
        if ticket.status == TicketStatus.closed:
            raise InvalidTransition(_l("The ticket is closed. Reopen it to write a reply."))
        raise Forbidden()


def _announce_entry(actor: User, ticket: Ticket, body: str, internal: bool) -> None:
    """A note reaches the staff on the ticket; a reply its creator and assignee."""
    if internal:
        people = (ticket.assignee, ticket.created_by)
        staff = [u for u in people if u is not None and policy.can_receive_internal_notes(u)]
        notices.notify(staff, NotificationEvent.ticket_internal_note, ticket, actor, excerpt=body)
    else:
        people = (*notices.reporters(ticket), ticket.assignee)
        notices.notify(people, NotificationEvent.ticket_reply, ticket, actor, excerpt=body)


# --- the ticket page -----------------------------------------------------------------


def load_detail(ticket: Ticket, *, refresh: bool = False) -> Ticket:
    """Eager-load what the ticket page shows in one round trip, the system's vendor too
    (the escalation panel names it); `refresh` reads the ticket's own columns again too
    (a cached page is built from data read after its key)."""
    query = (
        select(Ticket)
        .where(Ticket.id == ticket.id)
        .options(*SHOWN_RELATIONS, joinedload(Ticket.system).joinedload(System.vendor))
    )
    if refresh:
        query = query.execution_options(populate_existing=True)
    return db.session.scalars(query).one()


def visible_entries(
    user: User, ticket: Ticket, attachments: Sequence[Attachment] | None = None
) -> list[TicketEntry]:
    """The timeline as this user may see it: internal notes only for ticket staff.

    Each entry's files come from `visible_attachments`, one statement for the whole
    ticket; a caller that has read them already (the ticket page lists the ticket's own
    files too) passes them as `attachments`.
    """
    query = (
        select(TicketEntry)
        .where(TicketEntry.ticket_id == ticket.id)
        .options(joinedload(TicketEntry.author))
        .order_by(TicketEntry.created_at, TicketEntry.id)
    )
    if not policy.can_see_internal_notes(user, ticket):
        query = query.where(TicketEntry.kind != EntryKind.internal_note)
    entries = list(db.session.scalars(query))
    if attachments is None:
        attachments = visible_attachments(user, ticket)
    by_entry: dict[int | None, list[Attachment]] = {}
    for attachment in attachments:
        by_entry.setdefault(attachment.entry_id, []).append(attachment)
    for entry in entries:
        set_committed_value(entry, "attachments", by_entry.get(entry.id, []))
    return entries


def new_ticket_entries(user: User, ticket: Ticket) -> list[TicketEntry]:
    """`visible_entries` of a ticket created in this session, without reading them back."""
    if policy.can_see_internal_notes(user, ticket):
        return list(ticket.entries)
    return [e for e in ticket.entries if e.kind != EntryKind.internal_note]

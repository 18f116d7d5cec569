"""`first_response_at`: the first public reply by someone other than the ticket's creator,
stamped on the ticket by every path that writes a reply; `reopened_at`: the last move from
resolved or closed back to open, stamped by the status change. The reports read them
instead of every ticket's entries."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets import lifecycle, services
from supportdesk.tickets.history import fill_from_history
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry
from tests.notifications.test_caller_email import _call


def _stored(ticket: Ticket, column=Ticket.first_response_at):
    db.session.commit()
    return db.session.scalar(select(column).where(Ticket.id == ticket.id))


def _replies(ticket: Ticket) -> list[TicketEntry]:
    return list(
        db.session.scalars(
            select(TicketEntry)
            .where(TicketEntry.ticket_id == ticket.id, TicketEntry.kind == EntryKind.reply)
            .order_by(TicketEntry.id)
        )
    )


def test_a_staff_reply_is_the_first_response_and_a_later_one_keeps_it(make_user, make_ticket):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    first = services.add_entry(coordinator, ticket, "Vi kigger på det.")
    assert _stored(ticket) == first.created_at
    services.add_entry(coordinator, ticket, "Nu virker det.")
    assert _stored(ticket) == first.created_at


def test_the_creators_own_reply_and_an_internal_note_are_no_response(make_user, make_ticket):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    services.add_entry(ticket.created_by, ticket, "Det drejer sig om 3.a.")
    services.add_entry(coordinator, ticket, "Ring til leverandøren.", internal=True)
    assert _stored(ticket) is None


def test_a_reply_through_the_api_is_the_first_response(client, make_user, make_ticket, token_for):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    response = client.post(
        f"/api/v1/tickets/{ticket.number}/entries",
        json={"body": "Vi kigger på det."},
        headers=token_for(coordinator),
    )
    assert response.status_code == 201
    [reply] = _replies(ticket)
    assert _stored(ticket) == reply.created_at


def test_a_relayed_vendor_answer_is_the_first_response(make_user, make_ticket):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    entry = services.relay_answer(coordinator, ticket, "Leverandøren har rettet fejlen.", "S-1")
    assert _stored(ticket) == entry.created_at


def test_an_answer_relayed_automatically_is_no_response(make_ticket):
    """No author (the municipality's setting relayed it): as the reports have counted."""
    ticket = make_ticket()
    services.relay_answer(None, ticket, "Leverandøren har rettet fejlen.", "S-1")
    assert _stored(ticket) is None


def test_an_answer_given_on_the_phone_is_the_callers_own_line(make_user, make_system):
    """The hotline creates the ticket of a call solved on the phone: its answer is the
    creator's reply, so no response time (the call was the response)."""
    hotline = make_user(Role.hotline)
    new = _call(hotline, make_system("aula"), None)
    ticket = services.take_call(hotline, new, solved=True, answer="Nulstillede koden.")
    assert _stored(ticket) is None


def test_filling_from_the_entries_gives_what_the_replies_stamped(make_user, make_ticket):
    """The migration's and the seed's fill agrees with the replies' own stamps."""
    answered, unanswered = make_ticket(), make_ticket()
    coordinator = make_user(Role.coordinator, municipality=answered.municipality)
    services.add_entry(answered.created_by, answered, "Mere om fejlen.")
    first = services.add_entry(coordinator, answered, "Vi kigger på det.")
    services.add_entry(coordinator, answered, "Løst.")
    db.session.commit()
    db.session.execute(Ticket.__table__.update().values(first_response_at=None))
    fill_from_history()
    assert _stored(answered) == first.created_at
    assert _stored(unanswered) is None


def _status_lines(ticket: Ticket) -> list[TicketEntry]:
    return list(
        db.session.scalars(
            select(TicketEntry)
            .where(TicketEntry.ticket_id == ticket.id, TicketEntry.event == "status")
            .order_by(TicketEntry.id)
        )
    )


def test_reopening_a_resolved_or_closed_ticket_stamps_it(make_user, make_ticket):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    lifecycle.change_status(coordinator, ticket, "resolved")
    assert _stored(ticket, Ticket.reopened_at) is None
    lifecycle.change_status(coordinator, ticket, "open")
    first = _stored(ticket, Ticket.reopened_at)
    assert first is not None
    lifecycle.change_status(coordinator, ticket, "closed")
    assert _stored(ticket, Ticket.reopened_at) == first  # closing keeps it
    lifecycle.change_status(coordinator, ticket, "open")
    assert _stored(ticket, Ticket.reopened_at) > first


def test_opening_a_new_or_waiting_ticket_is_no_reopening(make_user, make_ticket):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    lifecycle.change_status(coordinator, ticket, "waiting")
    lifecycle.change_status(coordinator, ticket, "open")
    assert _stored(ticket, Ticket.reopened_at) is None


def test_filling_reopenings_from_the_status_lines(make_user, make_ticket):
    """The migration's and the seed's fill finds the last reopening's status line."""
    reopened = make_ticket()
    resolved = make_ticket(reopened.created_by)
    coordinator = make_user(Role.coordinator, municipality=reopened.municipality)
    for ticket in (reopened, resolved):
        lifecycle.change_status(coordinator, ticket, "resolved")
    lifecycle.change_status(coordinator, reopened, "open")
    db.session.commit()
    db.session.execute(Ticket.__table__.update().values(reopened_at=None))
    fill_from_history()
    assert _stored(reopened, Ticket.reopened_at) == _status_lines(reopened)[-1].created_at
    assert _stored(resolved, Ticket.reopened_at) is None

"""The business time to a ticket's first answer and to its resolution, stored when they
happen (reports/durations.py) by every path that answers, resolves, closes or reopens,
and filled the same way for rows written without them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.escalation.sla import business_seconds_between
from supportdesk.extensions import db
from supportdesk.reports.clock import MUNICIPAL_CALENDAR
from supportdesk.reports.durations import fill_business_times
from supportdesk.tickets import lifecycle, services
from supportdesk.tickets.models import Ticket
from tests.tickets.conftest import make_ticket, system  # noqa: F401  (fixtures)

# Monday 2 March 2026 07:00 UTC (08:00 in Denmark): business time starts at once
MONDAY = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def _ticket(make_ticket):  # noqa: F811
    ticket = make_ticket()
    ticket.created_at = MONDAY
    db.session.commit()
    return ticket


def _stored(ticket: Ticket) -> tuple[int | None, int | None]:
    db.session.commit()
    row = db.session.execute(
        select(Ticket.response_business_seconds, Ticket.resolution_business_seconds).where(
            Ticket.id == ticket.id
        )
    ).one()
    return row[0], row[1]


def _since_created(ticket: Ticket, moment: datetime) -> int:
    return business_seconds_between(MUNICIPAL_CALENDAR, ticket.created_at, moment)


def test_a_reply_stores_the_business_time_to_the_first_answer(make_user, make_ticket):  # noqa: F811
    ticket = _ticket(make_ticket)
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    services.add_entry(ticket.created_by, ticket, "Mere om fejlen.")  # the creator's own
    assert _stored(ticket) == (None, None)
    reply = services.add_entry(coordinator, ticket, "Vi kigger på det.")
    response = _since_created(ticket, reply.created_at)
    assert response > 0
    assert _stored(ticket) == (response, None)
    services.add_entry(coordinator, ticket, "Nu virker det.")
    assert _stored(ticket) == (response, None)


def test_a_relayed_answer_stores_the_business_time_to_the_first_answer(make_user, make_ticket):  # noqa: F811
    ticket = _ticket(make_ticket)
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    entry = services.relay_answer(coordinator, ticket, "Leverandøren har rettet det.", "S-1")
    assert _stored(ticket) == (_since_created(ticket, entry.created_at), None)


def test_resolving_closing_and_reopening_keep_the_resolution_time(make_user, make_ticket):  # noqa: F811
    ticket = _ticket(make_ticket)
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    lifecycle.change_status(coordinator, ticket, "resolved")
    resolved = _since_created(ticket, ticket.resolved_at)
    assert _stored(ticket) == (None, resolved)
    lifecycle.change_status(coordinator, ticket, "closed")  # resolved first: still that
    assert _stored(ticket) == (None, resolved)
    lifecycle.change_status(coordinator, ticket, "open")  # reopened: not resolved now
    assert _stored(ticket) == (None, None)
    lifecycle.change_status(coordinator, ticket, "closed")  # closed unresolved: closing
    assert _stored(ticket) == (None, _since_created(ticket, ticket.closed_at))


def test_filling_measures_as_the_events_stored(make_user, make_ticket):  # noqa: F811
    ticket = _ticket(make_ticket)
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    services.add_entry(coordinator, ticket, "Vi kigger på det.")
    lifecycle.change_status(coordinator, ticket, "resolved")
    stored = _stored(ticket)
    db.session.execute(
        Ticket.__table__.update().values(
            response_business_seconds=None, resolution_business_seconds=None
        )
    )
    assert fill_business_times(db.session) == 1
    assert _stored(ticket) == stored

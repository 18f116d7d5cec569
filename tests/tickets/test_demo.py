"""Demo tickets: realistic spread, idempotent top-up, numbers continue after the seed."""

from __future__ import annotations

from sqlalchemy import func, select

from supportdesk.accounts.models import Municipality, Role, User
from supportdesk.demo import Logins, organisations
from supportdesk.demo import tickets as demo_tickets
from supportdesk.extensions import db
from supportdesk.tickets import services
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry, TicketStatus


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_tops_up_and_numbers_are_never_reused(app):
    organisations.seed(Logins(), lambda _m: None)
    db.session.commit()
    demo_tickets.seed(ticket_count=300, echo=lambda _m: None)
    db.session.commit()
    assert _count(Ticket) == 300
    demo_tickets.seed(ticket_count=300, echo=lambda _m: None)
    db.session.commit()
    assert _count(Ticket) == 300  # idempotent
    demo_tickets.seed(ticket_count=350, echo=lambda _m: None)
    db.session.commit()
    assert _count(Ticket) == 350  # tops up
    numbers = db.session.scalars(select(Ticket.number)).all()
    assert len(set(numbers)) == 350
    statuses = set(db.session.scalars(select(Ticket.status).distinct()))
    assert statuses == set(TicketStatus)
    kinds = set(db.session.scalars(select(TicketEntry.kind).distinct()))
    assert kinds == set(EntryKind)
    # tickets over the last 90 days, each with its history
    assert _count(TicketEntry) > 350 * 2
    # a ticket created afterwards continues the municipality's counter
    esbjerg = db.session.scalar(select(Municipality).where(Municipality.slug == "esbjerg"))
    user = db.session.scalar(
        select(User).where(User.municipality_id == esbjerg.id, User.role == Role.superuser)
    )
    system = db.session.scalar(select(Ticket).limit(1)).system
    ticket = services.create_ticket(
        user,
        services.NewTicket(system=system, category=None, subject="Ny", description="Efter seed"),
    )
    db.session.commit()
    assert ticket.number not in numbers
    seeded = [n for n in numbers if n.startswith(f"{esbjerg.code}-{ticket.created_at.year}-")]
    assert int(ticket.number.rsplit("-", 1)[1]) == len(seeded) + 1
    # the seeded rows are readable through the ORM (types as the columns store them)
    sample = db.session.scalar(select(Ticket).where(Ticket.number == numbers[0]))
    assert sample.created_at.tzinfo is not None
    assert sample.entries[0].data["source"] in {"web", "hotline"}

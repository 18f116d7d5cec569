"""Escalation fixtures: one municipality's staff around one vendor, tickets via the service."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pytest

from supportdesk.accounts.models import Institution, Role, System, User, Vendor
from supportdesk.escalation import services
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import db
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import Priority, Ticket
from tests.signin import sign_in_client


@dataclass
class World:
    vendor: Vendor
    other_vendor: Vendor
    system: System
    school: Institution
    daycare: Institution
    superuser: User
    superuser2: User
    coordinator: User
    unentitled: User
    hotline: User
    agent: User
    other_agent: User
    other_coordinator: User  # another municipality, entitled for the same vendor


@pytest.fixture
def world(make_vendor, make_system, make_institution, make_user, make_municipality) -> World:
    vendor = make_vendor("netcompany")
    other_vendor = make_vendor("meebook")
    system = make_system("aula", vendor=vendor, categories=("login", "beskeder"))
    esbjerg = make_municipality("esbjerg")
    aalborg = make_municipality("aalborg")
    school = make_institution(esbjerg, name="Rosenvængets Skole")
    from supportdesk.accounts.models import InstitutionType

    daycare = make_institution(esbjerg, type=InstitutionType.dagtilbud, name="Børnehuset Solsikken")
    return World(
        vendor=vendor,
        other_vendor=other_vendor,
        system=system,
        school=school,
        daycare=daycare,
        superuser=make_user(Role.superuser, institution=school, name="Sanne Superbruger"),
        superuser2=make_user(Role.superuser, institution=daycare, name="Dorte Dagtilbud"),
        coordinator=make_user(
            Role.coordinator, municipality=esbjerg, entitled=[vendor], name="Karen Koordinator"
        ),
        unentitled=make_user(Role.coordinator, municipality=esbjerg, entitled=[other_vendor]),
        hotline=make_user(Role.hotline, municipality=esbjerg),
        agent=make_user(Role.vendor_agent, vendor=vendor, name="Lars Leverandør"),
        other_agent=make_user(Role.vendor_agent, vendor=other_vendor),
        other_coordinator=make_user(Role.coordinator, municipality=aalborg, entitled=[vendor]),
    )


@pytest.fixture
def make_ticket(world) -> Callable[..., Ticket]:
    def _make(
        creator: User | None = None,
        subject: str = "Forældre kan ikke logge ind",
        description: str = "Siden svarer ikke.",
        priority: Priority = Priority.normal,
    ) -> Ticket:
        creator = creator or world.superuser
        ticket = ticket_services.create_ticket(
            creator,
            ticket_services.NewTicket(
                system=world.system,
                category=world.system.categories[0],
                subject=subject,
                description=description,
                priority=priority,
                institution=creator.institution,
            ),
        )
        db.session.commit()
        return ticket

    return _make


@pytest.fixture
def escalated(world, make_ticket) -> Callable[..., VendorCase]:
    """escalated(ticket=None, now=..., **kwargs) → a committed case."""

    def _make(ticket: Ticket | None = None, now: datetime | None = None, **kwargs) -> VendorCase:
        ticket = ticket or make_ticket()
        kwargs.setdefault("summary", "Mange forældre kan ikke logge ind via MitID.")
        case = services.escalate(
            world.coordinator, ticket, services.EscalationRequest(**kwargs), now=now
        )
        db.session.commit()
        return case

    return _make


def client_for(app, user: User):
    """A separate test client signed in as `user` (several people in one flow)."""
    client = app.test_client()
    sign_in_client(client, user)
    return client

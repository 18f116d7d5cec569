"""Ticket fixtures: a municipality with staff, and make_ticket through the real service."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import g

from supportdesk.accounts.models import Institution, Role, System, User
from supportdesk.extensions import db
from supportdesk.tickets import services
from supportdesk.tickets.models import Priority, Ticket, TicketSource


def _committing_client(app):
    """A test client that ends the test's own transaction before each request.

    Tests share the app context (and session) with the requests they make; a lazy
    load in the test opens a write transaction on SQLite (BEGIN IMMEDIATE) that
    would block the ticket page's separate access-log write. Flask-Login caches the
    user in `g`, which the shared app context keeps between requests: drop it.
    """
    test_client = app.test_client()
    original = test_client.open

    def _open(*args, **kwargs):
        db.session.commit()
        g.pop("_login_user", None)
        return original(*args, **kwargs)

    test_client.open = _open  # type: ignore[method-assign]
    return test_client


@pytest.fixture
def client(app):
    return _committing_client(app)


@pytest.fixture
def new_client(app) -> Callable[[], object]:
    return lambda: _committing_client(app)


@pytest.fixture
def system(make_system) -> System:
    return make_system("aula", categories=("login", "beskeder"))


@pytest.fixture
def make_ticket(app, make_user, system) -> Callable[..., Ticket]:
    """make_ticket(creator=…, institution=…) creates through services.create_ticket."""

    def _make(
        creator: User | None = None,
        *,
        municipality: str | None = None,
        institution: Institution | None = None,
        subject: str = "Forældre kan ikke logge ind",
        description: str = "Siden svarer ikke.",
        source: TicketSource = TicketSource.web,
        priority: Priority = Priority.normal,
        **kwargs,
    ) -> Ticket:
        if creator is None:
            creator = make_user(Role.superuser, municipality=municipality, institution=institution)
        ticket = services.create_ticket(
            creator,
            system=system,
            category=system.categories[0],
            subject=subject,
            description=description,
            priority=priority,
            institution=institution,
            source=source,
            requester_name=kwargs.pop(
                "requester_name", "Forælder" if source == "hotline" else None
            ),
            **kwargs,
        )
        db.session.commit()
        return ticket

    return _make

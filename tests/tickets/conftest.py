"""Ticket fixtures: a municipality with staff, and make_ticket through the real service."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from supportdesk.accounts.models import Institution, Role, System, User
from supportdesk.extensions import db
from supportdesk.tickets import services
from supportdesk.tickets.models import Priority, Ticket, TicketSource


@pytest.fixture
def new_client(app) -> Callable[[], object]:
    """A second browser (its own cookies)."""
    return app.test_client


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
            services.NewTicket(
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
            ),
        )
        db.session.commit()
        return ticket

    return _make


@pytest.fixture
def token_for(app) -> Callable[[User], dict[str, str]]:
    """Authorization header with a fresh API token for the user."""

    def _headers(user: User) -> dict[str, str]:
        from supportdesk.accounts.services import create_token

        _token, plain = create_token(user, "test")
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return _headers

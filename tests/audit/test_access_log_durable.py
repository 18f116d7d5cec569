"""The access-log row of a ticket view is committed before the page is sent (DESIGN §3.9):
another connection sees it as soon as the response is there, and a write that fails fails
the page instead of showing the ticket unlogged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from supportdesk.extensions import db as _db
from supportdesk.tickets import access_log
from supportdesk.tickets.models import TicketView
from tests.escalation.conftest import client_for


def _views(ticket_id: int, user_id: int) -> int:
    with _db.engine.connect() as other:  # a connection of its own: committed rows only
        return other.scalar(
            select(func.count())
            .select_from(TicketView)
            .where(TicketView.ticket_id == ticket_id, TicketView.user_id == user_id)
        )


@pytest.mark.parametrize("path", ["/tickets/{}", "/api/v1/tickets/{}"])
def test_the_row_is_committed_when_the_response_is_sent(app, world, make_ticket, path):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    for expected in (1, 2):
        assert coordinator.get(path.format(ticket.number)).status_code == 200
        assert _views(ticket.id, world.coordinator.id) == expected


def test_a_failed_write_fails_the_page(app, world, make_ticket, monkeypatch):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    monkeypatch.setattr(access_log, "_INSERT_VIEW", text("INSERT INTO no_such_table VALUES (1)"))
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = coordinator.get(f"/tickets/{ticket.number}")
    assert response.status_code == 500
    assert ticket.subject not in response.get_data(as_text=True)

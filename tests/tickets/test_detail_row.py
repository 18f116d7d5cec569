"""A cached ticket page reads the ticket as its row; only a page built anew loads the model."""

from __future__ import annotations

from sqlalchemy import event

from supportdesk.accounts.models import Role
from supportdesk.tickets.models import Ticket


def test_a_cached_ticket_page_loads_no_ticket_model(make_user, make_ticket, client, login):
    """The ORM's work per statement cost more than the ticket's query: a hit reads the row
    (key, reopen offer, access log, title) and builds no `Ticket`; a miss builds it."""
    ticket = make_ticket(subject="Skema vises ikke")
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    login(coordinator)
    url = f"/tickets/{ticket.number}"
    loaded: list[int] = []

    def count(target: Ticket, *_args) -> None:
        loaded.append(target.id)

    # a model already in the session is refreshed rather than loaded
    for kind in ("load", "refresh"):
        event.listen(Ticket, kind, count)
    try:
        first = client.get(url)
        built = len(loaded)
        loaded.clear()
        again = client.get(url)
    finally:
        for kind in ("load", "refresh"):
            event.remove(Ticket, kind, count)
    assert built >= 1
    assert loaded == []
    assert first.status_code == again.status_code == 200
    title = f"<title>{ticket.number} Skema vises ikke"
    assert title in first.get_data(as_text=True)
    assert title in again.get_data(as_text=True)

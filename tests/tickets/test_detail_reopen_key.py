"""The cached ticket page offers "reopen" exactly as its key says."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets import lifecycle


def test_a_page_cached_under_a_shut_window_never_offers_reopen(
    make_user, make_ticket, client, login, monkeypatch
):
    """The key's reopen part comes from the first read of the ticket, the page from a second
    read: resolved in between, the page must not offer "reopen" under a key that says no,
    which is the key every later view has once the window shuts."""
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    lifecycle.change_status(coordinator, ticket, "resolved")
    db.session.commit()
    login(ticket.created_by)
    real = lifecycle.can_reopen_now
    calls: list[bool] = []

    def first_read_before_resolving(user, ticket):
        calls.append(True)
        return False if len(calls) == 1 else real(user, ticket)

    monkeypatch.setattr(lifecycle, "can_reopen_now", first_read_before_resolving)
    assert b"/reopen" not in client.get(f"/tickets/{ticket.number}").data

    monkeypatch.setattr(lifecycle, "can_reopen_now", lambda user, ticket: False)  # window shut
    assert b"/reopen" not in client.get(f"/tickets/{ticket.number}").data

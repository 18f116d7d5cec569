"""Rewriting the assignee lines of an erased person (history.rename_assignee)."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets import history, lifecycle


def test_renaming_an_assignee_reads_the_lines_and_their_tickets_in_one_statement(
    app, make_ticket, make_user, count_queries
):
    """The ticket page cache's flush listener finds each line's ticket in the session: no
    query per rewritten line for the ticket it is merged into."""
    coordinator = make_user(Role.coordinator)
    leaving = make_user(Role.coordinator, municipality=coordinator.municipality)
    tickets = [make_ticket(municipality=coordinator.municipality) for _ in range(3)]
    for ticket in tickets:
        lifecycle.assign(coordinator, ticket, leaving)
    db.session.commit()
    leaving_id = leaving.id
    db.session.expunge_all()
    leaving = db.session.get(type(leaving), leaving_id)
    leaving.name = f"Slettet bruger {leaving_id}"
    db.session.flush()

    with count_queries() as queries:
        assert history.rename_assignee(leaving, "gone") == 3
        db.session.flush()
    selects = [s for s in queries if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects
    db.session.rollback()

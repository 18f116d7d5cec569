"""The access-log row of a ticket view is committed before the page is sent (DESIGN §3.9):
another connection sees it as soon as the response is there, and a write that fails fails
the page instead of showing the ticket unlogged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from supportdesk import policy
from supportdesk.extensions import db as _db
from supportdesk.tickets import access_log
from supportdesk.tickets.models import Ticket, TicketView
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


@pytest.fixture
def views_refused(app):
    """The database refuses every access-log row (a trigger), as a full disk would."""
    if _db.engine.dialect.name == "postgresql":
        create = [
            "CREATE FUNCTION refuse_view() RETURNS trigger LANGUAGE plpgsql "
            "AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$",
            "CREATE TRIGGER refuse_view BEFORE INSERT ON ticket_view "
            "FOR EACH ROW EXECUTE FUNCTION refuse_view()",
        ]
        drop = ["DROP TRIGGER refuse_view ON ticket_view", "DROP FUNCTION refuse_view()"]
    else:
        create = [
            "CREATE TRIGGER refuse_view BEFORE INSERT ON ticket_view "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = ["DROP TRIGGER refuse_view"]
    _db.session.commit()
    with _db.engine.begin() as conn:
        for statement in create:
            conn.execute(text(statement))
    yield
    _db.session.rollback()
    with _db.engine.begin() as conn:
        for statement in drop:
            conn.execute(text(statement))


def test_a_failed_write_fails_the_page(app, world, make_ticket, monkeypatch, views_refused):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    for path in (f"/tickets/{ticket.number}", f"/api/v1/tickets/{ticket.number}"):
        response = coordinator.get(path)
        assert response.status_code == 500
        assert ticket.subject not in response.get_data(as_text=True)
    assert _views(ticket.id, world.coordinator.id) == 0


def test_every_view_is_recorded_cached_or_not(app, world, make_ticket):
    """Five views of a page served from the cache, by two people: five committed rows
    each (on PostgreSQL the row goes in the request's own transaction)."""
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"
    store = app.extensions["fragment_cache"]
    for user in (world.coordinator, world.superuser):
        client = client_for(app, user)
        client.get(url)  # built (the first view is a row too)
        built = store.misses_by_name.get("tickets.detail:page", 0)
        for expected in range(2, 7):
            assert client.get(url).status_code == 200
            assert _views(ticket.id, user.id) == expected
        assert store.misses_by_name.get("tickets.detail:page", 0) == built  # all from the store


def test_a_page_that_fails_to_render_sends_no_ticket(app, world, make_ticket, monkeypatch):
    """A view whose page fails logs at most that view (the ticket was read for the viewer:
    SQLite, and PostgreSQL's read without a transaction, log it before the page) and the
    request's transaction is not committed half-way; the next view is logged."""
    from supportdesk.tickets import views

    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    with monkeypatch.context() as patch:
        patch.setattr(views, "_fresh_detail_body", lambda *_args: 1 / 0)
        assert coordinator.get(url).status_code == 500
    assert _views(ticket.id, world.coordinator.id) <= 1  # SQLite logs before the page
    before = _views(ticket.id, world.coordinator.id)
    assert coordinator.get(url).status_code == 200
    assert _views(ticket.id, world.coordinator.id) == before + 1


@pytest.mark.postgresql_only
def test_a_change_a_page_left_pending_is_not_committed_with_the_view(
    app, world, make_ticket, monkeypatch
):
    """The view's row shares the request's transaction on PostgreSQL, but a change the
    page left in the session, pending or flushed, is never committed by it. (On SQLite
    the row has its own transaction, and a GET cannot write.)"""
    from supportdesk.tickets import lifecycle

    ticket = make_ticket(subject="Uændret")
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    for flush in (False, True):

        def stray_change(_user, seen, flush=flush):
            # the page holds the ticket's row; the change goes to the model it loads
            _db.session.get(Ticket, seen.id).subject = "Ændret ved en fejl"
            if flush:
                _db.session.flush()
            return False

        before = _views(ticket.id, world.coordinator.id)
        with monkeypatch.context() as patch:
            patch.setattr(lifecycle, "can_reopen_now", stray_change)
            assert coordinator.get(url).status_code == 200
        assert _views(ticket.id, world.coordinator.id) == before + 1
        with _db.engine.connect() as other:
            subject = other.scalar(
                text("SELECT subject FROM ticket WHERE id = :id"), {"id": ticket.id}
            )
        assert subject == "Uændret"


def test_the_row_is_written_without_asking_for_its_id(app, world, make_ticket, count_queries):
    """Nothing reads the new row's id: the INSERT returns nothing (no RETURNING, whose
    result costs the worker a described and fetched row on PostgreSQL)."""
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    for path in (f"/tickets/{ticket.number}", f"/api/v1/tickets/{ticket.number}"):
        with count_queries() as queries:
            assert coordinator.get(path).status_code == 200
        inserts = [sql for sql in queries if "INSERT INTO TICKET_VIEW" in sql.upper()]
        assert len(inserts) == 1
        assert "RETURNING" not in inserts[0].upper()


@pytest.mark.postgresql_only
def test_the_page_reads_the_ticket_and_writes_its_row_in_one_statement(
    app, world, make_ticket, count_queries
):
    """On PostgreSQL the ticket's statement inserts the view's row too (a data-modifying
    WITH): a cached view is the session check and that one statement, then COMMIT."""
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    assert coordinator.get(url).status_code == 200  # built and kept
    with count_queries() as queries:
        assert coordinator.get(url).status_code == 200
    assert len(queries) == 2
    assert "JOIN user_session" in queries[0]
    assert "INSERT INTO ticket_view" in queries[1]
    assert "FROM ticket" in queries[1]
    assert _views(ticket.id, world.coordinator.id) == 2


@pytest.mark.postgresql_only
def test_a_ticket_not_shown_writes_no_row(app, world, make_ticket):
    """The statement that reads the ticket inserts a row only for a ticket the viewer
    may see: counted in its own transaction, before anything could roll it back."""
    ticket = make_ticket()
    stranger = client_for(app, world.other_coordinator)
    assert stranger.get(f"/tickets/{ticket.number}").status_code == 404
    assert _views(ticket.id, world.other_coordinator.id) == 0

    def read_and_count(user) -> tuple[bool, int]:
        statement, params = policy.ticket_by_number(user, ticket.number, row=True)
        with app.test_request_context():
            found = access_log.read_ticket(user, statement, params)
            inserted = _db.session.scalar(
                select(func.count()).select_from(TicketView).where(TicketView.user_id == user.id)
            )
            _db.session.rollback()
        return found is not None, inserted

    assert read_and_count(world.other_coordinator) == (False, 0)
    assert read_and_count(world.coordinator) == (True, 1)  # the same statement, shown


@pytest.mark.postgresql_only
def test_a_page_being_rendered_locks_no_row_its_view_refers_to(
    app, world, make_ticket, monkeypatch
):
    """The view's row is inserted with the ticket's read, before the page is rendered; its
    foreign keys are checked at COMMIT (deferred), so the rows it refers to (the ticket,
    the viewer, the municipality) are not locked while the page renders: another
    transaction may lock them meanwhile without waiting."""
    from supportdesk.tickets import lifecycle

    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    rows = {
        "ticket": ticket.id,
        "user_account": world.coordinator.id,
        "municipality": ticket.municipality_id,
    }
    locked: dict[str, bool] = {}

    def lock_meanwhile(_user, _seen):
        with _db.engine.connect() as other:
            for table, row_id in rows.items():
                try:
                    other.execute(
                        text(f"SELECT id FROM {table} WHERE id = :id FOR UPDATE NOWAIT"),  # noqa: S608
                        {"id": row_id},
                    )
                    locked[table] = True
                except DBAPIError:
                    locked[table] = False
                other.rollback()
        return False

    for _view in ("built", "from the store"):
        locked.clear()
        with monkeypatch.context() as patch:
            patch.setattr(lifecycle, "can_reopen_now", lock_meanwhile)
            assert coordinator.get(url).status_code == 200
        assert locked == dict.fromkeys(rows, True)
    assert _views(ticket.id, world.coordinator.id) == 2


@pytest.mark.postgresql_only
def test_a_view_whose_read_was_rolled_back_is_written_again(app, world, make_ticket, monkeypatch):
    """The read's row counts as written only while its transaction lasts: once that has
    ended, `viewing` writes the row itself instead of committing nothing."""
    from supportdesk.accounts import sessions

    ticket = make_ticket()
    user = world.coordinator
    statement, params = policy.ticket_by_number(user, ticket.number, row=True)
    monkeypatch.setattr(sessions, "preloaded", lambda _user: {})  # as after the session check
    with app.test_request_context():
        seen = access_log.read_ticket(user, statement, params)
        _db.session.rollback()  # the transaction holding the read's row ends
        with access_log.viewing(user, seen):
            pass
    assert _views(ticket.id, user.id) == 1

"""Parts of the ticket page built once for many pages: the generations read with the
ticket itself, the FAQ article options of the reply tools (per article visibility), the
assignee list (per municipality, role and language) and the known-issue banner (per
system and language). A change shows on the next
first view of another ticket, and another municipality never gets these lists."""

from __future__ import annotations

from sqlalchemy import event

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket
from tests.escalation.conftest import client_for
from tests.escalation.test_ticket_page_cache import _cached, _served_from_cache, add_known_issue
from tests.factories import published_article


def _page(client, ticket: Ticket) -> str:
    response = client.get(f"/tickets/{ticket.number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_cached_view_reads_the_page_s_generations_with_the_ticket(
    app, world, make_ticket, escalated, count_queries
):
    """A hit: the session with the user, the ticket with its page's generations (its
    case's too), the access-log row (on PostgreSQL in the ticket's statement); nothing
    else."""
    for ticket in (make_ticket(), escalated().tickets[0]):
        url = f"/tickets/{ticket.number}"
        coordinator = client_for(app, world.coordinator)
        _cached(app, coordinator, url)
        with count_queries() as statements:
            _cached(app, coordinator, url)
        statements = [" ".join(s.split()) for s in statements]
        assert not [s for s in statements if s.startswith("SELECT cache_generation")]
        assert len([s for s in statements if "INSERT INTO ticket_view" in s]) == 2
        assert len(statements) <= 2 * 4  # user, ticket, view row (and COMMIT on PostgreSQL)


def test_a_new_article_shows_in_the_reply_tools_of_another_ticket(app, world, make_ticket):
    first, second = make_ticket(), make_ticket(subject="Beskeder mangler")
    coordinator = client_for(app, world.coordinator)
    _cached(app, coordinator, f"/tickets/{first.number}")  # the options are built
    assert 'name="article"' not in _page(coordinator, first)
    published_article(world.system, slug="nulstil-kode", title="Nulstil <kode>")
    option = (
        '<option value="nulstil-kode" data-text="[Nulstil &lt;kode&gt;](/faq/nulstil-kode)">'
        "Nulstil &lt;kode&gt;</option>"
    )
    assert option in _page(coordinator, second)
    assert option in _page(coordinator, first)


def test_a_new_colleague_shows_in_the_assignee_list_of_another_ticket(
    app, world, make_ticket, make_user
):
    first, second = make_ticket(), make_ticket(subject="Beskeder mangler")
    coordinator = client_for(app, world.coordinator)
    _cached(app, coordinator, f"/tickets/{first.number}")  # the assignee list is built
    assert "Bente Nybegynder" not in _page(coordinator, first)
    make_user(
        Role.coordinator, municipality=world.coordinator.municipality, name="Bente Nybegynder"
    )
    db.session.commit()
    assert "Bente Nybegynder" in _page(coordinator, second)
    assert "Bente Nybegynder" in _page(coordinator, first)


def test_another_municipality_gets_its_own_assignee_list(app, world, make_ticket, make_user):
    ours = make_ticket()
    colleague = make_user(Role.coordinator, municipality=world.coordinator.municipality)
    db.session.commit()
    coordinator = client_for(app, world.coordinator)
    assert f'value="{colleague.id}"' in _page(coordinator, ours)
    theirs = make_ticket(creator=world.other_coordinator, subject="I Aalborg")
    page = _page(client_for(app, world.other_coordinator), theirs)
    assert f'value="{world.other_coordinator.id}"' in page
    assert f'value="{colleague.id}"' not in page
    assert f'value="{world.coordinator.id}"' not in page


def test_a_new_known_issue_shows_on_another_ticket_of_the_system_only(
    app, world, make_ticket, make_system
):
    first, second = make_ticket(), make_ticket(subject="Beskeder mangler")
    other_system = make_system("skoleintra", vendor=world.vendor)
    elsewhere = make_ticket(subject="Andet system")
    db.session.get(Ticket, elsewhere.id).system_id = other_system.id
    db.session.commit()
    coordinator = client_for(app, world.coordinator)
    for ticket in (first, elsewhere):
        _cached(app, coordinator, f"/tickets/{ticket.number}")  # the banners are built
    add_known_issue(world, "Login driller i hele landet")
    banner = f"<strong>{world.system.name}: Login driller i hele landet</strong>"
    assert banner in _page(coordinator, second)
    assert banner in _page(coordinator, first)
    assert "Login driller i hele landet" not in _page(coordinator, elsewhere)


def test_on_postgresql_a_view_s_row_goes_in_the_request_s_own_transaction(app, world, make_ticket):
    """PostgreSQL: the access-log row is written on the connection that read the ticket
    and committed with it (no second connection, no transaction of its own); SQLite
    writes it in a transaction of its own."""
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"
    coordinator = client_for(app, world.coordinator)
    _cached(app, coordinator, url)
    seen: list[tuple[int, str]] = []

    def record(conn, _cursor, statement, *_args):
        seen.append((id(conn.connection.dbapi_connection), " ".join(statement.split())))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        _served_from_cache(app, coordinator, url)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    reads = {c for c, s in seen if "FROM ticket WHERE" in s}
    writes = {c for c, s in seen if "INSERT INTO ticket_view" in s}
    assert len(reads) == len(writes) == 1
    if db.engine.dialect.name == "postgresql":
        assert writes == reads

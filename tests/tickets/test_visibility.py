"""Who sees which ticket: the role x relation table, over the pages and the API."""

from __future__ import annotations

import pytest

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import Queue, TicketSource


@pytest.fixture
def world(make_municipality, make_institution, make_user, make_ticket, system):
    """Two municipalities; tickets of several kinds in the first."""
    home = make_municipality("esbjerg")
    other = make_municipality("aalborg")
    school = make_institution(home, name="Rosenvængets Skole")
    other_school = make_institution(home, name="Kvaglundskolen")
    hotline_queue = Queue(municipality_id=home.id, slug="hotline", name="Hotline", is_hotline=True)
    db.session.add(hotline_queue)
    db.session.commit()
    users = {
        "superuser": make_user(Role.superuser, institution=school),
        "colleague": make_user(Role.superuser, institution=school),
        "stranger_su": make_user(Role.superuser, institution=other_school),
        "hotline": make_user(Role.hotline, municipality=home),
        "hotline2": make_user(Role.hotline, municipality=home),
        "coordinator": make_user(Role.coordinator, municipality=home),
        "municipal_admin": make_user(Role.municipal_admin, municipality=home),
        "vendor_agent": make_user(Role.vendor_agent, vendor=system.vendor),
        "vendor_editor": make_user(Role.vendor_editor, vendor=system.vendor),
        "other_coordinator": make_user(Role.coordinator, municipality=other),
        "other_superuser": make_user(Role.superuser, municipality=other),
    }
    tickets = {
        # created by the colleague for the shared school
        "same_institution": make_ticket(users["colleague"], institution=school),
        # created by the superuser for another school in the municipality (before they
        # moved school: today a superuser logs tickets for their own institution only)
        "own_elsewhere": _moved(make_ticket(users["superuser"], institution=school), other_school),
        "other_school": make_ticket(users["stranger_su"], institution=other_school),
        "hotline_queue": make_ticket(
            users["hotline2"], institution=other_school, source=TicketSource.hotline
        ),
        "hotline_own": make_ticket(users["hotline"], institution=other_school),
    }
    db.session.commit()
    return users, tickets


def _moved(ticket, institution):
    ticket.institution = institution
    db.session.commit()
    return ticket


# user -> tickets visible; everything else must be 404
EXPECTED = {
    "superuser": {"same_institution", "own_elsewhere"},
    "hotline": {"hotline_queue", "hotline_own"},
    "coordinator": {
        "same_institution",
        "own_elsewhere",
        "other_school",
        "hotline_queue",
        "hotline_own",
    },
    "municipal_admin": {
        "same_institution",
        "own_elsewhere",
        "other_school",
        "hotline_queue",
        "hotline_own",
    },
    "vendor_agent": set(),
    "vendor_editor": set(),
    "other_coordinator": set(),
    "other_superuser": set(),
}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_ticket_pages_and_api_follow_the_visibility_table(who, world, client, login, token_for):
    users, tickets = world
    user = users[who]
    headers = token_for(user)
    login(user)
    for name, ticket in tickets.items():
        visible = name in EXPECTED[who]
        page = client.get(f"/tickets/{ticket.number}")
        api = client.get(f"/api/v1/tickets/{ticket.number}", headers=headers)
        expected = 200 if visible else 404
        assert (name, page.status_code) == (name, expected)
        assert (name, api.status_code) == (name, expected)
        if not visible:
            assert api.get_json()["error"]["code"] == "not_found"
    listed = client.get("/api/v1/tickets?limit=200", headers=headers).get_json()["items"]
    assert {t["number"] for t in listed} == {tickets[n].number for n in EXPECTED[who]}


@pytest.mark.parametrize("who", ["superuser", "hotline", "coordinator"])
def test_list_page_shows_only_visible_tickets(who, world, client, login):
    users, tickets = world
    login(users[who])
    scope = "?scope=queue" if who == "hotline" else ""
    html = client.get(f"/tickets{scope}").data.decode()
    if who == "hotline":
        html += client.get("/tickets?scope=mine").data.decode()
    for name, ticket in tickets.items():
        assert (name, ticket.number in html) == (name, name in EXPECTED[who])


@pytest.mark.parametrize("who", ["vendor_agent", "vendor_editor"])
def test_vendor_staff_have_no_ticket_pages(who, world, client, new_client, login, token_for):
    users, _tickets = world
    login(users[who])
    assert client.get("/tickets").status_code == 404
    assert client.get("/tickets/new").status_code == 404
    response = new_client().post(
        "/api/v1/tickets",
        json={"subject": "x", "description": "y", "system": "aula"},
        headers=token_for(users[who]),
    )
    assert response.status_code == 404


def test_every_view_is_in_the_access_log(world, client, login, token_for):
    from sqlalchemy import select

    from supportdesk.tickets.models import TicketView

    users, tickets = world
    coordinator = users["coordinator"]
    headers = token_for(coordinator)
    login(coordinator)
    number = tickets["other_school"].number
    client.get(f"/tickets/{number}")
    client.get(f"/api/v1/tickets/{number}", headers=headers)
    client.get(f"/tickets/{tickets['same_institution'].number}/../x")  # not a view
    db.session.commit()
    rows = db.session.scalars(select(TicketView).order_by(TicketView.id)).all()
    assert [(r.user_id, r.ticket_id, r.channel) for r in rows] == [
        (coordinator.id, tickets["other_school"].id, "page"),
        (coordinator.id, tickets["other_school"].id, "api"),
    ]


def test_viewers_in_turn_each_get_their_own_tickets(world, client, login, token_for):
    """The one-ticket lookup's statement is built once per kind of viewer and kept by the
    process (`policy.ticket_by_number`): viewers of one kind in turn (coordinators of two
    municipalities, superusers at two schools) each get their own answer, on the page and
    in the API, never the previous viewer's."""
    users, tickets = world
    turns = (
        "coordinator",
        "other_coordinator",
        "superuser",
        "other_superuser",
        "coordinator",
        "hotline",
        "municipal_admin",
        "superuser",
        "vendor_agent",
        "other_coordinator",
    )
    for who in turns:
        login(users[who])
        headers = token_for(users[who])
        for name, ticket in tickets.items():
            expected = 200 if name in EXPECTED[who] else 404
            page = client.get(f"/tickets/{ticket.number}").status_code
            api = client.get(f"/api/v1/tickets/{ticket.number}", headers=headers).status_code
            assert (who, name, page, api) == (who, name, expected, expected)


def test_two_viewers_in_one_statement_keep_their_own_values(world):
    """Each viewer's values stay with their own part of a statement that combines two
    (tickets both may see, tickets either may see), never the other viewer's."""
    from sqlalchemy import select, union

    from supportdesk import policy
    from supportdesk.tickets.models import Ticket

    users, tickets = world
    home, away = users["coordinator"], users["other_coordinator"]
    own = {t.id for t in tickets.values()}

    def ids(statement) -> set[int]:
        return set(db.session.scalars(statement))

    both = policy.tickets_visible_to(home).where(
        Ticket.id.in_(policy.tickets_visible_to(away).with_only_columns(Ticket.id))
    )
    assert ids(both.with_only_columns(Ticket.id)) == set()
    either = union(
        policy.tickets_visible_to(home).with_only_columns(Ticket.id),
        policy.tickets_visible_to(away).with_only_columns(Ticket.id),
    )
    assert ids(select(either.subquery().c.id)) == own


def test_signed_out_visitor_sees_no_tickets(app):
    from flask_login import AnonymousUserMixin

    from supportdesk import policy

    assert db.session.scalars(policy.tickets_visible_to(AnonymousUserMixin())).all() == []


def test_kept_ticket_statement_has_the_columns_asked_for(world):
    """`ticket_by_number` keeps a statement per kind of viewer and columns; other
    columns build the statement again, never answer with the old ones."""
    from sqlalchemy import literal

    from supportdesk import policy

    users, tickets = world
    number = tickets["other_school"].number
    for value in (1, 2, 2):
        columns = (literal(value).label("extra"),)
        statement, params = policy.ticket_by_number(users["coordinator"], number, columns)
        row = db.session.execute(statement, params).one()
        assert (row.Ticket.number, row.extra) == (number, value)

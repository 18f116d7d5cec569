"""Triage queue: constant query count, keyset pagination with ties, filters, bulk actions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from supportdesk.accounts.models import Role
from supportdesk.extensions import db, utcnow
from supportdesk.tickets import lifecycle, listing, services
from supportdesk.tickets.models import Priority, Ticket, TicketStatus


@pytest.fixture
def many(make_user, make_institution, system):
    """40 tickets; 15 share one created_at to the microsecond (ties for the keyset)."""
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    schools = [make_institution(coordinator.municipality) for _ in range(3)]
    creators = [make_user(Role.superuser, institution=s) for s in schools]
    priorities = list(Priority)
    tickets = []
    for i in range(40):
        tickets.append(
            services.create_ticket(
                creators[i % 3],
                services.NewTicket(
                    system=system,
                    category=system.categories[i % 2],
                    subject=f"Sag {i}",
                    description="Beskrivelse",
                    priority=priorities[i % 4],
                ),
            )
        )
    db.session.flush()
    same = utcnow() - timedelta(days=1)
    for i, ticket in enumerate(tickets):
        created = same if i < 15 else utcnow() - timedelta(hours=i)
        db.session.execute(
            update(Ticket)
            .where(Ticket.id == ticket.id)
            .values(created_at=created, updated_at=created)
        )
    db.session.commit()
    return coordinator, tickets


def _page_numbers(html: str) -> list[str]:
    return re.findall(r'name="tickets" value="([^"]+)"', html)


@pytest.mark.parametrize("sort", ["newest", "oldest", "priority", "updated"])
def test_keyset_pages_cover_everything_once_in_order(many, client, login, sort):
    coordinator, _tickets = many
    login(coordinator)
    seen: list[str] = []
    url = f"/tickets?sort={sort}&limit=25"
    pages = 0
    while url:
        html = client.get(url).data.decode()
        seen += _page_numbers(html)
        match = re.search(r'rel="next" href="([^"]+)"', html)
        url = match.group(1).replace("&amp;", "&") if match else None
        pages += 1
    assert pages == 2
    assert len(seen) == len(set(seen)) == 40
    everything = listing.list_tickets(coordinator, listing.TicketFilters(sort=sort), limit=200)
    assert seen == [t.number for t in everything.items]


@pytest.mark.parametrize("sort", ["newest", "priority"])
def test_api_keyset_with_small_pages_and_ties(many, new_client, token_for, sort):
    coordinator, tickets = many
    headers = token_for(coordinator)
    seen: list[str] = []
    cursor = None
    while True:
        query = f"/api/v1/tickets?limit=7&sort={sort}" + (f"&cursor={cursor}" if cursor else "")
        body = new_client().get(query, headers=headers).get_json()
        seen += [t["number"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 40
    if sort == "newest":
        ordered = sorted(tickets, key=lambda t: (t.created_at, t.id), reverse=True)
        assert seen == [t.number for t in ordered]


def test_bad_cursor_is_422_not_500(many, new_client, token_for):
    coordinator, _tickets = many
    response = new_client().get("/api/v1/tickets?cursor=garbage!", headers=token_for(coordinator))
    assert response.status_code == 422
    assert "cursor" in response.get_json()["error"]["fields"]


def test_triage_list_issues_a_constant_number_of_queries(many, client, login, count_queries):
    coordinator, _tickets = many
    login(coordinator)
    client.get("/tickets")  # warm-up (first-request caches)
    counts = {}
    for limit in (25, 50, 100):
        with count_queries() as queries:
            response = client.get(f"/tickets?limit={limit}")
        assert response.status_code == 200
        counts[limit] = len(queries)
    assert len(_page_numbers(client.get("/tickets?limit=25").data.decode())) == 25
    assert len(_page_numbers(client.get("/tickets?limit=100").data.decode())) == 40
    print("triage queries per page", counts)
    assert counts[25] == counts[50] == counts[100], counts


def test_filters_and_counts(many, client, login, make_user):
    coordinator, tickets = many
    login(coordinator)
    target = tickets[20]
    html = client.get(f"/tickets?q={target.subject}").data.decode()
    assert _page_numbers(html) == [target.number]
    html = client.get("/tickets?priority=critical").data.decode()
    assert len(_page_numbers(html)) == 10
    html = client.get(f"/tickets?institution={target.institution.number}").data.decode()
    assert len(_page_numbers(html)) == len(
        [t for t in tickets if t.institution_id == target.institution_id]
    )
    page = listing.list_tickets(coordinator, listing.TicketFilters())
    assert page.counts[TicketStatus.new] == 40


def test_bulk_assign_and_bulk_status(many, client, login, make_user):
    coordinator, tickets = many
    colleague = make_user(Role.coordinator, municipality=coordinator.municipality)
    login(coordinator)
    chosen = [t.number for t in tickets[:5]]
    response = client.post(
        "/tickets/bulk",
        data={
            "tickets": chosen,
            "action": "assign",
            "assignee": str(colleague.id),
            "status": "open",
        },
    )
    assert response.status_code == 302
    html = client.get(f"/tickets?assignee={colleague.id}").data.decode()
    assert sorted(_page_numbers(html)) == sorted(chosen)
    # resolved → waiting is not allowed: those are skipped and reported, the rest change
    lifecycle.change_status(coordinator, tickets[0], "resolved")
    db.session.commit()
    response = client.post(
        "/tickets/bulk",
        data={"tickets": chosen, "action": "status", "status": "waiting", "assignee": ""},
        follow_redirects=True,
    )
    assert tickets[0].number.encode() in response.data  # named in the warning
    statuses = {
        t.number: t.status for t in db.session.query(Ticket).filter(Ticket.number.in_(chosen))
    }
    assert statuses.pop(tickets[0].number) == TicketStatus.resolved
    assert set(statuses.values()) == {TicketStatus.waiting}


def test_bulk_cannot_touch_another_municipality(many, client, login, make_user, make_ticket):
    coordinator, _tickets = many
    foreign = make_ticket(municipality="aalborg")
    login(coordinator)
    client.post(
        "/tickets/bulk", data={"tickets": [foreign.number], "action": "status", "status": "closed"}
    )
    db.session.refresh(foreign)
    assert foreign.status == TicketStatus.new
    superuser = make_user(Role.superuser, municipality=coordinator.municipality)
    login(superuser)
    assert client.post("/tickets/bulk", data={"tickets": [foreign.number]}).status_code == 404

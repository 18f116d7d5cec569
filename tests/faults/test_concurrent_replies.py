"""Replies to one ticket from several clients at once never conflict.

Before the fix every reply bumped the ticket's version (`updated_at` on a versioned row),
so two replies in flight raced on `UPDATE ticket … WHERE version = n`: on PostgreSQL 4
clients x 10 replies gave 19 x 409 although no client sent a version. Only a write that
names a `version` may answer 409.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry, TicketStatus
from tests.live_http import call_json
from tests.tickets.conftest import make_ticket, system, token_for  # noqa: F401  (fixtures)

CLIENTS = 4
REPLIES = 10


@pytest.mark.slow
def test_four_clients_replying_at_once_get_no_409(
    make_user,
    make_ticket,  # noqa: F811
    token_for,  # noqa: F811
    live_server,
):
    ticket = make_ticket()
    staff = [make_user(Role.coordinator, municipality=ticket.municipality) for _ in range(CLIENTS)]
    tokens = [token_for(u)["Authorization"].removeprefix("Bearer ") for u in staff]
    base = live_server(workers=2)  # sync workers: two requests in flight at every moment
    url = f"{base}/api/v1/tickets/{ticket.number}/entries"
    jobs = [(c, n) for n in range(REPLIES) for c in range(CLIENTS)]

    def reply(job: tuple[int, int]) -> tuple[int, dict]:
        client, n = job
        return call_json(url, "POST", tokens[client], {"body": f"Svar {n} fra klient {client}"})

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(reply, jobs))
    statuses = [status for status, _ in results]
    print(  # the closing note's figures
        f"\nconcurrent replies: {len(jobs)} requests, "
        f"{sum(s == 409 for s in statuses)} x 409, {sum(s >= 500 for s in statuses)} x 5xx"
    )
    assert statuses.count(409) == 0, [r for r in results if r[0] != 201][:3]
    assert statuses == [201] * len(jobs), [r for r in results if r[0] != 201][:3]
    db.session.commit()
    replies = db.session.scalar(
        select(func.count())
        .select_from(TicketEntry)
        .where(TicketEntry.ticket_id == ticket.id, TicketEntry.kind == EntryKind.reply)
    )
    assert replies == len(jobs)
    # staff answering the new ticket opened it, once
    status_lines = db.session.scalar(
        select(func.count())
        .select_from(TicketEntry)
        .where(TicketEntry.ticket_id == ticket.id, TicketEntry.event == "status")
    )
    assert status_lines == 1
    assert db.session.get(Ticket, ticket.id).status == TicketStatus.open
    # the first answer's time is kept, whichever reply's UPDATE came last
    first = db.session.scalar(
        select(func.min(TicketEntry.created_at)).where(
            TicketEntry.ticket_id == ticket.id, TicketEntry.kind == EntryKind.reply
        )
    )
    assert db.session.get(Ticket, ticket.id).first_response_at == first


def test_a_reply_leaves_the_version_so_a_patch_read_before_it_still_applies(
    client,
    make_user,
    make_ticket,  # noqa: F811
    token_for,  # noqa: F811
):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    headers = token_for(coordinator)
    url = f"/api/v1/tickets/{ticket.number}"
    read = client.get(url, headers=headers).get_json()["version"]
    # a reply by the creator while the coordinator edits: not a conflict with the edit
    creator_headers = token_for(ticket.created_by)
    reply = client.post(
        f"{url}/entries", json={"body": "Det virker stadig ikke"}, headers=creator_headers
    )
    assert reply.status_code == 201
    patch = client.patch(url, json={"version": read, "priority": "high"}, headers=headers)
    assert patch.status_code == 200, patch.get_json()
    # a version that is really stale still conflicts
    stale = client.patch(url, json={"version": read, "priority": "low"}, headers=headers)
    assert stale.status_code == 409

"""Real server processes: concurrent creation gets distinct numbers; racing PATCHes, one wins."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket
from tests.live_http import call_json


def test_fifty_concurrent_creations_get_fifty_distinct_numbers(
    make_user, system, token_for, live_server
):
    user = make_user(Role.superuser, municipality="esbjerg")
    token = token_for(user)["Authorization"].removeprefix("Bearer ")
    base = live_server(workers=4)
    body = {
        "subject": "Samtidig oprettelse",
        "description": "Samme øjeblik",
        "system": system.slug,
        "category": system.categories[0].slug,
    }
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(
            pool.map(lambda _i: call_json(f"{base}/api/v1/tickets", "POST", token, body), range(50))
        )
    statuses = [status for status, _body in results]
    assert statuses == [201] * 50, results[:3]
    numbers = [payload["number"] for _status, payload in results]
    assert len(set(numbers)) == 50
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 50
    code = user.municipality.code
    values = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert values == list(range(1, 51))
    assert all(n.startswith(f"{code}-") for n in numbers)


def test_racing_patches_with_the_same_version_one_200_one_409(
    make_user, make_ticket, token_for, live_server
):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    token = token_for(coordinator)["Authorization"].removeprefix("Bearer ")
    base = live_server(workers=2)
    url = f"{base}/api/v1/tickets/{ticket.number}"
    version = ticket.version
    bodies = [{"priority": "high", "version": version}, {"priority": "low", "version": version}]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda b: call_json(url, "PATCH", token, b), bodies))
    assert sorted(status for status, _ in results) == [200, 409]
    db.session.commit()
    db.session.refresh(ticket)
    assert ticket.version == version + 1

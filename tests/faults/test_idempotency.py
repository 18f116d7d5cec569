"""`Idempotency-Key` on the API's creating POSTs.

Before: a client that retried after a connection reset created a second ticket. Now the
same key and body within 24 h answer the first answer again (status and body) and write
nothing; the same key with another body is 422; two requests with one key in flight
make one row; keys are per user; the retention job prunes keys older than 24 h.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from supportdesk.accounts.models import Role
from supportdesk.escalation.models import CaseMessage, VendorCase
from supportdesk.extensions import db, utcnow
from supportdesk.idempotency import IdempotencyKey
from supportdesk.retention.services import run_retention
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry
from tests.live_http import call_json
from tests.tickets.conftest import make_ticket, system, token_for  # noqa: F401  (fixtures)


def _count(model, *where) -> int:
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def superuser(make_user):
    return make_user(Role.superuser, municipality="esbjerg")


@pytest.fixture
def body(system):  # noqa: F811
    return {
        "subject": "Forældre kan ikke logge ind",
        "description": "Siden svarer ikke.",
        "system": system.slug,
        "category": system.categories[0].slug,
    }


def _post(client, url, payload, headers, key=None):
    if key is not None:
        headers = {**headers, "Idempotency-Key": key}
    return client.post(url, json=payload, headers=headers)


def test_a_retried_create_answers_the_first_answer_and_writes_one_ticket(
    client,
    superuser,
    body,
    token_for,  # noqa: F811
):
    headers = token_for(superuser)
    first = _post(client, "/api/v1/tickets", body, headers, key="retry-1")
    assert first.status_code == 201
    # the retry: same key, same body (other key order and spacing are the same body)
    raw = json.dumps(dict(reversed(list(body.items()))), indent=2)
    again = client.post(
        "/api/v1/tickets",
        data=raw,
        headers={**headers, "Idempotency-Key": "retry-1", "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(Ticket) == 1
    # without a key, the same body is a second ticket, as before
    assert _post(client, "/api/v1/tickets", body, headers).status_code == 201
    assert _count(Ticket) == 2


def test_the_same_key_with_another_body_is_422_and_writes_nothing(
    client,
    superuser,
    body,
    token_for,  # noqa: F811
):
    headers = token_for(superuser)
    assert _post(client, "/api/v1/tickets", body, headers, key="k").status_code == 201
    other = _post(client, "/api/v1/tickets", {**body, "subject": "Noget andet"}, headers, key="k")
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in other.get_json()["error"]["fields"]
    assert _count(Ticket) == 1
    bad = _post(client, "/api/v1/tickets", body, headers, key="x" * 201)
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "invalid_idempotency_key"
    assert _count(Ticket) == 1


def test_keys_belong_to_their_user(client, make_user, superuser, body, token_for):  # noqa: F811
    colleague = make_user(Role.superuser, institution=superuser.institution)
    mine = _post(client, "/api/v1/tickets", body, token_for(superuser), key="shared")
    theirs = _post(client, "/api/v1/tickets", body, token_for(colleague), key="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["number"] != theirs.get_json()["number"]
    assert _count(Ticket) == 2


def test_a_failed_request_is_not_kept(client, superuser, body, token_for):  # noqa: F811
    headers = token_for(superuser)
    failed = _post(client, "/api/v1/tickets", {**body, "system": "?"}, headers, key="a")
    assert failed.status_code == 422
    assert _count(IdempotencyKey) == 0
    # only answers that wrote something are kept: the corrected request may reuse the key
    assert _post(client, "/api/v1/tickets", body, headers, key="a").status_code == 201


def test_retried_entries_and_case_messages_are_written_once(
    client,
    make_user,
    make_ticket,  # noqa: F811
    token_for,  # noqa: F811
):
    ticket = make_ticket()
    coordinator = make_user(
        Role.coordinator, municipality=ticket.municipality, entitled=[ticket.system.vendor]
    )
    headers = token_for(coordinator)
    url = f"/api/v1/tickets/{ticket.number}/entries"
    replies = [
        _post(client, url, {"body": "Vi kigger på det"}, headers, key="e1") for _ in range(3)
    ]
    assert [r.status_code for r in replies] == [201] * 3
    assert len({r.get_json()["id"] for r in replies}) == 1
    assert _count(TicketEntry, TicketEntry.kind == EntryKind.reply) == 1
    escalated = client.post(
        f"/api/v1/tickets/{ticket.number}/escalate",
        json={"summary": "Login fejler for alle forældre"},
        headers=headers,
    )
    assert escalated.status_code == 201, escalated.get_json()
    case_url = f"/api/v1/cases/{escalated.get_json()['case']}/messages"
    messages = [_post(client, case_url, {"body": "Ny info"}, headers, key="m1") for _ in range(2)]
    assert [m.status_code for m in messages] == [201, 201]
    assert messages[0].get_json() == messages[1].get_json()
    case_id = db.session.scalar(select(VendorCase.id))
    assert _count(CaseMessage, CaseMessage.case_id == case_id, CaseMessage.body == "Ny info") == 1


def test_keys_older_than_a_day_are_free_again_and_pruned(
    client,
    superuser,
    body,
    token_for,  # noqa: F811
):
    headers = token_for(superuser)
    assert _post(client, "/api/v1/tickets", body, headers, key="old").status_code == 201
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    # after 24 h the key names nothing: a new ticket
    assert _post(client, "/api/v1/tickets", body, headers, key="old").status_code == 201
    assert _count(Ticket) == 2
    assert _count(IdempotencyKey) == 1
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    _post(client, "/api/v1/tickets", body, headers, key="fresh")
    report = run_retention()
    db.session.commit()
    assert report.idempotency_keys == 1
    assert list(db.session.scalars(select(IdempotencyKey.key))) == ["fresh"]


@pytest.mark.slow
def test_concurrent_requests_with_one_key_make_one_ticket(
    superuser,
    body,
    token_for,  # noqa: F811
    live_server,
):
    token = token_for(superuser)["Authorization"].removeprefix("Bearer ")
    base = live_server(workers=2)
    keys = [f"burst-{n // 4}" for n in range(16)]  # four keys, each sent four times at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        url = f"{base}/api/v1/tickets"
        results = list(
            pool.map(lambda k: call_json(url, "POST", token, body, {"Idempotency-Key": k}), keys)
        )
    statuses = [status for status, _ in results]
    print(  # the closing note's figures
        f"\nidempotent burst: {len(keys)} requests with 4 keys, "
        f"{sum(s == 201 for s in statuses)} x 201, {sum(s >= 500 for s in statuses)} x 5xx, "
        f"{_count(Ticket)} ticket(s) written"
    )
    assert statuses == [201] * len(keys), results[:3]
    numbers = {payload["number"] for _status, payload in results}
    assert len(numbers) == 4
    assert _count(Ticket) == 4
    assert _count(IdempotencyKey) == 4


def test_the_openapi_description_names_the_header(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in ("/api/v1/tickets", "/api/v1/tickets/{number}/entries"):
        names = [p["name"] for p in paths[path]["post"]["parameters"]]
        assert "Idempotency-Key" in names, path
    assert "Idempotency-Key" in [
        p["name"] for p in paths["/api/v1/cases/{number}/messages"]["post"]["parameters"]
    ]

"""Hostile input answers a clear 4xx in the API's error shape (or 404), never a 500, and
writes nothing: the same on SQLite and PostgreSQL.

Every test counts the rows of every table before and after the bad requests, so "nothing
written" covers side tables (history, outbox, notifications) as well as the ticket.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import Ticket
from tests.tickets.conftest import make_ticket, system, token_for  # noqa: F401  (fixtures)

HUGE = "99999999999999999999"  # beyond a BIGINT: OverflowError in the driver before the fix


def _rows() -> dict[str, int]:
    db.session.commit()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def _written(before: dict[str, int]) -> dict[str, int]:
    """Tables whose row count changed (the token's last use is an UPDATE, not counted).

    The security log may note a refused request (`access_denied`): that line is the
    point of the log, not data the bad input wrote.
    """
    after = _rows()
    return {
        name: after[name] - before[name]
        for name in after
        if after[name] != before[name] and name != "security_event"
    }


def _send(client, method: str, url: str, raw: str | bytes, headers: dict[str, str]):
    return client.open(
        url,
        method=method,
        data=raw.encode() if isinstance(raw, str) else raw,
        headers={**headers, "Content-Type": "application/json"},
    )


def _assert_error_shape(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    error = response.get_json()["error"]
    assert set(error) == {"code", "message", "fields"}
    assert error["message"]
    return error


@pytest.fixture
def api(make_user, make_ticket, token_for):  # noqa: F811  (fixtures imported above)
    """A coordinator's token and a ticket of their municipality."""
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    creator = make_user(Role.superuser, municipality=coordinator.municipality)
    ticket = make_ticket(creator)
    return {"headers": token_for(coordinator), "ticket": ticket, "user": coordinator}


def _ticket_body(system, **extra) -> dict:  # noqa: F811
    body = {
        "subject": "Forældre kan ikke logge ind",
        "description": "Siden svarer ikke.",
        "system": system.slug,
        "category": system.categories[0].slug,
    }
    body.update(extra)
    return body


def test_deeply_nested_json_is_400_not_a_recursion_error(client, api, system):  # noqa: F811
    before = _rows()
    deep_list = "[" * 5000 + "]" * 5000
    response = _send(client, "POST", "/api/v1/tickets", deep_list, api["headers"])
    assert _assert_error_shape(response, 400)["code"] == "invalid_json"
    # 50,000 nested objects inside a PATCH of the ticket
    deep_objects = '{"a":' * 50000 + "1" + "}" * 50000
    patch = f'{{"version": {api["ticket"].version}, "priority": {deep_objects}}}'
    url = f"/api/v1/tickets/{api['ticket'].number}"
    _assert_error_shape(_send(client, "PATCH", url, patch, api["headers"]), 400)
    assert _written(before) == {}
    db.session.refresh(api["ticket"])
    assert api["ticket"].version == 1
    # nesting inside a string is text, not depth
    quoted = json.dumps(_ticket_body(system, description="[" * 5000))
    assert _send(client, "POST", "/api/v1/tickets", quoted, api["headers"]).status_code == 201
    assert _written(before)["ticket"] == 1


def test_a_lone_surrogate_in_any_json_string_is_400(client, api, system):  # noqa: F811
    before = _rows()
    number = api["ticket"].number
    cases = [
        ("POST", "/api/v1/tickets", json.dumps(_ticket_body(system, subject="\ud800"))),
        ("POST", "/api/v1/tickets", json.dumps(_ticket_body(system, **{"x\udfff": "1"}))),
        ("POST", f"/api/v1/tickets/{number}/entries", '{"body": "hej \\ud800 med dig"}'),
        ("PATCH", f"/api/v1/tickets/{number}", '{"version": 1, "assignee": "\\udc00@x.dk"}'),
        ("POST", "/api/v1/sensitive/check", '{"texts": ["\\ud83d"]}'),
    ]
    for method, url, raw in cases:
        error = _assert_error_shape(_send(client, method, url, raw, api["headers"]), 400)
        assert "surrogate" in error["fields"]["body"], (url, error)
    assert _written(before) == {}
    # a proper pair (an emoji) is text
    emoji = json.dumps({"body": "tak \U0001f600"})
    entry = f"/api/v1/tickets/{number}/entries"
    assert _send(client, "POST", entry, emoji, api["headers"]).status_code == 201
    assert _written(before)["ticket_entry"] >= 1  # the reply (and the status line it caused)


def test_nul_in_the_url_path_is_404(client, api):
    before = _rows()
    for path in (
        "/api/v1/tickets/ESB%00-2026",
        f"/api/v1/tickets/{api['ticket'].number}%00",
        "/api/v1/faq/articles/abc%00def",
    ):
        response = client.get(path, headers=api["headers"])
        assert _assert_error_shape(response, 404)["code"] == "not_found"
    for path in ("/faq/abc%00def", "/tickets/ESB%00-2026"):
        assert client.get(path).status_code == 404
    url = f"/api/v1/tickets/{api['ticket'].number}%00/entries"
    _assert_error_shape(_send(client, "POST", url, '{"body": "x"}', api["headers"]), 404)
    assert _written(before) == {}


def test_nul_in_query_strings_form_fields_and_json_is_400(client, login, api, system):  # noqa: F811
    before = _rows()
    response = client.get("/api/v1/tickets?q=a%00b", headers=api["headers"])
    _assert_error_shape(response, 400)
    body = json.dumps(_ticket_body(system, subject="NUL\x00byte"))
    _assert_error_shape(_send(client, "POST", "/api/v1/tickets", body, api["headers"]), 400)
    login(api["user"])
    before = _rows()  # the sign-in wrote its session
    form = {"subject": "NUL\x00", "description": "x", "system": str(system.id)}
    assert client.post("/tickets/new", data=form).status_code == 400
    assert client.get("/tickets?q=%00").status_code == 400
    assert _written(before) == {}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("requester_name", "N" * 121),
        ("requester_phone", "1" * 41),
        ("requester_email", "a" * 250 + "@x.dk"),
        ("requester_email", "ikke en adresse"),
        ("requester_email", "to@@x.dk"),
    ],
)
def test_requester_details_longer_than_their_columns_or_not_an_address_are_422(
    client,
    api,
    system,  # noqa: F811
    field,
    value,
):
    before = _rows()
    body = _ticket_body(system, **{"requester_name": "Forælder", field: value})
    response = _send(client, "POST", "/api/v1/tickets", json.dumps(body), api["headers"])
    error = _assert_error_shape(response, 422)
    assert set(error["fields"]) == {field}
    assert _written(before) == {}
    # at the limit it is stored as sent
    fits = {"requester_name": "N" * 120, "requester_phone": "1" * 40}.get(field, "a@x.dk")
    body[field] = fits
    response = _send(client, "POST", "/api/v1/tickets", json.dumps(body), api["headers"])
    assert response.status_code == 201
    ticket = db.session.scalar(select(Ticket).where(Ticket.number == response.get_json()["number"]))
    assert getattr(ticket, field) == fits


def test_huge_integer_ids_are_404_not_overflow(client, login, api):
    number = api["ticket"].number
    login(api["user"])
    before = _rows()
    for path in (
        f"/tickets/{number}/attachments/{HUGE}",
        f"/known-issues/{HUGE}",
        f"/tickets/{number}/attachments/{2**63}",
    ):
        assert client.get(path).status_code == 404, path
    for path in (f"/notifications/{HUGE}/read", f"/notifications/{HUGE}/open"):
        assert client.post(path).status_code == 404, path
    assert client.post("/account", data={"action": "revoke", "token_id": HUGE}).status_code == 404
    # around PostgreSQL's INTEGER limit: the largest is an id that names nothing, one more
    # matches no route ("integer out of range" before the fix)
    for value in (2**31 - 1, 2**31):
        assert client.get(f"/tickets/{number}/attachments/{value}").status_code == 404
    for path in (f"/notifications?before={HUGE}", f"/tickets?assignee={HUGE}&queue={HUGE}"):
        assert client.get(path).status_code == 200, path
    assert _written(before) == {}

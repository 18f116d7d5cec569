"""Creating a ticket through the API costs a bounded number of SQL statements."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.tickets.models import RoutingRule, TicketSource

BODY = {"subject": "Login virker ikke", "description": "Siden svarer ikke.", "system": "aula"}


def _create(client, headers, count_queries) -> tuple[int, dict]:
    with count_queries() as statements:
        response = client.post("/api/v1/tickets", json=BODY, headers=headers)
    assert response.status_code == 201, response.get_json()
    return len(statements), response.get_json()


def test_api_creation_statements_are_bounded_and_flat(
    app, client, system, make_system, make_user, make_ticket, token_for, count_queries
):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    headers = token_for(coordinator)
    _create(client, headers, count_queries)  # warm the token's last-use write
    few, answer = _create(client, headers, count_queries)
    assert answer["system"] == "aula"
    assert answer["municipality"] == "esbjerg"
    assert [e["event"] for e in answer["entries"]] == ["created"]

    # More tickets with entries, and routing rules that do not match but must be checked.
    for _ in range(3):
        make_ticket(coordinator)
    other = make_system("momentum")
    for position in range(6):
        db.session.add(
            RoutingRule(
                municipality_id=coordinator.municipality_id,
                position=position,
                name=f"Regel {position}",
                source=TicketSource.hotline if position % 2 else None,
                system_id=other.id if not position % 2 else None,
            )
        )
    db.session.commit()
    # The first creation after the rules changed reads them (one statement) ...
    changed, answer = _create(client, headers, count_queries)
    assert [e["event"] for e in answer["entries"]] == ["created"]
    assert changed == few + 1
    # ... the next ones find them in the cache, however many there are.
    many, answer = _create(client, headers, count_queries)
    assert [e["event"] for e in answer["entries"]] == ["created"]
    assert many == few
    assert many <= 9  # 8 + the cache generation bump (supportdesk/cache.py)

"""Status life cycle (DESIGN §4), reopen window, optimistic locking, routing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from supportdesk.accounts.models import InstitutionType, Role
from supportdesk.errors import Forbidden
from supportdesk.extensions import db, utcnow
from supportdesk.tickets import lifecycle, routing
from supportdesk.tickets.models import (
    EntryKind,
    Queue,
    RoutingRule,
    TicketSource,
    TicketStatus,
)


@pytest.fixture
def staff(make_user, make_ticket):
    ticket = make_ticket()
    coordinator = make_user(Role.coordinator, municipality=ticket.municipality)
    return ticket, coordinator


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], "escalated"),  # only the escalation service escalates
        (["resolved"], "waiting"),
        (["closed"], "resolved"),
        (["closed"], "waiting"),
    ],
)
def test_invalid_transitions_are_409_with_a_clear_message(
    staff, client, login, token_for, new_client, path, target
):
    ticket, coordinator = staff
    for status in path:
        lifecycle.change_status(coordinator, ticket, status)
    db.session.commit()
    headers = token_for(coordinator)
    response = new_client().patch(
        f"/api/v1/tickets/{ticket.number}",
        json={"status": target, "version": ticket.version},
        headers=headers,
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["message"]
    login(coordinator)
    page = client.post(
        f"/tickets/{ticket.number}/status", data={"status": target, "version": ticket.version}
    )
    assert page.status_code == 409


def test_every_change_is_in_the_history(staff):
    ticket, coordinator = staff
    lifecycle.change_status(coordinator, ticket, "open")
    lifecycle.change_status(coordinator, ticket, "waiting")
    lifecycle.change_status(coordinator, ticket, "resolved")
    db.session.commit()
    events = [(e.event, e.data) for e in ticket.entries if e.kind == EntryKind.event]
    assert events[0][0] == "created"
    assert [d["to"] for name, d in events if name == "status"] == ["open", "waiting", "resolved"]


def test_reopen_within_the_window_only(staff, make_user, client, login, app):
    ticket, coordinator = staff
    creator = ticket.created_by
    lifecycle.change_status(coordinator, ticket, "resolved")
    db.session.commit()
    login(creator)
    page = client.get(f"/tickets/{ticket.number}")
    assert b"/reopen" in page.data
    response = client.post(f"/tickets/{ticket.number}/reopen", data={"version": ticket.version})
    assert response.status_code == 302
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.open

    lifecycle.change_status(coordinator, ticket, "closed")
    days = app.config["SUPPORTDESK"].reopen_days
    ticket.closed_at = utcnow() - timedelta(days=days, minutes=1)
    db.session.commit()
    page = client.get(f"/tickets/{ticket.number}")
    assert b"/reopen" not in page.data
    response = client.post(f"/tickets/{ticket.number}/reopen", data={"version": ticket.version})
    assert response.status_code == 409
    db.session.refresh(ticket)
    assert ticket.status == TicketStatus.closed
    # someone else's superuser colleague may not reopen at all
    ticket.closed_at = utcnow()
    db.session.commit()
    other = make_user(Role.superuser, institution=ticket.institution)
    with pytest.raises(Forbidden):
        lifecycle.change_status(other, ticket, "open")


def test_superuser_cannot_change_status_or_priority(staff, new_client, token_for):
    ticket, _coordinator = staff
    headers = token_for(ticket.created_by)
    for change in ({"status": "resolved"}, {"priority": "critical"}):
        response = new_client().patch(
            f"/api/v1/tickets/{ticket.number}",
            json={**change, "version": ticket.version},
            headers=headers,
        )
        assert response.status_code == 403


def test_two_patches_with_the_same_version_one_wins(staff, new_client, token_for):
    ticket, coordinator = staff
    headers = token_for(coordinator)
    version = ticket.version
    first = new_client().patch(
        f"/api/v1/tickets/{ticket.number}",
        json={"priority": "high", "version": version},
        headers=headers,
    )
    second = new_client().patch(
        f"/api/v1/tickets/{ticket.number}",
        json={"priority": "low", "version": version},
        headers=headers,
    )
    assert (first.status_code, second.status_code) == (200, 409)
    assert first.get_json()["version"] == version + 1
    assert second.get_json()["error"]["code"] == "conflict"
    db.session.refresh(ticket)
    assert ticket.priority.value == "high"


def test_stale_form_on_the_page_is_409(staff, client, login):
    ticket, coordinator = staff
    login(coordinator)
    stale = ticket.version
    assert (
        client.post(
            f"/tickets/{ticket.number}/priority", data={"priority": "high", "version": stale}
        ).status_code
        == 302
    )
    response = client.post(
        f"/tickets/{ticket.number}/priority", data={"priority": "low", "version": stale}
    )
    assert response.status_code == 409


def test_api_validation_errors_name_the_fields(staff, new_client, token_for):
    ticket, coordinator = staff
    headers = token_for(coordinator)
    response = new_client().post(
        "/api/v1/tickets",
        json={"subject": "", "description": 5, "system": "nope", "priority": "urgent"},
        headers=headers,
    )
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert {"subject", "description", "system", "priority"} <= set(fields)
    response = new_client().patch(
        f"/api/v1/tickets/{ticket.number}", json={"priority": "high"}, headers=headers
    )
    assert response.status_code == 422
    assert "version" in response.get_json()["error"]["fields"]
    response = new_client().post(
        f"/api/v1/tickets/{ticket.number}/entries", data="nope", headers=headers
    )
    assert response.status_code == 422


# --- routing ------------------------------------------------------------------------


def test_routing_first_match_wins_and_is_logged(
    make_user, make_institution, make_ticket, system, client, login
):
    admin = make_user(Role.municipal_admin, municipality="esbjerg")
    municipality = admin.municipality
    school = make_institution(municipality, type=InstitutionType.skole)
    daycare = make_institution(municipality, type=InstitutionType.dagtilbud)
    skole_it = Queue(municipality_id=municipality.id, slug="skole-it", name="Skole-IT")
    dagtilbud = Queue(municipality_id=municipality.id, slug="dagtilbud", name="Dagtilbud")
    generic = Queue(municipality_id=municipality.id, slug="alt", name="Alt andet")
    db.session.add_all([skole_it, dagtilbud, generic])
    db.session.commit()
    handler = make_user(Role.coordinator, municipality=municipality, name="Skole Koordinator")
    login(admin)
    specific = {
        "name": "Skoler",
        "system": str(system.id),
        "institution_type": "skole",
        "queue": str(skole_it.id),
        "assignee": str(handler.id),
        "active": "y",
    }
    catch_all = {"name": "Resten", "queue": str(generic.id), "active": "y"}
    daycare_rule = {
        "name": "Dagtilbud",
        "institution_type": "dagtilbud",
        "queue": str(dagtilbud.id),
        "active": "y",
    }
    for data in (specific, catch_all, daycare_rule):
        assert client.post("/admin/routing/new", data=data).status_code == 302
    # the daycare rule sits below the catch-all: it never wins until moved up
    first = make_ticket(institution=school)
    second = make_ticket(institution=daycare)
    assert (first.queue, first.assignee) == (skole_it, handler)
    assert second.queue == generic
    rule = db.session.query(RoutingRule).filter_by(name="Dagtilbud").one()
    client.post(f"/admin/routing/{rule.id}/move", data={"direction": "up"})
    third = make_ticket(institution=daycare)
    assert third.queue == dagtilbud
    routed = [e for e in third.entries if e.event == "routed"]
    assert [e.data["rule"] for e in routed] == ["Dagtilbud"]
    assert client.get("/admin/routing").status_code == 200


def test_routing_on_source_and_admin_pages_are_admin_only(
    make_user, make_ticket, client, login, system
):
    admin = make_user(Role.municipal_admin, municipality="esbjerg")
    hotline = make_user(Role.hotline, municipality=admin.municipality)
    queue = routing.create_queue(admin, "Telefon", is_hotline=True)
    routing.save_rule(
        admin,
        None,
        name="Telefon",
        system=None,
        category=None,
        institution_type=None,
        source=TicketSource.hotline,
        queue=queue,
        assignee=None,
    )
    db.session.commit()
    phoned = make_ticket(hotline, source=TicketSource.hotline)
    web = make_ticket(municipality=admin.municipality)
    assert phoned.queue == queue
    assert web.queue is None
    coordinator = make_user(Role.coordinator, municipality=admin.municipality)
    login(coordinator)
    assert client.get("/admin/routing").status_code == 404
    other_admin = make_user(Role.municipal_admin, municipality="aalborg")
    rule = db.session.query(RoutingRule).one()
    login(other_admin)
    assert client.get(f"/admin/routing/{rule.id}").status_code == 404


def test_every_routing_page_is_the_municipal_admins(app, client, login, make_user):
    """The routing blueprint guards all its pages at once: a new page cannot forget it."""
    pages = [
        (method, rule.rule.replace("<int:rule_id>", "1"))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("routing.")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]
    assert len(pages) == 8
    for method, path in pages:
        response = client.open(path, method=method)
        assert response.status_code == 302, (method, path)
        assert "/login" in response.headers["Location"]
    login(make_user(Role.coordinator, municipality="esbjerg"))
    for method, path in pages:
        assert client.open(path, method=method).status_code == 404, (method, path)

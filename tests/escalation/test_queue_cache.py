"""The case queue's cached fragment: renewed by every change, never shown to another viewer."""

from __future__ import annotations

from supportdesk.escalation import cases
from supportdesk.escalation.models import CaseStatus
from supportdesk.escalation.sla_alerts import check_sla
from supportdesk.extensions import db
from tests.escalation.conftest import client_for


def _row(body: str, number: str) -> str:
    start = body.index(f">{number}</a>")
    return body[start : body.index("</tr>", start)]


def test_status_change_and_new_case_show_at_once(app, world, escalated, count_queries):
    case = escalated()
    number = case.number
    agent = client_for(app, world.agent)
    coordinator = client_for(app, world.coordinator)
    assert "status-new" in _row(agent.get("/cases").get_data(as_text=True), number)
    assert "status-new" in _row(coordinator.get("/cases").get_data(as_text=True), number)

    # The second request is served from the cache: user, generations, notifications.
    with count_queries() as queries:
        assert agent.get("/cases").status_code == 200
    assert len(queries) <= 4, queries

    response = agent.post(f"/cases/{number}/status", data={"status": "in_progress"})
    assert response.status_code in (302, 303)
    for client in (agent, coordinator):
        row = _row(client.get("/cases").get_data(as_text=True), number)
        assert "status-in_progress" in row

    response = agent.post(f"/cases/{number}/assign", data={"assignee": str(world.agent.id)})
    assert response.status_code in (302, 303)
    assert "Lars Leverandør" in _row(agent.get("/cases").get_data(as_text=True), number)

    newer = escalated().number
    for client in (agent, coordinator):
        assert newer in client.get("/cases").get_data(as_text=True)


def test_sla_worker_and_renames_renew_the_queue(app, world, escalated):
    from datetime import timedelta

    case = escalated()
    number, due = case.number, case.resolution_due_at
    agent = client_for(app, world.agent)
    assert "sla-ok" in _row(agent.get("/cases").get_data(as_text=True), number)

    check_sla(now=due + timedelta(minutes=1))
    db.session.commit()
    assert "sla-breached" in _row(agent.get("/cases").get_data(as_text=True), number)

    world.system.name = "Aula Plus"
    db.session.commit()
    assert "Aula Plus" in _row(agent.get("/cases").get_data(as_text=True), number)


def test_one_viewers_queue_never_reaches_another(app, world, make_user, escalated):
    case = escalated()
    number = case.number
    cases.change_case_status(world.agent, case, CaseStatus.in_progress)
    db.session.commit()
    # Same query string, same locale, warm cache: each sees only their own cases.
    assert number in client_for(app, world.agent).get("/cases").get_data(as_text=True)
    assert number not in client_for(app, world.other_agent).get("/cases").get_data(as_text=True)
    assert number in client_for(app, world.coordinator).get("/cases").get_data(as_text=True)
    other = client_for(app, world.other_coordinator).get("/cases").get_data(as_text=True)
    assert number not in other
    # A colleague of the same vendor sees the same cases, but "me" is theirs.
    colleague = make_user(world.agent.role, vendor=world.vendor, name="Kim Kollega")
    cases.assign_case(world.agent, case, world.agent)
    db.session.commit()
    assert number in client_for(app, world.agent).get("/cases?assignee=me").get_data(as_text=True)
    mine = client_for(app, colleague).get("/cases?assignee=me").get_data(as_text=True)
    assert number not in mine


def test_retention_bulk_anonymisation_renews_the_queue(app, world, escalated):
    from supportdesk.extensions import utcnow
    from supportdesk.retention import services as retention

    case = escalated(summary="Forældre kan ikke logge ind")
    number = case.number
    case.status = CaseStatus.closed
    for ticket in case.tickets:
        ticket.anonymised_at = utcnow()
    db.session.commit()
    agent = client_for(app, world.agent)
    assert retention.ANONYMISED_SUBJECT not in _row(agent.get("/cases").get_data(True), number)

    report = retention.RetentionReport()
    retention._anonymise_finished_cases(report)  # a bulk UPDATE the session does not see
    db.session.commit()
    assert report.cases == 1
    assert retention.ANONYMISED_SUBJECT in _row(agent.get("/cases").get_data(True), number)

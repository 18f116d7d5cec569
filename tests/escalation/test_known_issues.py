"""Known issues: vendors post them, everyone sees active ones, resolving tells the linked."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.errors import Forbidden
from supportdesk.escalation import known_issues
from supportdesk.escalation.models import KnownIssue, KnownIssueStatus
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.tickets.models import TicketEntry
from tests.escalation.conftest import client_for


def test_vendor_posts_issue_everyone_sees_it_and_resolving_notifies(
    app, world, make_user, make_ticket, escalated
):
    editor = make_user(Role.vendor_editor, vendor=world.vendor)
    client = client_for(app, editor)
    assert client.get("/known-issues/new").status_code == 200
    response = client.post(
        "/known-issues/new",
        data={
            "system": str(world.system.id),
            "title": "Beskeder forsinkes",
            "description": "Beskeder kan være op til en time forsinkede.",
            "status": "investigating",
            "started_at": "2026-11-23T08:15",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    issue = db.session.scalar(select(KnownIssue))
    assert issue.started_at.isoformat() == "2026-11-23T07:15:00+00:00"  # Danish time in
    issue_id = issue.id
    db.session.rollback()

    # Public status page without login, the new-ticket banner and the ticket page.
    assert "Beskeder forsinkes" in app.test_client().get("/status").get_data(as_text=True)
    assert "Beskeder forsinkes" in client_for(app, world.superuser).get("/tickets/new").get_data(
        as_text=True
    )
    ticket = make_ticket()
    case = escalated(make_ticket())
    coordinator = client_for(app, world.coordinator)
    page = coordinator.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert "Beskeder forsinkes" in page
    assert f"/tickets/{ticket.number}/known-issue" in page
    # "Det er den kendte fejl": the ticket directly, and a case (with its tickets).
    response = coordinator.post(
        f"/tickets/{ticket.number}/known-issue", data={"known_issue": str(issue_id)}
    )
    assert response.status_code == 302
    response = client_for(app, world.agent).post(
        f"/cases/{case.number}/known-issue", data={"known_issue": str(issue_id)}
    )
    assert response.status_code == 302

    # Another vendor's editor cannot edit it; a superuser cannot post one.
    other_editor = make_user(Role.vendor_editor, vendor=world.other_vendor)
    assert client_for(app, other_editor).get(f"/known-issues/{issue_id}").status_code == 404
    assert client_for(app, world.superuser).get("/known-issues/new").status_code == 404

    response = client.post(
        f"/known-issues/{issue_id}",
        data={
            "system": str(world.system.id),
            "title": "Beskeder forsinkes",
            "description": "Rettet.",
            "status": "resolved",
            "started_at": "2026-11-23T08:15",
        },
    )
    assert response.status_code == 302
    issue = db.session.get(KnownIssue, issue_id)
    assert issue.status == KnownIssueStatus.resolved
    assert issue.ended_at is not None
    events = db.session.scalars(
        select(TicketEntry.ticket_id).where(TicketEntry.event == "known_issue_resolved")
    ).all()
    assert sorted(events) == sorted([ticket.id, case.tickets[0].id])
    notified = db.session.execute(
        select(Notification.user_id, Notification.url).where(
            Notification.event == NotificationEvent.known_issue_resolved
        )
    ).all()
    # the coordinators, and every reporter of a linked ticket, sent to their ticket
    assert (world.coordinator.id, "/tickets") in notified
    assert (world.superuser.id, f"/tickets/{ticket.number}") in notified
    assert len(notified) == 2  # the superuser reported both tickets: told once
    db.session.rollback()
    assert "Beskeder forsinkes" not in app.test_client().get("/status").get_data(as_text=True)


def test_known_issue_validation(app, world, make_user):
    editor = make_user(Role.vendor_editor, vendor=world.vendor)
    response = client_for(app, editor).post(
        "/known-issues/new",
        data={"system": str(world.system.id), "title": "", "status": "investigating"},
    )
    assert response.status_code == 422
    assert db.session.scalar(select(KnownIssue.id)) is None
    # A vendor cannot post for another vendor's system.
    other = make_user(Role.vendor_agent, vendor=world.other_vendor)
    with pytest.raises(Forbidden):
        known_issues.save_known_issue(
            other,
            None,
            system=world.system,
            title="x",
            description="",
            status="investigating",
        )


def test_active_issue_on_the_front_page(app, world, make_user):
    editor = make_user(Role.vendor_editor, vendor=world.vendor)
    known_issues.save_known_issue(
        editor,
        None,
        system=world.system,
        title="Aula er langsom",
        description="",
        status="monitoring",
    )
    db.session.commit()
    assert "Aula er langsom" in client_for(app, world.coordinator).get("/").get_data(as_text=True)
    assert "Aula er langsom" in app.test_client().get("/").get_data(as_text=True)


def test_new_ticket_banner_narrows_to_the_chosen_system(app, world, make_user, make_system):
    other_system = make_system("fildeling", vendor=world.other_vendor, categories=("deling",))
    for system, title, vendor in (
        (world.system, "Aula-login driller", world.vendor),
        (other_system, "Fildeling er nede", world.other_vendor),
    ):
        known_issues.save_known_issue(
            make_user(Role.vendor_agent, vendor=vendor),
            None,
            system=system,
            title=title,
            description="",
            status="identified",
        )
    db.session.commit()
    category_id = world.system.categories[0].id
    db.session.rollback()
    client = client_for(app, world.superuser)
    everything = client.get("/tickets/new").get_data(as_text=True)
    assert "Aula-login driller" in everything
    assert "Fildeling er nede" in everything
    assert "js/escalation.js" in everything
    chosen = client.get(f"/tickets/new?topic=c{category_id}").get_data(as_text=True)
    assert "Aula-login driller" in chosen
    assert "Fildeling er nede" not in chosen

"""The ticket page (rendered per request, no longer a cached fragment): replies, vendor
answers, known issues and names show on the next request; forms carry the session's own
token."""

from __future__ import annotations

import re

from supportdesk.escalation.models import KnownIssue, KnownIssueStatus
from supportdesk.extensions import db
from tests.escalation.conftest import client_for


def test_changes_reach_the_cached_ticket_page(app, world, make_ticket, escalated):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    superuser = client_for(app, world.superuser)
    url = f"/tickets/{ticket.number}"
    coordinator.get(url)

    # a reply from the superuser over HTTP
    response = superuser.post(f"{url}/entries", data={"body": "Det virker stadig ikke"})
    assert response.status_code == 302
    assert "Det virker stadig ikke" in coordinator.get(url).get_data(as_text=True)

    # an internal note shows to the coordinator, never to the superuser's cached page
    superuser.get(url)
    response = coordinator.post(
        f"{url}/entries", data={"body": "Kun for os i kommunen", "internal": "y"}
    )
    assert response.status_code == 302
    assert "Kun for os i kommunen" in coordinator.get(url).get_data(as_text=True)
    assert "Kun for os i kommunen" not in superuser.get(url).get_data(as_text=True)

    # the vendor answers in the case: the coordinator's ticket page shows the answer
    case = escalated(ticket)
    assert case.number in coordinator.get(url).get_data(as_text=True)
    vendor = client_for(app, world.agent)
    response = vendor.post(f"/cases/{case.number}/messages", data={"body": "Fejlen er fundet"})
    assert response.status_code == 302
    assert "Fejlen er fundet" in coordinator.get(url).get_data(as_text=True)

    # a new known issue for the system shows in the banner
    db.session.add(
        KnownIssue(
            vendor_id=world.vendor.id,
            system_id=world.system.id,
            title="Login driller i hele landet",
            status=KnownIssueStatus.investigating,
        )
    )
    db.session.commit()
    assert "Login driller i hele landet" in coordinator.get(url).get_data(as_text=True)

    # a renamed institution
    world.school.name = "Rosenvængets Nye Skole"
    db.session.commit()
    assert "Rosenvængets Nye Skole" in coordinator.get(url).get_data(as_text=True)


def test_every_form_on_a_cached_page_has_the_sessions_token(app, world, make_ticket, monkeypatch):
    ticket = make_ticket()
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    url = f"/tickets/{ticket.number}"
    # two sessions of the same coordinator: the second gets the first one's cached fragment
    browsers = [client_for(app, world.coordinator) for _ in range(2)]
    tokens = []
    for browser in browsers:
        html = browser.get(url).get_data(as_text=True)
        assert "\x00" not in html
        found = set(re.findall(r'name="csrf_token" value="([^"]+)"', html))
        assert len(found) == 1, found  # reply, status, assignment, priority, menu: one token
        tokens.append(found.pop())
    assert tokens[0] != tokens[1]
    for browser, token in zip(reversed(browsers), reversed(tokens), strict=True):
        response = browser.post(f"{url}/entries", data={"body": "Svar", "csrf_token": token})
        assert response.status_code == 302

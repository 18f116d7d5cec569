"""A vendor agent's canned replies on the case page: the vendor's own,
filled in for the case, inserted without JavaScript."""

from __future__ import annotations

from supportdesk.extensions import db
from supportdesk.replies.models import CannedReply
from tests.escalation.conftest import client_for


def test_agent_inserts_the_vendor_s_canned_reply_into_the_message(app, world, escalated):
    case = escalated()
    mine = CannedReply(
        vendor_id=world.vendor.id, title="Kendt fejl", body="Sag {ticket}: vi ser på det."
    )
    theirs = CannedReply(vendor_id=world.other_vendor.id, title="Andet", body="Ikke vores")
    db.session.add_all([mine, theirs])
    db.session.commit()
    agent = client_for(app, world.agent)
    page = agent.get(f"/cases/{case.number}").get_data(as_text=True)
    assert f'formaction="/cases/{case.number}/insert-reply"' in page
    assert "Ikke vores" not in page
    response = agent.post(
        f"/cases/{case.number}/insert-reply",
        data={"body": "Hej", "canned": str(mine.id), "insert": "canned"},
    )
    assert response.status_code == 200
    assert f"Hej\n\nSag {case.number}: vi ser på det.</textarea>" in response.get_data(as_text=True)
    refused = agent.post(
        f"/cases/{case.number}/insert-reply", data={"body": "Hej", "canned": str(theirs.id)}
    )
    assert refused.status_code == 422
    # the municipality's side has no vendor replies to insert on the case page
    coordinator = client_for(app, world.coordinator)
    assert (
        coordinator.post(
            f"/cases/{case.number}/insert-reply", data={"body": "x", "canned": str(mine.id)}
        ).status_code
        == 404
    )

"""History lines are stored as events and worded in the reader's language.

The escalation domain used to store a sentence ("Leverandørsag … er nu: Løst.") in the
language of whoever caused the change, so Danish lines appeared in the English UI.
"""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.escalation import cases
from supportdesk.escalation.models import CaseStatus
from supportdesk.extensions import db
from supportdesk.tickets import history
from supportdesk.tickets.models import TicketEntry
from tests.escalation.conftest import client_for


def _english(user):
    user.locale = "en"
    db.session.commit()
    return user


def test_case_status_line_is_stored_as_an_event_and_read_in_english(app, world, escalated):
    case = escalated()
    ticket = case.tickets[0]
    cases.change_case_status(world.agent, case, CaseStatus.resolved)  # the agent reads Danish
    db.session.commit()
    entry = db.session.scalar(select(TicketEntry).where(TicketEntry.event == "case_status"))
    assert entry.data == {"case": case.number, "from": "new", "to": "resolved"}

    english = client_for(app, _english(world.coordinator))
    page = english.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert f"Vendor case {case.number} is now: Resolved." in page
    assert "er nu" not in page

    danish = client_for(app, world.superuser)
    page = danish.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert f"Leverandørsag {case.number} er nu: Løst." in page


def test_rows_stored_with_danish_text_read_in_english(app, world, make_ticket):
    """Rows written before the change keep their parameters beside the Danish text."""
    ticket = make_ticket()
    old_rows = [
        ("case_status", {"case": "LEV-1", "from": "new", "to": "resolved"}, "er nu: Løst"),
        ("sla_warning", {"case": "LEV-1", "phase": "response"}, "tæt på"),
        ("sla_breach", {"case": "LEV-1", "phase": "resolution"}, "overskredet"),
        ("known_issue", {"known_issue": 1, "title": "MitID nede"}, "Knyttet til"),
        ("known_issue_resolved", {"known_issue": 1, "title": "MitID nede"}, "er løst"),
    ]
    for event, data, danish in old_rows:
        history.add_system_event(ticket, None, event, {**data, "text": f"Dansk: {danish}"})
    # an event nobody words any more, and one whose parameters are missing: their text
    history.add_system_event(ticket, None, "retired_event", {"text": "Gammel linje"})
    history.add_system_event(ticket, None, "case_status", {"text": "Uden parametre"})
    db.session.commit()

    page = client_for(app, _english(world.coordinator)).get(f"/tickets/{ticket.number}")
    text = page.get_data(as_text=True)
    assert "Dansk:" not in text
    assert "Vendor case LEV-1 is now: Resolved." in text
    assert "Vendor case LEV-1 is close to its SLA deadline." in text
    assert "Vendor case LEV-1 has passed its SLA deadline." in text
    assert "Linked to the known issue: MitID nede" in text
    assert "The known issue is resolved: MitID nede" in text
    assert "Gammel linje" in text
    assert "Uden parametre" in text

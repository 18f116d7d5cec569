"""The ticket queue's SLA column: an escalated ticket shows its vendor
case's SLA state, read for the whole page in one query."""

from __future__ import annotations

from sqlalchemy import update

from supportdesk.escalation.models import SlaState, VendorCase
from supportdesk.extensions import db
from tests.escalation.conftest import client_for


def test_escalated_tickets_show_their_case_sla_state(app, world, make_ticket, escalated):
    case = escalated()
    quiet = make_ticket(subject="Ikke sendt videre")
    db.session.execute(
        update(VendorCase).where(VendorCase.id == case.id).values(sla_state=SlaState.breached)
    )
    db.session.commit()
    coordinator = client_for(app, world.coordinator)
    html = coordinator.get("/tickets").get_data(as_text=True)
    ticket = case.tickets[0]
    row = html[html.index(f">{ticket.number}</a>") :].split("</tr>", 1)[0]
    assert 'class="sla sla-breached"' in row
    quiet_row = html[html.index(f">{quiet.number}</a>") :].split("</tr>", 1)[0]
    assert 'class="sla' not in quiet_row

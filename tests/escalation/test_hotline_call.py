"""The hotline's call form: known-issue banners and FAQ suggestions while the
call is written down, linking the call to a known issue, "Løst i telefonen", and the
caller's receipt queued only when they gave an address."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk import policy
from supportdesk.escalation import known_issues
from supportdesk.escalation.models import KnownIssue, KnownIssueStatus, KnownIssueTicket
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.outbox import OutboxMessage
from supportdesk.tickets.models import EntryKind, Ticket, TicketEntry, TicketStatus
from tests.escalation.conftest import client_for


def _issue(world, title: str = "Login driller i hele landet", system=None) -> int:
    issue = KnownIssue(
        vendor_id=world.vendor.id,
        system_id=(system or world.system).id,
        title=title,
        description="Brug app'en i stedet.",
        status=KnownIssueStatus.investigating,
    )
    db.session.add(issue)
    db.session.commit()
    return issue.id


def _call(world, **extra) -> dict:
    return {
        "requester_name": "Mette Hansen (forælder)",
        "requester_phone": "20 30 40 50",
        "institution_lookup": world.school.number,
        "topic": f"c{world.system.categories[0].id}",
        "subject": "Kan ikke logge ind i Aula",
        "description": "Forælder ringer: login fejler.",
        "priority": "normal",
        **extra,
    }


def _caller_mails() -> list[dict]:
    return [
        m.payload
        for m in db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "caller_email")
        )
    ]


def test_call_form_shows_known_issues_and_faq_suggestions(app, world):
    _issue(world)
    page = client_for(app, world.hotline).get("/tickets/hotline").get_data(as_text=True)
    assert "Kendte fejl lige nu: handler opkaldet om en af dem?" in page
    assert "Login driller i hele landet" in page
    assert 'name="known_issue"' in page
    # the ticket form's live FAQ suggestions
    assert 'id="faq-suggest"' in page
    assert "faq-suggest.js" in page
    assert "Løst i telefonen" in page


def test_call_linked_to_a_known_issue(app, world):
    issue_id = _issue(world)
    client = client_for(app, world.hotline)
    response = client.post("/tickets/hotline", data=_call(world, known_issue=str(issue_id)))
    assert response.status_code == 302, response.get_data(as_text=True)
    ticket = db.session.scalar(select(Ticket))
    link = db.session.scalar(select(KnownIssueTicket))
    assert (link.ticket_id, link.known_issue_id) == (ticket.id, issue_id)
    assert ticket.status == TicketStatus.new
    # no e-mail address given: no receipt
    assert _caller_mails() == []

    # resolving the known issue tells the reporter (here: the hotline operator) of the ticket
    issue = db.session.get(KnownIssue, issue_id)
    known_issues.save_known_issue(
        world.agent,
        issue,
        system=issue.system,
        title=issue.title,
        description="Rettet.",
        status=KnownIssueStatus.resolved,
    )
    db.session.commit()
    notes = db.session.scalars(
        select(Notification).where(
            Notification.user_id == world.hotline.id,
            Notification.event == NotificationEvent.known_issue_resolved,
        )
    ).all()
    assert [n.url for n in notes] == [f"/tickets/{ticket.number}"]


def test_a_known_issue_of_another_system_is_refused(app, world, make_system):
    other_system = make_system("meebook", vendor=world.other_vendor)
    issue_id = _issue(world, "Meebook er nede", system=other_system)
    response = client_for(app, world.hotline).post(
        "/tickets/hotline", data=_call(world, known_issue=str(issue_id))
    )
    assert response.status_code == 422
    assert db.session.scalar(select(Ticket)) is None


def test_solved_on_the_phone(app, world):
    client = client_for(app, world.hotline)
    missing = client.post("/tickets/hotline", data=_call(world, solved="y"))
    assert missing.status_code == 422
    assert "Skriv svaret, du gav i telefonen." in missing.get_data(as_text=True)
    assert db.session.scalar(select(Ticket)) is None

    answer = "Ryd appens data og log ind igen med MitID."
    response = client.post(
        "/tickets/hotline",
        data=_call(world, solved="y", answer=answer, requester_email="mette@example.dk"),
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    ticket = db.session.scalar(select(Ticket))
    assert ticket.status == TicketStatus.resolved
    assert ticket.resolved_at is not None
    reply = db.session.scalar(
        select(TicketEntry).where(TicketEntry.ticket_id == ticket.id, TicketEntry.body == answer)
    )
    assert reply.kind == EntryKind.reply
    # one e-mail to the caller: the receipt with the answer (not a second "answer" e-mail)
    [mail] = _caller_mails()
    assert mail["to"] == "mette@example.dk"
    assert mail["template"] == "caller_receipt"
    assert mail["context"] == {"number": ticket.number, "subject": ticket.subject, "answer": answer}
    db.session.rollback()
    page = client.get("/tickets/hotline").get_data(as_text=True)
    assert f"Opkald {ticket.number} er registreret som løst i telefonen." in page
    assert "En kvittering er sendt på e-mail til mette@example.dk." in page


def test_only_the_operator_resolves_their_own_call(app, world, make_ticket):
    superuser_ticket = make_ticket()
    assert not policy.can_resolve_call(world.hotline, superuser_ticket)
    response = client_for(app, world.hotline).post("/tickets/hotline", data=_call(world))
    assert response.status_code == 302
    call = db.session.scalar(select(Ticket).where(Ticket.id != superuser_ticket.id))
    assert policy.can_resolve_call(world.hotline, call)
    assert not policy.can_resolve_call(world.superuser, call)
    assert not policy.can_resolve_call(world.other_coordinator, call)

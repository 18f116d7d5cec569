"""The whole chain: ticket services → notify() → outbox → worker → SMTP, plus the demo bells."""

from __future__ import annotations

from sqlalchemy import func, select

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.demo import notifications as demo_notifications
from supportdesk.notifications import services
from supportdesk.notifications.models import Notification
from supportdesk.outbox import OutboxMessage
from supportdesk.tickets import lifecycle
from supportdesk.tickets import services as tickets
from tests.factories import file_ticket


def _ticket(db, make_system, superuser):
    system = make_system("aula", categories=("login",))
    return file_ticket(superuser, system, subject="Forældre kan ikke logge på Aula", commit=True)


def test_internal_note_and_reply_reach_the_right_inboxes(db, make_user, make_system, smtp_server):
    smtp_server.start()
    superuser = make_user(Role.superuser, email="skole@esbjerg.dk")
    town = superuser.municipality
    lead = make_user(Role.coordinator, municipality=town, email="leder@esbjerg.dk")
    colleague = make_user(Role.coordinator, municipality=town, email="kollega@esbjerg.dk")
    ticket = _ticket(db, make_system, superuser)
    lifecycle.assign(lead, ticket, colleague)
    db.session.commit()
    outbox.run_once()
    smtp_server.messages.clear()
    smtp_server.collector.recipients.clear()

    tickets.add_entry(lead, ticket, "Forælderen har ringet tre gange.", internal=True)
    db.session.commit()
    tickets.add_entry(lead, ticket, "Prøv at logge ud og ind igen.")
    db.session.commit()
    outbox.run_once()

    by_recipient: dict[str, list[str]] = {}
    for rcpt, mail in zip(smtp_server.collector.recipients, smtp_server.messages, strict=True):
        by_recipient.setdefault(rcpt[0], []).append(mail.get_body(("plain",)).get_content())
    assert sorted(by_recipient) == ["kollega@esbjerg.dk", "skole@esbjerg.dk"]
    [to_school] = by_recipient["skole@esbjerg.dk"]
    assert "Prøv at logge ud og ind igen." in to_school
    assert "tre gange" not in to_school
    assert f"http://testserver/tickets/{ticket.number}" in to_school
    assert any("tre gange" in text for text in by_recipient["kollega@esbjerg.dk"])
    # Nothing about the note on the superuser's bell either.
    events = set(
        db.session.scalars(select(Notification.event).where(Notification.user_id == superuser.id))
    )
    assert "ticket_internal_note" not in events
    assert "ticket_reply" in events


def test_demo_bells_are_filled_once_and_send_no_email(db, make_user, make_system):
    superuser = make_user(Role.superuser)
    coordinator = make_user(Role.coordinator, municipality=superuser.municipality)
    ticket = _ticket(db, make_system, superuser)
    lifecycle.assign(coordinator, ticket, coordinator)
    db.session.commit()
    db.session.execute(OutboxMessage.__table__.delete())
    db.session.execute(Notification.__table__.delete())
    db.session.commit()

    demo_notifications.seed(echo=lambda _line: None)
    db.session.commit()
    demo_notifications.seed(echo=lambda _line: None)
    db.session.commit()

    assert services.unread_count(coordinator) == 1
    assert services.unread_count(superuser) == 1
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0

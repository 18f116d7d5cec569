"""E-mail delivery through the outbox worker against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select, update

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.extensions import utcnow
from supportdesk.notifications import services
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.outbox import OutboxMessage

NUMBER = "ESB-2026-000001"
URL = f"/tickets/{NUMBER}"
CONTEXT = {"number": NUMBER, "subject": "Aula-login fejler på Vestskolen"}


def _emails(db) -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "email").order_by(OutboxMessage.id)
        )
    )


def test_worker_sends_a_danish_multipart_email_with_an_absolute_link(db, make_user, smtp_server):
    smtp_server.start()
    coordinator = make_user(Role.coordinator, name="Mette Sørensen", email="mette@esbjerg.dk")
    actor = make_user(Role.superuser, name="Lars Holm", municipality=coordinator.municipality)
    services.notify(
        [coordinator],
        NotificationEvent.ticket_reply,
        url=URL,
        context={**CONTEXT, "excerpt": "Det virker igen efter genstart & <tak>"},
        actor=actor,
    )
    db.session.commit()
    [queued] = _emails(db)

    assert outbox.run_once() == (1, 0)

    [mail] = smtp_server.messages
    assert smtp_server.collector.recipients == [["mette@esbjerg.dk"]]
    assert mail["To"] == "Mette Sørensen <mette@esbjerg.dk>"
    assert mail["From"] == "supportdesk <noreply@supportdesk.local>"
    assert mail["Subject"].strip() == f"Nyt svar på henvendelse {NUMBER}: {CONTEXT['subject']}"
    assert mail["Message-ID"] == f"<notification-{queued.id}@supportdesk.local>"
    assert mail["Content-Language"] == "da"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Hej Mette Sørensen" in text
    assert f"Lars Holm har svaret på henvendelse {NUMBER}." in text
    assert "> Det virker igen efter genstart & <tak>" in text
    assert f"http://testserver{URL}" in text
    assert "http://testserver/notifications/settings" in text
    assert f'href="http://testserver{URL}"' in html
    assert "Åbn i supportdesk" in html
    # Caller-supplied text is escaped in the HTML part.
    assert "genstart &amp; &lt;tak&gt;" in html
    assert "<tak>" not in html
    db.session.refresh(queued)
    assert queued.sent_at is not None
    assert queued.attempts == 1


def test_every_event_has_danish_text_and_html_templates(db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator)
    context = {
        **CONTEXT,
        "excerpt": "Tekst",
        "status": "waiting",
        "due_at": "2026-11-24T09:00:00+00:00",
        "title": "Nedbrud i Aula",
        "system": "Aula",
    }
    for event in NotificationEvent:
        services.notify([user], event, url=URL, context=context)
    db.session.commit()

    assert outbox.run_once() == (len(NotificationEvent), 0)

    assert len(smtp_server.messages) == len(NotificationEvent)
    subjects = [m["Subject"].strip() for m in smtp_server.messages]
    assert "Henvendelse ESB-2026-000001 har nu status »afventer«" in subjects[3]
    events = list(NotificationEvent)
    assert subjects[events.index(NotificationEvent.known_issue_resolved)] == (
        "Kendt problem løst: Nedbrud i Aula"
    )
    # the reporter's side of the answer flow
    assert subjects[events.index(NotificationEvent.ticket_escalated)] == (
        "Henvendelse ESB-2026-000001 er sendt videre til leverandøren: "
        "Aula-login fejler på Vestskolen"
    )
    assert subjects[events.index(NotificationEvent.answer_relayed)] == (
        "Svar fra leverandøren på henvendelse ESB-2026-000001: Aula-login fejler på Vestskolen"
    )
    assert subjects[events.index(NotificationEvent.ticket_resolved)] == (
        "Henvendelse ESB-2026-000001 er løst: Aula-login fejler på Vestskolen"
    )
    for mail in smtp_server.messages:
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert text.startswith("Hej ")
        assert "Du får denne e-mail" in text
        assert f"http://testserver{URL}" in text
        assert f'href="http://testserver{URL}"' in html
    sla = smtp_server.messages[list(NotificationEvent).index(NotificationEvent.sla_warning)]
    # The deadline is shown in Danish time (UTC+1 in November).
    assert "10.00" in sla.get_body(("plain",)).get_content()


def test_recipient_locale_decides_the_language(db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator)
    user.locale = "en"
    db.session.commit()
    services.notify([user], NotificationEvent.ticket_assigned, url=URL, context=CONTEXT)
    db.session.commit()
    outbox.run_once()
    [mail] = smtp_server.messages
    assert mail["Subject"].strip() == f"Ticket {NUMBER} assigned to you: {CONTEXT['subject']}"
    assert mail["Content-Language"] == "en"
    assert "Open in supportdesk" in mail.get_body(("html",)).get_content()


def test_cli_worker_once_delivers(app, db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator, email="kim@aalborg.dk")
    services.notify([user], NotificationEvent.ticket_assigned, url=URL, context=CONTEXT)
    db.session.commit()

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    assert "delivered 1, failed 0" in result.output
    assert [m["To"] for m in smtp_server.messages] == [f"{user.name} <kim@aalborg.dk>"]


def test_smtp_down_keeps_everything_then_delivers_each_exactly_once(
    app, db, make_user, smtp_server
):
    users = [make_user(Role.coordinator) for _ in range(3)]
    for user in users:
        services.notify([user], NotificationEvent.ticket_assigned, url=URL, context=CONTEXT)
    db.session.commit()

    # Nothing listens on the port: every attempt fails and is recorded with a backoff.
    before = utcnow()
    assert outbox.run_once() == (0, 3)
    db.session.expire_all()
    for message in _emails(db):
        assert message.sent_at is None
        assert message.failed_at is None
        assert message.attempts == 1
        assert "Connection" in message.last_error
        assert message.available_at >= before + timedelta(seconds=29)
    # Not due yet: a worker loop does not hammer the dead server.
    assert outbox.run_once() == (0, 0)

    # Time passes (backoff over) and the server comes back.
    db.session.execute(update(OutboxMessage).values(available_at=utcnow()))
    db.session.commit()
    smtp_server.start()
    assert outbox.run_once() == (3, 0)
    assert sorted(r[0] for r in smtp_server.collector.recipients) == sorted(u.email for u in users)

    # A restarted worker (the CLI, a fresh app context) finds nothing left to send.
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert "delivered 0, failed 0" in result.output
    assert outbox.run_once() == (0, 0)
    assert len(smtp_server.messages) == 3
    db.session.expire_all()
    assert all(m.sent_at is not None and m.attempts == 2 for m in _emails(db))
    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(set(ids)) == 3


def test_preference_off_means_no_email_but_the_bell_still_rings(
    db, client, login, make_user, smtp_server
):
    smtp_server.start()
    user = login(make_user(Role.coordinator))
    page = client.get("/notifications/settings")
    assert page.status_code == 200
    # Submit the form with everything on except status changes.
    keep = [e.value for e in services.events_for(user) if e != NotificationEvent.ticket_status]
    response = client.post("/notifications/settings", data=dict.fromkeys(keep, "y"))
    assert response.status_code == 302

    services.notify([user], NotificationEvent.ticket_status, url=URL, context=CONTEXT)
    services.notify([user], NotificationEvent.ticket_reply, url=URL, context=CONTEXT)
    db.session.commit()
    outbox.run_once()

    assert [m["Subject"].strip().split(":")[0] for m in smtp_server.messages] == [
        f"Nyt svar på henvendelse {NUMBER}"
    ]
    events = set(db.session.scalars(select(Notification.event)))
    assert events == {NotificationEvent.ticket_status, NotificationEvent.ticket_reply}


def test_preference_turned_off_after_queueing_is_respected(db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator)
    services.notify([user], NotificationEvent.ticket_reply, url=URL, context=CONTEXT)
    db.session.commit()
    services.set_email_preferences(user, [])
    db.session.commit()
    assert outbox.run_once() == (1, 0)  # handled: nothing to send, not retried
    assert smtp_server.messages == []


def test_internal_note_email_never_reaches_a_superuser(db, make_user, smtp_server):
    smtp_server.start()
    coordinator = make_user(Role.coordinator, email="koordinator@esbjerg.dk")
    superuser = make_user(Role.superuser, municipality=coordinator.municipality)
    services.notify(
        [coordinator, superuser],
        NotificationEvent.ticket_internal_note,
        url=URL,
        context={**CONTEXT, "excerpt": "Intern vurdering"},
    )
    db.session.commit()
    outbox.run_once()
    assert smtp_server.collector.recipients == [["koordinator@esbjerg.dk"]]
    assert services.unread_count(superuser) == 0


def test_internal_note_queued_before_a_role_change_is_not_sent(db, make_user, smtp_server):
    """The handler checks again at delivery: a coordinator demoted to superuser meanwhile."""
    smtp_server.start()
    user = make_user(Role.coordinator)
    services.notify([user], NotificationEvent.ticket_internal_note, url=URL, context=CONTEXT)
    db.session.commit()
    user.role = Role.superuser
    db.session.commit()
    outbox.run_once()
    assert smtp_server.messages == []


def test_header_injection_in_a_subject_is_flattened(db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator)
    evil = {"number": NUMBER, "subject": "Hej\r\nBcc: victim@example.com\r\n\r\nbody"}
    services.notify([user], NotificationEvent.ticket_reply, url=URL, context=evil)
    db.session.commit()
    assert outbox.run_once() == (1, 0)
    [mail] = smtp_server.messages
    assert mail["Bcc"] is None
    assert smtp_server.collector.recipients == [[user.email]]
    assert "Bcc: victim@example.com" in mail["Subject"]


def test_credentials_in_the_smtp_url_are_used(app, db, make_user, smtp_server):
    """user:password in SUPPORTDESK_SMTP_URL (percent-encoded) log in before sending."""
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, data):
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"p@ss:word")

    smtp_server.smtp_options = {
        "authenticator": authenticator,
        "auth_require_tls": False,
    }
    smtp_server.start()
    settings = app.config["SUPPORTDESK"]
    authed = f"smtp://mailer:p%40ss%3Aword@127.0.0.1:{smtp_server.port}"
    app.config["SUPPORTDESK"] = dataclasses.replace(settings, smtp_url=authed)
    user = make_user(Role.coordinator)
    services.notify([user], NotificationEvent.ticket_assigned, url=URL, context=CONTEXT)
    db.session.commit()

    assert outbox.run_once() == (1, 0)
    assert logins == [(b"mailer", b"p@ss:word")]
    assert len(smtp_server.messages) == 1

"""The survey e-mail over real SMTP: its link answers once."""

from __future__ import annotations

import re

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.tickets import lifecycle, surveys
from supportdesk.tickets.models import TicketStatus
from tests.factories import file_ticket


def test_survey_link_from_the_e_mail_answers_once(
    app, db, client, make_user, make_system, smtp_server
):
    smtp_server.start()
    reporter = make_user(Role.superuser, email="skole@esbjerg.dk")
    coordinator = make_user(Role.coordinator, municipality=reporter.municipality)
    system = make_system("aula")
    ticket = file_ticket(reporter, system, subject="Beskeder forsinkes", commit=True)
    outbox.run_once()
    smtp_server.messages.clear()
    smtp_server.collector.recipients.clear()

    lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    db.session.commit()
    outbox.run_once()

    mails = [
        (rcpt, m)
        for rcpt, m in zip(smtp_server.collector.recipients, smtp_server.messages, strict=True)
        if "Fik du hjælp?" in m["Subject"]
    ]
    assert [rcpt for rcpt, _m in mails] == [["skole@esbjerg.dk"]]
    text = mails[0][1].get_body(("plain",)).get_content()
    link = re.search(r"http://testserver(/survey/\S+)", text).group(1)

    # signed out, as from a mail client
    page = client.get(link)
    assert page.status_code == 200
    assert "Fik du hjælp?" in page.get_data(as_text=True)
    answered = client.post(link, data={"score": "5", "comment": "Tak for hjælpen"})
    assert answered.status_code == 200
    assert "Tak for dit svar." in answered.get_data(as_text=True)
    response = surveys.response_of(ticket)
    assert (response.score, response.comment, response.user_id) == (
        5,
        "Tak for hjælpen",
        reporter.id,
    )
    # the link works once
    again = client.post(link, data={"score": "1"})
    assert again.status_code == 409
    assert "Linket virker én gang." in again.get_data(as_text=True)
    assert surveys.response_of(ticket).score == 5

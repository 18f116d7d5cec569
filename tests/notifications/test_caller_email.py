"""E-mails of the answer flow over real SMTP (aiosmtpd): the caller's receipt and answers
(their own template: no internal content, no staff names, no links into the app) and the
relayed vendor answer to the reporter."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.escalation import cases, known_issues
from supportdesk.escalation import services as escalation
from supportdesk.escalation.models import KnownIssue, KnownIssueStatus
from supportdesk.tickets import services
from supportdesk.tickets.models import TicketSource

ANSWER = "Ryd appens data og log ind igen med MitID."
NOTE = "Intern: forælderen har ringet tre gange før."


def _call(hotline, system, institution, **kw) -> services.NewTicket:
    return services.NewTicket(
        system=system,
        category=system.categories[0],
        subject="Kan ikke logge ind i Aula",
        description="Forælder ringer: login fejler.",
        institution=institution,
        source=TicketSource.hotline,
        requester_name="Mette Hansen",
        requester_phone="20 30 40 50",
        **kw,
    )


def _texts(mail) -> tuple[str, str]:
    return mail.get_body(("plain",)).get_content(), mail.get_body(("html",)).get_content()


def test_caller_gets_a_receipt_and_each_public_answer(
    db, make_user, make_system, make_institution, smtp_server
):
    smtp_server.start()
    hotline = make_user(Role.hotline, name="Hanne Hotline")
    coordinator = make_user(Role.coordinator, municipality=hotline.municipality, name="Kim Koord")
    school = make_institution(hotline.municipality)
    system = make_system("aula")
    ticket = services.take_call(
        hotline, _call(hotline, system, school, requester_email="mette@example.dk")
    )
    db.session.commit()
    number = ticket.number

    assert outbox.run_once() == (1, 0)
    [receipt] = smtp_server.messages
    assert smtp_server.collector.recipients == [["mette@example.dk"]]
    assert receipt["To"] == "Mette Hansen <mette@example.dk>"
    assert receipt["Subject"] == f"Vi har modtaget din henvendelse: {number}"
    assert receipt["Content-Language"] == "da"
    text, html = _texts(receipt)
    assert text.startswith("Hej Mette Hansen")
    assert f"registreret din henvendelse med nummeret {number}" in text
    assert "Emne: Kan ikke logge ind i Aula" in text
    assert "Vi skriver til dig på denne adresse, når vi har et svar." in text
    assert "http" not in text  # the caller cannot sign in: no links into the app
    assert "Hanne Hotline" not in text + html
    assert "Kan ikke logge ind i Aula" in html

    # an internal note reaches nobody outside; a public reply reaches the caller
    services.add_entry(coordinator, ticket, NOTE, internal=True)
    services.add_entry(coordinator, ticket, ANSWER)
    db.session.commit()
    outbox.run_once()
    caller_mails = [m for m in smtp_server.messages if m["To"].endswith("<mette@example.dk>")]
    assert len(caller_mails) == 2
    answer = caller_mails[1]
    assert answer["Subject"] == f"Svar på din henvendelse {number}"
    text, html = _texts(answer)
    assert f"> {ANSWER}" in text
    assert ANSWER in html
    for body in (text, html):
        assert NOTE not in body
        assert "Kim Koord" not in body
        assert "Forælder ringer" not in body  # the description as logged is staff wording


def test_solved_on_the_phone_sends_one_receipt_with_the_answer(
    db, make_user, make_system, make_institution, smtp_server
):
    smtp_server.start()
    hotline = make_user(Role.hotline)
    system = make_system("aula")
    ticket = services.take_call(
        hotline,
        _call(hotline, system, make_institution(hotline.municipality), requester_email="m@ex.dk"),
        solved=True,
        answer=ANSWER,
    )
    db.session.commit()
    outbox.run_once()
    [receipt] = smtp_server.messages
    text, html = _texts(receipt)
    assert receipt["Subject"] == f"Vi har modtaget din henvendelse: {ticket.number}"
    assert "Vi løste det i telefonen. Svaret:" in text
    assert f"> {ANSWER}" in text
    assert ANSWER in html


def test_no_address_no_email(db, make_user, make_system, make_institution, smtp_server):
    smtp_server.start()
    hotline = make_user(Role.hotline)
    system = make_system("aula")
    ticket = services.take_call(hotline, _call(hotline, system, None), solved=True, answer=ANSWER)
    db.session.commit()
    assert ticket.requester_email is None
    assert outbox.run_once() == (0, 0)
    assert smtp_server.messages == []


def test_the_reporter_gets_the_relayed_answer_by_email(
    db, make_user, make_vendor, make_system, make_institution, smtp_server
):
    smtp_server.start()
    vendor = make_vendor("netcompany")
    system = make_system("aula", vendor=vendor)
    school = make_institution("esbjerg")
    superuser = make_user(Role.superuser, institution=school, name="Sanne Superbruger")
    coordinator = make_user(Role.coordinator, municipality=school.municipality, entitled=[vendor])
    agent = make_user(Role.vendor_agent, vendor=vendor)
    ticket = services.create_ticket(
        superuser,
        services.NewTicket(
            system=system, category=None, subject="Login fejler", description="Fejl 500."
        ),
    )
    case = escalation.escalate(
        coordinator, ticket, escalation.EscalationRequest(summary="Login fejler for forældre.")
    )
    message = cases.post_message(agent, case, "Genstartet. Intern bemærkning: kunden er sur.")
    db.session.commit()
    outbox.run_once()
    before = len(smtp_server.messages)
    relayed = "Leverandøren har genstartet login. Prøv igen."
    cases.relay(coordinator, case, relayed, [ticket.id], message.id)
    db.session.commit()
    outbox.run_once()
    new = smtp_server.messages[before:]
    to_reporter = [m for m in new if "Sanne Superbruger" in m["To"]]
    assert len(to_reporter) == 1
    mail = to_reporter[0]
    assert mail["Subject"] == f"Svar fra leverandøren på henvendelse {ticket.number}: Login fejler"
    text, html = _texts(mail)
    assert f"Leverandøren har svaret på din henvendelse {ticket.number}:" in text
    assert f"> {relayed}" in text
    assert relayed in html
    assert "kunden er sur" not in text + html
    assert f"http://testserver/tickets/{ticket.number}" in text
    # the reporter also had the escalation e-mail, in their words
    subjects = [m["Subject"] for m in smtp_server.messages if "Sanne" in m["To"]]
    assert f"Henvendelse {ticket.number} er sendt videre til leverandøren: Login fejler" in subjects
    assert (
        db.session.scalar(
            select(outbox.OutboxMessage).where(outbox.OutboxMessage.failed_at.is_not(None))
        )
        is None
    )


def test_the_caller_hears_when_the_known_issue_is_fixed(
    db, make_user, make_vendor, make_system, make_institution, smtp_server
):
    smtp_server.start()
    vendor = make_vendor("netcompany")
    system = make_system("aula", vendor=vendor)
    hotline = make_user(Role.hotline)
    editor = make_user(Role.vendor_editor, vendor=vendor)
    issue = KnownIssue(
        vendor_id=vendor.id, system_id=system.id, title="Login fejler", description=""
    )
    db.session.add(issue)
    db.session.flush()
    ticket = services.take_call(
        hotline,
        _call(
            hotline,
            system,
            make_institution(hotline.municipality),
            requester_email="mette@example.dk",
            known_issue_id=issue.id,
        ),
    )
    db.session.commit()
    outbox.run_once()  # the receipt
    known_issues.save_known_issue(
        editor,
        issue,
        system=system,
        title=issue.title,
        description="Rettet.",
        status=KnownIssueStatus.resolved,
    )
    db.session.commit()
    outbox.run_once()
    fixed = [m for m in smtp_server.messages if m["Subject"].startswith("Fejlen, du ringede om")]
    assert len(fixed) == 1
    assert fixed[0]["Subject"] == f"Fejlen, du ringede om, er rettet: {ticket.number}"
    text, _html = _texts(fixed[0])
    assert "Fejlen, du ringede til os om, er rettet: Login fejler" in text
    assert "Rettet." not in text  # the vendor's notice text is not the caller's business

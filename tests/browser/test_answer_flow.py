"""Issue 16 in a real browser: the coordinator passes a vendor answer on with a preview and
the superuser reads it and its notification; the hotline resolves a call on the phone,
linked to a known issue; the new pages pass axe-core."""

from __future__ import annotations

import dataclasses
import email.policy
from email.message import EmailMessage

from sqlalchemy import select

from supportdesk.accounts.models import System, User
from supportdesk.escalation import cases
from supportdesk.escalation import services as escalation
from supportdesk.escalation.models import (
    CaseMessage,
    KnownIssue,
    KnownIssueStatus,
    KnownIssueTicket,
)
from supportdesk.notifications.devmail import open_box
from supportdesk.tickets.models import Ticket, TicketStatus
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in, unique
from tests.factories import file_ticket

SUPERUSER = "superbruger.561001@esbjerg.sd-demo.dk"
COORDINATOR = "koordinator1@esbjerg.sd-demo.dk"
VENDOR_AGENT = "agent@netcompany.sd-demo.dk"
HOTLINE = "hotline@esbjerg.sd-demo.dk"
MUNICIPAL_ADMIN = "admin@esbjerg.sd-demo.dk"


def _user(session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def test_relay_with_preview_reaches_the_superuser(new_page, data):
    subject = unique("Forældre kan ikke se ugeplanen ")
    answer = unique("Ugeplanen vises igen efter vores rettelse kl. 10. Intern: jira AULA-")
    with data() as session:
        superuser = _user(session, SUPERUSER)
        aula = session.scalar(select(System).where(System.slug == "aula"))
        ticket = file_ticket(
            superuser, aula, subject=subject, description="Ugeplanen er tom for 4.a."
        )
        case = escalation.escalate(
            _user(session, COORDINATOR),
            ticket,
            escalation.EscalationRequest(summary="Ugeplanen er tom for forældre."),
        )
        message = cases.post_message(_user(session, VENDOR_AGENT), case, answer)
        session.flush()
        number, case_number, message_id = ticket.number, case.number, message.id

    coordinator = new_page()
    sign_in(coordinator, COORDINATOR, DEMO_PASSWORD)
    coordinator.goto(f"/cases/{case_number}")
    main = coordinator.locator("main")
    # the two text areas say who reads them
    assert "Besked til leverandøren" in main.inner_text()
    assert "Hvem får hvad" in main.inner_text()
    choice = coordinator.locator(f"#message-{message_id} .message-choice")
    assert choice.get_by_role("button", name="Behold internt").count() == 1
    follow(coordinator, choice.get_by_role("link", name="Send videre til anmelderne").click)
    relay = coordinator.locator("form[action*='/relay']")
    body = relay.locator("textarea[name=body]")
    assert body.input_value() == answer
    # the preview of exactly what the reporter reads is there at once, then after editing
    preview = coordinator.locator("#relay-preview")
    assert answer in preview.inner_text()
    assert "ser det på henvendelsen" in preview.inner_text()
    axe_check(coordinator, "case-page-relay-preview")
    edited = answer.split(" Intern:")[0] + "\n\nVenlig hilsen Esbjerg Kommune"
    body.fill(edited)
    follow(coordinator, relay.get_by_role("button", name="Forhåndsvis").click)
    preview = coordinator.locator("#relay-preview")
    assert "Venlig hilsen Esbjerg Kommune" in preview.inner_text()
    assert "Intern: jira" not in preview.inner_text()
    assert f"Svar fra leverandøren på henvendelse {number}" in preview.inner_text()
    with data() as session:
        assert session.get(CaseMessage, message_id).handling is None  # nothing sent yet
    follow(coordinator, relay.get_by_role("button", name="Send til anmelderne").click)
    assert "Sendt videre til anmelderne af" in coordinator.locator("main").inner_text()

    superuser = new_page()
    sign_in(superuser, SUPERUSER, DEMO_PASSWORD)
    bell = superuser.get_by_role("navigation", name="Hovedmenu").locator("a[href='/notifications']")
    assert bell.locator(".badge").count() == 1
    follow(superuser, bell.click)
    notes = superuser.locator("main").inner_text()
    assert f"Svar fra leverandøren på henvendelse {number}" in notes
    assert f"Henvendelse {number} er sendt videre til leverandøren" in notes
    axe_check(superuser, "notifications-answer-relayed")
    superuser.goto(f"/tickets/{number}")
    page_text = superuser.locator("main").inner_text()
    assert "Venlig hilsen Esbjerg Kommune" in page_text
    assert "Svar fra leverandøren" in page_text
    assert "Intern: jira" not in page_text
    axe_check(superuser, "ticket-page-answer-relayed")


def test_hotline_resolves_a_call_linked_to_a_known_issue(new_page, data):
    title = unique("Aula-login fejler for forældre ")
    with data() as session:
        aula = session.scalar(select(System).where(System.slug == "aula"))
        issue = KnownIssue(
            vendor_id=aula.vendor_id,
            system_id=aula.id,
            title=title,
            description="Brug app'en, mens vi retter fejlen.",
            status=KnownIssueStatus.investigating,
        )
        session.add(issue)
        session.flush()
        issue_id = issue.id

    page = new_page()
    sign_in(page, HOTLINE, DEMO_PASSWORD)
    page.goto("/tickets/hotline")
    banner = page.locator(".known-issues")
    assert title in banner.inner_text()
    assert page.locator("#faq-suggest").count() == 1
    subject = unique("Forælder kan ikke logge ind i Aula ")
    page.locator("#requester_name").fill("Mette Sørensen")
    page.locator("#requester_email").fill("mette.sorensen@example.dk")
    page.locator("#institution_lookup").fill("561002")
    page.locator("#topic-system").select_option(label="Aula")
    page.locator("#topic").select_option(index=1)
    page.locator("#subject").fill(subject)
    page.locator("#description").fill("Moren får en fejl efter MitID på sin telefon.")
    banner.get_by_label(title, exact=False).check()
    axe_check(page, "hotline-call-with-known-issue")
    page.get_by_label("Løst i telefonen").check()
    page.locator("#answer").fill("Brug Aula-appen, indtil fejlen er rettet.")
    follow(page, page.get_by_role("button", name="Registrér opkaldet").click)
    flash = page.locator(".flash-success")
    assert "registreret som løst i telefonen" in flash.inner_text()
    assert (
        "En kvittering er sendt på e-mail til mette.sorensen@example.dk"
        in page.locator("main").inner_text()
    )
    with data() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.subject == subject))
        assert ticket.status == TicketStatus.resolved
        link = session.scalar(
            select(KnownIssueTicket).where(KnownIssueTicket.ticket_id == ticket.id)
        )
        assert link.known_issue_id == issue_id
        session.delete(session.get(KnownIssue, issue_id).ticket_links[0])
        session.get(KnownIssue, issue_id).status = KnownIssueStatus.resolved


def test_new_pages_pass_axe(new_page, data, browser_app, tmp_path):
    admin = new_page()
    sign_in(admin, MUNICIPAL_ADMIN, DEMO_PASSWORD)
    admin.goto("/admin/answers")
    assert "Send leverandørens svar automatisk videre" in admin.locator("main").inner_text()
    axe_check(admin, "admin-vendor-answers")

    # the development mail page, switched on for this test only
    original = browser_app.config["SUPPORTDESK"]
    directory = tmp_path / "dev-mail"
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["Subject"] = "Nyt svar på henvendelse ESB-2026-000001: Aula-login"
    mail["From"] = "supportdesk <noreply@supportdesk.local>"
    mail["To"] = "Mette <mette@example.dk>"
    mail["Date"] = "Thu, 03 Dec 2026 15:00:00 +0000"
    mail.set_content("Hej Mette\n\nDet virker igen.")
    mail.add_alternative("<p>Hej Mette</p><p>Det virker igen.</p>", subtype="html")
    open_box(directory).add(mail.as_bytes())
    browser_app.config["SUPPORTDESK"] = dataclasses.replace(original, dev_mail_dir=str(directory))
    try:
        page = new_page()
        page.goto("/dev/mail")
        axe_check(page, "dev-mail")
        follow(page, page.get_by_role("link", name="Nyt svar på henvendelse ESB-2026-000001").click)
        assert "Det virker igen." in page.locator("main").inner_text()
        axe_check(page, "dev-mail-message")
    finally:
        browser_app.config["SUPPORTDESK"] = original
    assert new_page().goto("/dev/mail").status == 404

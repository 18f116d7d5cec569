"""Issue 16 in a real browser: merging duplicates from two schools, a canned reply put into
the reply box, the survey answered from its e-mail (real SMTP), and "Det løste mit
problem" that keeps the draft."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import select

from supportdesk import outbox
from supportdesk.accounts.models import Role, User
from supportdesk.accounts.models import System as SystemModel
from supportdesk.outbox import OutboxMessage
from supportdesk.tickets import lifecycle, services
from supportdesk.tickets.models import Ticket, TicketStatus
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in, unique
from tests.conftest import free_port
from tests.notifications.conftest import SmtpServer

COORDINATOR = "koordinator1@esbjerg.sd-demo.dk"
SUPERUSER = "superbruger.561001@esbjerg.sd-demo.dk"


def _two_school_tickets(data) -> tuple[str, str, str]:
    """Two tickets about the same problem from two schools; returns their numbers and the
    second school's superuser's e-mail."""
    with data() as session:
        first = session.scalar(select(User).where(User.email == SUPERUSER))
        second = session.scalar(
            select(User).where(
                User.role == Role.superuser,
                User.municipality_id == first.municipality_id,
                User.institution_id != first.institution_id,
                User.active.is_(True),
            )
        )
        system = session.scalar(select(SystemModel).where(SystemModel.slug == "aula"))
        numbers = []
        for user in (first, second):
            ticket = services.create_ticket(
                user,
                services.NewTicket(
                    system=system,
                    category=system.categories[0],
                    subject=unique("Forældre kan ikke se beskeder "),
                    description="Beskederne vises ikke i appen.",
                    institution=user.institution,
                ),
            )
            numbers.append(ticket.number)
        return numbers[0], numbers[1], second.email


def test_coordinator_merges_duplicates_from_two_schools(new_page, data):
    target, duplicate, second_email = _two_school_tickets(data)
    page = new_page()
    sign_in(page, COORDINATOR, DEMO_PASSWORD)
    page.goto(f"/tickets/{duplicate}")
    form = page.locator(f"form[action='/tickets/{duplicate}/merge']")
    form.get_by_label("Læg sammen med henvendelse").fill(target)
    follow(page, form.get_by_role("button", name="Læg sammen").click)
    assert page.url.endswith(f"/tickets/{target}"), page.url
    merged = page.locator("#merged")
    assert duplicate in merged.inner_text()
    assert "Beskederne vises ikke i appen." in merged.inner_text()
    axe_check(page, "ticket-page-merged-target")
    page.goto(f"/tickets/{duplicate}")
    assert page.locator("main a", has_text=target).count() >= 1
    assert "Lukket" in page.locator("main").inner_text()
    with data() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == duplicate))
        assert ticket.status == TicketStatus.closed

    # the second school's superuser now follows the first school's ticket
    reporter = new_page()
    sign_in(reporter, second_email, DEMO_PASSWORD)
    response = reporter.goto(f"/tickets/{target}")
    assert response.status == 200
    assert target in reporter.locator("h1").inner_text()


def test_canned_reply_goes_into_the_reply_box(new_page, data):
    target, _duplicate, _email = _two_school_tickets(data)
    page = new_page()
    sign_in(page, COORDINATOR, DEMO_PASSWORD)
    page.goto("/canned-replies")
    axe_check(page, "canned-replies")
    title = unique("Log ud og ind igen ")
    page.get_by_label("Titel").fill(title)
    page.get_by_label("Svar", exact=True).fill(
        "Hej {reporter}. Prøv at logge ud og ind ({ticket})."
    )
    follow(page, page.locator("main form.stack").get_by_role("button", name="Gem").click)
    assert title in page.locator("main").inner_text()

    page.goto(f"/tickets/{target}")
    box = page.locator("form[action$='/entries'] textarea[name=body]")
    box.fill("Tak for din henvendelse.")
    page.get_by_label("Svarskabelon").select_option(label=title)
    page.get_by_role("button", name="Indsæt", exact=True).click()
    value = box.input_value()
    assert value.startswith("Tak for din henvendelse.\n\nHej ")
    assert f"Prøv at logge ud og ind ({target})." in value
    assert "{reporter}" not in value
    assert page.url.endswith(f"/tickets/{target}")  # in place, nothing sent
    axe_check(page, "ticket-page-canned-reply-inserted")


def test_survey_answered_from_its_e_mail_link(new_page, data, browser_app):
    target, _duplicate, _email = _two_school_tickets(data)
    with data() as session:
        coordinator = session.scalar(select(User).where(User.email == COORDINATOR))
        ticket = session.scalar(select(Ticket).where(Ticket.number == target))
        lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    server = SmtpServer(free_port()).start()
    original = browser_app.config["SUPPORTDESK"]
    browser_app.config["SUPPORTDESK"] = dataclasses.replace(original, smtp_url=server.url)
    try:
        with data() as session:
            ids = [
                m.id
                for m in session.scalars(
                    select(OutboxMessage).where(
                        OutboxMessage.kind == "email", OutboxMessage.sent_at.is_(None)
                    )
                )
                if m.payload.get("event") == "survey_requested"
                and m.payload.get("context", {}).get("number") == target
            ]
            assert len(ids) == 1
            assert outbox.deliver(ids[0])
    finally:
        browser_app.config["SUPPORTDESK"] = original
        server.stop()
    [mail] = server.messages
    assert mail["To"].addresses[0].addr_spec == SUPERUSER
    text = mail.get_body(("plain",)).get_content()
    path = re.search(r"http://127\.0\.0\.1(/survey/\S+)", text).group(1)

    page = new_page()  # signed out, as from a mail client
    page.goto(path)
    axe_check(page, "survey-from-email")
    page.get_by_label("Fik du hjælp?").select_option("4")
    page.get_by_label("Kommentar (valgfri)").fill("Hurtigt og venligt")
    follow(page, page.get_by_role("button", name="Send svar").click)
    assert "Tak for dit svar." in page.locator("main").inner_text()
    page.goto(path)
    assert "allerede besvaret" in page.locator("main").inner_text()


def test_solved_by_an_article_confirms_and_keeps_the_draft(new_page):
    page = new_page()
    sign_in(page, SUPERUSER, DEMO_PASSWORD)
    page.goto("/tickets/new")
    subject = unique("Forældre kan ikke logge ind i Aula med MitID ")
    description = "Flere forældre i 3.b får en fejl efter MitID-login."
    page.locator("#subject").press_sequentially(subject, delay=5)
    page.locator("#description").fill(description)
    page.locator("#description").press("End")
    solved = page.locator("#faq-suggest-list").get_by_role("button", name="Det løste mit problem")
    solved.first.wait_for(state="visible")
    follow(page, solved.first.click)
    assert "/solved" in page.url
    status = page.get_by_role("status")
    assert "Der er ikke oprettet nogen henvendelse" in status.inner_text()
    assert re.search(r"løst problemet \d+ gang", status.inner_text())
    axe_check(page, "faq-solved-confirmation")
    follow(page, page.get_by_role("link", name=re.compile("Tilbage til formularen")).click)
    assert page.url.endswith("/tickets/new")
    assert page.locator("#subject").input_value() == subject
    assert page.locator("#description").input_value() == description

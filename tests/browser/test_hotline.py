"""Hotline intake: a phone call becomes a ticket with the caller's details, fast."""

from __future__ import annotations

import re

from sqlalchemy import select

from supportdesk.tickets.models import Ticket
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in, unique


def test_hotline_takes_a_phone_call(page, data):
    sign_in(page, "hotline@esbjerg.sd-demo.dk", DEMO_PASSWORD)
    follow(
        page,
        page.get_by_role("navigation", name="Hovedmenu")
        .locator("a[href='/tickets/hotline']")
        .click,
    )
    axe_check(page, "hotline-intake")
    current = page.get_by_role("navigation", name="Hovedmenu").locator("[aria-current=page]")
    assert current.count() == 1
    assert current.get_attribute("href") == "/tickets/hotline"

    subject = unique("Forælder kan ikke se sit barns skema ")
    page.locator("#requester_name").fill("Mette Sørensen")
    page.locator("#requester_phone").fill("20 30 40 50")
    page.locator("#requester_email").fill("mette.sorensen@example.dk")
    # the institution is found by its number (or name) while the caller is on the line
    page.locator("#institution_lookup").fill("561002")
    page.locator("#topic-system").select_option(label="Aula")
    page.locator("#topic").select_option(label="Kalender og begivenheder")
    page.locator("#subject").fill(subject)
    page.locator("#description").fill(
        "Moren ringer: skemaet for 2.a er tomt i appen siden mandag. Hun bruger iPhone."
    )
    follow(page, page.locator("form[action$='/tickets/hotline'] button[type=submit]").click)
    # the form comes back empty for the next call; the flash names the new ticket
    flash = page.locator(".flash-success")
    assert flash.is_visible()
    number = re.search(r"[A-Z]+-\d{4}-\d+", flash.inner_text()).group(0)
    assert page.locator("#requester_name").input_value() == ""
    axe_check(page, "hotline-intake-after-call")

    page.goto(f"/tickets/{number}")
    axe_check(page, "hotline-ticket-page")
    main = page.locator("main")
    assert subject in main.inner_text()
    assert "Mette Sørensen" in main.inner_text()
    assert "20 30 40 50" in main.inner_text()
    assert "Kvaglundskolen" in main.inner_text()

    with data() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket.source.value == "hotline"
        assert ticket.requester_name == "Mette Sørensen"
        assert ticket.institution.number == "561002"
        assert ticket.system.slug == "aula"

    # the hotline worker finds the call again in their list
    follow(
        page, page.get_by_role("navigation", name="Hovedmenu").locator("a[href='/tickets']").click
    )
    axe_check(page, "hotline-ticket-list")
    assert page.locator(f"main a[href='/tickets/{number}']").count() >= 1

"""The queue and the ticket page in Danish and English at 1366 px and 390 px: screenshots
(test-artifacts/screenshots) and axe-core on each."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from supportdesk.accounts.models import User
from supportdesk.tickets.models import Ticket
from tests.browser.helpers import DEMO_PASSWORD, axe_check, sign_in

VIEWER = "koordinator2@esbjerg.sd-demo.dk"


@pytest.mark.parametrize("locale", ["da", "en"])
def test_queue_and_ticket_page_in_both_languages_and_widths(new_page, data, locale):
    with data() as session:
        user = session.scalar(select(User).where(User.email == VIEWER))
        before, user.locale = user.locale, locale
        number = session.scalar(
            select(Ticket.number)
            .where(Ticket.municipality_id == user.municipality_id)
            .order_by(Ticket.id.desc())
        )
    try:
        for width, height in ((1366, 900), (390, 844)):
            page = new_page(viewport={"width": width, "height": height})
            sign_in(page, VIEWER, DEMO_PASSWORD)
            page.goto("/tickets")
            shortcuts = "Tastaturgenveje" if locale == "da" else "Keyboard shortcuts"
            assert shortcuts in page.locator("main").inner_text()
            axe_check(page, f"queue-{locale}-{width}")
            # "/" goes to the search field, unfolding "Filtre" on a phone
            page.keyboard.press("/")
            assert page.evaluate("document.activeElement.id") == "f-q"
            page.keyboard.press("Escape")
            page.goto(f"/tickets/{number}")
            side = page.locator("form[action$='/handling']")
            assert side.count() == 1
            save = "Gem" if locale == "da" else "Save"
            assert side.get_by_role("button", name=save).count() == 1
            axe_check(page, f"ticket-page-{locale}-{width}")
    finally:
        with data() as session:
            session.scalar(select(User).where(User.email == VIEWER)).locale = before

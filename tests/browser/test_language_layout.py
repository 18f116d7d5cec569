"""The ticket page and the queue in Danish and English, at 1366 px and on a 390 px phone.

Screenshots go to test-artifacts/screenshots/ (queue-da-1366.png, ticket-en-390.png, …);
axe-core must find no serious violation on any of them. On the phone the menu and the
queue's filters fold behind a button; on a wide screen both are open and the button hidden.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from supportdesk.accounts.models import User
from supportdesk.tickets.models import Ticket, TicketEntry
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in

# a coordinator no other browser test signs in as: their language is changed here
EMAIL = "koordinator4@esbjerg.sd-demo.dk"
WIDTHS = {1366: 900, 390: 844}
WORDS = {
    "da": {"menu": "Menu", "filters": "Filtre", "case_line": "er nu:"},
    "en": {"menu": "Menu", "filters": "Filters", "case_line": "is now:"},
}
US_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")


@pytest.fixture
def coordinator_language(data):
    """Set the coordinator's language; Danish again afterwards (the database is shared)."""

    def _set(locale: str) -> None:
        with data() as session:
            session.scalar(select(User).where(User.email == EMAIL)).locale = locale

    yield _set
    _set("da")


def _escalated_ticket(data) -> str:
    """A demo ticket of the coordinator's municipality with a vendor case's status line."""
    with data() as session:
        return session.scalar(
            select(Ticket.number)
            .join(TicketEntry, TicketEntry.ticket_id == Ticket.id)
            .join(User, User.municipality_id == Ticket.municipality_id)
            .where(User.email == EMAIL, TicketEntry.event == "case_status")
            .order_by(Ticket.id)
            .limit(1)
        )


def _check_folds(page, words: dict[str, str], width: int, name: str) -> None:
    menu_button = page.locator("nav .menu-fold > summary")
    menu_list = page.locator("nav .menu-fold .nav")
    filters_button = page.locator(".filters-fold > summary")
    filters = page.locator("form.filters")
    if width >= 1000:
        assert not menu_button.is_visible()
        assert menu_list.is_visible()
        assert not filters_button.is_visible()
        assert filters.is_visible()
        return
    assert menu_button.inner_text().strip().startswith(words["menu"])
    assert not menu_list.is_visible()
    assert filters_button.inner_text().strip().startswith(words["filters"])
    assert not filters.is_visible()
    menu_button.click()
    assert menu_list.is_visible()
    axe_check(page, f"{name}-menu-open")
    menu_button.click()
    assert not menu_list.is_visible()


def test_ticket_page_and_queue_in_both_languages_and_widths(new_page, data, coordinator_language):
    number = _escalated_ticket(data)
    assert number, "the demo seed has escalated tickets"
    page = new_page({"width": 1366, "height": 900})
    sign_in(page, EMAIL, DEMO_PASSWORD)
    for locale, words in WORDS.items():
        coordinator_language(locale)
        for width, height in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": height})
            page.goto("/tickets")
            assert page.locator("html").get_attribute("lang") == locale
            _check_folds(page, words, width, f"queue-{locale}-{width}")
            axe_check(page, f"queue-{locale}-{width}")
            follow(page, page.goto, f"/tickets/{number}")
            timeline = page.locator("#timeline").inner_text()
            assert words["case_line"] in timeline
            other = WORDS["en" if locale == "da" else "da"]["case_line"]
            assert other not in timeline
            assert not US_DATE.search(page.locator("main").inner_text())
            axe_check(page, f"ticket-{locale}-{width}")


def test_filters_open_on_the_phone_and_filter(new_page):
    page = new_page({"width": 390, "height": 844})
    sign_in(page, EMAIL, DEMO_PASSWORD)
    page.goto("/tickets")
    page.locator(".filters-fold > summary").click()
    assert page.locator("form.filters").is_visible()
    page.locator("#f-q").fill("zz-ingen-henvendelse-hedder-sådan")
    follow(page, page.locator("form.filters button[type=submit]").click)
    assert "0 henvendelser passer." in page.locator("main").inner_text()

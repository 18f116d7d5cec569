"""A superuser creates a ticket with the keyboard alone: Tab, typing and Enter, no mouse."""

from __future__ import annotations

import re

from sqlalchemy import select

from supportdesk.tickets.models import Ticket
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in, unique

MAX_TABS = 60


def focused(page) -> dict:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                id: el.id, tag: el.tagName.toLowerCase(), type: el.type || "",
                href: el.getAttribute("href") || "", text: (el.innerText || "").trim(),
                outline: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0,
                shadow: style.boxShadow !== "none",
            };
        }"""
    )


def tab_to(page, predicate, visited: list[dict]) -> dict:
    """Press Tab until the focused element matches; every stop must show its focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        current = focused(page)
        visited.append(current)
        assert current["outline"] or current["shadow"], f"no visible focus on {current}"
        if predicate(current):
            return current
    raise AssertionError(
        f"not reached with {MAX_TABS} tabs: {[v['id'] or v['tag'] for v in visited]}"
    )


def test_ticket_creation_with_the_keyboard_only(page, data):
    sign_in(page, "superbruger.561003@esbjerg.sd-demo.dk", DEMO_PASSWORD)
    visited: list[dict] = []
    # from the front page: skip link, then the menu's "new ticket" link, then Enter
    page.goto("/")
    skip = tab_to(page, lambda f: f["href"] == "#main", visited)
    assert skip["tag"] == "a"
    tab_to(page, lambda f: f["href"] == "/tickets/new", visited)
    follow(page, page.keyboard.press, "Enter")
    assert page.url.endswith("/tickets/new"), page.url
    axe_check(page, "ticket-new-keyboard")

    subject = unique("Kan ikke oprette forløb i Læringsplatformen ")
    tab_to(page, lambda f: f["id"] == "topic-system", visited)
    page.keyboard.type("Lær")  # type-ahead picks "Læringsplatform"
    tab_to(page, lambda f: f["id"] == "topic", visited)
    page.keyboard.type("Forløb")
    assert page.locator("#topic option:checked").inner_text().startswith("Forløb")
    tab_to(page, lambda f: f["id"] == "subject", visited)
    page.keyboard.type(subject)
    tab_to(page, lambda f: f["id"] == "description", visited)
    page.keyboard.type("Knappen 'Nyt forløb' gør ingenting for lærerne i 4.b.")
    page.keyboard.press("Enter")  # a new line in the description, not a submit
    page.keyboard.type("Det startede i dag kl. 8.")
    assert page.url.endswith("/tickets/new")
    tab_to(page, lambda f: f["tag"] == "button" and f["type"] == "submit", visited)
    follow(page, page.keyboard.press, "Enter")
    assert re.search(r"/tickets/[A-Z]+-\d{4}-\d+$", page.url), page.url
    axe_check(page, "ticket-page-after-keyboard")

    number = page.url.rsplit("/", 1)[1]
    with data() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket.subject == subject
        assert ticket.system.slug == "laeringsplatform"
        assert ticket.category.slug == "forloeb"
        assert ticket.description.splitlines()[-1] == "Det startede i dag kl. 8."
        assert ticket.institution.number == "561003"

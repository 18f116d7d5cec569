"""The generations each cached page reads, for a viewer in the test town."""

from __future__ import annotations

from collections.abc import Callable

from supportdesk.cache import generations
from supportdesk.escalation.views import queue_generations
from supportdesk.extensions import db
from supportdesk.faq.views import SEARCH_GENERATIONS
from supportdesk.navigation import menu_generations
from supportdesk.tickets.page_keys import detail_generations
from supportdesk.tickets.views import list_generations
from tests.cache.conftest import Town

PAGES: dict[str, Callable[[Town], tuple[str, ...]]] = {
    "ticket list": lambda t: list_generations(t.coordinator),
    "ticket page": lambda t: detail_generations(t.coordinator, t.ticket),
    "case queue (municipality)": lambda t: queue_generations(t.coordinator),
    "case queue (vendor)": lambda t: queue_generations(t.agent),
    "FAQ search": lambda _t: SEARCH_GENERATIONS,
    "menu": lambda t: menu_generations(t.coordinator),
    "vendor menu": lambda t: menu_generations(t.agent),
}


def values(town: Town, page: str) -> dict[str, int]:
    """The committed values of the page's generations (a fresh read, no memo)."""
    db.session.commit()
    return generations.read(*PAGES[page](town))


def all_values(town: Town) -> dict[str, dict[str, int]]:
    return {page: values(town, page) for page in PAGES}

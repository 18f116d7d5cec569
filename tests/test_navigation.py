"""The menu marks one current item: the longest menu address the page is at or under."""

from __future__ import annotations

import re

from supportdesk.accounts.models import Role
from supportdesk.navigation import NavItem, current_url


def test_current_item_is_the_longest_address_the_page_is_under():
    items = [NavItem("Forside", "/"), NavItem("Kø", "/tickets"), NavItem("Ny", "/tickets/new")]
    assert current_url(items, "/tickets") == "/tickets"
    assert current_url(items, "/tickets/ESB-2026-000001") == "/tickets"
    assert current_url(items, "/tickets/new") == "/tickets/new"
    assert current_url(items, "/ticketsx") == ""
    assert current_url(items, "/") == ""


def test_cached_menu_marks_the_page_it_is_on(client, login, make_user):
    login(make_user(Role.coordinator, municipality="esbjerg"))
    for path, current in [("/tickets", "/tickets"), ("/tickets/new", "/tickets/new")] * 2:
        html = client.get(path).get_data(as_text=True)
        menu = html[html.index('<ul class="nav">') :]
        menu = menu[: menu.index("</ul>")]
        assert re.findall(r'<a href="([^"]+)" aria-current="page"', menu) == [current]

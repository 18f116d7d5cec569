"""The menu says what is shown, and folds behind a button on a phone without any script."""

from __future__ import annotations

import re

from supportdesk.accounts.models import Role
from supportdesk.extensions import db


def _menu(html: str) -> str:
    return html[html.index('<nav aria-label="') : html.index("</nav>")]


def test_menu_folds_behind_a_button_that_needs_no_script(client, login, make_user):
    login(make_user(Role.coordinator, municipality="esbjerg"))
    menu = _menu(client.get("/tickets").get_data(as_text=True))
    assert re.search(
        r'<details class="fold menu-fold">\s*<summary>Menu</summary>\s*<ul class="nav">', menu
    )
    assert menu.rstrip().endswith("</ul>\n  </details>")
    assert 'href="/tickets"' in menu  # the items are inside the fold


def test_menu_folds_for_visitors_too(client):
    menu = _menu(client.get("/login").get_data(as_text=True))
    assert '<details class="fold menu-fold">' in menu


def test_queue_filters_fold_behind_filtre(client, login, make_user):
    login(make_user(Role.coordinator, municipality="esbjerg"))
    html = client.get("/tickets").get_data(as_text=True)
    assert re.search(
        r'<details class="fold filters-fold"><summary>Filtre</summary>\s*'
        r'<form method="get" action="/tickets" class="filters" role="search">',
        html,
    )
    fold = html[html.index('<details class="fold filters-fold">') :]
    assert fold.index("</form>") < fold.index("</details>")


def test_settings_page_names_the_menu_item_that_is_there(client, login, make_user):
    """It spoke of a bell; the menu shows a link called Notifikationer."""
    user = login(make_user(Role.coordinator, municipality="esbjerg"))
    html = client.get("/notifications/settings").get_data(as_text=True)
    assert "klokke" not in html
    assert "under “Notifikationer” i menuen" in html
    assert re.search(r'<a href="/notifications"[^>]*>Notifikationer', _menu(html))

    user.locale = "en"
    db.session.commit()
    html = client.get("/notifications/settings").get_data(as_text=True)
    assert "bell" not in html
    assert "under “Notifications” in the menu" in html
    assert re.search(r'<a href="/notifications"[^>]*>Notifications', _menu(html))


def test_case_queue_filters_fold_too_and_open_on_an_error(client, login, make_user):
    login(make_user(Role.coordinator, municipality="esbjerg"))
    html = client.get("/cases").get_data(as_text=True)
    assert '<details class="fold filters-fold"><summary>Filtre</summary>' in html
    wrong = client.get("/cases?status=nonsense").get_data(as_text=True)
    assert '<details class="fold filters-fold" open><summary>Filtre</summary>' in wrong

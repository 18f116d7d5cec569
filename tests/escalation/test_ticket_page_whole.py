"""A ticket page seen again comes whole from the fragment store, layout and menu
included (`navigation.cached_page`): no template is rendered, yet the bell's count, a
flashed message and the language are this request's (each session's own token:
test_ticket_page_cache), and a page never outlives the parts it was built from."""

from __future__ import annotations

import re

import pytest
from flask import template_rendered

from supportdesk.cache import fragments
from supportdesk.cache.fragments import FragmentCache
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification
from tests.escalation.conftest import client_for


def _rendered(app, client, url: str) -> tuple[str, list[str]]:
    names: list[str] = []

    def _record(_sender, template, **_extra) -> None:
        names.append(template.name)

    with template_rendered.connected_to(_record, app):
        html = client.get(url).get_data(as_text=True)
    return html, names


def test_a_page_seen_again_renders_no_template(app, world, make_ticket):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    for url in (f"/tickets/{ticket.number}", "/tickets?scope=all", "/tickets"):
        first, names = _rendered(app, coordinator, url)
        assert names  # the page and its parts, the first time
        again, names = _rendered(app, coordinator, url)
        assert names == []
        assert re.sub(r'value="[^"]+"|content="[^"]+"', "", again) == re.sub(
            r'value="[^"]+"|content="[^"]+"', "", first
        )
        # the language form sends the reader back to this very address
        assert f'name="next" value="{url}"' in again


def test_the_bell_a_flash_and_the_language_are_this_requests(app, world, make_ticket):
    url = f"/tickets/{make_ticket().number}"
    coordinator = client_for(app, world.coordinator)
    coordinator.get(url)
    assert 'class="badge"' not in coordinator.get(url).get_data(as_text=True)
    db.session.add(
        Notification(user_id=world.coordinator.id, event="ticket_reply", context={}, url=url)
    )
    db.session.commit()
    assert '<span class="badge" aria-label="1 ulæst">1</span>' in coordinator.get(url).get_data(
        as_text=True
    )
    with coordinator.session_transaction() as session:
        session["_flashes"] = [("info", "Svaret er sendt.")]
    assert "Svaret er sendt." in coordinator.get(url).get_data(as_text=True)
    assert "Svaret er sendt." not in coordinator.get(url).get_data(as_text=True)
    coordinator.set_cookie("lang", "en")
    world.coordinator.locale = "en"
    db.session.commit()
    assert '<html lang="en">' in coordinator.get(url).get_data(as_text=True)


def test_a_page_expires_with_the_oldest_part_it_was_built_from(app, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(fragments, "monotonic", lambda: clock[0])
    store = FragmentCache(ttl=60)
    built: list[str] = []

    def part() -> str:
        built.append("part")
        return "body"

    def page() -> str:
        built.append("page")
        return f"<main>{store.get_or_build('part', part)}</main>"

    store.get_or_build("part", part)  # expires at 1060
    clock[0] = 1030.0
    assert store.get_or_build("page", page, bounded=True) == "<main>body</main>"
    clock[0] = 1059.0
    assert store.get_or_build("page", page, bounded=True) == "<main>body</main>"
    assert built == ["part", "page"]
    clock[0] = 1061.0  # the part is past its time, so is the page built from it
    store.get_or_build("page", page, bounded=True)
    assert built == ["part", "page", "page", "part"]
    # an entry that is not bounded keeps its own time to live
    store.get_or_build("plain", lambda: store.get_or_build("part", part))
    clock[0] = 1122.0
    store.get_or_build("plain", lambda: "again")
    assert store.get_or_build("plain", lambda: "later") == "again"


def test_a_part_built_inside_a_page_leaves_its_holes_to_the_page(app):
    """The page fills the holes of the parts it is built from; a part whose fills the
    page does not repeat is refused, since on the page's next hit it is not asked."""
    hole = {"\x00n\x00": "7"}

    def part(fills):
        return fragments.fragment_html(("part", tuple(fills)), lambda: "n=\x00n\x00", fills)

    with app.test_request_context("/"):
        page = fragments.fragment_html(("page",), lambda: f"<p>{part(hole)}</p>", hole)
        assert page == "<p>n=7</p>"
        assert fragments.fragment_html(("page",), lambda: "never", {"\x00n\x00": "8"}) == (
            "<p>n=8</p>"
        )
        stored = app.extensions["fragment_cache"]._data
        assert all("=7" not in value and "=8" not in value for _at, value in stored.values())
        with pytest.raises(RuntimeError):
            fragments.fragment_html(("other page",), lambda: f"<p>{part({'x': '1'})}</p>")

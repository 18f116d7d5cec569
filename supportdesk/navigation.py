"""The main menu per role, and whole pages around it from the fragment store.

Each domain adds its entries in NAV_PROVIDERS."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import get_flashed_messages, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from supportdesk import policy
from supportdesk.accounts import sessions
from supportdesk.accounts.models import User
from supportdesk.cache import fragments, generations
from supportdesk.notifications.services import unread_count, unread_count_of_user

# What the layout shows on every signed-in page, read with the user in one statement
# (accounts.sessions.preload): the bell's unread count and the menu's generations, which
# `fragments.read_generations` then answers without a query of its own.
_UNREAD = "unread_count"
sessions.preload(_UNREAD, unread_count_of_user)
sessions.preload(
    "menu_reference",
    lambda: generations.value_of(generations.reference_of(User.municipality_id, User.vendor_id)),
    lambda user, value: fragments.remember_generations({menu_generations(user)[0]: value or 0}),
)
sessions.preload(
    "shared_reference",
    lambda: generations.value_of(generations.REFERENCE),
    lambda _user, value: fragments.remember_generations({generations.REFERENCE: value or 0}),
)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    badge: int = 0


def _admin_items(user: User) -> list[NavItem]:
    items = []
    if policy.can_administer(user):
        items.append(NavItem(_("Administration"), url_for("admin.index")))
    return items


def _notification_items(user: User) -> list[NavItem]:
    """The bell: one indexed COUNT per page for the unread badge."""
    if not user.is_authenticated:
        return []
    found = sessions.preloaded(user)
    count = (found[_UNREAD] or 0) if found is not None else unread_count(user)
    # its words and address from the store: the catalogue and the URL map cost more
    label, url = fragments.fragment(
        ("main_menu", "bell", str(get_locale()), request.script_root),
        lambda: (_("Notifications"), url_for("notifications.index")),
    )
    return [NavItem(label, url, count)]


# Providers return the items for the user in menu order; domains append theirs.
NAV_PROVIDERS: list[Callable[[User], list[NavItem]]] = [_admin_items]
# Shown after every domain's entries, next to the user's name (the notification bell).
NAV_TRAILING: list[Callable[[User], list[NavItem]]] = [_notification_items]


def main_menu(user: User) -> Markup:
    """The rendered menu, cached per user, current item and badge counts.

    What the menu offers follows the user's role and entitlements, so the key holds
    `menu_generations` (bumped when the user, their role or entitlements change); the
    trailing items (the bell with its unread count) are built on every request. The
    key holds the current item, not the address, so ticket pages share one entry.
    """
    if not user.is_authenticated:
        items = nav_items(user)
        html = render_template("_nav.html", items=items, here=current_url(items, request.path))
        return Markup(html)  # noqa: S704 — rendered template
    key, items, here = _menu(user)
    return fragments.fragment_html(
        key, lambda: render_template("_nav.html", items=items, here=here)
    )


def _menu(user: User) -> tuple[tuple[Hashable, ...], list[NavItem], str]:
    """The menu fragment's key, its items and the current item's address; once per
    request and language (a page's key and its layout both ask)."""
    known = request.environ.setdefault("supportdesk.menu", {})
    locale = str(get_locale())
    if (user.id, locale) not in known:
        known[(user.id, locale)] = _build_menu(user, locale)
    return known[(user.id, locale)]


def _build_menu(user: User, locale: str) -> tuple[tuple[Hashable, ...], list[NavItem], str]:
    names = menu_generations(user)
    who = ("main_menu", user.id, user.role, locale, fragments.read_generations(*names))
    offered = fragments.fragment(
        (*who, "items"),
        lambda: tuple(item for provider in NAV_PROVIDERS for item in provider(user)),
    )
    items = [*offered, *(item for provider in NAV_TRAILING for item in provider(user))]
    here = current_url(items, request.path)
    return (*who, here, tuple(items)), items, here


def cached_page(
    key: tuple[Hashable, ...],
    template: str,
    build_body: Callable[[], str],
    fills: Mapping[str, str] | None = None,
    **context: Any,
) -> str:
    """`template` (a page around a cached body) whole, layout and menu included, from
    the fragment store.

    `key` is the key of the body (`fragments.page_key`: viewer, locale, query string,
    generations), built by `build_body`, and must hold whatever else `context` gives
    the page's own blocks; this adds what the layout shows around them: the menu's key
    (items, badge, current item) and the address (the language form's `next`). Its name
    is the body's with `:page`. The page expires with the parts it was built from
    (`bounded`); `fills` are the body's per-request holes. A request with flashed
    messages to show (showing them removes them) and a visitor get the page rendered
    around the cached body, as ever.
    """

    def render() -> str:
        body = fragments.fragment_html(key, build_body, fills=fills)
        return render_template(template, body=body, **context)

    # the messages stay for the layout: Flask keeps them for the rest of the request
    user = current_user._get_current_object()
    if not user.is_authenticated or get_flashed_messages():
        return render()
    where = request.full_path if request.query_string else request.path
    return fragments.fragment_html(
        (f"{key[0]}:page", *key[1:], _menu(user)[0], request.script_root, where),
        render,
        fills=fills,
        bounded=True,
    )


def menu_generations(user: User) -> tuple[str, ...]:
    """What the menu offers follows the user's role and entitlements: the names of the
    user's municipality (or vendor), and those every tenant shares."""
    if user.municipality_id is not None:
        own = generations.municipality_reference(user.municipality_id)
    else:
        own = generations.vendor_reference(user.vendor_id)
    return (own, generations.REFERENCE)


def current_url(items: list[NavItem], path: str) -> str:
    """The one current item: the longest menu address the page is at or under."""
    found = ""
    for item in items:
        url = item.url
        under = path == url or path.startswith(url.rstrip("/") + "/")
        if url != "/" and under and len(url) > len(found):
            found = url
    return found


def nav_items(user: User) -> list[NavItem]:
    """The menu's items (the layout and the front page both show them): a signed-in
    user's as `main_menu` works them out, once per request."""
    if user.is_authenticated:
        return _menu(user)[1]
    return [item for provider in (*NAV_PROVIDERS, *NAV_TRAILING) for item in provider(user)]


__all__ = [
    "NAV_PROVIDERS",
    "NAV_TRAILING",
    "NavItem",
    "cached_page",
    "current_url",
    "main_menu",
    "nav_items",
    "policy",
]

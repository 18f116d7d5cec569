"""The main menu per role. Each domain adds its entries in NAV_PROVIDERS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
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
    return [NavItem(_("Notifications"), url_for("notifications.index"), count)]


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
    locale = str(get_locale())
    names = menu_generations(user)
    who = ("main_menu", user.id, user.role, locale, fragments.read_generations(*names))
    offered = fragments.fragment(
        (*who, "items"),
        lambda: tuple(item for provider in NAV_PROVIDERS for item in provider(user)),
    )
    items = [*offered, *(item for provider in NAV_TRAILING for item in provider(user))]
    here = current_url(items, request.path)
    return fragments.fragment_html(
        (*who, here, tuple(items)),
        lambda: render_template("_nav.html", items=items, here=here),
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
    """The menu, built once per request (the layout and the front page both show it)."""
    cache = request.environ.setdefault("supportdesk.nav_items", {}) if request else {}
    key = user.get_id()
    if key not in cache:
        items: list[NavItem] = []
        for provider in (*NAV_PROVIDERS, *NAV_TRAILING):
            items.extend(provider(user))
        cache[key] = items
    return cache[key]


__all__ = [
    "NAV_PROVIDERS",
    "NAV_TRAILING",
    "NavItem",
    "current_url",
    "main_menu",
    "nav_items",
    "policy",
]

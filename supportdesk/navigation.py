"""The main menu per role. Each domain adds its entries in NAV_PROVIDERS."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from supportdesk import cache, policy
from supportdesk.accounts.models import User


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
    from supportdesk.notifications.services import unread_count

    return [NavItem(_("Notifications"), url_for("notifications.index"), unread_count(user))]


# Providers return the items for the user in menu order; domains append theirs.
NAV_PROVIDERS: list[Callable[[User], list[NavItem]]] = [_admin_items]
# Shown after every domain's entries, next to the user's name (the notification bell).
NAV_TRAILING: list[Callable[[User], list[NavItem]]] = [_notification_items]


def main_menu(user: User) -> Markup:
    """The rendered menu, cached per user, page address and badge counts.

    What the menu offers follows the user's role and entitlements, so the key holds
    the reference generation (bumped when names, roles or entitlements change); the
    trailing items (the bell with its unread count) are built on every request.
    """
    if not user.is_authenticated:
        html = render_template("_nav.html", items=nav_items(user))
        return Markup(html)  # noqa: S704 — rendered template
    trailing = [item for provider in NAV_TRAILING for item in provider(user)]
    key = (
        "main_menu",
        user.id,
        user.role,
        str(get_locale()),
        request.path,
        tuple(trailing),
        cache.generations(cache.REFERENCE),
    )

    def build() -> str:
        items = [item for provider in NAV_PROVIDERS for item in provider(user)]
        return render_template("_nav.html", items=items + trailing)

    return cache.fragment_html(key, build)


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


__all__ = ["NAV_PROVIDERS", "NAV_TRAILING", "NavItem", "main_menu", "nav_items", "policy"]

"""The ticket list's tabs come from policy.ticket_list_scopes; a scope not offered is ignored."""

from __future__ import annotations

import re

import pytest

from supportdesk import policy
from supportdesk.accounts.models import Role


@pytest.mark.parametrize(
    ("role", "scopes"),
    [
        (Role.superuser, (None, "mine", "institution")),
        (Role.hotline, ("mine", "queue")),
        (Role.coordinator, ()),
        (Role.municipal_admin, ()),
        (Role.vendor_agent, ()),
    ],
)
def test_scopes_per_role(make_user, role, scopes):
    assert policy.ticket_list_scopes(make_user(role)) == scopes


def test_tabs_and_a_scope_that_is_not_offered(client, login, make_user, make_ticket):
    superuser = login(make_user(Role.superuser, municipality="esbjerg"))
    mine = make_ticket(creator=superuser)
    html = client.get("/tickets").get_data(as_text=True)
    nav = html[html.index('class="tabs"') :]
    nav = nav[: nav.index("</nav>")]
    tabs = re.findall(r'<a href="/tickets(?:\?scope=(\w+))?" (aria-current="page")?', nav)
    assert tabs == [("", 'aria-current="page"'), ("mine", ""), ("institution", "")]
    # "queue" is the hotline's tab: a superuser asking for it gets the default view
    html = client.get("/tickets?scope=queue").get_data(as_text=True)
    assert mine.number in html
    assert '<a href="/tickets" aria-current="page">Mine' in html

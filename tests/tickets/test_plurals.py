"""Counts take the plural form their number needs ("1 henvendelser" was the defect)."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.i18n import KEYWORDS, METHODS, ROOT
from supportdesk.notifications import services as notifications
from supportdesk.notifications.models import NotificationEvent
from supportdesk.tickets import lifecycle


def test_ticket_list_count_is_singular_for_one(client, login, make_user, make_ticket):
    coordinator = login(make_user(Role.coordinator, municipality="esbjerg"))
    first = make_ticket(municipality=coordinator.municipality)
    page = client.get("/tickets").get_data(as_text=True)
    assert "1 henvendelse passer." in page
    assert "1 henvendelser" not in page

    make_ticket(municipality=coordinator.municipality)
    assert "2 henvendelser passer." in client.get("/tickets").get_data(as_text=True)

    coordinator.locale = "en"
    db.session.commit()
    page = client.get(f"/tickets?q={first.number}").get_data(as_text=True)
    assert "1 ticket matches." in page
    assert "1 tickets" not in page


def test_bulk_change_messages_count_right(client, login, make_user, make_ticket):
    coordinator = login(make_user(Role.coordinator, municipality="esbjerg"))
    open_ticket = make_ticket(municipality=coordinator.municipality)
    done = make_ticket(municipality=coordinator.municipality)
    lifecycle.change_status(coordinator, done, "resolved")
    db.session.commit()
    response = client.post(
        "/tickets/bulk",
        data={
            "tickets": [open_ticket.number, done.number],
            "action": "status",
            "status": "waiting",
            "assignee": "",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert "1 henvendelse er ændret." in page
    assert f"1 henvendelse blev sprunget over, fordi ændringen ikke er tilladt: {done.number}" in (
        page
    )


def test_unread_badge_counts_one_in_the_singular(client, login, make_user):
    user = login(make_user(Role.coordinator))
    notifications.notify(
        [user], NotificationEvent.ticket_reply, url="/tickets", context={"number": "X-1"}
    )
    db.session.commit()
    assert 'aria-label="1 ulæst">1</span>' in client.get("/account").get_data(as_text=True)


# a number right before an English plural noun, in a message that has no plural form
COUNTED_NOUN = re.compile(r"%\((count|num)\)[sd] (\w+[- ])?\w+(s|\(s\))\b")


def test_no_message_puts_a_count_before_a_fixed_plural():
    options = {pattern: {"extensions": "jinja2.ext.do"} for pattern, _kind in METHODS[1:]}
    wrong = [
        f"{filename}:{lineno}: {message}"
        for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, options_map=options, keywords=KEYWORDS
        )
        if isinstance(message, str) and COUNTED_NOUN.search(message)
    ]
    assert wrong == []

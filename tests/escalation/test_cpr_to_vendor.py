"""Every common spelling of a CPR number is caught at intake and masked toward the vendor.

The detector knew only ddmmyy-xxxx and ddmmyyxxxx: `010203 1234`, `01.02.03-1234`,
`010203 - 1234` and `010203/1234` reached the vendor's page, API, webhook and e-mail.
"""

from __future__ import annotations

import re

import pytest

from supportdesk import outbox, sensitive
from supportdesk.accounts import services as account_services
from supportdesk.escalation import cases, services
from supportdesk.extensions import db
from supportdesk.tickets import services as ticket_services
from tests.escalation.conftest import client_for
from tests.notifications import conftest as mail_fixtures
from tests.webhooks import conftest as webhook_fixtures

# fixtures of the notification and webhook tests, registered for this module
smtp_server = mail_fixtures.smtp_server
receiver = webhook_fixtures.receiver
make_webhook = webhook_fixtures.make_webhook

# 15 August 2015, serial 5123 (the 7th digit 5 puts 15 in the 2000s)
SPELLINGS = [
    "1508155123",
    "150815-5123",
    "150815\u20135123",  # en dash
    "150815 5123",
    "150815.5123",
    "150815/5123",
    "150815 - 5123",
    "15.08.15-5123",
]
# a piece of the number: the serial or the date, not inside a longer run of digits
PIECES = {
    "5123": re.compile(r"(?<!\d)5123(?!\d)"),
    "150815": re.compile(r"(?<!\d)150815"),
    "15.08.15": re.compile(r"(?<![\d.])15\.08\.15"),
}
# times carry microseconds, random digits that may hold a piece by chance
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[+-]\d{2}:?\d{2}|Z)?")


def _leaks(text: str) -> list[str]:
    text = TIMESTAMP.sub("", text)
    return [name for name, piece in PIECES.items() if piece.search(text)]


def test_leaks_ignores_times_but_not_the_number():
    assert _leaks('{"created_at":"2026-12-05T16:50:35.151230+00:00"}') == []
    assert _leaks('{"created_at":"2026-12-05 16:50:35.150815"}') == []
    assert _leaks("barnet XXXXXX-5123") == ["5123"]
    assert _leaks("1508155123") == ["150815"]
    assert _leaks("cpr 15.08.15-XXXX") == ["15.08.15"]


@pytest.mark.parametrize("cpr", SPELLINGS)
def test_every_spelling_is_one_cpr_finding(cpr):
    text = f"Elevens cpr er {cpr}, hun kan ikke logge ind"
    assert [f.kind for f in sensitive.find_sensitive(text)] == [sensitive.Kind.cpr]
    assert sensitive.mask(text) == "Elevens cpr er XXXXXX-XXXX, hun kan ikke logge ind"
    assert sensitive.remove_cpr(text) == "Elevens cpr er , hun kan ikke logge ind"


@pytest.mark.parametrize("cpr", SPELLINGS)
def test_cpr_spellings_never_reach_the_vendor(app, world, make_ticket, request, cpr):
    hook_receiver = request.getfixturevalue("receiver")
    mail = request.getfixturevalue("smtp_server").start()
    request.getfixturevalue("make_webhook")(hook_receiver.url("/vendor"), vendor=world.vendor)
    ticket = make_ticket(subject=f"Login for {cpr}", description=f"Barnets cpr: {cpr}")
    entry_id = ticket_services.add_entry(world.coordinator, ticket, f"Vi har tjekket {cpr}.").id
    db.session.commit()
    case = services.escalate(
        world.coordinator,
        ticket,
        services.EscalationRequest(
            f"Eleven {cpr} kan ikke logge ind",
            share_entry_ids=[entry_id],
            share_description=True,
        ),
    )
    db.session.commit()
    cases.post_message(world.coordinator, case, f"Husk eleven med cpr {cpr}")
    db.session.commit()
    number = case.number

    page = client_for(app, world.agent).get(f"/cases/{number}")
    assert page.status_code == 200
    assert "XXXXXX-XXXX" in page.get_data(as_text=True)
    assert _leaks(page.get_data(as_text=True)) == []

    _token, plain = account_services.create_token(world.agent, "itsm")
    db.session.commit()
    api = app.test_client().get(
        f"/api/v1/cases/{number}", headers={"Authorization": f"Bearer {plain}"}
    )
    assert api.status_code == 200
    assert _leaks(api.get_data(as_text=True)) == []

    while outbox.run_once() != (0, 0):
        pass
    bodies = [r.body.decode() for r in hook_receiver.to("/vendor")]
    assert bodies, "the vendor's webhook was called"
    assert all(_leaks(body) == [] for body in bodies)
    to_agent = [
        m
        for m, rcpt in zip(mail.messages, mail.collector.recipients, strict=True)
        if world.agent.email in rcpt
    ]
    assert to_agent, "the vendor's agent got e-mail"
    for mail in to_agent:
        text = mail.get_body(("plain",)).get_content() + mail.get_body(("html",)).get_content()
        assert _leaks(text + str(mail["Subject"])) == []

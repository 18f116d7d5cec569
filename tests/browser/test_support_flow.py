"""The whole support model in a real browser, as the people who do it.

A superuser files a ticket with an attachment (FAQ suggestions appear while typing); a
coordinator without vendor entitlement triages it to a support-entitled colleague, who
escalates it with a CPR number that the vendor sees masked; the vendor's agent answers
and resolves the case; the coordinator relays the answer; the superuser gets the
notification and reads the answer, never the internal note.
"""

from __future__ import annotations

import re
import struct
import zlib

from sqlalchemy import select

from supportdesk.accounts.models import User
from supportdesk.escalation.models import VendorCase
from supportdesk.tickets.models import Ticket
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in, unique

SUPERUSER = "superbruger.561001@esbjerg.sd-demo.dk"
TRIAGE = "koordinator6@esbjerg.sd-demo.dk"  # not support-entitled (demo: 5 of 6 are)
COORDINATOR = "koordinator1@esbjerg.sd-demo.dk"
VENDOR_AGENT = "agent@netcompany.sd-demo.dk"
CPR = "010203-1234"
INTERNAL_NOTE = "Ringede til skolen: sker kun på iPads med gammel iOS."


def png_bytes(width: int = 24, height: int = 16) -> bytes:
    """A real (small, red) PNG: attachments are checked by content, not by name."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def menu(page, href: str):
    return page.get_by_role("navigation", name="Hovedmenu").locator(f"a[href='{href}']")


def test_superuser_coordinator_vendor_and_back(new_page, data):
    with data() as session:
        entitled_id = session.scalar(select(User.id).where(User.email == COORDINATOR))

    # 1. the superuser describes the problem; the FAQ suggests articles while they type
    superuser = new_page()
    sign_in(superuser, SUPERUSER, DEMO_PASSWORD)
    follow(superuser, menu(superuser, "/tickets/new").click)
    axe_check(superuser, "ticket-new")
    subject = unique("Forældre kan ikke logge ind i Aula med MitID ")
    superuser.locator("#topic-system").select_option(label="Aula")
    superuser.locator("#topic").select_option(label="Log ind, UNI-Login og MitID")
    superuser.locator("#subject").press_sequentially(subject, delay=5)
    superuser.locator("#description").press_sequentially(
        f"Flere forældre i 3.b får en fejl efter MitID. Det gælder bl.a. eleven med CPR {CPR}.",
        delay=2,
    )
    suggestions = superuser.locator("#faq-suggest-list li a")
    suggestions.first.wait_for(state="visible")
    assert suggestions.count() >= 1
    axe_check(superuser, "ticket-new-with-faq-suggestions")
    superuser.locator("#attachments").set_input_files(
        files=[{"name": "skaermbillede.png", "mimeType": "image/png", "buffer": png_bytes()}]
    )
    # the CPR number is noticed while it is written; this superuser keeps it (masked later)
    warning = superuser.locator("[data-cpr-warning]")
    warning.wait_for(state="visible")
    assert "ligner et CPR-nummer" in warning.inner_text()
    axe_check(superuser, "ticket-new-with-cpr-warning")
    follow(superuser, warning.get_by_role("button", name="Behold det og send").click)
    assert re.search(r"/tickets/[A-Z]+-\d{4}-\d+$", superuser.url), superuser.url
    number = superuser.url.rsplit("/", 1)[1]
    axe_check(superuser, "ticket-page-superuser")
    assert superuser.locator("main a", has_text="skaermbillede.png").count() >= 1

    # 2. triage by a coordinator without the vendor's entitlement: note, priority, assign
    triage = new_page()
    sign_in(triage, TRIAGE, DEMO_PASSWORD)
    follow(triage, menu(triage, "/tickets").click)
    axe_check(triage, "ticket-queue-coordinator")
    follow(triage, triage.locator(f"main a[href='/tickets/{number}']").first.click)
    axe_check(triage, "ticket-page-coordinator")
    assert triage.locator("a[href$='/escalate']").count() == 0  # only entitled escalate
    entry = triage.locator("form[action$='/entries']")
    entry.locator("textarea").fill(INTERNAL_NOTE)
    entry.locator("input[type=checkbox][name=internal]").check()
    follow(triage, entry.get_by_role("button", name="Send", exact=True).click)
    assert INTERNAL_NOTE in triage.locator("main").inner_text()
    # one side form for status, assignee and priority, one button
    handling = triage.locator("form[action$='/handling']")
    handling.locator("select[name=priority]").select_option("high")
    handling.locator("select[name=assignee]").select_option(str(entitled_id))
    follow(triage, handling.locator("button[type=submit]").click)

    # 3. the entitled coordinator escalates; the CPR number is not confirmed for sharing
    coordinator = new_page()
    sign_in(coordinator, COORDINATOR, DEMO_PASSWORD)
    coordinator.goto(f"/tickets/{number}")
    follow(coordinator, coordinator.locator("a[href$='/escalate']").click)
    axe_check(coordinator, "escalate-form")
    assert coordinator.locator(".warning-box").count() >= 1  # CPR/phone detected
    form = coordinator.locator("main form[method=post]")
    form.locator("textarea[name=summary]").fill(
        f"Forældre kan ikke logge ind med MitID efter opdateringen. Eksempel: CPR {CPR}."
    )
    form.locator("input[name=share_description]").check()
    form.locator("input[name=share_attachments]").first.check()
    assert not form.locator("input[name=confirm_sensitive]").is_checked()
    follow(coordinator, form.locator("button[type=submit]").click)
    assert coordinator.url.endswith(f"/tickets/{number}"), coordinator.url
    with data() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket.status.value == "escalated"
        case_number = session.scalar(
            select(VendorCase.number).where(VendorCase.id == ticket.vendor_case_id)
        )

    # 4. the vendor's agent sees the case with the CPR number masked, answers, resolves
    vendor = new_page()
    sign_in(vendor, VENDOR_AGENT, DEMO_PASSWORD)
    follow(vendor, menu(vendor, "/cases").click)
    axe_check(vendor, "case-queue-vendor")
    follow(vendor, vendor.locator(f"main a[href='/cases/{case_number}']").first.click)
    axe_check(vendor, "case-page-vendor")
    case_text = vendor.locator("main").inner_text()
    assert CPR not in case_text
    assert "1234" not in case_text
    assert "010203" not in case_text
    assert INTERNAL_NOTE not in case_text
    assert vendor.locator("main").get_by_text("skaermbillede.png").count() >= 1
    # vendor staff never reach the municipal ticket
    assert vendor.goto(f"/tickets/{number}").status == 404
    vendor.goto(f"/cases/{case_number}")
    answer = unique("Fejlen skyldes et udløbet certifikat hos MitID-broker; rettet kl. 14. ")
    message = vendor.locator("form[action$='/messages']")
    message.locator("textarea").fill(answer)
    follow(vendor, message.locator("button[type=submit]").click)
    status = vendor.locator("form[action$='/status']")
    status.locator("select").select_option("resolved")
    follow(vendor, status.locator("button[type=submit]").click)
    with data() as session:
        case = session.scalar(select(VendorCase).where(VendorCase.number == case_number))
        assert case.status.value == "resolved"

    # 5. the coordinator relays the answer (edited) to the superuser
    coordinator.goto(f"/tickets/{number}")
    coordinator.wait_for_load_state("load")
    assert answer in coordinator.locator("main").inner_text()
    follow(coordinator, coordinator.locator(f"a[href*='/cases/{case_number}?relay=']").first.click)
    axe_check(coordinator, "case-page-coordinator-relay")
    relay = coordinator.locator("form[action$='/relay']")
    body = relay.locator("textarea")
    assert answer in body.input_value()
    relayed = body.input_value() + "\n\nVenlig hilsen Esbjerg Kommune, supporten"
    body.fill(relayed)
    follow(coordinator, relay.get_by_role("button", name="Send til anmelderne").click)

    # 6. the superuser gets the notification and reads the answer, not the internal note
    superuser.goto("/")
    bell = menu(superuser, "/notifications")
    assert bell.locator(".badge").count() == 1, bell.inner_html()
    follow(superuser, bell.click)
    axe_check(superuser, "notifications-superuser")
    follow(
        superuser, superuser.locator("main .notification-unread button[type=submit]").first.click
    )
    assert f"/tickets/{number}" in superuser.url, superuser.url
    axe_check(superuser, "ticket-page-superuser-answered")
    page_text = superuser.locator("main").inner_text()
    assert "Venlig hilsen Esbjerg Kommune, supporten" in page_text
    assert answer.strip() in page_text
    assert INTERNAL_NOTE not in page_text

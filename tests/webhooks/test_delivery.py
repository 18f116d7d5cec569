"""Case events reach the right webhooks through the outbox worker, signed, against a real
HTTP receiver; what a receiver gets is what its side may see in the API."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from supportdesk import outbox
from supportdesk.escalation import cases
from supportdesk.extensions import db, utcnow
from supportdesk.outbox import OutboxMessage
from supportdesk.tickets import services as ticket_services
from supportdesk.webhooks.delivery import signature
from supportdesk.webhooks.models import WebhookEvent
from supportdesk.webhooks.services import WEBHOOK_KIND

KIND = WEBHOOK_KIND


def _webhook_messages() -> list[OutboxMessage]:
    return list(
        db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == KIND).order_by(OutboxMessage.id)
        )
    )


def _make_due() -> None:
    db.session.execute(update(OutboxMessage).values(available_at=utcnow()))
    db.session.commit()


def test_escalation_sends_one_signed_case_created_to_the_vendor_and_none_elsewhere(
    world, escalated, receiver, make_webhook
):
    own = make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    make_webhook(receiver.url("/other-vendor"), vendor=world.other_vendor)
    make_webhook(receiver.url("/municipality"), municipality=world.coordinator.municipality)

    case = escalated()
    [queued] = _webhook_messages()
    outbox.run_once()

    assert receiver.to("/other-vendor") == []
    assert receiver.to("/municipality") == []
    [got] = receiver.to("/vendor")
    body = got.json
    assert body["event"] == "case.created"
    assert set(body) == {"event", "delivery", "occurred_at", "data"}
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Supportdesk-Event"] == "case.created"
    assert got.headers["X-Supportdesk-Delivery"] == body["delivery"]
    expected = hmac.new(own.secret.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Supportdesk-Signature"] == f"sha256={expected}"
    assert signature("not the secret", got.body) != got.headers["X-Supportdesk-Signature"]
    data = body["data"]
    assert data["by"] == "municipality"
    assert data["case"]["number"] == case.number
    assert data["case"]["vendor"] == world.vendor.slug
    assert data["case"]["url"] == f"http://testserver/cases/{case.number}"
    # The vendor sees the case, not the municipality's tickets.
    assert data["case"]["tickets"] == []
    db.session.refresh(queued)
    db.session.refresh(own)
    assert queued.sent_at is not None
    assert own.last_delivery_status == 200
    assert own.last_delivery_error is None
    assert own.last_success_at is not None


def test_vendor_payload_has_no_internal_note_and_no_requester_contact(
    world, escalated, receiver, make_webhook
):
    make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    ticket = ticket_services.create_ticket(
        world.hotline,
        ticket_services.NewTicket(
            system=world.system,
            category=world.system.categories[0],
            subject="Forælder kan ikke se beskeder",
            description="Barnets CPR er 010203-1234, mor ringer fra telefonen.",
            institution=world.school,
            requester_name="Mette Mor",
            requester_phone="+45 23 45 67 89",
            requester_email="mette.mor@example.dk",
        ),
    )
    reply = ticket_services.add_entry(world.coordinator, ticket, "Vi har bedt om skærmbillede.")
    ticket_services.add_entry(
        world.coordinator, ticket, "HEMMELIG intern note om familien", internal=True
    )
    db.session.commit()

    escalated(ticket, share_description=True, share_entry_ids=[reply.id])
    outbox.run_once()

    [got] = receiver.to("/vendor")
    text = got.body.decode()
    assert "Vi har bedt om skærmbillede." in text  # shared items do reach the vendor
    assert "HEMMELIG" not in text
    assert "Mette Mor" not in text
    assert "23 45 67 89" not in text
    assert "mette.mor@example.dk" not in text
    assert "010203-1234" not in text  # CPR masked in the shared description
    shared = got.json["data"]["case"]["shared"]
    assert {item["kind"] for item in shared} == {"description", "entry"}
    assert all("ticket" not in item for item in shared)  # municipal ticket numbers stay home


def test_messages_reach_the_other_side_and_status_changes_both(
    world, escalated, receiver, make_webhook
):
    make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    municipal = make_webhook(
        receiver.url("/municipality"), municipality=world.coordinator.municipality
    )
    make_webhook(receiver.url("/aalborg"), municipality=world.other_coordinator.municipality)
    case = escalated()
    ticket_number = case.tickets[0].number

    cases.post_message(world.agent, case, "Vi undersøger sagen nu.")
    db.session.commit()
    cases.post_message(world.coordinator, case, "Tak, det haster for skolerne.")
    db.session.commit()
    cases.change_case_status(world.agent, case, "resolved")
    db.session.commit()
    outbox.run_once()

    assert receiver.to("/aalborg") == []
    vendor_events = [r.json["event"] for r in receiver.to("/vendor")]
    municipal_events = [r.json["event"] for r in receiver.to("/municipality")]
    # The vendor's answer moved the case from new to in progress.
    assert vendor_events == [
        "case.created",
        "case.status_changed",
        "case.message",
        "case.status_changed",
    ]
    assert municipal_events == ["case.vendor_message", "case.status_changed", "case.status_changed"]
    answer, started, resolved = (r.json["data"] for r in receiver.to("/municipality"))
    assert answer["message"]["body"] == "Vi undersøger sagen nu."
    assert answer["message"]["from_vendor"] is True
    assert answer["by"] == "vendor"
    # The municipality sees its own tickets in the case, as its coordinators do in the API.
    assert answer["case"]["tickets"] == [ticket_number]
    assert (started["from"], started["to"]) == ("new", "in_progress")
    assert (resolved["from"], resolved["to"]) == ("in_progress", "resolved")
    message = receiver.to("/vendor")[2].json["data"]["message"]
    assert message["body"] == "Tak, det haster for skolerne."
    assert message["from_vendor"] is False
    db.session.refresh(municipal)
    assert municipal.last_delivery_status == 200


def test_a_second_ticket_in_an_open_case_is_ticket_added(
    world, escalated, make_ticket, receiver, make_webhook
):
    make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    case = escalated()
    escalated(make_ticket(subject="Også problemer i Børnehuset"), case_number=case.number)
    outbox.run_once()

    first, second = receiver.to("/vendor")
    assert first.json["event"] == "case.created"
    assert second.json["event"] == "case.ticket_added"
    assert len(second.json["data"]["case"]["ticket_summaries"]) == 2
    assert second.json["data"]["message"]["from_vendor"] is False


def test_only_subscribed_events_are_sent(world, escalated, receiver, make_webhook):
    make_webhook(
        receiver.url("/vendor"),
        vendor=world.vendor,
        events=[WebhookEvent.case_status_changed],
    )
    case = escalated()
    assert _webhook_messages() == []
    cases.change_case_status(world.agent, case, "in_progress")
    db.session.commit()
    outbox.run_once()
    assert [r.json["event"] for r in receiver.to("/vendor")] == ["case.status_changed"]


def test_a_500_is_retried_with_backoff_and_delivered_once_when_the_receiver_recovers(
    world, escalated, receiver, make_webhook
):
    webhook = make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    receiver.statuses = [500]
    before = utcnow()
    escalated()

    outbox.run_once()
    [message] = _webhook_messages()
    assert message.sent_at is None
    assert message.attempts == 1
    assert "HTTP 500" in message.last_error
    assert message.available_at >= before + timedelta(seconds=29)
    db.session.refresh(webhook)
    assert webhook.last_delivery_status == 500
    assert webhook.last_delivery_error == "HTTP 500"
    assert webhook.last_success_at is None

    outbox.run_once()  # not due yet: the receiver hears nothing
    assert len(receiver.to("/vendor")) == 1

    _make_due()
    outbox.run_once()
    first, second = receiver.to("/vendor")
    # The same delivery, byte for byte: the receiver can deduplicate on the id.
    assert second.body == first.body
    assert second.headers["X-Supportdesk-Delivery"] == first.headers["X-Supportdesk-Delivery"]
    db.session.refresh(message)
    db.session.refresh(webhook)
    assert message.sent_at is not None
    assert webhook.last_delivery_status == 200

    _make_due()
    outbox.run_once()
    assert len(receiver.to("/vendor")) == 2


def test_an_unreachable_receiver_is_retried(world, escalated, make_webhook):
    from tests.conftest import free_port

    webhook = make_webhook(f"http://127.0.0.1:{free_port()}/nobody", vendor=world.vendor)
    escalated()
    outbox.run_once()
    [message] = _webhook_messages()
    assert message.sent_at is None
    assert message.attempts == 1
    db.session.refresh(webhook)
    assert webhook.last_delivery_status is None
    assert webhook.last_delivery_error


def test_inactive_webhooks_get_nothing(world, escalated, receiver, make_webhook):
    make_webhook(receiver.url("/off"), vendor=world.vendor, active=False)
    later_off = make_webhook(receiver.url("/later-off"), vendor=world.vendor)
    escalated()
    assert len(_webhook_messages()) == 1  # nothing queued for the inactive one

    later_off.active = False  # deactivated after the event, before the worker ran
    db.session.commit()
    outbox.run_once()

    assert receiver.requests == []
    [message] = _webhook_messages()
    assert message.sent_at is not None  # handled: nothing to send, not retried


def test_a_deleted_webhook_drops_its_queued_deliveries(world, escalated, receiver, make_webhook):
    webhook = make_webhook(receiver.url("/gone"), vendor=world.vendor)
    escalated()
    db.session.delete(webhook)
    db.session.commit()
    outbox.run_once()
    assert receiver.requests == []


def test_redirects_are_not_followed(world, escalated, receiver, make_webhook):
    receiver.statuses = [302]
    make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    escalated()
    outbox.run_once()
    [message] = _webhook_messages()
    assert message.sent_at is None
    assert "HTTP 302" in message.last_error
    assert len(receiver.requests) == 1


def test_the_stored_body_is_what_is_signed(world, escalated, receiver, make_webhook):
    webhook = make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    escalated()
    [message] = _webhook_messages()
    outbox.run_once()
    [got] = receiver.to("/vendor")
    assert got.body == message.payload["body"].encode()
    assert json.loads(got.body)["delivery"] == message.payload["delivery"]
    assert got.headers["X-Supportdesk-Signature"] == signature(webhook.secret, got.body)


def _in_production(app):
    import dataclasses

    return dataclasses.replace(app.config["SUPPORTDESK"], env="production")


def test_production_allows_only_public_https(app):
    from supportdesk.webhooks.services import url_problem

    original = app.config["SUPPORTDESK"]
    assert url_problem("http://127.0.0.1:8000/hook") is None  # testing: a local receiver
    app.config["SUPPORTDESK"] = _in_production(app)
    try:
        assert url_problem("https://itsm.vendor.dk/hooks?x=1") is None
        for url in [
            "http://127.0.0.1:8000/hook",
            "http://localhost/hook",
            "http://itsm.vendor.dk/hook",
            "https://localhost/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://127.1/hook",
            "https://2130706433/hook",
            "https://0x7f000001/hook",
            "https://0/hook",
            "https://intranet/hook",
            "https://user:pw@itsm.vendor.dk/hook",
            "https://itsm.vendor.dk:99999/hook",
            "itsm.vendor.dk/hook",
        ]:
            assert url_problem(url) is not None, url
    finally:
        app.config["SUPPORTDESK"] = original


def test_a_url_no_longer_allowed_is_not_called(app, world, escalated, receiver, make_webhook):
    webhook = make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    escalated()
    original = app.config["SUPPORTDESK"]
    app.config["SUPPORTDESK"] = _in_production(app)
    try:
        outbox.run_once()
    finally:
        app.config["SUPPORTDESK"] = original
    assert receiver.requests == []
    db.session.refresh(webhook)
    assert webhook.last_delivery_status is None
    assert "https://" in webhook.last_delivery_error


def test_names_that_resolve_to_internal_addresses_are_not_called(app):
    """Checked after DNS at every delivery, and the connection goes to the checked address."""
    from supportdesk.webhooks.delivery import UnsafeAddress, checked_address, post

    assert checked_address("localhost", 443) in ("127.0.0.1", "::1")  # testing: loopback ok
    original = app.config["SUPPORTDESK"]
    app.config["SUPPORTDESK"] = _in_production(app)
    try:
        with pytest.raises(UnsafeAddress):
            checked_address("localhost", 443)
        with pytest.raises(OSError, match="internal address"):
            post("https://localhost:1/hook", b"{}", {})
    finally:
        app.config["SUPPORTDESK"] = original


# PostgreSQL takes row locks only, and the handler writes nothing before the POST
@pytest.mark.sqlite_only
def test_no_database_lock_is_held_while_the_receiver_answers(
    app, world, escalated, receiver, make_webhook, monkeypatch
):
    """On SQLite the worker's transaction ends before the POST: others can write meanwhile."""
    import sqlite3

    path = db.engine.url.database
    seen: list[str] = []

    def try_to_write(_request) -> None:
        other = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
            seen.append("written")
        except sqlite3.OperationalError as error:
            seen.append(str(error))
        finally:
            other.close()

    receiver.on_request = try_to_write
    make_webhook(receiver.url("/vendor"), vendor=world.vendor)
    escalated()
    db.session.commit()
    # as in the real worker: its transactions begin IMMEDIATE (the write lock)
    monkeypatch.setitem(app.config, "SQLITE_DEFERRED_OUTSIDE_REQUESTS", False)
    outbox.run_once()
    assert seen == ["written"]

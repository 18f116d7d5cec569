"""Webhook subscriptions and the case events they receive.

Events are enqueued in the caller's transaction (one outbox message per webhook and
event), so a delivery exists exactly when the change does. The body is built then,
with the receiver's eyes: a vendor's tool gets the case as the vendor's agents see it
in the API, a municipality's tool as its coordinators do (policy.webhook_reader); both
are the escalation domain's case document (supportdesk/escalation/documents.py). The
body is stored as the exact bytes to send, so every retry carries the same delivery id
and signature. Services change and flush; the caller commits.
"""

from __future__ import annotations

import ipaddress
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from supportdesk import outbox, policy
from supportdesk.accounts.models import Municipality, User, Vendor
from supportdesk.errors import Forbidden, NotFound, ValidationFailed
from supportdesk.escalation.documents import case_document, message_document
from supportdesk.escalation.models import CaseMessage, VendorCase
from supportdesk.extensions import db, utcnow
from supportdesk.webhooks.models import (
    MUNICIPALITY_EVENTS,
    VENDOR_EVENTS,
    Webhook,
    WebhookEvent,
)

WEBHOOK_KIND = "webhook.deliver"
NAME_MAX = 120
URL_MAX = 500
SECRET_BYTES = 32  # token_urlsafe(32): 43 characters, 256 bits
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
# Plain http to the own machine is for trying a receiver out, never in production.
LOCAL_HTTP_ENVS = frozenset({"development", "testing"})

EVENT_LABELS = {
    WebhookEvent.case_created: _l("A coordinator escalated: a new case"),
    WebhookEvent.case_ticket_added: _l("Another ticket was added to an open case"),
    WebhookEvent.case_message: _l("The municipality wrote in the case"),
    WebhookEvent.case_vendor_message: _l("The vendor answered in the case"),
    WebhookEvent.case_status_changed: _l("The case changed status"),
}


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def events_for(*, vendor_owned: bool) -> tuple[WebhookEvent, ...]:
    return VENDOR_EVENTS if vendor_owned else MUNICIPALITY_EVENTS


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def _internal_host(host: str) -> bool:
    """Loopback, private, link-local (cloud metadata) or reserved addresses, and hosts
    that are neither a DNS name nor a canonical IP address ("127.1", "2130706433",
    "0x7f000001" all reach 127.0.0.1). Names are checked again after DNS resolution,
    at every delivery (`delivery.checked_address`)."""
    if host in LOCAL_HOSTS or host.endswith(".localhost"):
        return True
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        pass
    # not a public DNS name: numeric shorthands, single labels
    labels = host.split(".")
    return len(labels) < 2 or labels[-1].isdigit() or not all(map(_HOST_LABEL.match, labels))


def url_problem(url: str) -> Any | None:
    """Why a receiver URL is refused (a lazy message), or None when it may be used.

    SSRF basics: https only, no credentials in the URL, no literal internal address;
    http://127.0.0.1 and http://localhost are allowed in development and testing only.
    """
    env = current_app.config["SUPPORTDESK"].env
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — raises ValueError on a bad port
    except ValueError:
        return _l("Enter a valid web address.")
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return _l("Enter a full address that starts with https://.")
    if parts.username is not None or parts.password is not None:
        return _l("The address may not contain a user name or password.")
    if parts.scheme == "http":
        if host in LOCAL_HOSTS and env in LOCAL_HTTP_ENVS:
            return None
        return _l("The address must start with https://.")
    if env not in LOCAL_HTTP_ENVS and _internal_host(host):
        return _l("The address may not point to an internal server.")
    return None


# --- managing webhooks -----------------------------------------------------------------


def list_webhooks(
    actor: User, *, vendor: Vendor | None = None, municipality: Municipality | None = None
) -> list[Webhook]:
    """The owner's webhooks, or with no owner (system admin) every webhook."""
    query = policy.webhooks_visible_to(actor)
    if vendor is not None:
        query = query.where(Webhook.vendor_id == vendor.id)
    elif municipality is not None:
        query = query.where(Webhook.municipality_id == municipality.id)
    return list(db.session.scalars(query))


def _require_manage(actor: User, webhook: Webhook) -> None:
    if not policy.can_manage_webhooks(
        actor, vendor_id=webhook.vendor_id, municipality_id=webhook.municipality_id
    ):
        raise NotFound()


def save_webhook(
    actor: User,
    webhook: Webhook | None,
    *,
    name: str,
    url: str,
    events: Iterable[str],
    vendor: Vendor | None = None,
    municipality: Municipality | None = None,
) -> Webhook:
    """Create (for exactly one owner, with a new secret) or change name, URL and events."""
    if webhook is None:
        if (vendor is None) == (municipality is None):
            raise ValidationFailed(_l("Choose a vendor or a municipality."))
        if not policy.can_manage_webhooks(
            actor,
            vendor_id=vendor.id if vendor else None,
            municipality_id=municipality.id if municipality else None,
        ):
            raise Forbidden()
        allowed = events_for(vendor_owned=vendor is not None)
    else:
        _require_manage(actor, webhook)
        allowed = webhook.allowed_events
    name, url, chosen = _checked_fields(name, url, events, allowed)
    if webhook is None:
        webhook = Webhook(
            vendor=vendor,
            municipality=municipality,
            secret=new_secret(),
            active=True,
            created_at=utcnow(),
            created_by=actor,
        )
        db.session.add(webhook)
    webhook.name = name
    webhook.url = url
    # Stored in the fixed order of the vocabulary, whatever order the form sent.
    webhook.events = [e.value for e in allowed if e.value in chosen]
    db.session.flush()
    return webhook


def _checked_fields(
    name: str, url: str, events: Iterable[str], allowed: Sequence[WebhookEvent]
) -> tuple[str, str, list[str]]:
    """Name, receiver URL and events, or every field error at once."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    url = (url or "").strip()
    if not name:
        errors["name"] = str(_l("Write a name."))
    elif len(name) > NAME_MAX:
        errors["name"] = str(_l("At most 120 characters."))
    if not url:
        errors["url"] = str(_l("Enter the receiver's address."))
    elif len(url) > URL_MAX:
        errors["url"] = str(_l("At most 500 characters."))
    else:
        problem = url_problem(url)
        if problem is not None:
            errors["url"] = str(problem)
    chosen = list(dict.fromkeys(str(e) for e in events))
    if not chosen:
        errors["events"] = str(_l("Choose at least one event."))
    elif any(e not in {a.value for a in allowed} for e in chosen):
        errors["events"] = str(_l("Choose among the listed events."))
    if errors:
        raise ValidationFailed(fields=errors)
    return name, url, chosen


def set_active(actor: User, webhook: Webhook, active: bool) -> Webhook:
    """A deactivated webhook gets nothing, not even deliveries already queued."""
    _require_manage(actor, webhook)
    webhook.active = active
    db.session.flush()
    return webhook


def rotate_secret(actor: User, webhook: Webhook) -> Webhook:
    """A new secret signs every delivery from now on, retries of queued ones included."""
    _require_manage(actor, webhook)
    webhook.secret = new_secret()
    webhook.secret_rotated_at = utcnow()
    db.session.flush()
    return webhook


def delete_webhook(actor: User, webhook: Webhook) -> None:
    """Queued deliveries for it are dropped by the worker (the webhook is gone)."""
    _require_manage(actor, webhook)
    db.session.delete(webhook)
    db.session.flush()


# --- events ----------------------------------------------------------------------------


def case_url(case: VendorCase) -> str:
    return current_app.config["SUPPORTDESK"].base_url.rstrip("/") + f"/cases/{case.number}"


def actor_side(actor: User | None, case: VendorCase) -> str:
    """Who caused the event, so a receiver can ignore the echo of its own change."""
    if actor is None:
        return "system"
    return "vendor" if policy.is_case_vendor_side(actor, case) else "municipality"


@dataclass(frozen=True)
class CaseEvent:
    """One event about a case: `data` holds details every receiver may see (status from/to);
    the case and the message are rendered per side as the escalation domain's documents."""

    event: WebhookEvent
    message: CaseMessage | None = None
    data: dict[str, Any] = field(default_factory=dict)


def _hears(webhook: Webhook, event: WebhookEvent) -> bool:
    side = VENDOR_EVENTS if webhook.vendor_id is not None else MUNICIPALITY_EVENTS
    return event in side and webhook.subscribes(event)


def _listening(case: VendorCase, events: Sequence[CaseEvent]) -> list[Webhook]:
    """One query for the active webhooks of the case's vendor and municipality that may
    hear any of the events (a vendor answer can also move the status)."""
    owners = []
    if any(e.event in VENDOR_EVENTS for e in events):
        owners.append(Webhook.vendor_id == case.vendor_id)
    if any(e.event in MUNICIPALITY_EVENTS for e in events):
        owners.append(Webhook.municipality_id == case.municipality_id)
    if not owners:
        return []
    return list(
        db.session.scalars(
            select(Webhook).where(Webhook.active.is_(True), or_(*owners)).order_by(Webhook.id)
        )
    )


def case_events(
    case: VendorCase,
    actor: User | None,
    events: Sequence[CaseEvent],
    *,
    now: datetime | None = None,
) -> int:
    """Enqueue one delivery per active webhook subscribed to each event; returns how many."""
    hooks = _listening(case, events)
    if not hooks:
        return 0
    occurred_at = (now or utcnow()).isoformat()
    documents: dict[bool, dict[str, Any]] = {}
    by = actor_side(actor, case)
    sent = 0
    for item in events:
        for hook in hooks:
            if not _hears(hook, item.event):
                continue
            vendor_side = hook.vendor_id is not None
            if vendor_side not in documents:
                reader = policy.webhook_reader(case, vendor_side=vendor_side)
                documents[vendor_side] = case_document(case, reader, url=case_url(case))
            data: dict[str, Any] = {"case": documents[vendor_side], "by": by}
            if item.message is not None:
                data["message"] = message_document(item.message)
            data.update(item.data)
            _enqueue(hook, item.event, occurred_at, data)
            sent += 1
    return sent


def _enqueue(hook: Webhook, event: WebhookEvent, occurred_at: str, data: dict[str, Any]) -> None:
    """The body as the exact bytes to send: every retry carries the same id and signature."""
    delivery = str(uuid.uuid4())
    body = {"event": event.value, "delivery": delivery, "occurred_at": occurred_at, "data": data}
    outbox.enqueue(
        WEBHOOK_KIND,
        {
            "webhook_id": hook.id,
            "event": event.value,
            "delivery": delivery,
            "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        },
    )

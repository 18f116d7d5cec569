"""Webhook delivery: the outbox handler for kind "webhook.deliver".

One POST per message with the body stored at enqueue time, signed with the webhook's
current secret: `X-Supportdesk-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
A 2xx answer is delivered; anything else (another status, a redirect, a timeout, a
refused connection) raises, so the outbox retries with its exponential backoff and
gives up after 12 attempts. The delivery id stays the same on every retry, so a
receiver deduplicates on `X-Supportdesk-Delivery` (at least once, like e-mail).

Redirects are not followed: a public address could otherwise send the request to an
internal one. The URL is checked again before each attempt, in case the rules (the
environment) changed since it was saved.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import urllib.error
import urllib.request
from typing import Any

from supportdesk import outbox
from supportdesk.extensions import db, utcnow
from supportdesk.webhooks.models import Webhook
from supportdesk.webhooks.services import WEBHOOK_KIND, url_problem

log = logging.getLogger(__name__)

TIMEOUT = 10  # seconds per connect and read, well under the outbox lease
USER_AGENT = "supportdesk-webhooks/1"


class DeliveryFailed(Exception):
    """The receiver did not accept the delivery; the outbox tries again later."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_opener = urllib.request.build_opener(_NoRedirects)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the HTTP status; network errors propagate (OSError, URLError)."""
    # The scheme (https, or http to this machine in development) is checked by url_problem.
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT) as response:
            response.read(65536)
            return response.status
    except urllib.error.HTTPError as error:
        error.close()
        return error.code


def _record(webhook: Webhook, status: int | None, error: str | None) -> None:
    now = utcnow()
    webhook.last_delivery_at = now
    webhook.last_delivery_status = status
    webhook.last_delivery_error = error[:300] if error else None
    if error is None:
        webhook.last_success_at = now


@outbox.handler(WEBHOOK_KIND)
def deliver_webhook(payload: dict[str, Any], outbox_id: int) -> None:
    """Outbox handler: sign and POST one event to one webhook."""
    webhook = db.session.get(Webhook, payload["webhook_id"])
    # Deleted or deactivated since: nothing to send, and not an error to retry.
    if webhook is None or not webhook.active:
        return
    problem = url_problem(webhook.url)
    if problem is not None:
        # Retrying cannot help; the admin sees why on the webhook's page.
        _record(webhook, None, str(problem))
        log.warning("webhook %s: refused URL, delivery %s dropped", webhook.id, outbox_id)
        return
    body = payload["body"].encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Supportdesk-Event": payload["event"],
        "X-Supportdesk-Delivery": payload["delivery"],
        "X-Supportdesk-Signature": signature(webhook.secret, body),
    }
    try:
        status: int | None = post(webhook.url, body, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except (OSError, ValueError) as exc:  # URLError, timeouts and refused connections
        status, error = None, f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    _record(webhook, status, error)
    if error is not None:
        # The outbox rolls back on failure; keep the status the admin should see.
        db.session.commit()
        raise DeliveryFailed(f"webhook {webhook.id}: {error}")

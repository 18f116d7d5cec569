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
import http.client
import ipaddress
import logging
import socket
import urllib.error
import urllib.request
from typing import Any

from flask import current_app

from supportdesk import outbox
from supportdesk.extensions import db, utcnow
from supportdesk.webhooks.models import Webhook
from supportdesk.webhooks.services import LOCAL_HTTP_ENVS, WEBHOOK_KIND, url_problem

log = logging.getLogger(__name__)

TIMEOUT = 10  # seconds per connect and read, well under the outbox lease
USER_AGENT = "supportdesk-webhooks/1"


class DeliveryFailed(Exception):
    """The receiver did not accept the delivery; the outbox tries again later."""


class UnsafeAddress(OSError):
    """The receiver's name resolves to an address supportdesk may not call."""


def checked_address(host: str, port: int) -> str:
    """Resolve `host` and return an address to connect to, refusing internal ones.

    Every address the name resolves to must be public (loopback is allowed where the
    URL rules allow http://localhost, in development and testing). The connection is
    made to the address checked here, so a second lookup (DNS rebinding) cannot swap it.
    """
    local_ok = current_app.config["SUPPORTDESK"].env in LOCAL_HTTP_ENVS
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if not (ip.is_global or (local_ok and ip.is_loopback)):
            raise UnsafeAddress(f"{host} resolves to an internal address")
    if not addresses:
        raise UnsafeAddress(f"{host} does not resolve")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        address = checked_address(self.host, self.port)
        self.sock = socket.create_connection((address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        address = checked_address(self.host, self.port)
        sock = socket.create_connection((address, self.port), self.timeout)
        # certificate and SNI for the name, connection to the checked address
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    def http_open(self, req):
        return self.do_open(_PinnedHTTPConnection, req)

    def https_open(self, req):
        return self.do_open(_PinnedHTTPSConnection, req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx status


_opener = urllib.request.build_opener(_NoRedirects, _PinnedHandler)


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
    url = webhook.url
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Supportdesk-Event": payload["event"],
        "X-Supportdesk-Delivery": payload["delivery"],
        "X-Supportdesk-Signature": signature(webhook.secret, body),
    }
    # Nothing written yet: end the transaction before the network call, so no lock (on
    # SQLite the write lock of the worker's transaction) is held while a receiver answers.
    db.session.rollback()
    try:
        status: int | None = post(url, body, headers)
        error = None if 200 <= status < 300 else f"HTTP {status}"
    except (OSError, ValueError) as exc:  # URLError, timeouts, refused and unsafe addresses
        reason = getattr(exc, "reason", exc)
        status, error = None, f"{type(reason).__name__}: {reason}"
    webhook = db.session.get(Webhook, payload["webhook_id"])
    if webhook is None:
        return  # deleted while the request was under way
    _record(webhook, status, error)
    if error is not None:
        # The outbox rolls back on failure; keep the status the admin should see.
        db.session.commit()
        raise DeliveryFailed(f"webhook {webhook.id}: {error}")

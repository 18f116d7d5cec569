"""A real HTTP receiver on a free local port (http.server in a thread) and webhook factories."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from supportdesk.extensions import db
from supportdesk.webhooks import services
from supportdesk.webhooks.models import MUNICIPALITY_EVENTS, VENDOR_EVENTS, Webhook

# Escalation fixtures (world, escalated, make_ticket) are shared with this domain.
from tests.escalation.conftest import escalated, make_ticket, world  # noqa: F401


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers the next queued status, 200 once the queue is empty."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        # called with each request before it is answered (tests look at the world then)
        self.on_request: Callable[[Received], None] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                received = Received(self.path, dict(self.headers), body)
                if receiver.on_request is not None:
                    receiver.on_request(received)
                with receiver._lock:
                    receiver.requests.append(received)
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def to(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def make_webhook(app) -> Callable[..., Webhook]:
    """make_webhook(url, vendor=… | municipality=…, events=None (all allowed), active=True)."""

    def _make(url: str, *, vendor=None, municipality=None, events=None, active=True) -> Webhook:
        allowed = VENDOR_EVENTS if vendor is not None else MUNICIPALITY_EVENTS
        webhook = Webhook(
            vendor=vendor,
            municipality=municipality,
            name="ITSM",
            url=url,
            secret=services.new_secret(),
            events=[e.value for e in (events or allowed)],
            active=active,
        )
        db.session.add(webhook)
        db.session.commit()
        return webhook

    return _make

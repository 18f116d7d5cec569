"""A real SMTP server (aiosmtpd) on a free local port, wired into the app's settings."""

from __future__ import annotations

import dataclasses
import email
import email.policy
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import free_port


class _Collector:
    """Keeps every message the server accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        self.messages.append(parsed)
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class SmtpServer:
    """Start and stop a real SMTP server on a fixed port; stopped means nothing listens."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.collector = _Collector()
        self._controller: Controller | None = None
        self.smtp_options: dict = {}

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def messages(self) -> list[EmailMessage]:
        return self.collector.messages

    def start(self) -> SmtpServer:
        if self._controller is None:
            self._controller = Controller(
                self.collector, hostname="127.0.0.1", port=self.port, **self.smtp_options
            )
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server(app) -> Iterator[SmtpServer]:
    """Not started yet: call .start(). The app sends to its port for this test only."""
    server = SmtpServer(free_port())
    original = app.config["SUPPORTDESK"]
    app.config["SUPPORTDESK"] = dataclasses.replace(original, smtp_url=server.url)
    try:
        yield server
    finally:
        server.stop()
        app.config["SUPPORTDESK"] = original

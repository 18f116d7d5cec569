"""E-mail you can see in development: a local SMTP catcher and its mailbox.

`flask --app wsgi devmail` listens on settings.smtp_url's host and port (aiosmtpd, a
development dependency) and keeps every message it accepts in the Maildir
settings.dev_mail_dir; the page /dev/mail (devmail_views.py) reads that Maildir. Both
are off unless SUPPORTDESK_DEV_MAIL_DIR is set, and the setting is refused in production.
`make run` starts the catcher and the worker beside the web server.
"""

from __future__ import annotations

import email
import email.policy
import mailbox
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from flask import current_app

SHOWN_MAX = 200


def mail_dir() -> Path | None:
    """The Maildir of caught messages, or None when the development mail page is off."""
    configured = current_app.config["SUPPORTDESK"].dev_mail_dir
    return Path(configured) if configured else None


def open_box(directory: Path) -> mailbox.Maildir:
    return mailbox.Maildir(str(directory), create=True)


class Catcher:
    """aiosmtpd handler: every accepted message goes into the Maildir, nothing is relayed."""

    def __init__(self, directory: Path) -> None:
        self.box = open_box(directory)

    async def handle_DATA(self, server, session, envelope):
        self.box.add(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


@dataclass
class CaughtMail:
    key: str
    subject: str
    sender: str
    to: str
    date: datetime | None
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        return part.get_content() if part is not None else ""


def _caught(key: str, raw: bytes) -> CaughtMail:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    try:
        date = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (TypeError, ValueError):
        date = None
    return CaughtMail(
        key=key,
        subject=str(message["Subject"] or ""),
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        date=date,
        message=message,  # type: ignore[arg-type]
    )


def _delivered(key: str) -> tuple[int, int, str]:
    """Maildir keys are "<seconds>.M<microseconds>P<pid>Q<count>.<host>"."""
    seconds, _, rest = key.partition(".")
    micro = rest[1:].split("P", 1)[0] if rest.startswith("M") else ""
    return (int(seconds) if seconds.isdigit() else 0, int(micro) if micro.isdigit() else 0, key)


def caught_mails(directory: Path) -> list[CaughtMail]:
    """The newest messages first (Maildir keys begin with the delivery time)."""
    box = open_box(directory)
    keys = sorted(box.keys(), key=_delivered)
    return [_caught(key, box.get_bytes(key)) for key in reversed(keys[-SHOWN_MAX:])]


def caught_mail(directory: Path, key: str) -> CaughtMail | None:
    box = open_box(directory)
    try:
        return _caught(key, box.get_bytes(key))
    except KeyError:
        return None

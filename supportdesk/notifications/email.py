"""E-mail delivery for notifications: the outbox handler for kind "email".

Rendering happens in the worker, in the recipient's locale (Danish by default),
as a plain-text + HTML multipart message sent over SMTP to settings.smtp_url
(`smtps://` uses implicit TLS, `smtp://…?starttls=1` upgrades; user:password in
the URL logs in).

Idempotence: the Message-ID is derived from the outbox message id, and the outbox
marks the message sent right after the SMTP server accepted it, so a restarted
worker does not send it again. The remaining at-least-once window: if the worker
dies (or the database commit fails) after the server accepted the message but
before `sent_at` is committed, or the connection drops after DATA was accepted
but before the reply arrived, the message is sent again after the lease or the
backoff expires, with the same Message-ID (some mail systems, e.g. Gmail, and
archives collapse such duplicates; many clients show both). A second worker can
also send it again if one delivery outlives the two-minute outbox lease; the
socket timeout below is per operation, so only a server that trickles replies
could do that. Messages are not dropped silently: after 12 failed attempts (about
five hours of backoff) the outbox marks the message failed and logs an error.
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from flask import current_app, render_template
from flask_babel import force_locale

from supportdesk import outbox
from supportdesk.accounts.models import User
from supportdesk.extensions import db
from supportdesk.notifications import services
from supportdesk.notifications.models import NotificationEvent

SETTINGS_PATH = "/notifications/settings"
SMTP_TIMEOUT = 30  # well under the outbox lease, so a slow server cannot cause a double send
LOCALES = ("da", "en")
# Headers up to the RFC 5322 hard limit: Python's folding at 78 characters puts a double
# space into subjects with non-ASCII words (æ, ø, å) when a client unfolds them.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


def absolute_url(path: str) -> str:
    return current_app.config["SUPPORTDESK"].base_url.rstrip("/") + path


def _parse_time(value: Any) -> datetime | None:
    """Context carries times as ISO strings (JSON); templates format them per locale."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def message_id(outbox_id: int) -> str:
    """Stable per outbox message: every retry of the same message carries the same id."""
    settings = current_app.config["SUPPORTDESK"]
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "supportdesk.local"
    return f"<notification-{outbox_id}@{domain}>"


def build_message(
    user: User, event: NotificationEvent, url: str, context: dict[str, Any], outbox_id: int
) -> EmailMessage:
    """Render the event's text and HTML templates in the user's locale."""
    locale = user.locale if user.locale in LOCALES else "da"
    with force_locale(locale):
        values = {
            "user": user,
            "event": event,
            "ctx": context,
            "link": absolute_url(url),
            "settings_link": absolute_url(SETTINGS_PATH),
            "subject": services.summary(event, context),
            "status_label": services.STATUS_LABELS.get(context.get("status"), ""),
            "due_at": _parse_time(context.get("due_at")),
        }
        text = render_template(f"notifications/email/{event.value}.txt", **values)
        html = render_template(f"notifications/email/{event.value}.html", **values)
    return compose(user, str(values["subject"]), text, html, outbox_id, locale)


def compose(
    user: User, subject: str, text: str, html: str, outbox_id: int, locale: str
) -> EmailMessage:
    """The multipart message to one user (notifications and account e-mails alike)."""
    return compose_to(user.name, user.email, subject, text, html, message_id(outbox_id), locale)


def compose_to(
    name: str, address: str, subject: str, text: str, html: str, msg_id: str, locale: str
) -> EmailMessage:
    """The multipart message to one address (a user, or a caller without an account)."""
    settings = current_app.config["SUPPORTDESK"]
    message = EmailMessage(policy=MAIL_POLICY)
    # A header may not span lines; user-written subjects could try to inject headers.
    message["Subject"] = " ".join(subject.split())[:200]
    message["From"] = settings.mail_from
    message["To"] = formataddr((" ".join(name.split()), address))
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = msg_id
    # Tells autoresponders not to answer (RFC 3834).
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    # After the body: making the message multipart moves Content-* headers into the part.
    message["Content-Language"] = locale
    return message


def send(message: EmailMessage) -> None:
    """One SMTP session per message; errors propagate so the outbox retries with backoff."""
    parts = urlsplit(current_app.config["SUPPORTDESK"].smtp_url)
    host = parts.hostname or "127.0.0.1"
    options = parse_qs(parts.query)
    if parts.scheme == "smtps":
        context = ssl.create_default_context()
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            host, parts.port or 465, timeout=SMTP_TIMEOUT, context=context
        )
    else:
        client = smtplib.SMTP(host, parts.port or 25, timeout=SMTP_TIMEOUT)
    with client:
        if parts.scheme == "smtp" and options.get("starttls", ["0"])[0] in ("1", "true"):
            client.starttls(context=ssl.create_default_context())
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)


@outbox.handler(services.EMAIL_KIND)
def deliver_email(payload: dict[str, Any], outbox_id: int) -> None:
    """Outbox handler: render and send one notification e-mail."""
    user = db.session.get(User, payload["user_id"])
    event = NotificationEvent(payload["event"])
    # Gone, deactivated, or switched e-mail off since: nothing to send, and not an error.
    if user is None or not user.active or not user.email:
        return
    if not services.may_receive(user, event) or not services.email_enabled(user, event):
        return
    message = build_message(user, event, payload["url"], payload.get("context") or {}, outbox_id)
    # Only read so far: end the transaction so no database lock (on SQLite the worker's
    # write lock) is held while the SMTP server answers.
    db.session.rollback()
    send(message)

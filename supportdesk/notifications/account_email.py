"""E-mails about the account itself (lockout, password reset link, invitation).

The outbox handler for kind "account_email", sent whatever the notification settings
say (they are about the account's safety, not about tickets), in the user's language,
over the same SMTP delivery as the notification e-mails.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from supportdesk import outbox
from supportdesk.accounts.models import User
from supportdesk.extensions import db
from supportdesk.notifications.email import LOCALES, absolute_url, compose, send

KIND = "account_email"
TEMPLATES = ("account_locked", "password_reset", "invitation")


def _subject(template: str) -> str:
    return {
        "account_locked": _("Your supportdesk account is locked for a while"),
        "password_reset": _("Choose a new password for supportdesk"),
        "invitation": _("You are invited to supportdesk"),
    }[template]


def build(user: User, template: str, context: dict[str, Any], outbox_id: int) -> EmailMessage:
    locale = user.locale if user.locale in LOCALES else "da"
    with force_locale(locale):
        subject = _subject(template)
        values = {
            "user": user,
            "ctx": context,
            "link": absolute_url(context.get("path", "/")),
            "subject": subject,
        }
        text = render_template(f"accounts/email/{template}.txt", **values)
        html = render_template(f"accounts/email/{template}.html", **values)
    return compose(user, subject, text, html, outbox_id, locale)


@outbox.handler(KIND)
def deliver_account_email(payload: dict[str, Any], outbox_id: int) -> None:
    user = db.session.get(User, payload["user_id"])
    template = payload.get("template")
    if user is None or not user.email or template not in TEMPLATES:
        return
    message = build(user, template, payload.get("context") or {}, outbox_id)
    # only read so far: no database lock is held while the SMTP server answers
    db.session.rollback()
    send(message)

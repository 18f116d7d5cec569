"""E-mails to a caller without an account (a parent logged by the hotline).

The outbox kind "caller_email": a receipt when the call is logged (with the answer when
the hotline solved it on the phone), each later public answer on the ticket, and word
when the known issue the call was linked to is resolved. The
templates (notifications/email/caller_*.txt|html) are the caller's own: the ticket's
number and subject and the public answer only, never internal notes, names of staff or
links into the app (the caller cannot sign in). Danish, the municipality's language.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from supportdesk import outbox
from supportdesk.notifications.email import compose_to, send

KIND = "caller_email"
RECEIPT = "caller_receipt"
ANSWER = "caller_answer"
# the known issue the call was linked to is resolved (`answer` holds its title)
FIXED = "caller_fixed"
TEMPLATES = (RECEIPT, ANSWER, FIXED)
ANSWER_MAX = 20000


def queue(
    address: str | None,
    name: str | None,
    template: str,
    *,
    number: str,
    subject: str,
    answer: str | None = None,
) -> bool:
    """Queue one e-mail to the caller in the caller's transaction; False without an address."""
    address = (address or "").strip()
    if not address or "@" not in address or template not in TEMPLATES:
        return False
    context: dict[str, Any] = {"number": number, "subject": subject}
    if answer:
        context["answer"] = answer[:ANSWER_MAX]
    outbox.enqueue(
        KIND, {"to": address, "name": name or "", "template": template, "context": context}
    )
    return True


def _subject(template: str, context: dict[str, Any]) -> str:
    number = str(context.get("number", ""))
    if template == RECEIPT:
        return _("We have received your call: %(number)s", number=number)
    if template == FIXED:
        return _("The error you called about is fixed: %(number)s", number=number)
    return _("Answer to your call %(number)s", number=number)


def build(payload: dict[str, Any], outbox_id: int) -> EmailMessage:
    template = payload["template"]
    context = payload.get("context") or {}
    with force_locale("da"):
        subject = _subject(template, context)
        values = {"name": payload.get("name") or "", "ctx": context, "subject": subject}
        text = render_template(f"notifications/email/{template}.txt", **values)
        html = render_template(f"notifications/email/{template}.html", **values)
    settings = current_app.config["SUPPORTDESK"]
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "supportdesk.local"
    msg_id = f"<caller-{outbox_id}@{domain}>"
    return compose_to(payload.get("name") or "", payload["to"], subject, text, html, msg_id, "da")


@outbox.handler(KIND)
def deliver_caller_email(payload: dict[str, Any], outbox_id: int) -> None:
    if payload.get("template") not in TEMPLATES or not payload.get("to"):
        return
    send(build(payload, outbox_id))

"""The development mail page /dev/mail: what the local mail catcher caught.

Not found unless SUPPORTDESK_DEV_MAIL_DIR is set (development only, refused in production).
No sign-in needed: a person trying the demo reads the invitation and reset e-mails here too.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from supportdesk.errors import NotFound
from supportdesk.notifications import devmail

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail")


@bp.app_context_processor
def _dev_mail_link() -> dict[str, Any]:
    return {"dev_mail_on": devmail.mail_dir() is not None}


def _directory():
    directory = devmail.mail_dir()
    if directory is None:
        raise NotFound()
    return directory


@bp.get("")
def index() -> ResponseReturnValue:
    directory = _directory()
    return render_template(
        "notifications/dev_mail.html", mails=devmail.caught_mails(directory), directory=directory
    )


@bp.get("/<key>")
def show(key: str) -> ResponseReturnValue:
    mail = devmail.caught_mail(_directory(), key)
    if mail is None:
        raise NotFound()
    return render_template("notifications/dev_mail_message.html", mail=mail)

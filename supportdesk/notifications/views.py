"""The bell's pages: the list, marking read, opening, and e-mail preferences."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from supportdesk.accounts.views import safe_next
from supportdesk.extensions import db

# Importing the e-mail module registers the outbox handler for kind "email".
from supportdesk.notifications import account_email as _account_email  # noqa: F401
from supportdesk.notifications import caller_email as _caller_email  # noqa: F401
from supportdesk.notifications import email as _email  # noqa: F401
from supportdesk.notifications import services
from supportdesk.notifications.forms import preferences_form
from supportdesk.notifications.models import Notification
from supportdesk.safe_input import database_id

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("")
@login_required
def index() -> ResponseReturnValue:
    before = request.args.get("before", type=database_id)
    rows, next_cursor = services.page(current_user, before=before)
    return render_template(
        "notifications/index.html",
        notifications=rows,
        next_cursor=next_cursor,
        first_page=before is None,
        summary=services.summary,
    )


def _read(notification_id: int) -> Notification:
    """One of the user's own notifications, marked read and saved."""
    notification = services.get_notification(current_user, notification_id)
    services.mark_read(notification)
    db.session.commit()
    return notification


@bp.post("/<int:notification_id>/open")
@login_required
def open_(notification_id: int) -> ResponseReturnValue:
    """Following a notification marks it read; only site paths are followed."""
    target = _read(notification_id).url
    return redirect(safe_next(target) or url_for("notifications.index"))


@bp.post("/<int:notification_id>/read")
@login_required
def mark_read(notification_id: int) -> ResponseReturnValue:
    _read(notification_id)
    return redirect(safe_next(request.form.get("next")) or url_for("notifications.index"))


@bp.post("/read-all")
@login_required
def mark_all_read() -> ResponseReturnValue:
    services.mark_all_read(current_user)
    db.session.commit()
    flash(_("All notifications are marked as read."), "success")
    return redirect(url_for("notifications.index"))


@bp.route("/settings", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    current = services.email_preferences(current_user)
    if request.method == "POST":
        form = preferences_form(current, formdata=request.form)
        if not form.validate_on_submit():
            return render_template("notifications/settings.html", form=form, events=current), 422
        chosen = [event for event in current if form[event.value].data]
        services.set_email_preferences(current_user, chosen)
        db.session.commit()
        flash(_("Your notification settings have been saved."), "success")
        return redirect(url_for("notifications.settings"))
    form = preferences_form(current)
    return render_template("notifications/settings.html", form=form, events=current)

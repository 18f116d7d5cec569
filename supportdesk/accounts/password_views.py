"""'Glemt adgangskode?' and the single-use set-password link (reset and invitation)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import logout_user

from supportdesk.accounts import passwords
from supportdesk.accounts.forms import ResetRequestForm, SetPasswordForm
from supportdesk.accounts.models import LinkPurpose
from supportdesk.accounts.views import bp
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db, limiter

# A second, per-process (or Redis-shared) limit beside the ones counted in the database.
RESET_RATE = "10 per minute"


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(RESET_RATE, methods=["POST"])
def password_reset() -> ResponseReturnValue:
    form = ResetRequestForm()
    if form.validate_on_submit():
        passwords.request_reset(form.email.data or "")
        db.session.commit()
        # The same answer whether the address has an account or not.
        flash(
            _(
                "If the address belongs to an account, we have sent an e-mail with a link. "
                "The link works once and for %(minutes)s minutes.",
                minutes=int(passwords.RESET_LIFETIME.total_seconds() // 60),
            ),
            "info",
        )
        return redirect(url_for("accounts.login"))
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/password_reset.html", form=form), status


@bp.route("/password/set/<token>", methods=["GET", "POST"])
def set_password(token: str) -> ResponseReturnValue:
    link = passwords.valid_link(token)
    if link is None:
        return render_template("accounts/link_invalid.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            user = passwords.use_link(link, form.password.data or "")
        except ValidationFailed as error:
            db.session.rollback()
            error.apply_to(form)
        else:
            db.session.commit()
            logout_user()
            session.clear()
            flash(_("Your password has been saved. Sign in with it now."), "success")
            return redirect(url_for("accounts.login", email=user.email))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "accounts/set_password.html",
        form=form,
        invitation=link.purpose == LinkPurpose.invitation,
        user=link.user,
    ), status

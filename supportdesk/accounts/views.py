"""Sign-in, sign-out and the user's own profile (language, password, API tokens)."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from supportdesk.accounts import services
from supportdesk.accounts.forms import LoginForm, PasswordForm, ProfileForm, TokenForm
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db, limiter

bp = Blueprint("accounts", __name__)


def safe_next(target: str | None) -> str | None:
    """Only local paths: no scheme, no host, no protocol-relative or backslash tricks."""
    if not target:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/"):
        return None
    if target.startswith(("//", "/\\")) or "\\" in target or any(ord(c) < 32 for c in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = services.authenticate(form.email.data or "", form.password.data or "")
        if user is not None:
            next_url = safe_next(request.args.get("next"))
            # Rotate the session: nothing from before sign-in survives it.
            session.clear()
            session["sid"] = secrets.token_urlsafe(16)
            login_user(user)
            db.session.commit()
            return redirect(next_url or url_for("core.index"))
        # Same message for unknown e-mail, wrong password and inactive user.
        form.password.errors.append(_("Wrong e-mail or password."))
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    profile_form = ProfileForm(locale=current_user.locale)
    password_form = PasswordForm(prefix="pw")
    token_form = TokenForm(prefix="token")
    new_token = None
    status = 200
    action = request.form.get("action")
    if request.method == "POST":
        if action == "locale" and profile_form.validate_on_submit():
            services.set_locale(current_user, profile_form.locale.data)
            db.session.commit()
            flash(_("Your language has been saved."), "success")
            return redirect(url_for("accounts.profile"))
        if action == "password" and password_form.validate_on_submit():
            if services.authenticate(current_user.email, password_form.current.data) is None:
                password_form.current.errors.append(_("The current password is wrong."))
                status = 422
            else:
                try:
                    services.set_password(current_user, password_form.new.data)
                except ValidationFailed as error:
                    password_form.new.errors.extend(str(m) for m in error.fields.values())
                    status = 422
                else:
                    db.session.commit()
                    login_user(current_user)  # the epoch changed; keep this session
                    flash(_("Your password has been changed."), "success")
                    return redirect(url_for("accounts.profile"))
        elif action == "token" and token_form.validate_on_submit():
            _token, new_token = services.create_token(current_user, token_form.name.data)
            db.session.commit()
            flash(_("Copy the token now. It is shown only once."), "warning")
        elif action == "revoke":
            token_id = request.form.get("token_id", type=int)
            if token_id is not None:
                services.revoke_token(current_user, token_id)
                db.session.commit()
                flash(_("The token has been revoked."), "success")
                return redirect(url_for("accounts.profile"))
        else:
            status = 422
    return (
        render_template(
            "accounts/profile.html",
            profile_form=profile_form,
            password_form=password_form,
            token_form=token_form,
            tokens=services.tokens_of(current_user),
            new_token=new_token,
        ),
        status,
    )

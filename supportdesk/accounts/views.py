"""Sign-in, sign-out and the user's own profile (language, password, sessions, API tokens).

Two-factor sign-in and set-up, step-up confirmation and password reset live in
`twofactor_views` and `password_views` on the same blueprint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from supportdesk import policy
from supportdesk.accounts import lockout, passwords, services, sessions, stepup
from supportdesk.accounts.forms import LoginForm, PasswordForm, ProfileForm, TokenForm
from supportdesk.accounts.models import User
from supportdesk.audit import events
from supportdesk.audit.models import Outcome, SecurityEventKind
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.extensions import db, utcnow
from supportdesk.safe_input import database_id

bp = Blueprint("accounts", __name__)
PENDING_2FA = "pending_2fa"


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


def finish_login(user: User, *, two_factor: bool, next_url: str | None) -> ResponseReturnValue:
    """Sign the user in: a new cookie session and a new server-side session row."""
    # Rotate the session: nothing from before sign-in survives it.
    session.clear()
    record = sessions.start(user, two_factor=two_factor)
    session[sessions.SESSION_KEY] = record.id
    user.last_login_at = record.created_at
    login_user(user)
    g.user_session = record
    events.record(SecurityEventKind.login, user=user, detail={"two_factor": two_factor})
    db.session.commit()
    if policy.must_set_up_two_factor(user):
        return redirect(url_for("accounts.two_factor_setup"))
    return redirect(next_url or url_for("core.index"))


def _refused(form: LoginForm, message: str, status: int) -> ResponseReturnValue:
    db.session.commit()  # the failure counts toward the limits even though sign-in failed
    form.password.errors.append(message)
    return render_template("accounts/login.html", form=form), status


def locked_message() -> str:
    minutes = int(lockout.LOCK_FOR.total_seconds() // 60)
    return _(
        "Too many failed sign-ins. The account is locked for %(minutes)s minutes; "
        "you can also choose a new password with “Forgot your password?”.",
        minutes=minutes,
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/login.html", form=form), status
    email = (form.email.data or "").strip().lower()
    if lockout.address_throttled(events.client_address()):
        events.record(SecurityEventKind.login_throttled, Outcome.denied, email=email)
        return _refused(form, _("Too many requests. Wait a moment and try again."), 429)
    user = passwords.find_user(email)
    if lockout.is_locked(email, user):
        events.record(SecurityEventKind.login_throttled, Outcome.denied, user=user, email=email)
        return _refused(form, locked_message(), 429)
    if not passwords.verify_password(user, form.password.data or "") or not user or not user.active:
        lockout.register_failure(email, user)
        if lockout.is_locked(email, user):
            return _refused(form, locked_message(), 429)
        # Same message for unknown e-mail, wrong password and inactive user.
        return _refused(form, _("Wrong e-mail or password."), 401)
    next_url = safe_next(request.args.get("next"))
    if user.has_two_factor:
        # Not signed in until the code is right: only who and when are remembered.
        session.clear()
        session[PENDING_2FA] = {
            "user": user.get_id(),
            "at": utcnow().isoformat(),
            "next": next_url,
            "tries": 0,
        }
        db.session.commit()
        return redirect(url_for("accounts.login_two_factor"))
    return finish_login(user, two_factor=False, next_url=next_url)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        sessions.end(stepup.current_session(), "logout")
        events.record(SecurityEventKind.logout, user=current_user._get_current_object())
        db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("accounts.login"))


def _change_password(form: PasswordForm) -> bool:
    """The user's own change: other sessions end, this one goes on with the new epoch."""
    user = current_user._get_current_object()  # the user, not the request-local proxy
    try:
        passwords.change_password(user, form.current.data or "", form.new.data or "")
    except ValidationFailed as error:
        db.session.commit()  # a wrong current password is in the security log
        error.apply_to(form)
        return False
    record = stepup.current_session()
    sessions.end_all(user, "password", keep=record)
    sessions.reauthenticated(record)
    db.session.commit()
    # The epoch in the cookie changed with the password: store the new one. Passing the
    # proxy itself made Flask-Login keep a proxy that resolves to itself (the worker
    # crashed with a recursion that overflowed the C stack).
    login_user(user)
    return True


def _profile_action(action: str | None, forms: dict[str, Any]) -> ResponseReturnValue | None:
    """Carry out one POSTed action; a response when done, None to show the page again."""
    profile_form, password_form, token_form = forms["locale"], forms["password"], forms["token"]
    if action == "locale" and profile_form.validate_on_submit():
        services.set_locale(current_user, profile_form.locale.data)
        db.session.commit()
        flash(_("Your language has been saved."), "success")
        return redirect(url_for("accounts.profile"))
    if action == "password" and password_form.validate_on_submit():
        if _change_password(password_form):
            flash(
                _("Your password has been changed. You are signed out everywhere else."), "success"
            )
            return redirect(url_for("accounts.profile"))
        return None
    if action == "token" and token_form.validate_on_submit():
        stepup.require_recent_authentication()
        _token, forms["new_token"] = services.create_token(current_user, token_form.name.data)
        db.session.commit()
        flash(_("Copy the token now. It is shown only once."), "warning")
        return None
    if action == "revoke":
        token_id = request.form.get("token_id", type=database_id)
        if token_id is None:  # no number, or one no database id can be: no such token
            raise NotFound()
        services.revoke_token(current_user, token_id)
        db.session.commit()
        flash(_("The token has been revoked."), "success")
        return redirect(url_for("accounts.profile"))
    if action == "everywhere":
        user = current_user._get_current_object()
        count = sessions.end_all(user, "everywhere")
        events.record(SecurityEventKind.sessions_ended, user=user, detail={"count": count})
        db.session.commit()
        logout_user()
        session.clear()
        flash(_("You are signed out everywhere, also here."), "info")
        return redirect(url_for("accounts.login"))
    return None


@bp.route("/account", methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    forms: dict[str, Any] = {
        "locale": ProfileForm(locale=current_user.locale),
        "password": PasswordForm(prefix="pw"),
        "token": TokenForm(prefix="token"),
        "new_token": None,
    }
    status = 200
    if request.method == "POST":
        done = _profile_action(request.form.get("action"), forms)
        if done is not None:
            return done
        if forms["new_token"] is None:
            status = 422
    return (
        render_template(
            "accounts/profile.html",
            profile_form=forms["locale"],
            password_form=forms["password"],
            token_form=forms["token"],
            tokens=services.tokens_of(current_user),
            new_token=forms["new_token"],
            open_sessions=sessions.open_sessions(current_user),
            this_session=stepup.current_session(),
        ),
        status,
    )


def pending_user(max_age_minutes: int = 5) -> tuple[User, dict[str, Any]] | None:
    """The user who gave the right password and still owes the code (5 minutes to do it)."""
    pending = session.get(PENDING_2FA)
    if not isinstance(pending, dict):
        return None
    try:
        started = datetime.fromisoformat(pending["at"])
        ident, _, epoch = str(pending["user"]).partition(":")
    except (KeyError, TypeError, ValueError):
        return None
    if (utcnow() - started).total_seconds() > max_age_minutes * 60 or not ident.isdigit():
        return None
    user = db.session.get(User, int(ident)) if int(ident) <= sessions.MAX_ID else None
    if user is None or not user.active or str(user.auth_epoch) != epoch:
        return None
    return user, pending

"""Two-factor sign-in and set-up, the set-up requirement, and step-up confirmation."""

from __future__ import annotations

from flask import g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts import lockout, passwords, sessions, stepup, twofactor
from supportdesk.accounts.forms import ConfirmForm, TwoFactorForm, TwoFactorSetupForm
from supportdesk.accounts.views import (
    PENDING_2FA,
    bp,
    finish_login,
    locked_message,
    pending_user,
    safe_next,
)
from supportdesk.audit import events
from supportdesk.audit.models import Outcome, SecurityEventKind
from supportdesk.errors import Forbidden, ValidationFailed, error_response, wants_json
from supportdesk.extensions import db

SETUP_KEY = "totp_setup"
MAX_TRIES = 5
# Reachable while a required second factor is not set up yet.
OPEN_ENDPOINTS = frozenset(
    {
        "accounts.two_factor_setup",
        "accounts.logout",
        "accounts.confirm",
        "static",
        "core.healthz",
        "core.set_language",
    }
)


@bp.before_app_request
def _require_two_factor_setup() -> ResponseReturnValue | None:
    """Admins and vendor staff (and coordinators where required) set up two-factor first."""
    if request.endpoint in OPEN_ENDPOINTS or g.get("token_auth"):
        return None
    # the user itself: each read through the proxy finds the user again (about 2 µs), and
    # a page reads it dozens of times; hot paths take the object once
    user = current_user._get_current_object()
    # loading the user (above) is what sets token_auth for a bearer token
    if not user.is_authenticated or g.get("token_auth"):
        return None
    if not policy.must_set_up_two_factor(user):
        return None
    if wants_json():
        return error_response(
            403, "two_factor_required", _("Set up two-factor sign-in first: /account/2fa")
        )
    return redirect(url_for("accounts.two_factor_setup"))


@bp.route("/login/2fa", methods=["GET", "POST"])
def login_two_factor() -> ResponseReturnValue:
    found = pending_user()
    if found is None:
        session.pop(PENDING_2FA, None)
        return redirect(url_for("accounts.login"))
    user, pending = found
    form = TwoFactorForm()
    if not form.validate_on_submit():
        status = 422 if request.method == "POST" else 200
        return render_template("accounts/login_2fa.html", form=form), status
    if lockout.address_throttled(events.client_address()) or lockout.is_locked(user.email, user):
        events.record(SecurityEventKind.login_throttled, Outcome.denied, user=user)
        session.pop(PENDING_2FA, None)
        db.session.commit()
        form.code.errors.append(locked_message())
        return render_template("accounts/login_2fa.html", form=form), 429
    if twofactor.verify(user, form.code.data or ""):
        return finish_login(user, two_factor=True, next_url=safe_next(pending.get("next")))
    lockout.register_failure(user.email, user, SecurityEventKind.two_factor_failed)
    db.session.commit()
    pending["tries"] = int(pending.get("tries", 0)) + 1
    if pending["tries"] >= MAX_TRIES:
        # start again from the password: guessing codes costs a password each time
        session.pop(PENDING_2FA, None)
        form.code.errors.append(_("Too many wrong codes. Sign in again."))
        return render_template("accounts/login_2fa.html", form=form, restart=True), 401
    session[PENDING_2FA] = pending
    form.code.errors.append(_("The code is not right or has been used already. Try the next one."))
    return render_template("accounts/login_2fa.html", form=form), 401


def _setup_page(form: TwoFactorSetupForm, status: int = 200) -> ResponseReturnValue:
    secret = session.get(SETUP_KEY)
    if not secret:
        secret = session[SETUP_KEY] = twofactor.new_secret()
    user = current_user._get_current_object()
    return render_template(
        "accounts/two_factor_setup.html",
        form=form,
        secret=secret,
        grouped=twofactor.grouped(secret),
        qr=twofactor.qr_svg(user, secret, _("QR code with the key for your authenticator app")),
        required=policy.two_factor_required(user),
    ), status


@bp.route("/account/2fa", methods=["GET", "POST"])
@login_required
def two_factor_setup() -> ResponseReturnValue:
    user = current_user._get_current_object()
    action = request.form.get("action", "enable")
    if user.has_two_factor:
        return _manage_two_factor(user, action)
    form = TwoFactorSetupForm()
    if not form.validate_on_submit():
        return _setup_page(form, 422 if request.method == "POST" else 200)
    try:
        codes = twofactor.enable(user, session.get(SETUP_KEY) or "", form.code.data or "")
    except ValidationFailed as error:
        db.session.commit()  # the failed try is in the security log
        error.apply_to(form)
        return _setup_page(form, 422)
    session.pop(SETUP_KEY, None)
    record = stepup.current_session()
    if record is not None:
        record.two_factor = True
    db.session.commit()
    return render_template("accounts/recovery_codes.html", codes=codes, first=True)


def _manage_two_factor(user, action: str) -> ResponseReturnValue:
    """With two-factor set up: new recovery codes, or turn it off where it is optional."""
    if request.method == "POST" and action == "recovery":
        stepup.require_recent_authentication()
        codes = twofactor.new_recovery_codes(user)
        db.session.commit()
        return render_template("accounts/recovery_codes.html", codes=codes, first=False)
    if request.method == "POST" and action == "disable":
        if policy.two_factor_required(user):
            raise Forbidden(_("Two-factor sign-in is required for your role."))
        stepup.require_recent_authentication()
        twofactor.reset(user, user, keep=stepup.current_session())
        db.session.commit()
        return redirect(url_for("accounts.profile"))
    return render_template(
        "accounts/two_factor_status.html",
        remaining=twofactor.remaining_recovery_codes(user),
        required=policy.two_factor_required(user),
    )


# --- step-up -------------------------------------------------------------------------------

REPLAY_PREFIX = "replay-"


def _replayable_fields() -> list[tuple[str, str]]:
    """The original form, to be sent again after the confirmation (never its CSRF token)."""
    return [
        (name, value)
        for name, values in request.form.lists()
        for value in values
        if name != "csrf_token"
    ]


@bp.app_errorhandler(stepup.StepUpRequired)
def _ask_to_confirm(error: stepup.StepUpRequired) -> ResponseReturnValue:
    db.session.rollback()
    if wants_json() or not current_user.is_authenticated:
        return error_response(error.status, error.code, error.message)
    return render_template(
        "accounts/confirm.html",
        form=ConfirmForm(formdata=None),
        target=request.full_path if request.query_string else request.path,
        method=request.method,
        fields=_replayable_fields() if request.method == "POST" else [],
        has_code=current_user.has_two_factor,
        prefix=REPLAY_PREFIX,
    ), error.status


@bp.post("/account/confirm")
@login_required
def confirm() -> ResponseReturnValue:
    """Check the password or code, then go on with what the user was doing."""
    form = ConfirmForm()
    user = current_user._get_current_object()
    target = safe_next(request.form.get("target")) or url_for("accounts.profile")
    method = "POST" if request.form.get("method") == "POST" else "GET"
    fields = [
        (name.removeprefix(REPLAY_PREFIX), value)
        for name, values in request.form.lists()
        if name.startswith(REPLAY_PREFIX)
        for value in values
    ]
    ok = form.validate_on_submit() and (
        (form.password.data and passwords.verify_password(user, form.password.data))
        or (form.code.data and twofactor.verify(user, form.code.data))
    )
    if not ok:
        lockout.register_failure(user.email, user, SecurityEventKind.step_up_failed)
        db.session.commit()
        if lockout.is_locked(user.email, user):
            sessions.end(stepup.current_session(), "locked")
            db.session.commit()
            return redirect(url_for("accounts.login"))
        form.password.errors.append(_("The password or code is not right."))
        return render_template(
            "accounts/confirm.html",
            form=form,
            target=target,
            method=method,
            fields=fields,
            has_code=user.has_two_factor,
            prefix=REPLAY_PREFIX,
        ), 401
    sessions.reauthenticated(stepup.current_session())
    events.record(SecurityEventKind.step_up, user=user)
    db.session.commit()
    if method == "GET":
        return redirect(target)
    return render_template("accounts/confirm_continue.html", target=target, fields=fields)

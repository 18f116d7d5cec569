"""Administration of account security: the coordinators' two-factor requirement, resetting
a user's second factor, and sending a set-password link (under /admin, beside the
administration pages)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts import passwords, stepup, twofactor
from supportdesk.accounts.models import Municipality
from supportdesk.admin.views import municipality_setting_page
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEventKind
from supportdesk.errors import NotFound
from supportdesk.extensions import db

bp = Blueprint("admin_security", __name__, url_prefix="/admin")


@bp.route("/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_policy() -> ResponseReturnValue:
    def save(municipality: Municipality, wanted: bool) -> None:
        stepup.require_recent_authentication()
        if wanted != municipality.require_2fa_coordinators:
            municipality.require_2fa_coordinators = wanted
            events.record(
                SecurityEventKind.two_factor_policy_changed,
                actor=current_user,
                detail={"municipality": municipality.slug, "coordinators": wanted},
            )

    return municipality_setting_page(
        "admin_security.two_factor_policy",
        policy.can_set_two_factor_policy,
        "admin/two_factor.html",
        "require_coordinators",
        save,
        _("The two-factor requirement has been saved."),
    )


@bp.post("/users/<int:user_id>/reset-2fa")
@login_required
def user_reset_two_factor(user_id: int) -> ResponseReturnValue:
    policy.require_municipal_admin(current_user)
    user = policy.get_managed_user(current_user, user_id)
    if not policy.can_reset_two_factor(current_user, user):
        raise NotFound()
    stepup.require_recent_authentication()
    twofactor.reset(current_user, user)
    db.session.commit()
    flash(
        _("Two-factor sign-in for %(name)s has been reset; they set it up again.", name=user.name),
        "success",
    )
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/invite")
@login_required
def user_invite(user_id: int) -> ResponseReturnValue:
    policy.require_municipal_admin(current_user)
    user = policy.get_managed_user(current_user, user_id)
    passwords.invite(current_user, user)
    db.session.commit()
    flash(_("A link to choose a password has been sent to %(email)s.", email=user.email), "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))

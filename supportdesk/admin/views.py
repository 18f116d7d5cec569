"""Administration: municipal admins manage their municipality, admin the installation."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts import services

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    policy.require_municipal_admin(current_user)
    overview = []
    if current_user.municipality_id:
        overview = services.entitlement_overview(current_user.municipality_id)
    return render_template("admin/index.html", overview=overview)

"""The administration page for one person's data: export as JSON, or erase."""

from __future__ import annotations

import json

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts import stepup
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.gdpr import services

bp = Blueprint("gdpr", __name__, url_prefix="/admin")


@bp.route("/personal-data", methods=["GET", "POST"])
@login_required
def personal_data() -> ResponseReturnValue:
    scope = policy.personal_data_scope(current_user)
    identifier = (request.form.get("identifier") or "").strip()[:254]
    action = request.form.get("action")
    if request.method == "GET" or not identifier:
        status = 422 if request.method == "POST" else 200
        errors = {"identifier": _("This field is required.")} if status == 422 else {}
        return render_template("gdpr/personal_data.html", identifier="", errors=errors), status
    try:
        subject = services.find_subject(identifier, scope)
    except ValidationFailed as error:
        return render_template(
            "gdpr/personal_data.html",
            identifier=identifier,
            errors={k: str(v) for k, v in error.fields.items()},
        ), 422
    if action == "export" and subject.found:
        data = services.export(current_user, subject)
        db.session.commit()
        return Response(
            json.dumps(data, ensure_ascii=False, indent=2),
            mimetype="application/json",
            headers={"Content-Disposition": 'attachment; filename="persondata.json"'},
        )
    if action == "erase" and subject.found:
        if request.form.get("confirm") != "yes":
            return render_template(
                "gdpr/personal_data.html",
                identifier=identifier,
                subject=subject,
                errors={"confirm": _("Tick the box to confirm the erasure.")},
            ), 422
        stepup.require_recent_authentication()
        count = services.erase(current_user, subject)
        db.session.commit()
        flash(
            ngettext(
                "The data has been anonymised (%(num)d ticket).",
                "The data has been anonymised (%(num)d tickets).",
                count,
            ),
            "success",
        )
        return redirect(url_for("gdpr.personal_data"))
    return render_template(
        "gdpr/personal_data.html", identifier=identifier, subject=subject, errors={}
    )

"""Start page, health check and the anonymous language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import text

from supportdesk.accounts.services import set_locale
from supportdesk.accounts.views import safe_next
from supportdesk.extensions import csrf, db

bp = Blueprint("core", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    from flask import render_template

    return render_template("home.html")


@bp.get("/healthz")
@csrf.exempt
def healthz() -> ResponseReturnValue:
    """Database and search index reachable: 200, otherwise 503 naming the failing part."""
    status = {"status": "ok", "database": "ok", "search": "ok"}
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:
        current_app.logger.warning("healthz: database: %s", error)
        status["database"] = "error"
    checker = current_app.extensions.get("supportdesk.search_health")
    if checker is not None:
        try:
            checker()
        except Exception as error:
            current_app.logger.warning("healthz: search: %s", error)
            status["search"] = "error"
    failing = [k for k in ("database", "search") if status[k] != "ok"]
    if failing:
        status["status"] = "error"
        return jsonify(status), 503
    return jsonify(status)


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    """Anonymous visitors choose a language by cookie; users do it in their profile."""
    locale = request.form.get("locale", "da")
    locale = locale if locale in ("da", "en") else "da"
    target = request.form.get("next") or "/"
    response = make_response(redirect(safe_next(target) or url_for("core.index")))
    response.set_cookie("lang", locale, max_age=365 * 86400, samesite="Lax", httponly=True)
    if current_user.is_authenticated:
        set_locale(current_user, locale)
        db.session.commit()
    return response

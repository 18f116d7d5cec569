"""The security log and the access log as pages and CSV, and the log of denied access."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Blueprint, Response, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.audit import events, services
from supportdesk.audit.models import Outcome, SecurityEventKind
from supportdesk.errors import NotFound
from supportdesk.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin")

T = TypeVar("T")


def _filters(parse: Callable[[Any], T]) -> tuple[T, bool]:
    """Only those who may read the logs see them (anyone else: not found); the page's
    filters, and whether the CSV export is asked for."""
    if not policy.can_view_audit_logs(current_user):
        raise NotFound()
    return parse(request.args), request.args.get("format") == "csv"


def _csv(name: str, header: list[str], rows: Iterable[list[Any]]) -> Response:
    return Response(
        services.to_csv(header, rows),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@bp.get("/security-log")
@login_required
def security_log() -> ResponseReturnValue:
    filters, csv = _filters(services.event_filters)
    if csv:
        rows, _more = services.security_events(current_user, filters, limit=services.EXPORT_LIMIT)
        return _csv(
            "sikkerhedslog",
            ["at", "kind", "outcome", "email", "user", "actor", "ip", "user_agent"],
            (
                [
                    services.local_time(e.at),
                    e.kind.value,
                    e.outcome.value,
                    e.email or "",
                    e.user.email if e.user else "",
                    e.actor.email if e.actor else "",
                    e.ip or "",
                    e.user_agent or "",
                ]
                for e in rows
            ),
        )
    rows, more = services.security_events(current_user, filters)
    return render_template(
        "audit/security_log.html",
        rows=rows,
        more=more,
        kinds=services.KIND_LABELS,
        outcomes=services.OUTCOME_LABELS,
    )


@bp.get("/access-log")
@login_required
def access_log() -> ResponseReturnValue:
    filters, csv = _filters(services.access_filters)
    if csv:
        rows = services.access_log(current_user, filters, limit=services.EXPORT_LIMIT)
        return _csv(
            "adgangslog",
            ["at", "ticket", "name", "email", "action", "detail"],
            (
                [services.local_time(r.at), r.ticket, r.user_name, r.user_email, r.action, r.detail]
                for r in rows
            ),
        )
    return render_template(
        "audit/access_log.html",
        rows=services.access_log(current_user, filters),
        labels=services.ACCESS_LABELS,
    )


@bp.after_app_request
def _log_denied(response: Response) -> Response:
    """A signed-in caller refused an object (another tenant's is a 404) is in the log."""
    if (
        response.status_code in (403, 404)
        and request.endpoint not in (None, "static")
        and not g.get("audit_denied_logged")
        and current_user
        and current_user.is_authenticated
    ):
        g.audit_denied_logged = True
        user = current_user._get_current_object()
        who = {"user_id": user.id, "municipality_id": user.municipality_id, "email": user.email}
        # end the request's transaction first: on SQLite it may hold the write lock
        db.session.rollback()
        events.record_now(
            SecurityEventKind.access_denied,
            Outcome.denied,
            **who,
            detail={
                "path": request.path[:300],
                "method": request.method,
                "status": response.status_code,
            },
        )
    return response

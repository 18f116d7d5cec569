"""API: the security event log and the access log ("who looked at this child's ticket")."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk import policy
from supportdesk.api.base import bp, require_user
from supportdesk.api.openapi import document, query_param
from supportdesk.audit import services


@bp.get("/audit/security")
@document(
    "Security events (sign-ins, lockouts, two-factor, passwords, tokens, entitlements, "
    "roles, denied access): a municipal admin's municipality, or all for the admin",
    parameters=[
        query_param("kind"),
        query_param("email"),
        query_param("from"),
        query_param("to"),
        query_param("before"),
    ],
)
def audit_security() -> ResponseReturnValue:
    require_user(policy.can_view_audit_logs)
    rows, more = services.security_events(current_user, services.event_filters(request.args))
    return jsonify({"items": [services.event_json(e) for e in rows], "before": more})


@bp.get("/audit/access")
@document(
    "Who looked at a ticket, and who sent CPR numbers from it unmasked to the vendor",
    parameters=[
        query_param("ticket"),
        query_param("email"),
        query_param("from"),
        query_param("to"),
    ],
)
def audit_access() -> ResponseReturnValue:
    require_user(policy.can_view_audit_logs)
    filters = services.access_filters(request.args)
    return jsonify({"items": [r.as_json() for r in services.access_log(current_user, filters)]})

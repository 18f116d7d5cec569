"""API: the caller's own notifications (the bell), newest first."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk.api.base import bp, require_user
from supportdesk.api.openapi import document, query_param
from supportdesk.notifications import services

LIMIT_MAX = 100


@bp.get("/notifications")
@document(
    "The caller's notifications, newest first: id, event (ticket_escalated, answer_relayed, "
    "ticket_resolved, known_issue_resolved, …), ticket and case numbers, text, read, "
    "created_at. `before` (an id) pages on; `limit` up to 100 (default 30).",
    parameters=[query_param("before"), query_param("limit")],
)
def notifications() -> ResponseReturnValue:
    require_user()
    before = request.args.get("before", type=int)
    limit = min(max(request.args.get("limit", type=int) or services.PAGE_SIZE, 1), LIMIT_MAX)
    rows, _next = services.page(current_user, before=before, size=limit)
    return jsonify([services.notification_json(n) for n in rows])

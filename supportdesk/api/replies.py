"""API: canned replies (coordinators: their municipality's; vendor agents: their vendor's)."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk import policy
from supportdesk.api.base import bp, require_user
from supportdesk.api.openapi import document, json_object
from supportdesk.api.payload import iso, json_body
from supportdesk.extensions import db
from supportdesk.replies import services
from supportdesk.replies.models import CannedReply


def reply_json(reply: CannedReply) -> dict:
    return {
        "id": reply.id,
        "title": reply.title,
        "body": reply.body,
        "created_at": iso(reply.created_at),
    }


def _require_replies() -> None:
    require_user(policy.can_use_canned_replies)


@bp.get("/canned-replies")
@document("The caller's canned replies (municipality's or vendor's), by title")
def list_canned_replies() -> ResponseReturnValue:
    _require_replies()
    return jsonify([reply_json(r) for r in services.replies_for(current_user)])


@bp.post("/canned-replies")
@document(
    "Add a canned reply; the body may hold {reporter}, {ticket} and {institution}",
    request_body=json_object(
        ["title", "body"], {"title": {"type": "string"}, "body": {"type": "string"}}
    ),
    responses={201: "Created", 422: "Validation failed"},
)
def create_canned_reply() -> ResponseReturnValue:
    _require_replies()
    data = json_body()
    reply = services.create_reply(current_user, data.get("title"), data.get("body"))
    db.session.commit()
    response = jsonify(reply_json(reply))
    response.status_code = 201
    return response

"""API: merging a duplicate into another ticket and answering the satisfaction survey."""

from __future__ import annotations

from flask import jsonify
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk import policy
from supportdesk.api.base import bp, caller_ticket
from supportdesk.api.openapi import document, json_object
from supportdesk.api.payload import iso, json_body
from supportdesk.api.tickets import ticket_json
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.tickets import merging, services, surveys


@bp.post("/tickets/<number>/merge")
@document(
    "Merge this ticket into another of the municipality (coordinators)",
    request_body=json_object(
        ["into"], {"into": {"type": "string", "description": "target ticket number"}}
    ),
    responses={
        200: "The target ticket",
        404: "Not found (or another municipality's)",
        422: "Into itself or into a closed ticket",
    },
)
def merge_ticket(number: str) -> ResponseReturnValue:
    ticket = caller_ticket(number, policy.can_merge)
    into = json_body().get("into")
    if not isinstance(into, str) or not into.strip():
        raise ValidationFailed(fields={"into": "The target ticket's number."})
    target = policy.get_ticket(current_user, into.strip())
    merging.merge(current_user, ticket, target)
    db.session.commit()
    return jsonify(ticket_json(services.load_detail(target)))


@bp.post("/tickets/<number>/survey")
@document(
    "Answer “Fik du hjælp?” for a resolved ticket (its creator, once)",
    request_body=json_object(
        ["score"],
        {
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "comment": {"type": "string"},
        },
    ),
    responses={
        201: "Recorded",
        404: "Not the creator's ticket",
        409: "Already answered",
        422: "Not resolved yet, or invalid score",
    },
)
def answer_survey(number: str) -> ResponseReturnValue:
    ticket = caller_ticket(number, policy.can_answer_survey)
    data = json_body()
    response = surveys.answer(current_user, ticket, data.get("score"), data.get("comment"))
    answer = {
        "ticket": ticket.number,
        "score": response.score,
        "comment": response.comment,
        "created_at": iso(response.created_at),
    }
    db.session.commit()
    result = jsonify(answer)
    result.status_code = 201
    return result

"""API: escalate a ticket, read and change vendor cases, write case messages."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.api.base import bp, caller_case, caller_ticket, require_user
from supportdesk.api.idempotency import HEADER_PARAMETER, commit, idempotent
from supportdesk.api.openapi import (
    VERSIONED_CHANGE_RESPONSES,
    document,
    json_object,
    query_param,
    versioned_change,
)
from supportdesk.api.payload import boolean, id_list, json_body, optional_string, patch_version
from supportdesk.errors import ValidationFailed
from supportdesk.escalation import cases, documents, listing
from supportdesk.escalation import services as escalation
from supportdesk.escalation.models import CaseStatus
from supportdesk.extensions import db
from supportdesk.tickets.models import Priority

_STRING = {"type": "string"}
_IDS = {"type": "array", "items": {"type": "integer"}}


def _case_response(number: str) -> ResponseReturnValue:
    """The case document as the caller sees it now (after a change: the committed state)."""
    case = cases.case_for_page(current_user, number)
    url = url_for("escalation.detail", number=case.number)
    return jsonify(documents.case_document(case, current_user, url=url))


@bp.post("/tickets/<number>/escalate")
@document(
    "Escalate a ticket to its system's vendor (support-entitled coordinators only)",
    request_body=json_object(
        ["summary"],
        {
            "summary": _STRING,
            "case": {"type": "string", "description": "an open case of the same vendor"},
            "share_entries": _IDS,
            "share_attachments": _IDS,
            "share_description": {"type": "boolean"},
            "confirm_sensitive": {
                "type": "boolean",
                "description": "send CPR and phone numbers unmasked (logged)",
            },
            "priority": {"type": "string", "enum": [p.value for p in Priority]},
        },
    ),
    responses={
        201: 'Escalated: {"case": number}',
        403: "Not support-entitled for the vendor",
        409: "Already escalated or not escalatable",
        422: "Invalid",
    },
)
def escalate(number: str) -> ResponseReturnValue:
    ticket = caller_ticket(number)
    policy.require_escalate(current_user, ticket)
    case = escalation.escalate(current_user, ticket, _escalation_request(json_body()))
    db.session.commit()
    response = jsonify(
        {"case": case.number, "url": url_for("escalation.detail", number=case.number)}
    )
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_case", number=case.number)
    return response


def _escalation_request(data: dict[str, Any]) -> escalation.EscalationRequest:
    """The JSON body's shape; what it may share is the service's to check."""
    errors: dict[str, str] = {}
    parsed = escalation.EscalationRequest(
        summary=optional_string(data, "summary", errors) or "",
        case_number=optional_string(data, "case", errors),
        priority=optional_string(data, "priority", errors),
        share_entry_ids=id_list(data, "share_entries", errors),
        share_attachment_ids=id_list(data, "share_attachments", errors),
        share_description=boolean(data, "share_description", errors),
        confirm_sensitive=boolean(data, "confirm_sensitive", errors),
    )
    if errors:
        raise ValidationFailed(fields=errors)
    return parsed


@bp.get("/cases")
@document(
    "Vendor cases the caller may see, newest first (keyset pagination)",
    parameters=[
        query_param("status", "a case status or 'open'"),
        query_param("priority"),
        query_param("municipality", "municipality slug"),
        query_param("system", "system slug"),
        query_param("sla", "ok, warning, breached, paused or met"),
        query_param("assignee", "'me', 'none' or a user id"),
        query_param("cursor", "next_cursor from the previous page"),
        query_param("limit", "1-100, default 25", "integer"),
    ],
)
def list_cases() -> ResponseReturnValue:
    require_user(policy.can_see_cases)
    raw_limit = request.args.get("limit", str(listing.PAGE_SIZE))
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= 100:
        raise ValidationFailed(fields={"limit": "Between 1 and 100."})
    filters = listing.CaseFilters.from_query(request.args)
    page = listing.list_cases(current_user, filters, size=limit)
    return jsonify(
        {
            "items": [documents.case_list_item(c) for c in page.cases],
            "next_cursor": page.next_cursor,
        }
    )


@bp.get("/cases/<number>")
@document("One vendor case as the caller may see it")
def get_case(number: str) -> ResponseReturnValue:
    require_user()
    return _case_response(number)


@bp.patch("/cases/<number>")
@document(
    "Change status, priority, vendor reference or assignee (optimistic locking on version)",
    request_body=versioned_change(
        CaseStatus,
        {
            "vendor_reference": {"type": ["string", "null"]},
            "assignee": {"type": ["string", "null"], "description": "a vendor agent's e-mail"},
        },
    ),
    responses=VERSIONED_CHANGE_RESPONSES,
)
def patch_case(number: str) -> ResponseReturnValue:
    case = caller_case(number)
    data = json_body()
    version = patch_version(data, ("status", "priority", "vendor_reference", "assignee"))
    errors: dict[str, str] = {}
    status = optional_string(data, "status", errors)
    priority = optional_string(data, "priority", errors)
    reference = optional_string(data, "vendor_reference", errors)
    assignee: User | bool | None = False
    if "assignee" in data:
        email = optional_string(data, "assignee", errors)
        assignee = None
        if email:
            assignee = db.session.scalar(select(User).where(User.email == email.strip().lower()))
            if assignee is None:
                errors["assignee"] = "Unknown user."
    if errors:
        raise ValidationFailed(fields=errors)
    cases.update_case(
        current_user,
        case,
        version=version,
        status=status,
        priority=priority,
        # null clears the reference; a missing field leaves it alone.
        vendor_reference=(reference or "") if "vendor_reference" in data else None,
        assignee=assignee,
    )
    db.session.commit()
    return _case_response(number)


@bp.post("/cases/<number>/messages")
@document(
    "Write a message in the case (the vendor's agents or the municipality's entitled coordinators)",
    request_body=json_object(["body"], {"body": _STRING, "confirm_sensitive": {"type": "boolean"}}),
    parameters=[HEADER_PARAMETER],
    responses={201: "Created", 403: "Not allowed to write in this case", 422: "Invalid"},
)
@idempotent
def post_message(number: str) -> ResponseReturnValue:
    case = caller_case(number)
    data = json_body()
    errors: dict[str, str] = {}
    body = optional_string(data, "body", errors)
    confirm = boolean(data, "confirm_sensitive", errors)
    if errors:
        raise ValidationFailed(fields=errors)
    message = cases.post_message(current_user, case, body or "", confirm_sensitive=confirm)
    response = jsonify(documents.message_document(message))
    response.status_code = 201
    return commit(response)

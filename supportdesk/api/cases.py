"""API: escalate a ticket, read and change vendor cases, write case messages."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.api import bp, require_user
from supportdesk.api.openapi import document, query_param
from supportdesk.api.payload import boolean, id_list, iso, json_body, optional_string, patch_version
from supportdesk.errors import NotEntitled, NotFound, ValidationFailed
from supportdesk.escalation import services
from supportdesk.escalation.models import CaseMessage, CaseStatus, VendorCase
from supportdesk.extensions import db
from supportdesk.markup import render_markdown
from supportdesk.tickets.models import Priority, Ticket

_STRING = {"type": "string"}
_IDS = {"type": "array", "items": {"type": "integer"}}


def message_json(message: CaseMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "from_vendor": message.from_vendor,
        "author": message.author.name if message.author else None,
        "body": message.body,
        "body_html": str(render_markdown(message.body)),
        "masked": message.masked,
        "created_at": iso(message.created_at),
    }


def case_json(
    case: VendorCase, viewer: User | None = None, *, url: str | None = None
) -> dict[str, Any]:
    """The case as the caller (or `viewer`) may see it: vendors get shared snapshots, never
    tickets. Webhook payloads are this same document, built for the receiver's side."""
    user = viewer if viewer is not None else current_user
    municipal = policy.is_municipal(user)
    visible_numbers = list(
        db.session.scalars(
            policy.tickets_visible_to(user)
            .where(Ticket.vendor_case_id == case.id)
            .with_only_columns(Ticket.number)
            .order_by(Ticket.id)
        )
    )
    return {
        "number": case.number,
        "vendor": case.vendor.slug,
        "municipality": case.municipality.slug,
        "system": case.system.slug,
        "status": case.status.value,
        "priority": case.priority.value,
        "vendor_reference": case.vendor_reference,
        "subject": case.subject,
        "summary": case.summary,
        "assignee": case.assignee.email if case.assignee else None,
        "known_issue": case.known_issue_id,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "first_response_at": iso(case.first_response_at),
        "resolved_at": iso(case.resolved_at),
        "version": case.version,
        "tickets": visible_numbers,
        "ticket_summaries": [
            {
                "number": s.number,
                "subject": s.subject,
                "institution": s.institution,
                "status": s.status,
                "created_at": iso(s.created_at),
            }
            for s in services.ticket_summaries(user, case)
        ],
        "shared": [
            {
                "kind": item.kind.value,
                "text": item.text,
                "filename": item.filename,
                "masked": item.masked,
                "sensitive_confirmed": item.sensitive_confirmed,
                "shared_at": iso(item.shared_at),
                **({"ticket": item.ticket.number} if municipal else {}),
            }
            for item in case.shares
        ],
        "messages": [message_json(m) for m in case.messages],
        "sla": services.sla_view(case).as_json(),
        "url": url or url_for("escalation.detail", number=case.number),
    }


@bp.post("/tickets/<number>/escalate")
@document(
    "Escalate a ticket to its system's vendor (support-entitled coordinators only)",
    request_body={
        "type": "object",
        "required": ["summary"],
        "properties": {
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
    },
    responses={
        201: 'Escalated: {"case": number}',
        403: "Not support-entitled for the vendor",
        409: "Already escalated or not escalatable",
        422: "Invalid",
    },
)
def escalate(number: str) -> ResponseReturnValue:
    require_user()
    ticket = policy.get_ticket(current_user, number)
    if not policy.can_escalate(current_user, ticket.system.vendor):
        raise NotEntitled()
    data = json_body()
    errors: dict[str, str] = {}
    summary = optional_string(data, "summary", errors)
    case_number = optional_string(data, "case", errors)
    priority = optional_string(data, "priority", errors)
    entries = id_list(data, "share_entries", errors)
    attachments = id_list(data, "share_attachments", errors)
    share_description = boolean(data, "share_description", errors)
    confirm = boolean(data, "confirm_sensitive", errors)
    if errors:
        raise ValidationFailed(fields=errors)
    case = services.escalate(
        current_user,
        ticket,
        summary or "",
        entries,
        attachments,
        case_number=case_number,
        confirm_sensitive=confirm,
        share_description=share_description,
        priority=priority,
    )
    db.session.commit()
    response = jsonify(
        {"case": case.number, "url": url_for("escalation.detail", number=case.number)}
    )
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_case", number=case.number)
    return response


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
    require_user()
    if not policy.can_see_cases(current_user):
        raise NotFound()
    args = request.args
    raw_limit = args.get("limit", str(services.PAGE_SIZE))
    limit = int(raw_limit) if raw_limit.isdigit() else 0
    if not 1 <= limit <= 100:
        raise ValidationFailed(fields={"limit": "Between 1 and 100."})
    page = services.list_cases(
        current_user,
        services.CaseFilters(
            status=args.get("status") or None,
            priority=args.get("priority") or None,
            municipality=args.get("municipality") or None,
            system=args.get("system") or None,
            sla=args.get("sla") or None,
            assignee=args.get("assignee") or None,
            cursor=args.get("cursor") or None,
        ),
        size=limit,
    )
    return jsonify(
        {
            "items": [
                {
                    "number": c.number,
                    "subject": c.subject,
                    "vendor": c.vendor.slug,
                    "municipality": c.municipality.slug,
                    "system": c.system.slug,
                    "status": c.status.value,
                    "priority": c.priority.value,
                    "sla_state": c.sla_state.value,
                    "resolution_due_at": iso(c.resolution_due_at),
                    "vendor_reference": c.vendor_reference,
                    "assignee": c.assignee.email if c.assignee else None,
                    "created_at": iso(c.created_at),
                    "version": c.version,
                }
                for c in page.cases
            ],
            "next_cursor": page.next_cursor,
        }
    )


@bp.get("/cases/<number>")
@document("One vendor case as the caller may see it")
def get_case(number: str) -> ResponseReturnValue:
    require_user()
    return jsonify(case_json(services.case_for_page(current_user, number)))


@bp.patch("/cases/<number>")
@document(
    "Change status, priority, vendor reference or assignee (optimistic locking on version)",
    request_body={
        "type": "object",
        "required": ["version"],
        "properties": {
            "version": {"type": "integer"},
            "status": {"type": "string", "enum": [s.value for s in CaseStatus]},
            "priority": {"type": "string", "enum": [p.value for p in Priority]},
            "vendor_reference": {"type": ["string", "null"]},
            "assignee": {"type": ["string", "null"], "description": "a vendor agent's e-mail"},
        },
    },
    responses={200: "Changed", 409: "Stale version or invalid transition", 422: "Invalid"},
)
def patch_case(number: str) -> ResponseReturnValue:
    require_user()
    case = policy.get_case(current_user, number)
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
    services.update_case(
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
    return jsonify(case_json(services.case_for_page(current_user, number)))


@bp.post("/cases/<number>/messages")
@document(
    "Write a message in the case (the vendor's agents or the municipality's entitled coordinators)",
    request_body={
        "type": "object",
        "required": ["body"],
        "properties": {"body": _STRING, "confirm_sensitive": {"type": "boolean"}},
    },
    responses={201: "Created", 403: "Not allowed to write in this case", 422: "Invalid"},
)
def post_message(number: str) -> ResponseReturnValue:
    require_user()
    case = policy.get_case(current_user, number)
    data = json_body()
    errors: dict[str, str] = {}
    body = optional_string(data, "body", errors)
    confirm = boolean(data, "confirm_sensitive", errors)
    if errors:
        raise ValidationFailed(fields=errors)
    message = services.post_message(current_user, case, body or "", confirm_sensitive=confirm)
    db.session.commit()
    response = jsonify(message_json(message))
    response.status_code = 201
    return response

"""API: tickets — same policy and services as the pages (INTERFACE.md)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from supportdesk import policy
from supportdesk.api.base import bp, caller_ticket, require_user
from supportdesk.api.idempotency import HEADER_PARAMETER, commit, idempotent
from supportdesk.api.openapi import (
    VERSIONED_CHANGE_RESPONSES,
    document,
    json_object,
    query_param,
    versioned_change,
)
from supportdesk.api.payload import iso, json_body, optional_string, patch_version
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.markup import render_markdown
from supportdesk.sqlite_locks import reads_before_writes
from supportdesk.tickets import access_log, lifecycle, listing, lookups, services
from supportdesk.tickets.listing import TicketFilters
from supportdesk.tickets.models import (
    Priority,
    Ticket,
    TicketEntry,
    TicketSource,
    TicketStatus,
)

_STRING = {"type": "string"}


def ticket_summary(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status.value,
        "priority": ticket.priority.value,
        "system": ticket.system.slug,
        "category": ticket.category.slug if ticket.category else None,
        "municipality": ticket.municipality.slug,
        "institution": ticket.institution.number if ticket.institution else None,
        "source": ticket.source.value,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "version": ticket.version,
        # only a merged duplicate loads its target (one query, for the few that are)
        "merged_into": ticket.merged_into.number if ticket.merged_into_id else None,
        "url": url_for("tickets.detail", number=ticket.number),
    }


def entry_json(ticket: Ticket, entry: TicketEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "author": entry.author.name if entry.author else None,
        "body": entry.body,
        "body_html": str(render_markdown(entry.body)) if entry.body else "",
        "event": entry.event,
        "data": entry.data,
        "created_at": iso(entry.created_at),
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "content_type": a.content_type,
                "size": a.size,
                "url": url_for("tickets.attachment", number=ticket.number, attachment_id=a.id),
            }
            for a in entry.attachments
        ],
    }


def ticket_json(ticket: Ticket, entries: list[TicketEntry] | None = None) -> dict[str, Any]:
    """The whole ticket as this caller may see it: internal notes only for ticket staff.

    `entries` are the visible entries when the caller has them already.
    """
    case = getattr(ticket, "vendor_case", None)
    data = ticket_summary(ticket)
    if entries is None:
        entries = services.visible_entries(current_user, ticket)
    data.update(
        {
            "description": ticket.description,
            "description_html": str(render_markdown(ticket.description)),
            "entries": [entry_json(ticket, e) for e in entries],
            "case": getattr(case, "number", None),
        }
    )
    if ticket.source == TicketSource.hotline:
        data["requester"] = {
            "name": ticket.requester_name,
            "phone": ticket.requester_phone,
            "email": ticket.requester_email,
        }
    return data


@bp.post("/tickets")
@document(
    "Create a ticket",
    request_body=json_object(
        ["subject", "description", "system"],
        {
            "subject": _STRING,
            "description": _STRING,
            "system": {"type": "string", "description": "system slug"},
            "category": {"type": "string", "description": "category slug within the system"},
            "priority": {"type": "string", "enum": [p.value for p in Priority]},
            "institution": {"type": "string", "description": "institution number"},
            "requester_name": _STRING,
            "requester_phone": _STRING,
            "requester_email": _STRING,
        },
    ),
    parameters=[HEADER_PARAMETER],
    responses={201: "Created; Location is the ticket", 422: "Validation failed"},
)
@idempotent
@reads_before_writes
def create_ticket() -> ResponseReturnValue:
    require_user(policy.can_create_ticket)
    data = json_body()
    errors: dict[str, str] = {}
    values = {
        name: optional_string(data, name, errors)
        for name in (
            "subject",
            "description",
            "system",
            "category",
            "priority",
            "institution",
            "requester_name",
            "requester_phone",
            "requester_email",
        )
    }
    new = _new_ticket(values, errors)
    if errors:
        # the service's field errors too, so the caller sees every problem at once
        raise ValidationFailed(fields={**services.ticket_errors(current_user, new), **errors})
    ticket = services.create_ticket(current_user, new)
    # Build the answer from the objects the service just flushed: the commit expires
    # them, and serialising afterwards would reload each one with its own query.
    answer = ticket_json(ticket, services.new_ticket_entries(current_user, ticket))
    response = jsonify(answer)
    response.status_code = 201
    response.headers["Location"] = url_for("api.get_ticket", number=answer["number"])
    return commit(response)


def _new_ticket(values: dict[str, str | None], errors: dict[str, str]) -> services.NewTicket:
    """The body as a NewTicket; slugs and numbers that name nothing go to `errors`."""
    system = lookups.find_system(values["system"])
    if values["system"] and system is None:
        errors["system"] = "Unknown system."
    category = lookups.find_category(system, values["category"])
    if values["category"] and system is not None and category is None:
        errors["category"] = "Unknown category for this system."
    institution = None
    try:
        institution = lookups.get_institution_by_number(current_user, values["institution"])
    except ValidationFailed as error:
        errors.update(error.fields)
    return services.NewTicket(
        system=system,
        category=category,
        subject=values["subject"] or "",
        description=values["description"] or "",
        priority=values["priority"] or Priority.normal,
        institution=institution,
        source=TicketSource.hotline if values["requester_name"] else TicketSource.api,
        requester_name=values["requester_name"],
        requester_phone=values["requester_phone"],
        requester_email=values["requester_email"],
    )


@bp.get("/tickets")
@document(
    "Tickets the caller may see, newest first, by keyset cursor",
    parameters=[
        query_param("status", "new, open, waiting, escalated, resolved, closed"),
        query_param("system", "system slug"),
        query_param("q", "free text in number, subject, description"),
        query_param("cursor", "next_cursor from the previous page"),
        query_param("limit", "1-200, default 50", "integer"),
        query_param("sort", "newest, oldest, priority, updated"),
    ],
)
def list_tickets() -> ResponseReturnValue:
    require_user()
    args = request.args
    errors: dict[str, str] = {}
    statuses = []
    for value in args.getlist("status"):
        for part in value.split(","):
            try:
                statuses.append(TicketStatus(part.strip()))
            except ValueError:
                errors["status"] = "Unknown status."
    limit_raw = args.get("limit", "50")
    try:
        limit = int(limit_raw)
        if not 1 <= limit <= 200:
            raise ValueError
    except ValueError:
        errors["limit"] = "A whole number from 1 to 200."
        limit = 50
    sort = args.get("sort", "newest")
    if sort not in listing.SORTS:
        errors["sort"] = "One of newest, oldest, priority, updated."
    if errors:
        raise ValidationFailed(fields=errors)
    filters = TicketFilters(
        status=statuses, system=args.get("system") or None, q=args.get("q") or None, sort=sort
    )
    page = listing.list_tickets(
        current_user, filters, cursor=args.get("cursor") or None, limit=limit, with_counts=False
    )
    return jsonify(
        {"items": [ticket_summary(t) for t in page.items], "next_cursor": page.next_cursor}
    )


@bp.get("/tickets/<number>")
@document("One ticket with the entries the caller may see")
def get_ticket(number: str) -> ResponseReturnValue:
    ticket = services.load_detail(caller_ticket(number))
    access_log.log_view(current_user, ticket, "api")
    return jsonify(ticket_json(ticket))


@bp.patch("/tickets/<number>")
@document(
    "Change status, priority, assignee or category (optimistic locking on version)",
    request_body=versioned_change(
        TicketStatus,
        {
            "assignee": {"type": ["string", "null"], "description": "colleague's e-mail"},
            "category": {"type": "string", "description": "category slug"},
        },
    ),
    responses=VERSIONED_CHANGE_RESPONSES,
)
def patch_ticket(number: str) -> ResponseReturnValue:
    ticket = caller_ticket(number)
    data = json_body()
    version = patch_version(data, ("status", "priority", "assignee", "category"))
    lifecycle.check_version(ticket, version)
    if "category" in data:
        category = lookups.find_category(ticket.system, data["category"])
        if category is None:
            raise ValidationFailed(fields={"category": "Unknown category for this system."})
        lifecycle.set_category(current_user, ticket, category)
    if "priority" in data:
        lifecycle.set_priority(current_user, ticket, str(data["priority"]))
    if "assignee" in data:
        assignee = data["assignee"]
        if assignee is not None and not isinstance(assignee, str):
            raise ValidationFailed(fields={"assignee": "An e-mail address or null."})
        lifecycle.assign(
            current_user, ticket, lookups.find_assignee_by_email(current_user, assignee)
        )
    if "status" in data:
        lifecycle.change_status(current_user, ticket, str(data["status"]))
    db.session.commit()
    return jsonify(ticket_json(services.load_detail(ticket)))


@bp.post("/tickets/<number>/entries")
@document(
    "Add a public reply or (ticket staff only) an internal note",
    request_body=json_object(["body"], {"body": _STRING, "internal": {"type": "boolean"}}),
    parameters=[HEADER_PARAMETER],
    responses={201: "Created"},
)
@idempotent
def add_entry(number: str) -> ResponseReturnValue:
    ticket = caller_ticket(number)
    data = json_body()
    body = data.get("body")
    internal = data.get("internal", False)
    errors = {}
    if not isinstance(body, str):
        errors["body"] = "Must be a string."
    if not isinstance(internal, bool):
        errors["internal"] = "Must be true or false."
    if errors:
        raise ValidationFailed(fields=errors)
    entry = services.add_entry(current_user, ticket, body, internal=internal)
    response = jsonify(entry_json(ticket, entry))
    response.status_code = 201
    return commit(response)

"""Every column a cached page shows is tracked: changing it bumps the page's generations.

For each cached fragment the rows it renders are listed below; their columns are
introspected from the models, so a column added later counts as shown until it is
tracked (`generations.track`) or listed in NOT_SHOWN with the reason it is not shown.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import JSON, inspect, select

from supportdesk.escalation import services as escalation_services
from supportdesk.extensions import db
from supportdesk.replies.models import CannedReply
from supportdesk.tickets import merging
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import SurveyResponse
from tests.cache.conftest import Town
from tests.cache.pages import values
from tests.factories import file_ticket, published_article

# the rows each page renders (attributes of the test town)
RENDERED: dict[str, tuple[str, ...]] = {
    "ticket list": ("ticket", "school", "coordinator", "queue", "system", "category"),
    "ticket page": (
        "ticket",
        "entry",
        "attachment",
        "case",
        "message",
        "share",
        "issue",
        "issue_link",
        "sla_target",
        "school",
        "superuser",
        "coordinator",
        "agent",
        "queue",
        "system",
        "category",
        "vendor",
        "b",
        # added by the `ticket_town` fixture below
        "merged",
        "merged_entry",
        "survey",
        "canned_reply",
        "article",
    ),
    "case queue (municipality)": ("case", "vendor", "system", "agent"),
    "case queue (vendor)": ("case", "b", "system", "agent", "vendor"),
    "FAQ search": ("system", "category"),
    "menu": ("coordinator", "entitlement"),
    "vendor menu": ("agent",),
}

# (model name, column) → why no cached page shows it, or why it never changes
NOT_SHOWN: dict[tuple[str, str], str] = {
    ("User", "locale"): "the page key holds the request's locale",
    ("User", "password_hash"): "secret",
    ("User", "auth_epoch"): "ends sessions; the next request signs in anew",
    ("User", "created_at"): "not shown",
    ("User", "last_login_at"): "stamped at every login, never shown",
    ("User", "totp_secret"): "secret",
    ("User", "totp_enabled_at"): "two-factor state: the account pages only, never cached",
    ("User", "totp_last_step"): "stamped at every two-factor sign-in, never shown",
    ("User", "locked_until"): "lockout: the sign-in page only, never cached",
    ("Municipality", "require_2fa_coordinators"): "read at sign-in, shown only in the admin",
    ("Municipality", "auto_relay_answers"): "read when a vendor answers; the admin and the "
    "case page (never cached) show it",
    ("Ticket", "municipality_id"): "a ticket never changes municipality (DESIGN 3.1)",
    **{
        (model, "municipality_id"): "copied from the ticket at creation"
        for model in (
            "TicketEntry",
            "Attachment",
            "SurveyResponse",
            "SharedItem",
            "KnownIssueTicket",
        )
    },
}

# (page, model name, column) → why that page does not show it
NOT_SHOWN_ON: dict[tuple[str, str, str], str] = {
    **{
        (page, "VendorCase", column): "the queue shows number, subject, status, priority, "
        "SLA state and due date, system, municipality or vendor and assignee"
        for page in ("case queue (municipality)", "case queue (vendor)")
        for column in (
            "summary",
            "vendor_reference",
            "created_by_id",
            "known_issue_id",
            "updated_at",
            "resolved_at",
            "closed_at",
            "first_response_at",
            "response_due_at",
            "paused_seconds",
            "paused_at",
            "response_warned_at",
            "response_breached_at",
            "resolution_warned_at",
            "resolution_breached_at",
        )
    },
    **{
        ("ticket page", "Article", column): "the reply tools list published articles' slug "
        "and title by audience"
        for column in ("body", "category_id", "tags", "updated", "created_at", "changed_at")
    },
    ("ticket page", "Article", "published_at"): "the state says whether it is published",
    **{
        ("ticket page", "CannedReply", column): "a canned reply keeps its one owner (the "
        "one_owner check allows no other value here)"
        for column in ("municipality_id", "vendor_id")
    },
    **{
        ("case queue (vendor)", "Municipality", column): "the queue shows its name and slug"
        for column in ("code", "retention_days", "wave", "go_live", "created_at")
    },
}


@pytest.fixture
def ticket_town(town: Town) -> Town:
    """The test town with what else the ticket page shows: a ticket merged into it (with
    an entry), a survey answer, a canned reply of the municipality and an FAQ article."""
    merged = file_ticket(town.superuser, town.system, subject="Samme fejl på Rosenvænget")
    town.merged_entry = ticket_services.add_entry(town.superuser, merged, "Også her")
    db.session.flush()
    merging.merge(town.coordinator, merged, town.ticket)
    town.merged = merged
    town.survey = SurveyResponse(
        ticket_id=town.ticket.id,
        municipality_id=town.b.id,
        user_id=town.superuser.id,
        score=4,
        comment="Tak",
    )
    town.canned_reply = CannedReply(
        municipality_id=town.b.id, title="Genstart", body="Prøv at genstarte, {reporter}."
    )
    db.session.add_all([town.survey, town.canned_reply])
    db.session.commit()
    town.article = published_article(town.system)
    # a second case: a row a message's or a shared item's case can point at instead
    other = file_ticket(town.superuser, town.system, subject="Kan ikke se skemaet")
    db.session.commit()
    escalation_services.escalate(
        town.coordinator, other, escalation_services.EscalationRequest("Skemaet mangler.")
    )
    db.session.commit()
    return town


def _row(town: Town, name: str) -> Any:
    if name == "entitlement":
        return town.coordinator.entitlements[0]
    return getattr(town, name)


def _changed_value(column, value: Any) -> Any:
    """Another valid value for the column: another row for a key, else a nearby value."""
    if column.foreign_keys:
        if value is not None and column.nullable:
            return None
        target = next(iter(column.foreign_keys)).column
        other = db.session.scalar(select(target).where(target != value).order_by(target).limit(1))
        assert other is not None, f"the test town needs a second {target.table.name} row"
        return other
    kind = dict if isinstance(column.type, JSON) else column.type.python_type
    if kind is object:  # a TypeDecorator (aware UTC datetimes)
        kind = column.type.impl.python_type
    if issubclass(kind, enum.Enum):
        members = list(kind)
        return members[(members.index(value) + 1) % len(members)] if value else members[0]
    if kind is bool:
        return not value
    if kind is int:
        return (value or 0) + 1
    if kind is str:
        return (value or "x")[:-1] + ("Q" if not (value or "").endswith("Q") else "Z")
    if kind is datetime:
        return (value or datetime(2026, 1, 5, 9, 0).astimezone()) + timedelta(hours=1)
    if kind is date:
        return (value or date(2026, 1, 5)) + timedelta(days=1)
    if kind is time:
        return time(((value or time(8)).hour + 1) % 24)
    if kind is dict:
        return {**(value or {}), "changed": True}
    raise AssertionError(f"no way to change a {kind.__name__} column ({column})")


def _columns(row: Any) -> list[tuple[str, Any]]:
    mapper = inspect(type(row))
    skip = {c.name for c in mapper.primary_key}
    if mapper.version_id_col is not None:
        skip.add(mapper.version_id_col.name)  # moves with every other change
    return [
        (attr.key, attr.columns[0])
        for attr in mapper.column_attrs
        if attr.columns[0].name not in skip
    ]


@pytest.mark.parametrize("page", list(RENDERED))
def test_every_shown_column_is_tracked(ticket_town, page):
    town = ticket_town
    untracked = []
    for name in RENDERED[page]:
        row = _row(town, name)
        model = type(row).__name__
        for key, column in _columns(row):
            if (model, key) in NOT_SHOWN or (page, model, key) in NOT_SHOWN_ON:
                continue
            before = values(town, page)
            old = getattr(row, key)
            setattr(row, key, _changed_value(column, old))
            if values(town, page) == before:
                untracked.append(f"{model}.{key}")
            setattr(row, key, old)
            db.session.commit()
    assert not untracked, f"{page} shows {', '.join(untracked)}; a change bumps none of its names"

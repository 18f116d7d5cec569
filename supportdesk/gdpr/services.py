"""Everything stored about one person (a requester who phoned, or a user), and its erasure.

A person is found by e-mail address or phone number: as a user of the desk, and as
the requester of tickets (hotline calls). Export gives the data as JSON; erasure
anonymises the requester's tickets exactly as the retention job does and makes a
user's account anonymous, and the security log records who did it.
"""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from supportdesk.accounts import sessions, twofactor
from supportdesk.accounts.models import ApiToken, SupportEntitlement, User, UserSession
from supportdesk.accounts.services import user_document
from supportdesk.audit import events
from supportdesk.audit.models import SecurityEvent, SecurityEventKind
from supportdesk.cache import generations
from supportdesk.errors import ValidationFailed
from supportdesk.escalation.models import CaseMessage
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import Notification
from supportdesk.retention.services import anonymise_tickets
from supportdesk.tickets import history
from supportdesk.tickets.models import (
    SavedView,
    SurveyResponse,
    Ticket,
    TicketEntry,
    TicketFollower,
    TicketView,
)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ERASED_DOMAIN = "anonymiseret.invalid"


@dataclass
class Subject:
    """The person: their account (if any) and the tickets they are the requester of."""

    identifier: str
    user: User | None = None
    tickets: list[Ticket] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.user is not None or bool(self.tickets)


def _digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")[-8:]


def find_subject(identifier: str, municipality_id: int | None) -> Subject:
    """`municipality_id` limits the search to one municipality (None: everywhere)."""
    identifier = (identifier or "").strip()
    subject = Subject(identifier)
    tickets = select(Ticket).order_by(Ticket.id)
    users = select(User)
    if municipality_id is not None:
        tickets = tickets.where(Ticket.municipality_id == municipality_id)
        users = users.where(User.municipality_id == municipality_id)
    if _EMAIL.match(identifier):
        email = identifier.lower()
        subject.user = db.session.scalar(users.where(User.email == email))
        subject.tickets = list(
            db.session.scalars(tickets.where(Ticket.requester_email.ilike(email)))
        )
        return subject
    digits = _digits(identifier)
    if len(digits) != 8:
        raise ValidationFailed(
            fields={"identifier": _l("Enter an e-mail address or an 8-digit phone number.")}
        )
    candidates = db.session.scalars(tickets.where(Ticket.requester_phone.like(f"%{digits[-2:]}")))
    subject.tickets = [t for t in candidates if _digits(t.requester_phone) == digits]
    return subject


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _ticket_json(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number,
        "municipality": ticket.municipality.slug,
        "subject": ticket.subject,
        "description": ticket.description,
        "status": ticket.status.value,
        "created_at": _iso(ticket.created_at),
        "requester": {
            "name": ticket.requester_name,
            "phone": ticket.requester_phone,
            "email": ticket.requester_email,
        },
        "entries": [
            {"kind": e.kind.value, "body": e.body, "created_at": _iso(e.created_at)}
            for e in ticket.entries
        ],
        "case": ticket.vendor_case.number if ticket.vendor_case else None,
    }


def _user_json(user: User) -> dict[str, Any]:
    def rows(query):
        return list(db.session.scalars(query))

    return {
        **user_document(user),
        "active": user.active,
        "locale": user.locale,
        "created_at": _iso(user.created_at),
        "last_login_at": _iso(user.last_login_at),
        "two_factor": user.has_two_factor,
        "entitlements": [
            e.vendor.slug
            for e in rows(select(SupportEntitlement).where(SupportEntitlement.user_id == user.id))
        ],
        "api_tokens": [
            {"name": t.name, "created_at": _iso(t.created_at), "revoked_at": _iso(t.revoked_at)}
            for t in rows(select(ApiToken).where(ApiToken.user_id == user.id))
        ],
        "sessions": [
            {
                "created_at": _iso(s.created_at),
                "last_seen_at": _iso(s.last_seen_at),
                "ended_at": _iso(s.ended_at),
                "ip": s.ip,
                "user_agent": s.user_agent,
            }
            for s in rows(select(UserSession).where(UserSession.user_id == user.id))
        ],
        "security_events": [
            {"at": _iso(e.at), "kind": e.kind.value, "outcome": e.outcome.value, "ip": e.ip}
            for e in rows(
                select(SecurityEvent)
                .where(SecurityEvent.user_id == user.id)
                .order_by(SecurityEvent.id)
            )
        ],
        "ticket_views": [
            {"at": _iso(at), "ticket": number}
            for at, number in db.session.execute(
                select(TicketView.at, Ticket.number)
                .join(Ticket, Ticket.id == TicketView.ticket_id)
                .where(TicketView.user_id == user.id)
                .order_by(TicketView.id)
            )
        ],
        "tickets_created": [
            t.number for t in rows(select(Ticket).where(Ticket.created_by_id == user.id))
        ],
        "entries_written": [
            {"ticket": e.ticket.number, "kind": e.kind.value, "body": e.body}
            for e in rows(select(TicketEntry).where(TicketEntry.author_id == user.id))
        ],
        "case_messages": [
            {"case": m.case.number, "body": m.body, "created_at": _iso(m.created_at)}
            for m in rows(select(CaseMessage).where(CaseMessage.author_id == user.id))
        ],
        "notifications": [
            {"event": n.event.value, "url": n.url, "created_at": _iso(n.created_at)}
            for n in rows(select(Notification).where(Notification.user_id == user.id))
        ],
        "survey_answers": [
            {"ticket": number, "score": score, "comment": comment, "created_at": _iso(at)}
            for number, score, comment, at in db.session.execute(
                select(
                    Ticket.number,
                    SurveyResponse.score,
                    SurveyResponse.comment,
                    SurveyResponse.created_at,
                )
                .join(Ticket, Ticket.id == SurveyResponse.ticket_id)
                .where(SurveyResponse.user_id == user.id)
                .order_by(SurveyResponse.id)
            )
        ],
        "tickets_followed": list(
            db.session.scalars(
                select(Ticket.number)
                .join(TicketFollower, TicketFollower.ticket_id == Ticket.id)
                .where(TicketFollower.user_id == user.id)
                .order_by(TicketFollower.id)
            )
        ),
        "saved_views": [
            {"name": v.name, "query": v.query}
            for v in rows(select(SavedView).where(SavedView.user_id == user.id))
        ],
    }


def _by(actor: User | None) -> str:
    """Who did it, for the log: the signed-in user, or the operator's system account."""
    if actor is not None:
        return actor.email
    return f"command line ({getpass.getuser()})"


def export(actor: User | None, subject: Subject) -> dict[str, Any]:
    """The subject's data as JSON-ready values; the export itself is logged."""
    events.record(
        SecurityEventKind.gdpr_export,
        user=subject.user,
        actor=actor,
        email="",
        detail={
            "tickets": len(subject.tickets),
            "account": subject.user is not None,
            "by": _by(actor),
        },
    )
    return {
        "identifier": subject.identifier,
        "exported_at": utcnow().isoformat(),
        "user": _user_json(subject.user) if subject.user else None,
        "requester_tickets": [_ticket_json(t) for t in subject.tickets],
    }


def erase(actor: User | None, subject: Subject, now: datetime | None = None) -> int:
    """Anonymise the requester's tickets and the user's account; returns tickets anonymised."""
    now = now or utcnow()
    ids = [t.id for t in subject.tickets if t.anonymised_at is None]
    if ids:
        anonymise_tickets(ids, now)
    user = subject.user
    if user is not None:
        former_name = user.name
        user.name = f"Slettet bruger {user.id}"
        user.email = f"slettet-{user.id}@{ERASED_DOMAIN}"
        # the change bumps the names of their municipality or vendor now, but cached
        # pages of one they left show them too: every page with names reads the shared
        # generation
        generations.bump(generations.REFERENCE)
        history.rename_assignee(user, former_name)
        user.active = False
        user.password_hash = "!"  # noqa: S105 — no password can match it
        user.auth_epoch += 1
        twofactor.reset(actor, user)
        sessions.end_all(user, "erased")
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id)
            .values(ip=None, user_agent=None)
        )
        # what they wrote in "Fik du hjælp?" goes; the score stays for the reports
        db.session.execute(
            update(SurveyResponse).where(SurveyResponse.user_id == user.id).values(comment="")
        )
    events.record(
        SecurityEventKind.gdpr_erase,
        user=user,
        actor=actor,
        email="",
        detail={"tickets": len(ids), "account": user is not None, "by": _by(actor)},
    )
    db.session.flush()
    return len(ids)

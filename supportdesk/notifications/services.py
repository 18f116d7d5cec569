"""Who hears about what: in-app notifications now, e-mail through the outbox.

Domains call `notify(...)` inside the transaction that makes the change; the
caller commits once, so the bell entry and the e-mail exist exactly when the
change does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, func, select, update

from supportdesk import outbox, policy
from supportdesk.accounts.models import MUNICIPAL_ROLES, Role, User
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import (
    Notification,
    NotificationEvent,
    NotificationPreference,
)

EMAIL_KIND = "email"
PAGE_SIZE = 30
KEEP_READ_DAYS = 180

EVENT_LABELS = {
    NotificationEvent.ticket_assigned: _l("A ticket is assigned to me"),
    NotificationEvent.ticket_reply: _l("New reply on a ticket"),
    NotificationEvent.ticket_internal_note: _l("New internal note on a ticket"),
    NotificationEvent.ticket_status: _l("A ticket changes status"),
    NotificationEvent.ticket_created: _l("New ticket in my queue"),
    NotificationEvent.case_message: _l("New message on a vendor case"),
    NotificationEvent.case_status: _l("A vendor case changes status"),
    NotificationEvent.case_resolved: _l("A vendor case is resolved"),
    NotificationEvent.sla_warning: _l("A vendor case is close to its SLA deadline"),
    NotificationEvent.sla_breach: _l("A vendor case has passed its SLA deadline"),
    NotificationEvent.known_issue_resolved: _l("A known issue is resolved"),
    NotificationEvent.ticket_escalated: _l("My ticket is sent on to the vendor"),
    NotificationEvent.answer_relayed: _l("An answer from the vendor is passed on to my ticket"),
    NotificationEvent.ticket_resolved: _l("My ticket is resolved"),
    NotificationEvent.ticket_merged: _l("My ticket is merged into another"),
    NotificationEvent.survey_requested: _l("Asked whether a resolved ticket helped me"),
}

# The fixed status vocabulary (INTERFACE.md), so wording does not depend on other domains.
STATUS_LABELS = {
    "new": _l("new"),
    "open": _l("open"),
    "waiting": _l("waiting"),
    "escalated": _l("escalated"),
    "resolved": _l("resolved"),
    "closed": _l("closed"),
    "in_progress": _l("in progress"),
    "waiting_on_municipality": _l("waiting on the municipality"),
}

_TICKET_EVENTS = (
    NotificationEvent.ticket_assigned,
    NotificationEvent.ticket_reply,
    NotificationEvent.ticket_internal_note,
    NotificationEvent.ticket_status,
    NotificationEvent.ticket_created,
    NotificationEvent.ticket_escalated,
    NotificationEvent.answer_relayed,
    NotificationEvent.ticket_resolved,
    NotificationEvent.ticket_merged,
    NotificationEvent.survey_requested,
)
_CASE_EVENTS = (
    NotificationEvent.case_message,
    NotificationEvent.case_status,
    NotificationEvent.case_resolved,
    NotificationEvent.sla_warning,
    NotificationEvent.sla_breach,
)


def may_receive(user: User, event: NotificationEvent) -> bool:
    """Defence in depth: some events must never reach some roles, whatever a caller passes."""
    if event == NotificationEvent.ticket_internal_note:
        # DESIGN §4: internal notes are for municipal ticket staff (policy says who that is)
        return policy.can_receive_internal_notes(user)
    if event in _TICKET_EVENTS:
        # Tickets are municipal; vendor staff and the system admin never see one.
        return user.role in MUNICIPAL_ROLES
    return True


def events_for(user: User) -> list[NotificationEvent]:
    """The event types a user can meet, for the preferences page."""
    if user.role.is_vendor:
        events: tuple[NotificationEvent, ...] = _CASE_EVENTS
    elif user.role in (Role.superuser, Role.hotline):
        events = _TICKET_EVENTS
    else:
        events = (*_TICKET_EVENTS, *_CASE_EVENTS)
    candidates = (*events, NotificationEvent.known_issue_resolved)
    return [event for event in candidates if may_receive(user, event)]


def notify(
    recipients: Iterable[User],
    event: NotificationEvent,
    *,
    url: str,
    context: dict[str, Any],
    actor: User | None = None,
) -> int:
    """In-app notification for each recipient (except the actor, de-duplicated), plus an
    'email' outbox message per recipient who has e-mail on for this event. Caller commits.

    `url` is a site path ("/tickets/ESB-2026-000001"); e-mails prefix settings.base_url.
    `context` must hold only what every recipient may see: callers are responsible for
    never passing internal notes to superusers or the hotline. As a second line of
    defence a `ticket_internal_note` only reaches coordinators and municipal admins (never
    a superuser, hotline or vendor user), ticket events only reach municipal staff, and
    inactive users get nothing. Context values must be JSON-serialisable; common keys are
    `number`, `subject`, `excerpt`, `status`, `title`, `system`, `due_at`; the actor's
    name is added as `actor`. Returns the number of users notified.
    """
    event = NotificationEvent(event)
    if not url.startswith("/") or url.startswith("//"):
        raise ValueError("notification url must be a site-relative path")
    context = _jsonable(context)
    if actor is not None:
        context.setdefault("actor", actor.name)
    chosen: dict[int, User] = {}
    for user in recipients:
        if user is None or user.id in chosen:
            continue
        if actor is not None and user.id == actor.id:
            continue
        if not user.active or not may_receive(user, event):
            continue
        chosen[user.id] = user
    if not chosen:
        return 0
    opted_out = set(
        db.session.scalars(
            select(NotificationPreference.user_id).where(
                NotificationPreference.user_id.in_(chosen),
                NotificationPreference.event == event,
                NotificationPreference.email_enabled.is_(False),
            )
        )
    )
    now = utcnow()
    for user_id in chosen:
        db.session.add(
            Notification(user_id=user_id, event=event, context=context, url=url, created_at=now)
        )
        if user_id not in opted_out:
            outbox.enqueue(
                EMAIL_KIND,
                {"user_id": user_id, "event": event.value, "url": url, "context": context},
            )
    db.session.flush()
    return len(chosen)


def _jsonable(context: dict[str, Any]) -> dict[str, Any]:
    """Context is stored as JSON twice (bell and outbox); times become ISO strings."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime | date):
            return value.isoformat()
        raise TypeError(f"notification context value {value!r} is not JSON-serialisable")

    return json.loads(json.dumps(context, default=convert))


@outbox.periodic("notifications.cleanup", every=timedelta(hours=24))
def delete_old_read_notifications() -> int:
    """Keep the bell table small: read notifications go after KEEP_READ_DAYS."""
    cutoff = utcnow() - timedelta(days=KEEP_READ_DAYS)
    result = db.session.execute(
        delete(Notification).where(Notification.read_at.is_not(None), Notification.read_at < cutoff)
    )
    return result.rowcount or 0


_SUMMARIES = {
    NotificationEvent.ticket_assigned: _l("Ticket %(number)s assigned to you: %(subject)s"),
    NotificationEvent.ticket_reply: _l("New reply on ticket %(number)s: %(subject)s"),
    NotificationEvent.ticket_internal_note: _l(
        "New internal note on ticket %(number)s: %(subject)s"
    ),
    NotificationEvent.ticket_status: _l("Ticket %(number)s is now %(status)s: %(subject)s"),
    NotificationEvent.ticket_created: _l("New ticket %(number)s: %(subject)s"),
    NotificationEvent.case_message: _l("New message on vendor case %(number)s: %(subject)s"),
    NotificationEvent.case_status: _l("Vendor case %(number)s is now %(status)s: %(subject)s"),
    NotificationEvent.case_resolved: _l("Vendor case %(number)s is resolved: %(subject)s"),
    NotificationEvent.sla_warning: _l(
        "Vendor case %(number)s is close to its SLA deadline: %(subject)s"
    ),
    NotificationEvent.sla_breach: _l(
        "Vendor case %(number)s has passed its SLA deadline: %(subject)s"
    ),
    NotificationEvent.ticket_escalated: _l(
        "Ticket %(number)s is sent on to the vendor: %(subject)s"
    ),
    NotificationEvent.answer_relayed: _l(
        "Answer from the vendor on ticket %(number)s: %(subject)s"
    ),
    NotificationEvent.ticket_resolved: _l("Ticket %(number)s is resolved: %(subject)s"),
    NotificationEvent.ticket_merged: _l(
        "Your ticket is merged into ticket %(number)s: %(subject)s"
    ),
    NotificationEvent.survey_requested: _l("Did you get help? Ticket %(number)s is resolved"),
    NotificationEvent.known_issue_resolved: _l("Known issue resolved: %(title)s"),
}


def summary(event: NotificationEvent | str, context: dict[str, Any]) -> str:
    """One line for the bell list and the e-mail subject, in the current locale."""
    subject = str(context.get("subject", ""))
    status = context.get("status")
    values = {
        "number": str(context.get("number", "")),
        "subject": subject,
        "status": str(STATUS_LABELS.get(status, status or "")),
        "title": str(context.get("title") or subject),
    }
    return str(_SUMMARIES[NotificationEvent(event)]) % values


# --- the user's own notifications ------------------------------------------------------


def notifications_of(user: User) -> Select[tuple[Notification]]:
    """A user only ever sees their own notifications."""
    return select(Notification).where(Notification.user_id == user.id)


def get_notification(user: User, notification_id: int) -> Notification:
    return policy.one_visible(notifications_of(user).where(Notification.id == notification_id))


def unread_count(user: User) -> int:
    """One indexed COUNT; the bell shows it on every page."""
    return (
        db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == user.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def unread_count_of_user() -> Any:
    """`unread_count` as a scalar subquery correlated with `User`: the bell's count read
    in the same statement as the signed-in user (accounts.sessions.preload)."""
    return (
        select(func.count(Notification.id))
        .where(Notification.user_id == User.id, Notification.read_at.is_(None))
        .correlate(User)
        .scalar_subquery()
    )


def page(
    user: User, before: int | None = None, size: int = PAGE_SIZE
) -> tuple[list[Notification], int | None]:
    """Newest first, keyset on id; returns the rows and the cursor for the next page."""
    query = notifications_of(user).order_by(Notification.id.desc()).limit(size + 1)
    if before is not None:
        query = query.where(Notification.id < before)
    rows = list(db.session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more else None)


def mark_read(notification: Notification, when: datetime | None = None) -> None:
    if notification.read_at is None:
        notification.read_at = when or utcnow()
    db.session.flush()


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    return result.rowcount or 0


# --- preferences ----------------------------------------------------------------------


def email_enabled(user: User, event: NotificationEvent | str) -> bool:
    enabled = db.session.scalar(
        select(NotificationPreference.email_enabled).where(
            NotificationPreference.user_id == user.id,
            NotificationPreference.event == NotificationEvent(event),
        )
    )
    return enabled is not False


def email_preferences(user: User) -> dict[NotificationEvent, bool]:
    """Every event the user can meet → whether e-mail is on (default on)."""
    stored = {
        pref.event: pref.email_enabled
        for pref in db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    return {event: stored.get(event, True) for event in events_for(user)}


def set_email_preferences(user: User, enabled: Iterable[NotificationEvent | str]) -> None:
    """Turn e-mail on for the given events and off for the user's other events."""
    wanted = {NotificationEvent(e) for e in enabled}
    stored = {
        pref.event: pref
        for pref in db.session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id == user.id)
        )
    }
    for event in events_for(user):
        pref = stored.get(event)
        if pref is None:
            pref = NotificationPreference(user_id=user.id, event=event)
            db.session.add(pref)
        pref.email_enabled = event in wanted
    db.session.flush()


def notification_json(notification: Notification) -> dict[str, Any]:
    """One notification for GET /api/v1/notifications: the ticket and case it is about
    (their numbers, or None), its line in the current locale, read or not."""
    context = notification.context or {}
    number = context.get("number")
    path = notification.url or ""
    ticket = context.get("ticket") or (number if path.startswith("/tickets/") else None)
    case = context.get("case") or (number if path.startswith("/cases/") else None)
    if ticket is None and path.startswith("/tickets/"):
        ticket = path.removeprefix("/tickets/").split("/")[0] or None
    return {
        "id": notification.id,
        "event": notification.event.value,
        "ticket": ticket,
        "case": case,
        "text": summary(notification.event, context),
        "read": notification.is_read,
        "created_at": notification.created_at.isoformat(),
    }

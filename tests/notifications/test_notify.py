"""notify(): who gets an in-app notification and who gets an e-mail in the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.extensions import utcnow
from supportdesk.notifications import services
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.outbox import OutboxMessage

URL = "/tickets/ESB-2026-000001"
CONTEXT = {"number": "ESB-2026-000001", "subject": "Aula login fejler"}


def _notified(db, event=None):
    query = select(Notification.user_id)
    if event is not None:
        query = query.where(Notification.event == event)
    return sorted(db.session.scalars(query))


def _mailed(db):
    return sorted(
        m.payload["user_id"]
        for m in db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    )


def test_each_recipient_once_and_never_the_actor(db, make_user, make_municipality):
    town = make_municipality("esbjerg")
    actor = make_user(Role.coordinator, municipality=town)
    a = make_user(Role.coordinator, municipality=town)
    b = make_user(Role.superuser, municipality=town)
    count = services.notify(
        [a, b, a, actor], NotificationEvent.ticket_reply, url=URL, context=CONTEXT, actor=actor
    )
    db.session.commit()
    assert count == 2
    assert _notified(db) == sorted([a.id, b.id])
    assert _mailed(db) == sorted([a.id, b.id])
    note = db.session.scalar(select(Notification).where(Notification.user_id == a.id))
    assert note.context["actor"] == actor.name
    assert note.context["number"] == CONTEXT["number"]
    assert note.read_at is None


@pytest.mark.parametrize("role", [Role.superuser, Role.hotline, Role.vendor_agent, Role.admin])
def test_internal_note_never_reaches_superuser_or_hotline(db, make_user, make_municipality, role):
    town = make_municipality("esbjerg")
    colleague = make_user(Role.coordinator, municipality=town)
    outsider = make_user(role, municipality=town)
    count = services.notify(
        [colleague, outsider],
        NotificationEvent.ticket_internal_note,
        url=URL,
        context={**CONTEXT, "excerpt": "Intern: forælder er vanskelig"},
    )
    db.session.commit()
    assert count == 1
    assert _notified(db) == [colleague.id]
    assert _mailed(db) == [colleague.id]


def test_same_roles_do_get_public_replies(db, make_user):
    superuser = make_user(Role.superuser)
    hotline = make_user(Role.hotline, municipality=superuser.municipality)
    assert services.notify([superuser, hotline], "ticket_reply", url=URL, context=CONTEXT) == 2


@pytest.mark.parametrize("role", [Role.vendor_agent, Role.vendor_editor, Role.admin])
def test_ticket_events_never_reach_non_municipal_users(db, make_user, role):
    outsider = make_user(role)
    assert services.notify([outsider], "ticket_status", url=URL, context=CONTEXT) == 0
    assert services.notify([outsider], "case_status", url="/cases/LEV-1", context={}) == 1


def test_municipal_admin_gets_internal_notes(db, make_user):
    admin = make_user(Role.municipal_admin)
    assert services.notify([admin], "ticket_internal_note", url=URL, context=CONTEXT) == 1


def test_inactive_users_are_skipped(db, make_user):
    gone = make_user(Role.coordinator, active=False)
    assert services.notify([gone], NotificationEvent.ticket_assigned, url=URL, context=CONTEXT) == 0
    db.session.commit()
    assert _notified(db) == []
    assert _mailed(db) == []


def test_email_preference_off_keeps_in_app_only(db, make_user):
    user = make_user(Role.coordinator)
    others = [e for e in services.events_for(user) if e != NotificationEvent.ticket_status]
    services.set_email_preferences(user, others)
    db.session.commit()
    services.notify([user], NotificationEvent.ticket_status, url=URL, context=CONTEXT)
    services.notify([user], NotificationEvent.ticket_reply, url=URL, context=CONTEXT)
    db.session.commit()
    assert _notified(db, NotificationEvent.ticket_status) == [user.id]
    mails = list(db.session.scalars(select(OutboxMessage)))
    assert [m.payload["event"] for m in mails] == ["ticket_reply"]


@pytest.mark.parametrize("url", ["https://evil.example/x", "//evil.example/x", "tickets/1"])
def test_url_must_be_a_site_path(db, make_user, url):
    with pytest.raises(ValueError, match="site-relative"):
        services.notify([make_user(Role.coordinator)], "ticket_reply", url=url, context={})


def test_times_in_context_are_stored_as_iso_strings(db, make_user):
    user = make_user(Role.coordinator)
    due = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    services.notify([user], "sla_warning", url="/cases/1", context={"due_at": due})
    db.session.commit()
    note = db.session.scalar(select(Notification))
    assert note.context["due_at"] == "2026-11-24T09:00:00+00:00"
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        services.notify([user], "sla_warning", url="/cases/1", context={"x": object()})


def test_cleanup_removes_only_old_read_notifications(db, make_user):
    user = make_user(Role.coordinator)
    services.notify([user], "ticket_reply", url=URL, context=CONTEXT)
    services.notify([user], "ticket_status", url=URL, context=CONTEXT)
    services.notify([user], "ticket_assigned", url=URL, context=CONTEXT)
    db.session.commit()
    old, recent, unread = db.session.scalars(select(Notification).order_by(Notification.id))
    long_ago = utcnow() - timedelta(days=services.KEEP_READ_DAYS + 1)
    old.read_at = long_ago
    recent.read_at = utcnow()
    unread.created_at = long_ago
    db.session.commit()
    assert outbox.run_periodic(force=True) >= 1
    left = sorted(db.session.scalars(select(Notification.event)))
    assert left == ["ticket_assigned", "ticket_status"]

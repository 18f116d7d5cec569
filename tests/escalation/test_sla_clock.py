"""SLA on real cases with a frozen clock: `now` is passed to the services explicitly."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from supportdesk.escalation import cases
from supportdesk.escalation.models import CaseStatus, SlaState, SlaTarget, VendorCase
from supportdesk.escalation.sla_alerts import check_sla
from supportdesk.escalation.sla_clock import sla_view
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.tickets.models import Priority, TicketEntry

CPH = ZoneInfo("Europe/Copenhagen")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH)


def _events(name: str) -> int:
    return db.session.scalar(select(func.count(TicketEntry.id)).where(TicketEntry.event == name))


def _notified(event: NotificationEvent) -> set[int]:
    return set(db.session.scalars(select(Notification.user_id).where(Notification.event == event)))


def test_across_a_weekend_warning_then_breach_once(world, escalated):
    # Friday 14:00, normal priority: 8 business hours to first response → Monday 14:00.
    case = escalated(now=local(2026, 11, 20, 14))
    assert case.response_due_at == local(2026, 11, 23, 14)
    assert case.resolution_due_at == local(2026, 11, 27, 14)
    assert check_sla(now=local(2026, 11, 22, 23)) == 0  # Sunday night: 2 h used
    assert sla_view(case, local(2026, 11, 22, 23)).seconds_left == 6 * 3600

    assert check_sla(now=local(2026, 11, 23, 12, 24)) == 1  # exactly 80 %
    db.session.commit()
    assert case.sla_state == SlaState.warning
    assert _events("sla_warning") == 1
    assert _notified(NotificationEvent.sla_warning) == {world.agent.id, world.coordinator.id}
    assert check_sla(now=local(2026, 11, 23, 13)) == 0  # no second warning

    assert check_sla(now=local(2026, 11, 23, 14)) == 1
    db.session.commit()
    assert case.sla_state == SlaState.breached
    assert _events("sla_breach") == 1
    assert _notified(NotificationEvent.sla_breach) == {world.agent.id, world.coordinator.id}
    view = sla_view(case, local(2026, 11, 23, 15))
    assert view.overdue
    assert view.seconds_left == -3600
    assert check_sla(now=local(2026, 11, 23, 15)) == 0


def test_kristi_himmelfartsdag(world, escalated):
    case = escalated(now=local(2027, 5, 5, 15))
    assert case.response_due_at == local(2027, 5, 7, 15)


def test_easter_2027_with_a_pause(world, escalated):
    db.session.add(
        SlaTarget(
            vendor_id=world.vendor.id,
            priority=Priority.critical,
            first_response_minutes=60,
            resolution_minutes=8 * 60,
        )
    )
    db.session.commit()
    # Wednesday before Easter 09:00, critical: first response within 1 h, resolution 8 h.
    case = escalated(now=local(2027, 3, 24, 9), priority="critical")
    assert case.response_due_at == local(2027, 3, 24, 10)
    # 7 h on Wednesday, then the holidays, then 1 h on Tuesday (summer time by then).
    assert case.resolution_due_at == local(2027, 3, 30, 9)

    cases.post_message(world.agent, case, "Vi kigger på det", now=local(2027, 3, 24, 9, 30))
    assert case.first_response_at == local(2027, 3, 24, 9, 30)
    cases.change_case_status(
        world.agent, case, CaseStatus.waiting_on_municipality, now=local(2027, 3, 24, 10)
    )
    db.session.commit()
    assert case.resolution_due_at is None
    # Easter passes while the vendor waits: no warning, state paused.
    assert check_sla(now=local(2027, 3, 30, 9)) == 0
    assert case.sla_state == SlaState.paused

    # The coordinator answers Tuesday 10:00: 8 business hours were paused (Wed 10-16, Tue 8-10).
    cases.post_message(world.coordinator, case, "Her er svaret", now=local(2027, 3, 30, 10))
    db.session.commit()
    assert case.status == CaseStatus.in_progress
    assert case.paused_seconds == 8 * 3600
    assert case.resolution_due_at == local(2027, 3, 31, 9)

    assert check_sla(now=local(2027, 3, 30, 16)) == 1  # 7 of 8 h: warning
    assert case.sla_state == SlaState.warning
    assert check_sla(now=local(2027, 3, 31, 9)) == 1
    assert case.sla_state == SlaState.breached
    db.session.commit()


def test_resolved_case_stops_the_clock(world, escalated):
    case = escalated(now=local(2026, 11, 23, 8))
    cases.change_case_status(world.agent, case, CaseStatus.resolved, now=local(2026, 11, 23, 9))
    db.session.commit()
    assert check_sla(now=local(2026, 12, 31, 12)) == 0
    assert sla_view(case, local(2026, 12, 31, 12)).state == SlaState.met
    assert db.session.get(VendorCase, case.id).sla_state == SlaState.met


def test_priority_change_moves_the_deadline(world, escalated):
    case = escalated(now=local(2026, 11, 23, 8))
    assert case.resolution_due_at == local(2026, 11, 27, 16)
    cases.update_case(world.agent, case, priority="critical", now=local(2026, 11, 23, 9))
    db.session.commit()
    assert case.resolution_due_at == local(2026, 11, 23, 16)


def test_worker_runs_the_sla_job(app, world, escalated):
    from supportdesk import outbox

    assert any(job.name == "sla_check" for job in outbox._periodic)
    case = escalated(now=local(2020, 1, 6, 8))  # long overdue by now
    assert outbox.run_periodic(force=True) >= 1
    db.session.expire_all()
    assert db.session.get(VendorCase, case.id).sla_state == SlaState.breached
    # First response and resolution both breached; no warnings after the fact.
    assert _events("sla_breach") == 2
    assert _events("sla_warning") == 0

"""The SLA clock of a vendor case: targets, due times, pauses and the state it shows.

Rule 6: first response and resolution are counted in the vendor's business hours
(supportdesk/escalation/sla.py does the arithmetic) and paused while the case waits on
the municipality. Functions change the case and leave flushing to the caller; every
function that depends on the time takes `now`, so tests pass a fixed clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from supportdesk.accounts.models import Vendor
from supportdesk.escalation.models import DEFAULT_SLA_MINUTES, SlaState, SlaTarget, VendorCase
from supportdesk.escalation.sla import (
    BusinessCalendar,
    add_business_seconds,
    business_seconds_between,
)
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import Priority

WARNING_FRACTION = 0.8


def calendar_for(vendor: Vendor) -> BusinessCalendar:
    return BusinessCalendar.from_vendor(vendor)


def sla_targets(vendor_id: int, priority: Priority) -> tuple[int, int]:
    """(first response, resolution) in business seconds for this vendor and priority."""
    row = db.session.scalar(
        select(SlaTarget).where(SlaTarget.vendor_id == vendor_id, SlaTarget.priority == priority)
    )
    minutes = (
        (row.first_response_minutes, row.resolution_minutes)
        if row is not None
        else DEFAULT_SLA_MINUTES[Priority(priority)]
    )
    return minutes[0] * 60, minutes[1] * 60


def seed_default_sla_targets(vendor: Vendor) -> int:
    """Give a vendor the default targets for every priority it lacks; returns rows added."""
    existing = set(
        db.session.scalars(select(SlaTarget.priority).where(SlaTarget.vendor_id == vendor.id))
    )
    added = 0
    for priority, (response, resolution) in DEFAULT_SLA_MINUTES.items():
        if priority not in existing:
            db.session.add(
                SlaTarget(
                    vendor_id=vendor.id,
                    priority=priority,
                    first_response_minutes=response,
                    resolution_minutes=resolution,
                )
            )
            added += 1
    db.session.flush()
    return added


@dataclass(frozen=True)
class SlaView:
    """What a case page shows about its clock."""

    state: SlaState
    phase: str | None  # "response", "resolution" or None when stopped
    due_at: datetime | None
    seconds_left: int | None  # business seconds; negative when overdue
    response_due_at: datetime | None
    resolution_due_at: datetime | None
    fraction: float

    @property
    def overdue(self) -> bool:
        return self.seconds_left is not None and self.seconds_left < 0


def _paused_total(case: VendorCase, calendar: BusinessCalendar, now: datetime) -> int:
    running = business_seconds_between(calendar, case.paused_at, now) if case.paused_at else 0
    return (case.paused_seconds or 0) + running


def _elapsed(case: VendorCase, calendar: BusinessCalendar, now: datetime) -> int:
    """Business seconds the vendor has had the case, pauses excluded."""
    return business_seconds_between(calendar, case.created_at, now) - _paused_total(
        case, calendar, now
    )


def recompute_due(case: VendorCase, calendar: BusinessCalendar | None = None) -> None:
    """Due times move by the paused business time; unknown while paused."""
    calendar = calendar or calendar_for(case.vendor)
    response, resolution = sla_targets(case.vendor_id, case.priority)
    if case.paused_at is not None:
        case.resolution_due_at = None
        if case.first_response_at is None:
            case.response_due_at = None
        return
    paused = case.paused_seconds or 0
    if case.first_response_at is None:
        case.response_due_at = add_business_seconds(calendar, case.created_at, response + paused)
    case.resolution_due_at = add_business_seconds(calendar, case.created_at, resolution + paused)


def sla_view(case: VendorCase, now: datetime | None = None) -> SlaView:
    now = now if now is not None else utcnow()
    calendar = calendar_for(case.vendor)
    response, resolution = sla_targets(case.vendor_id, case.priority)
    breached_before = case.response_breached_at or case.resolution_breached_at
    if not case.status.is_open:
        state = SlaState.breached if breached_before else SlaState.met
        return SlaView(state, None, None, None, case.response_due_at, case.resolution_due_at, 0)
    elapsed = _elapsed(case, calendar, now)
    if case.first_response_at is None:
        phase, target = "response", response
    else:
        phase, target = "resolution", resolution
    fraction = max(
        elapsed / response if case.first_response_at is None else 0.0,
        elapsed / resolution,
    )
    if case.paused_at is not None:
        state = SlaState.paused
    elif fraction >= 1 or breached_before:
        state = SlaState.breached
    elif fraction >= WARNING_FRACTION:
        state = SlaState.warning
    else:
        state = SlaState.ok
    due = case.response_due_at if phase == "response" else case.resolution_due_at
    return SlaView(
        state,
        phase,
        due,
        target - elapsed,
        case.response_due_at,
        case.resolution_due_at,
        fraction,
    )


def refresh_sla(case: VendorCase, now: datetime | None = None) -> list[tuple[str, str]]:
    """Update the stored state and flags; returns newly crossed (phase, level) pairs."""
    now = now if now is not None else utcnow()
    crossed: list[tuple[str, str]] = []
    if case.status.is_open and case.paused_at is None:
        calendar = calendar_for(case.vendor)
        response, resolution = sla_targets(case.vendor_id, case.priority)
        elapsed = _elapsed(case, calendar, now)
        phases = [("resolution", resolution)]
        if case.first_response_at is None:
            phases.insert(0, ("response", response))
        for phase, target in phases:
            warned, breached = f"{phase}_warned_at", f"{phase}_breached_at"
            if elapsed >= target and getattr(case, breached) is None:
                # A breach found in the same run as the warning makes the warning moot.
                setattr(case, breached, now)
                if getattr(case, warned) is None:
                    setattr(case, warned, now)
                crossed.append((phase, "breach"))
            elif elapsed >= target * WARNING_FRACTION and getattr(case, warned) is None:
                setattr(case, warned, now)
                crossed.append((phase, "warning"))
    state = sla_view(case, now).state
    if case.sla_state != state:
        case.sla_state = state
    return crossed


def first_response(case: VendorCase, now: datetime) -> None:
    """The vendor's first answer or status change stops the response clock."""
    if case.first_response_at is None:
        case.first_response_at = now


def pause(case: VendorCase, now: datetime) -> None:
    """Waiting on the municipality stops the clock."""
    if case.paused_at is None:
        case.paused_at = now
        recompute_due(case)


def resume(case: VendorCase, now: datetime) -> None:
    """The paused business time moves the due times on."""
    if case.paused_at is not None:
        calendar = calendar_for(case.vendor)
        case.paused_seconds = (case.paused_seconds or 0) + business_seconds_between(
            calendar, case.paused_at, now
        )
        case.paused_at = None
        recompute_due(case, calendar)

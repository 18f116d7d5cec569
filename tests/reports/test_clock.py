"""The reports' business clock gives the SLA clock's answer (escalation/sla.py), across
weekends, evenings, Easter and both daylight-saving changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from supportdesk.escalation.sla import DEFAULT_CALENDAR, BusinessCalendar, business_seconds_between
from supportdesk.reports.clock import BusinessClock


def test_clock_agrees_with_the_sla_arithmetic():
    start = datetime(2026, 3, 20, tzinfo=UTC)
    end = datetime(2026, 4, 10, tzinfo=UTC)
    moments = [start + timedelta(hours=7 * n, minutes=13 * n) for n in range(70)]
    clock = BusinessClock(DEFAULT_CALENDAR, start, end)
    for a, b in itertools.combinations(moments, 2):
        assert clock.seconds_between(a, b) == business_seconds_between(DEFAULT_CALENDAR, a, b)


def test_clock_uses_the_calendars_hours_and_closed_days():
    calendar = BusinessCalendar(weekdays=frozenset({1, 2, 3, 4, 5, 6}), closed_days=frozenset())
    start = datetime(2026, 10, 20, tzinfo=UTC)
    end = datetime(2026, 11, 5, tzinfo=UTC)
    clock = BusinessClock(calendar, start, end)
    moments = [start + timedelta(hours=5 * n, minutes=7) for n in range(60)]
    for a, b in itertools.pairwise(moments):
        assert clock.seconds_between(a, b) == business_seconds_between(calendar, a, b)
    # Saturday 24 October counts on this calendar: 8 hours
    saturday = datetime(2026, 10, 24, 0, 0, tzinfo=UTC)
    assert clock.seconds_between(saturday, saturday + timedelta(days=1)) == 8 * 3600

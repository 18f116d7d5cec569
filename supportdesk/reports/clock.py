"""Business time for reports, on the SLA's own calendar (escalation/sla.py).

Filling the stored durations of many tickets at once (durations.fill_business_times)
would be slow walking the calendar day by day for each (as the SLA clock does for one
case). `BusinessClock` asks the same `BusinessCalendar` for its opening windows once over
the span and keeps a running total, so each duration is two binary searches.
tests/reports/test_clock.py checks it against `sla.business_seconds_between`.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta

from supportdesk.escalation.sla import DEFAULT_CALENDAR, BusinessCalendar

# Municipalities keep no calendar of their own: their hotline and coordinators work the
# default one (weekdays 8-16 Danish time, Danish public holidays closed).
MUNICIPAL_CALENDAR = DEFAULT_CALENDAR


class BusinessClock:
    """Business seconds between moments within [start, end] of one calendar."""

    def __init__(self, calendar: BusinessCalendar, start: datetime, end: datetime) -> None:
        self.opens: list[float] = []
        self.closes: list[float] = []
        self.before: list[float] = []  # business seconds before each window opens
        total = 0.0
        for opens, closes in calendar.windows_from(start - timedelta(days=1)):
            if opens > end + timedelta(days=1):
                break
            self.opens.append(opens.timestamp())
            self.closes.append(closes.timestamp())
            self.before.append(total)
            total += (closes - opens).total_seconds()
        self.total = total

    def _elapsed(self, moment: float) -> float:
        """Business seconds from the clock's start to `moment`."""
        index = bisect_right(self.opens, moment) - 1
        if index < 0:
            return 0.0
        return self.before[index] + min(moment, self.closes[index]) - self.opens[index]

    def seconds_between(self, start: datetime, end: datetime) -> int:
        if end <= start:
            return 0
        return int(self._elapsed(end.timestamp()) - self._elapsed(start.timestamp()))

"""Business time for reports, on the SLA's own calendar (escalation/sla.py).

A report measures thousands of durations; walking the calendar day by day for each
(as the SLA clock does for one case) would be slow. `BusinessClock` asks the same
`BusinessCalendar` for its opening windows once over the report's span and keeps a
running total, so each duration is two binary searches. tests/reports/test_clock.py
checks it against `sla.business_seconds_between`.
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

    def utc_days(self) -> list[tuple[float, float, float, float]] | None:
        """The clock as one row per UTC day: (day number since 1970, business seconds
        before the day, the day's opening, its closing), so SQL can measure business
        time with an equality join on the day. None when a window crosses UTC midnight
        or a day has two (then only `seconds_between` is right)."""
        if not self.opens:
            return None
        first = int(self.opens[0] // 86400)
        last = int(self.closes[-1] // 86400)
        rows: dict[int, tuple[float, float, float, float]] = {}
        for opens, closes, before in zip(self.opens, self.closes, self.before, strict=True):
            day = int(opens // 86400)
            if int((closes - 1) // 86400) != day or day in rows:
                return None
            rows[day] = (float(day), before, opens, closes)
        for day in range(first, last + 1):
            if day not in rows:
                start = day * 86400.0
                rows[day] = (float(day), self._elapsed(start), start, start)
        return [rows[day] for day in sorted(rows)]

    def minutes_between(self, start: datetime, end: datetime) -> float:
        return self.seconds_between(start, end) / 60

    def epoch_minutes_between(self, start: float, end: float) -> float:
        """Whole business seconds between two epoch moments, in minutes."""
        if end <= start:
            return 0.0
        return int(self._elapsed(end) - self._elapsed(start)) / 60

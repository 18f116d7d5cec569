"""Business-hours arithmetic for SLA clocks: pure functions over a vendor calendar.

A calendar is the vendor's working days and hours in its own time zone, minus
Danish public holidays and the vendor's extra closed days. Each working day is
one window [start, end) in local wall-clock time; converting both ends to UTC
makes durations correct across daylight-saving changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from supportdesk.escalation.holidays import is_danish_holiday

# A calendar without any working day would make add_business_seconds loop forever.
MAX_SEARCH_DAYS = 366 * 20


@dataclass(frozen=True)
class BusinessCalendar:
    """Working days (ISO weekday numbers), hours and closed days of one servicedesk."""

    weekdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    start: time = time(8, 0)
    end: time = time(16, 0)
    timezone: str = "Europe/Copenhagen"
    closed_days: frozenset[date] = field(default_factory=frozenset)
    public_holidays: bool = True

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        if not self.weekdays or not self.weekdays <= {1, 2, 3, 4, 5, 6, 7}:
            raise ValueError("weekdays must be a non-empty set of ISO weekday numbers")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_business_day(self, day: date) -> bool:
        if day.isoweekday() not in self.weekdays or day in self.closed_days:
            return False
        return not (self.public_holidays and is_danish_holiday(day))

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The day's opening hours as aware UTC datetimes."""
        tz = self.tz
        opens = datetime.combine(day, self.start, tzinfo=tz).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=tz).astimezone(UTC)
        return opens, closes

    def windows_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Opening windows that end after `moment`, in order (bounded search)."""
        day = moment.astimezone(self.tz).date()
        for offset in range(MAX_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if self.is_business_day(current):
                opens, closes = self.window(current)
                if closes > moment:
                    yield opens, closes
        # Falling out means no working day for twenty years: a broken calendar.

    @classmethod
    def from_vendor(cls, vendor, closed_days: Iterable[date] | None = None) -> BusinessCalendar:
        """The calendar of an accounts.models.Vendor (weekdays stored as "1,2,3,4,5")."""
        weekdays = frozenset(int(p) for p in (vendor.business_days or "").split(",") if p.strip())
        days = closed_days if closed_days is not None else (c.day for c in vendor.closed_days)
        return cls(
            weekdays=weekdays or frozenset({1, 2, 3, 4, 5}),
            start=vendor.business_start or time(8, 0),
            end=vendor.business_end or time(16, 0),
            timezone=vendor.timezone or "Europe/Copenhagen",
            closed_days=frozenset(days),
        )


DEFAULT_CALENDAR = BusinessCalendar()


def _require_aware(*moments: datetime) -> None:
    for moment in moments:
        if moment.tzinfo is None:
            raise ValueError("naive datetime given; SLA arithmetic needs aware datetimes")


def business_seconds_between(calendar: BusinessCalendar, start: datetime, end: datetime) -> int:
    """Whole business seconds in [start, end); 0 when end is not after start."""
    _require_aware(start, end)
    if end <= start:
        return 0
    total = 0.0
    for opens, closes in calendar.windows_from(start):
        if opens >= end:
            break
        total += (min(closes, end) - max(opens, start)).total_seconds()
    return int(total)


def add_business_seconds(calendar: BusinessCalendar, start: datetime, seconds: int) -> datetime:
    """The moment `seconds` of business time after `start` (UTC).

    A result that falls exactly on closing time is returned as that closing time,
    not the next opening: a deadline of "8 business hours from Monday 08:00" is
    Monday 16:00.
    """
    _require_aware(start)
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    remaining = float(seconds)
    start = start.astimezone(UTC)
    if remaining == 0:
        return start
    for opens, closes in calendar.windows_from(start):
        begin = max(opens, start)
        available = (closes - begin).total_seconds()
        if remaining <= available:
            return begin + timedelta(seconds=remaining)
        remaining -= available
    raise ValueError("the calendar has no working days")


def is_open(calendar: BusinessCalendar, moment: datetime) -> bool:
    _require_aware(moment)
    local_day = moment.astimezone(calendar.tz).date()
    if not calendar.is_business_day(local_day):
        return False
    opens, closes = calendar.window(local_day)
    return opens <= moment < closes

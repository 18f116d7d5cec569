"""Business-hours arithmetic and Danish holidays: pure functions, fixed datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from supportdesk.accounts.models import Vendor
from supportdesk.escalation.holidays import danish_holidays, easter_sunday, is_danish_holiday
from supportdesk.escalation.sla import (
    BusinessCalendar,
    add_business_seconds,
    business_seconds_between,
    is_open,
)

CPH = ZoneInfo("Europe/Copenhagen")
CAL = BusinessCalendar()
HOUR = 3600


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=CPH)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (1818, date(1818, 3, 22)),
        (2000, date(2000, 4, 23)),
        (2019, date(2019, 4, 21)),
        (2023, date(2023, 4, 9)),
        (2024, date(2024, 3, 31)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 5)),
        (2027, date(2027, 3, 28)),
        (2038, date(2038, 4, 25)),
        (2285, date(2285, 3, 22)),
    ],
)
def test_easter_sunday(year, expected):
    assert easter_sunday(year) == expected


def test_holidays_2027():
    assert danish_holidays(2027) == {
        date(2027, 1, 1): "Nytårsdag",
        date(2027, 3, 25): "Skærtorsdag",
        date(2027, 3, 26): "Langfredag",
        date(2027, 3, 28): "Påskedag",
        date(2027, 3, 29): "2. påskedag",
        date(2027, 5, 6): "Kristi himmelfartsdag",
        date(2027, 5, 16): "Pinsedag",
        date(2027, 5, 17): "2. pinsedag",
        date(2027, 12, 25): "Juledag",
        date(2027, 12, 26): "2. juledag",
    }


def test_store_bededag_only_until_2023():
    assert danish_holidays(2023)[date(2023, 5, 5)] == "Store bededag"
    assert is_danish_holiday(date(2022, 5, 13))
    # Fourth Friday after Easter 2024 would have been 26 April; it is a working day now.
    assert not is_danish_holiday(date(2024, 4, 26))
    assert "Store bededag" not in danish_holidays(2024).values()
    assert len(danish_holidays(2023)) == 11
    assert len(danish_holidays(2024)) == 10


def test_within_one_day():
    assert (
        business_seconds_between(CAL, local(2026, 11, 23, 9), local(2026, 11, 23, 11)) == 2 * HOUR
    )
    # Before opening and after closing count nothing.
    assert (
        business_seconds_between(CAL, local(2026, 11, 23, 6), local(2026, 11, 23, 20)) == 8 * HOUR
    )
    assert business_seconds_between(CAL, local(2026, 11, 23, 17), local(2026, 11, 23, 23)) == 0
    assert business_seconds_between(CAL, local(2026, 11, 23, 11), local(2026, 11, 23, 9)) == 0


def test_across_a_weekend():
    friday_3pm = local(2026, 11, 20, 15)
    monday_9am = local(2026, 11, 23, 9)
    assert business_seconds_between(CAL, friday_3pm, monday_9am) == 2 * HOUR
    assert add_business_seconds(CAL, friday_3pm, 2 * HOUR) == monday_9am
    # Saturday start: the clock starts Monday at opening.
    assert add_business_seconds(CAL, local(2026, 11, 21, 12), HOUR) == local(2026, 11, 23, 9)


def test_deadline_on_closing_time_stays_that_day():
    assert add_business_seconds(CAL, local(2026, 11, 23, 8), 8 * HOUR) == local(2026, 11, 23, 16)
    assert add_business_seconds(CAL, local(2026, 11, 23, 8), 8 * HOUR + 1) == local(
        2026, 11, 24, 8, 0, 1
    )


def test_easter_2027():
    wednesday = local(2027, 3, 24, 15)
    tuesday_after = local(2027, 3, 30, 9)
    # Thursday, Friday, the weekend and Monday are all closed.
    assert business_seconds_between(CAL, wednesday, tuesday_after) == 2 * HOUR
    assert add_business_seconds(CAL, wednesday, 2 * HOUR) == tuesday_after


def test_kristi_himmelfartsdag_2027():
    wednesday = local(2027, 5, 5, 15)
    assert business_seconds_between(CAL, wednesday, local(2027, 5, 7, 9)) == 2 * HOUR
    assert add_business_seconds(CAL, wednesday, 2 * HOUR) == local(2027, 5, 7, 9)


def test_store_bededag_2023_versus_2024():
    assert business_seconds_between(CAL, local(2023, 5, 4, 15), local(2023, 5, 8, 9)) == 2 * HOUR
    assert business_seconds_between(CAL, local(2024, 4, 25, 15), local(2024, 4, 29, 9)) == 10 * HOUR


def test_vendor_closed_day():
    closed = BusinessCalendar(closed_days=frozenset({date(2027, 5, 7)}))
    wednesday = local(2027, 5, 5, 15)
    assert business_seconds_between(closed, wednesday, local(2027, 5, 10, 9)) == 2 * HOUR
    assert add_business_seconds(closed, wednesday, 2 * HOUR) == local(2027, 5, 10, 9)
    assert business_seconds_between(CAL, wednesday, local(2027, 5, 10, 9)) == 10 * HOUR


def test_dst_spring_forward_uses_real_offsets():
    # Friday 27 March 2026 is CET (UTC+1), Monday 30 March is CEST (UTC+2).
    friday = datetime(2026, 3, 27, 14, 0, tzinfo=UTC)  # 15:00 local
    due = add_business_seconds(CAL, friday, 2 * HOUR)
    assert due == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 local summer time
    assert business_seconds_between(CAL, friday, due) == 2 * HOUR


def test_dst_day_is_an_hour_shorter_or_longer_around_the_clock():
    every_day = BusinessCalendar(
        weekdays=frozenset(range(1, 8)), start=time(0, 0), end=time(23, 0), public_holidays=False
    )
    normal = business_seconds_between(every_day, local(2026, 3, 28, 0), local(2026, 3, 29, 0))
    spring = business_seconds_between(every_day, local(2026, 3, 29, 0), local(2026, 3, 30, 0))
    autumn = business_seconds_between(every_day, local(2026, 10, 25, 0), local(2026, 10, 26, 0))
    assert normal == 23 * HOUR
    assert spring == 22 * HOUR
    assert autumn == 24 * HOUR


def test_add_and_between_are_inverse_over_a_year():
    start = local(2026, 12, 23, 10, 30)
    for seconds in (0, 1, HOUR, 8 * HOUR, 40 * HOUR, 500 * HOUR):
        due = add_business_seconds(CAL, start, seconds)
        assert business_seconds_between(CAL, start, due) == seconds


def test_christmas_and_new_year():
    # 24 Dec is a normal working day in the default calendar; 25, 26 Dec and 1 Jan are not.
    assert add_business_seconds(CAL, local(2026, 12, 24, 15), 2 * HOUR) == local(2026, 12, 28, 9)
    assert add_business_seconds(CAL, local(2026, 12, 31, 15), 2 * HOUR) == local(2027, 1, 4, 9)


def test_is_open():
    assert is_open(CAL, local(2026, 11, 23, 8))
    assert not is_open(CAL, local(2026, 11, 23, 16))
    assert not is_open(CAL, local(2027, 3, 29, 10))


def test_calendar_from_vendor():
    vendor = Vendor(
        slug="v",
        name="V",
        business_days="1,2,3,4",
        business_start=time(9, 0),
        business_end=time(15, 0),
        timezone="Europe/Copenhagen",
    )
    calendar = BusinessCalendar.from_vendor(vendor, closed_days=[date(2026, 11, 24)])
    # Monday 14:00 → next working day is Wednesday (Tuesday closed), Friday is not a weekday.
    assert add_business_seconds(calendar, local(2026, 11, 23, 14), 2 * HOUR) == local(
        2026, 11, 25, 10
    )
    assert business_seconds_between(calendar, local(2026, 11, 26, 14), local(2026, 11, 30, 10)) == (
        2 * HOUR
    )


def test_rejects_naive_and_broken_input():
    with pytest.raises(ValueError, match="naive"):
        business_seconds_between(CAL, datetime(2026, 1, 5, 9), local(2026, 1, 5, 10))  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        add_business_seconds(CAL, local(2026, 1, 5, 9), -1)
    with pytest.raises(ValueError, match="end after"):
        BusinessCalendar(start=time(16), end=time(8))
    assert add_business_seconds(CAL, local(2026, 1, 5, 9), 0) == local(2026, 1, 5, 9)
    assert add_business_seconds(CAL, local(2026, 1, 5, 9), 1) - local(2026, 1, 5, 9) == timedelta(
        seconds=1
    )

"""Danish public holidays for any year: vendors' SLA clocks stop on them."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

# Store bededag was abolished as a public holiday from 2024 (lov nr. 33 af 28/02/2023).
STORE_BEDEDAG_LAST_YEAR = 2023


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous computus), valid for every year after 1582."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 — the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=256)
def danish_holidays(year: int) -> dict[date, str]:
    """Public holidays (helligdage) of `year`, date → Danish name."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Nytårsdag",
        easter - timedelta(days=3): "Skærtorsdag",
        easter - timedelta(days=2): "Langfredag",
        easter: "Påskedag",
        easter + timedelta(days=1): "2. påskedag",
        easter + timedelta(days=39): "Kristi himmelfartsdag",
        easter + timedelta(days=49): "Pinsedag",
        easter + timedelta(days=50): "2. pinsedag",
        date(year, 12, 25): "Juledag",
        date(year, 12, 26): "2. juledag",
    }
    if year <= STORE_BEDEDAG_LAST_YEAR:
        days[easter + timedelta(days=26)] = "Store bededag"
    return dict(sorted(days.items()))


def is_danish_holiday(day: date) -> bool:
    return day in danish_holidays(day.year)

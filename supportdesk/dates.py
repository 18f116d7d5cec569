"""Dates and times as people read them: in Danish time, one format per locale.

Times are stored in UTC (naive values from SQLite are UTC too). Every page and e-mail
shows them through the Jinja filters registered here (`datetimeformat`, `dateformat`,
`timeformat`), so a page never mixes "03-12-2026" with "03.12.2026" and an English
reader never gets a US date. The locale is the request's (or `force_locale`'s, for an
e-mail in the recipient's language); the time zone is always Europe/Copenhagen: the
municipalities and schools are in Denmark whatever the reader's browser says.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_time as babel_format_time
from flask import Flask
from flask_babel import get_locale

DANISH_TIME = ZoneInfo("Europe/Copenhagen")

# locale → (date and time, date, time). Danish as CLDR writes the clock (14.05), with "kl."
# so the time is not read as a second date: 03.12.2026 kl. 14.05; English: 3 Dec 2026, 14:05.
FORMATS: dict[str, tuple[str, str, str]] = {
    "da": ("dd.MM.y 'kl.' HH.mm", "dd.MM.y", "HH.mm"),
    "en": ("d MMM y, HH:mm", "d MMM y", "HH:mm"),
}


def _locale() -> str:
    locale = get_locale()
    language = locale.language if locale is not None else "da"
    return language if language in FORMATS else "da"


def in_danish_time(value: datetime) -> datetime:
    """A stored moment (aware, or naive UTC) as the wall clock in Denmark shows it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(DANISH_TIME)


def _moment(value: Any) -> datetime | date | time | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):  # ISO text, as JSON payloads carry times
        return datetime.fromisoformat(value)
    return value


def format_datetime(value: Any, width: str | None = None) -> str:
    """Date and time in Danish time, in the locale's one format.

    `width` ("short", "medium", …) is what Flask-Babel's filter of the same name takes;
    it is accepted so such calls keep working, and has no effect: one format per locale.
    """
    moment = _moment(value)
    if moment is None:
        return ""
    locale = _locale()
    if not isinstance(moment, datetime):
        return format_date(moment)
    return babel_format_datetime(in_danish_time(moment), FORMATS[locale][0], locale=locale)


def format_date(value: Any, width: str | None = None) -> str:
    """A date (or the Danish calendar day of a moment) in the locale's format."""
    return _format_part(value, datetime.date, babel_format_date, 1)


def format_time(value: Any, width: str | None = None) -> str:
    """A moment's Danish wall-clock time; a bare time of day (business hours) as it is."""
    return _format_part(value, datetime.time, babel_format_time, 2)


def _format_part(
    value: Any,
    part: Callable[[datetime], date | time],
    babel_format: Callable[..., str],
    column: int,
) -> str:
    """The date or the time of a moment in Danish time (of a bare one, itself), formatted
    with the locale's format in `column` of FORMATS."""
    moment = _moment(value)
    if moment is None:
        return ""
    if isinstance(moment, datetime):
        moment = part(in_danish_time(moment))
    locale = _locale()
    return babel_format(moment, FORMATS[locale][column], locale=locale)


def iso_moment(value: datetime) -> str:
    """For `<time datetime="…">`: the moment with its offset, so machines read it right."""
    return in_danish_time(value).isoformat(timespec="minutes")


def init_app(app: Flask) -> None:
    """The one set of date filters every template uses (replacing Flask-Babel's own)."""
    app.jinja_env.filters.update(
        datetimeformat=format_datetime,
        dateformat=format_date,
        timeformat=format_time,
        isotime=iso_moment,
    )


__all__ = [
    "DANISH_TIME",
    "FORMATS",
    "format_date",
    "format_datetime",
    "format_time",
    "in_danish_time",
    "init_app",
    "iso_moment",
]

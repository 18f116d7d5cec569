"""Report filters: the period in Danish local dates, its presets, and the narrowing filters.

A ticket counts in the period of its creation, on its Danish local date. SQL gets the
period as UTC bounds, and the local day of a timestamp as an expression: the offsets of
the period (one per stretch between daylight-saving changes) go into a CASE, on both
databases (SQLite has no time zones; PostgreSQL's per-row conversion is the slower way).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, cast, func
from sqlalchemy.types import Date

from supportdesk.accounts.models import InstitutionType
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db, utcnow

TZ = ZoneInfo("Europe/Copenhagen")
PRESETS = ("7", "30", "90", "school_year")
PRESET_LABELS = {
    "7": _l("Last 7 days"),
    "30": _l("Last 30 days"),
    "90": _l("Last 90 days"),
    "school_year": _l("This school year"),
}
DEFAULT_PRESET = "30"
MAX_DAYS = 3 * 366


def today_local(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(TZ).date()


def school_year_start(day: date) -> date:
    """A Danish school year starts on 1 August."""
    year = day.year if day.month >= 8 else day.year - 1
    return date(year, 8, 1)


def preset_period(preset: str, today: date) -> tuple[date, date]:
    if preset == "school_year":
        return school_year_start(today), today
    return today - timedelta(days=int(preset) - 1), today


@dataclass(frozen=True)
class ReportFilters:
    """What a report is asked for; every report and export reads the same filters."""

    start: date
    end: date
    preset: str | None = None
    system: str | None = None
    vendor: str | None = None
    institution_type: InstitutionType | None = None
    municipality: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def period(self) -> dict[str, str]:
        """The period as the figures give it: {"from": first day, "to": last day}."""
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    def bounds(self) -> tuple[datetime, datetime]:
        """[start 00:00, day after end 00:00) Danish time, as aware UTC datetimes."""
        return local_midnight(self.start), local_midnight(self.end + timedelta(days=1))

    def query_args(self, **changes: Any) -> dict[str, str]:
        """The filters as URL parameters (a bookmarkable report); `changes` override."""
        args = {
            **self.period(),
            "system": self.system or "",
            "vendor": self.vendor or "",
            "institution_type": self.institution_type.value if self.institution_type else "",
            "municipality": self.municipality or "",
        }
        args.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in args.items() if v}

    def with_municipality(self, slug: str | None) -> ReportFilters:
        return replace(self, municipality=slug)

    @classmethod
    def from_args(cls, args: Mapping[str, str], now: datetime | None = None) -> ReportFilters:
        """Parse URL parameters; a bad value is a validation error naming its field."""
        errors: dict[str, str] = {}
        today = today_local(now)
        preset = (args.get("preset") or "").strip() or None
        start = _date(args.get("from"), "from", errors)
        end = _date(args.get("to"), "to", errors)
        if preset is not None and preset not in PRESETS:
            errors["preset"] = str(_l("Unknown period."))
            preset = None
        if preset is not None:
            start, end = preset_period(preset, today)
        elif start is None and end is None and not errors:
            preset = DEFAULT_PRESET
            start, end = preset_period(preset, today)
        elif not errors:
            if start is None:
                start = (end or today) - timedelta(days=29)
            if end is None:
                end = today
        institution_type = None
        raw_type = (args.get("institution_type") or "").strip()
        if raw_type:
            try:
                institution_type = InstitutionType(raw_type)
            except ValueError:
                errors["institution_type"] = str(_l("Unknown institution type."))
        if start is not None and end is not None and not errors:
            if end < start:
                errors["to"] = str(_l("The end date must not be before the start date."))
            elif (end - start).days >= MAX_DAYS:
                errors["from"] = str(_l("A report covers at most three years."))
        if errors:
            raise ValidationFailed(fields=errors)
        return cls(
            start=start,
            end=end,
            preset=preset,
            system=(args.get("system") or "").strip() or None,
            vendor=(args.get("vendor") or "").strip() or None,
            institution_type=institution_type,
            municipality=(args.get("municipality") or "").strip() or None,
        )


def _date(raw: str | None, name: str, errors: dict[str, str]) -> date | None:
    raw = (raw or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = str(_l("Write the date as YYYY-MM-DD."))
        return None


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=TZ).astimezone(UTC)


def offset_stretches(start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
    """[from, to, UTC offset in hours) stretches covering start..end (DST changes inside)."""
    stretches: list[tuple[datetime, datetime, int]] = []
    moment = start.replace(minute=0, second=0, microsecond=0)
    current = moment
    offset = _offset_hours(moment)
    while moment < end:
        moment += timedelta(hours=1)
        now_offset = _offset_hours(moment)
        if now_offset != offset:
            stretches.append((current, moment, offset))
            current, offset = moment, now_offset
    stretches.append((current, end + timedelta(hours=1), offset))
    return stretches


def _offset_hours(moment: datetime) -> int:
    return int(moment.astimezone(TZ).utcoffset().total_seconds() // 3600)


def local_day(column: Any, start: datetime, end: datetime) -> Any:
    """SQL for the Danish local date of a UTC timestamp column within [start, end): the
    UTC time shifted by the offset of its stretch (one per daylight-saving change in the
    period). Plain arithmetic on both databases; on PostgreSQL several times cheaper per
    row than converting each timestamp with the time zone's rules."""
    stretches = offset_stretches(start, end)

    def shifted(hours: int) -> Any:
        if db.session.get_bind().dialect.name == "postgresql":
            return cast(func.timezone("UTC", column) + timedelta(hours=hours), Date)
        return func.date(column, f"+{hours} hours")

    if len(stretches) == 1:
        return shifted(stretches[0][2])
    return case(
        *[(and_(column >= lo, column < hi), shifted(hours)) for lo, hi, hours in stretches[:-1]],
        else_=shifted(stretches[-1][2]),
    )


def as_date(value: Any) -> date:
    """A day from SQL: a date on PostgreSQL, 'YYYY-MM-DD' text on SQLite."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def month(day: date) -> str:
    return f"{day.year}-{day.month:02d}"

"""The resolved scope of a report and the small arithmetic every figure shares."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, text

from supportdesk.accounts.models import System, Vendor
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.reports.periods import ReportFilters, iso_week, month


@dataclass(frozen=True)
class Scope:
    """Resolved filters: the UTC bounds and the ids the slugs name."""

    filters: ReportFilters
    lo: datetime
    hi: datetime
    system_ids: list[int] | None  # None: every system


def resolve(filters: ReportFilters) -> Scope:
    """Turn the filters' slugs into ids; an unknown slug is a validation error."""
    system_ids: list[int] | None = None
    errors: dict[str, str] = {}
    if filters.system:
        found = db.session.scalar(select(System.id).where(System.slug == filters.system))
        if found is None:
            errors["system"] = str(_l("Unknown system."))
        else:
            system_ids = [found]
    if filters.vendor:
        vendor_id = db.session.scalar(select(Vendor.id).where(Vendor.slug == filters.vendor))
        if vendor_id is None:
            errors["vendor"] = str(_l("Unknown vendor."))
        else:
            of_vendor = set(
                db.session.scalars(select(System.id).where(System.vendor_id == vendor_id))
            )
            system_ids = sorted(of_vendor if system_ids is None else of_vendor & set(system_ids))
    if errors:
        raise ValidationFailed(fields=errors)
    if db.session.get_bind().dialect.name == "postgresql":
        # PostgreSQL's JIT compiles a large-looking grouped query for ~100 ms, longer than
        # the query itself runs; off for this transaction only (reset at its end).
        db.session.execute(text("SET LOCAL jit = off"))
        # sorts and hashes of a hundred thousand tickets in memory, not in temporary files
        db.session.execute(text("SET LOCAL work_mem = '32MB'"))
    lo, hi = filters.bounds()
    return Scope(filters, lo, hi, system_ids)


# --- small helpers -------------------------------------------------------------------


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def percentiles(values: list[float]) -> dict[str, Any]:
    """Median (middle value, or the mean of the two middle ones) and the 90th percentile
    by nearest rank, in minutes with one decimal; None without values."""
    if not values:
        return {"median": None, "p90": None, "count": 0}
    ordered = sorted(values)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(p90, 1),
        "count": len(ordered),
    }


def days_to_buckets(days: dict[Any, int]) -> tuple[dict[str, int], dict[str, int]]:
    weeks: dict[str, int] = defaultdict(int)
    months: dict[str, int] = defaultdict(int)
    for day, n in days.items():
        weeks[iso_week(day)] += n
        months[month(day)] += n
    return dict(sorted(weeks.items())), dict(sorted(months.items()))


def rows_in_order(
    query: Any, id_column: Any, ids: list[int], row: Callable[..., dict[str, Any]]
) -> list[dict[str, Any]]:
    """`row(*columns)` of the rows of `query` whose `id_column` is in `ids`, in the order of
    `ids` (a list already chose and checked them), a thousand ids per statement."""
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 1000):
        chunk = query.add_columns(id_column).where(id_column.in_(ids[start : start + 1000]))
        for *columns, ident in db.session.execute(chunk):
            found[ident] = row(*columns)
    return [found[i] for i in ids if i in found]

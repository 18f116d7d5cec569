"""What the database already holds of a workbook's rows, read in a few bulk queries.

The checks compare every row with this snapshot instead of asking the database row by
row: a wave of 12,000 people is read in a few dozen statements (lists of keys in chunks).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from supportdesk.accounts.entitlements import entitled_counts
from supportdesk.accounts.models import (
    Institution,
    Municipality,
    SupportEntitlement,
    User,
    Vendor,
)
from supportdesk.extensions import db
from supportdesk.onboarding.reader import Sheet

# keys per IN list: well under SQLite's and PostgreSQL's limits on bound parameters
CHUNK = 500


def chunks(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass
class Known:
    """The existing rows the workbook names, keyed by their natural keys."""

    municipalities: dict[str, Any] = field(default_factory=dict)  # slug → row
    municipality_by_id: dict[int, Any] = field(default_factory=dict)
    codes: set[str] = field(default_factory=set)
    institutions: dict[str, Any] = field(default_factory=dict)  # number → row
    users: dict[str, Any] = field(default_factory=dict)  # e-mail → row
    vendors: dict[str, Any] = field(default_factory=dict)  # slug → row
    vendor_by_id: dict[int, Any] = field(default_factory=dict)
    # (user id, vendor id) of the named users' entitlements, and the vendors per user
    entitlements: set[tuple[int, int]] = field(default_factory=set)
    entitled_vendors: dict[int, set[int]] = field(default_factory=dict)
    # (municipality id, vendor id) → entitled users there now
    counts: dict[tuple[int, int], int] = field(default_factory=dict)

    def municipality_slug(self, municipality_id: int | None) -> str | None:
        row = self.municipality_by_id.get(municipality_id) if municipality_id else None
        return row.slug if row is not None else None


def _column(sheets: dict[str, Sheet], sheet: str, column: str) -> set[str]:
    found = sheets.get(sheet)
    if found is None:
        return set()
    return {value for row in found.rows if (value := row[column].strip().lower())}


def load(sheets: dict[str, Sheet]) -> Known:
    known = Known()
    for row in db.session.execute(
        select(
            Municipality.id,
            Municipality.slug,
            Municipality.name,
            Municipality.code,
            Municipality.wave,
            Municipality.go_live,
            Municipality.retention_days,
        )
    ):
        known.municipalities[row.slug] = row
        known.municipality_by_id[row.id] = row
        known.codes.add(row.code)
    for row in db.session.execute(
        select(Vendor.id, Vendor.slug, Vendor.name, Vendor.min_entitled, Vendor.max_entitled)
    ):
        known.vendors[row.slug] = row
        known.vendor_by_id[row.id] = row
    numbers = _column(sheets, "institutions", "number") | _column(sheets, "users", "institution")
    institution_columns = (
        Institution.id,
        Institution.number,
        Institution.municipality_id,
        Institution.name,
        Institution.type,
    )
    for batch in chunks(sorted(numbers)):
        for row in db.session.execute(
            select(*institution_columns).where(Institution.number.in_(batch))
        ):
            known.institutions[row.number] = row
    emails = _column(sheets, "users", "email") | _column(sheets, "entitlements", "email")
    for batch in chunks(sorted(emails)):
        for row in db.session.execute(
            select(
                User.id,
                User.email,
                User.name,
                User.role,
                User.municipality_id,
                User.institution_id,
                User.vendor_id,
                User.active,
            ).where(User.email.in_(batch))
        ):
            known.users[row.email] = row
    entitled: dict[int, set[int]] = defaultdict(set)
    for batch in chunks(sorted(u.id for u in known.users.values())):
        for user_id, vendor_id in db.session.execute(
            select(SupportEntitlement.user_id, SupportEntitlement.vendor_id).where(
                SupportEntitlement.user_id.in_(batch)
            )
        ):
            known.entitlements.add((user_id, vendor_id))
            entitled[user_id].add(vendor_id)
    known.entitled_vendors = dict(entitled)
    known.counts = entitled_counts()
    return known

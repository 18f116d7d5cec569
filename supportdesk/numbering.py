"""Human-readable numbers (tickets, vendor cases) that are never reused.

One counter row per (scope, key). The row is incremented with a single UPDATE,
which takes a row lock on PostgreSQL and the write lock on SQLite, so concurrent
creators get distinct values and a rolled-back number is simply skipped.
"""

from __future__ import annotations

from sqlalchemy import String, UniqueConstraint, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.extensions import db


class NumberSequence(db.Model):
    __tablename__ = "number_sequence"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(80))
    last_value: Mapped[int] = mapped_column(default=0)


def next_value(scope: str, key: str) -> int:
    """Return the next value of the (scope, key) counter inside the caller's transaction."""
    table = NumberSequence.__table__
    condition = (table.c.scope == scope) & (table.c.key == key)
    stmt = (
        update(table)
        .where(condition)
        .values(last_value=table.c.last_value + 1)
        .returning(table.c.last_value)
    )
    value = db.session.execute(stmt).scalar_one_or_none()
    if value is None:
        try:
            with db.session.begin_nested():
                db.session.execute(insert(table).values(scope=scope, key=key, last_value=0))
        except IntegrityError:
            pass  # another transaction created the counter first; its lock now orders us
        value = db.session.execute(stmt).scalar_one()
    return value

"""Generations: named counters bumped in the same transaction as the changes they name.

The session side of the fragment cache (see `supportdesk.cache`). Models register what
a change touches with `track`; the session listeners below collect the names at every
flush and bump them just before commit. Nothing here knows the request, forms or the
locale, so models may import it.

Reference data (names shown on many pages) is split as narrowly as the data is owned:

- `municipality_reference(id)` — a municipality's own institutions, people, queues and
  entitlements: only that municipality's pages show them;
- `vendor_reference(id)` — a vendor's agents, known issues and SLA targets;
- `REFERENCE` — what every tenant shows: systems, categories, vendor and municipality
  names, and people who belong to no tenant (administrators).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    String,
    bindparam,
    cast,
    event,
    func,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from supportdesk.extensions import db

REFERENCE = "reference"

_INFO_KEY = "cache_generations"
_TRACKED: dict[type, list[tuple[Callable[[Any], Iterable[str]], tuple[str, ...]]]] = {}


class CacheGeneration(db.Model):
    """A counter bumped in the same transaction as every change to what it names."""

    __tablename__ = "cache_generation"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


def municipality_reference(municipality_id: int | None) -> str:
    """A municipality's institutions, people, queues and entitlements."""
    return f"{REFERENCE}:m{municipality_id}" if municipality_id is not None else REFERENCE


def vendor_reference(vendor_id: int | None) -> str:
    """A vendor's agents, known issues and SLA targets."""
    return f"{REFERENCE}:v{vendor_id}" if vendor_id is not None else REFERENCE


def reference_of(municipality_id: Any, vendor_id: Any) -> Any:
    """In SQL, the reference generation of a row with these columns: its municipality's,
    else its vendor's, else the shared one (as `municipality_reference` and
    `vendor_reference` name them)."""
    return func.coalesce(
        literal(f"{REFERENCE}:m") + cast(municipality_id, String),
        literal(f"{REFERENCE}:v") + cast(vendor_id, String),
        literal(REFERENCE),
    )


def municipality_reference_of(municipality_id: Any) -> Any:
    """In SQL, `municipality_reference` of a municipality id column (never NULL)."""
    return name_of(f"{REFERENCE}:m", municipality_id)


def vendor_reference_of(vendor_id: Any) -> Any:
    """In SQL, `vendor_reference` of a vendor id column or subquery."""
    return func.coalesce(literal(f"{REFERENCE}:v") + cast(vendor_id, String), literal(REFERENCE))


def name_of(*parts: Any) -> Any:
    """In SQL, a generation name put together like an f-string: each `str` part as it
    is, every other part (an integer column or expression) as text; NULL if one is."""
    found = [literal(part) if isinstance(part, str) else cast(part, String) for part in parts]
    name = found[0]
    for part in found[1:]:
        name = name + part
    return name


def value_of(name: Any) -> Any:
    """The value of the generation `name` (a SQL expression) as a scalar subquery; NULL
    for one never bumped."""
    return select(CacheGeneration.value).where(CacheGeneration.name == name).scalar_subquery()


def old_and_new(row: Any, column: str, relationship: str | None = None) -> set[int]:
    """The ids in `column` now and, while it is being changed, before.

    A row moved to another municipality or vendor leaves the old one's pages as well;
    `relationship` is the same link as an object (services set either).
    """
    state = inspect(row)
    found = {getattr(row, column), *state.attrs[column].history.deleted}
    if relationship is not None:
        history = state.attrs[relationship].history
        found.update(getattr(other, "id", None) for other in (*history.added, *history.deleted))
    return found - {None}


# --- writers --------------------------------------------------------------------------


def track(
    model: type, generations: Callable[[Any], Iterable[str]], *, only: Iterable[str] = ()
) -> None:
    """A new, changed or deleted `model` row bumps `generations(row)`.

    `only` limits "changed" to those attributes (a login that stamps `last_login_at`
    on a user must not bump the generation of names).
    """
    _TRACKED.setdefault(model, []).append((generations, tuple(only)))


def tracked(model: type) -> list[tuple[Callable[[Any], Iterable[str]], tuple[str, ...]]]:
    """The registrations of `model` (tests check every shown column is covered)."""
    return list(_TRACKED.get(model, ()))


def pending(*names: str) -> bool:
    """Whether this transaction changed something under `names` (bumped only at commit)."""
    return not db.session.info.get(_INFO_KEY, set()).isdisjoint(names)


def bump(*names: str) -> None:
    """Bump generations explicitly (bulk statements the session does not see)."""
    db.session.info.setdefault(_INFO_KEY, set()).update(names)


def _changed(obj: Any, only: tuple[str, ...]) -> bool:
    state = inspect(obj)
    if not only:
        return True
    return any(state.attrs[name].history.has_changes() for name in only)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, _flush_context: Any) -> None:
    # in after_flush, new/dirty/deleted and attribute history still show this flush
    found: set[str] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        for generations, only in _TRACKED.get(type(obj), ()):
            if obj in session.dirty and not (
                session.is_modified(obj, include_collections=False) and _changed(obj, only)
            ):
                continue
            found.update(name for name in generations(obj) if name)
    if found:
        session.info.setdefault(_INFO_KEY, set()).update(found)


@event.listens_for(Session, "before_commit")
def _bump_before_commit(session: Session) -> None:
    session.flush()  # collect what the commit's own flush would write
    names = session.info.pop(_INFO_KEY, None)
    if not names:
        return
    # sorted, and as the last statements of the transaction: every writer takes
    # these row locks in the same order and holds them only until its commit
    statement = text(
        "INSERT INTO cache_generation (name, value) VALUES (:name, 1) "
        "ON CONFLICT (name) DO UPDATE SET value = cache_generation.value + 1"
    )
    connection = session.connection()
    for name in sorted(names):
        connection.execute(statement, {"name": name})


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (savepoints keep them)
        session.info.pop(_INFO_KEY, None)


# --- readers --------------------------------------------------------------------------

_READ = select(CacheGeneration.name, CacheGeneration.value).where(
    CacheGeneration.name.in_(bindparam("names", expanding=True))
)


def read(*names: str) -> dict[str, int]:
    """The current values of `names` (0 for one never bumped), in one query."""
    found = dict.fromkeys(names, 0)
    if names:
        found.update((name, value) for name, value in db.session.execute(_READ, {"names": names}))
    return found

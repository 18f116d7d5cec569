"""The ticket page's cache: what its key reads and the parts built once for many pages.

`tickets.views.detail` keys the page's fragment by the generations `detail_generations`
names; `visible_ticket` reads their values in the ticket's own statement. Other domains'
parts of the page register their names in `DETAIL_GENERATION_PROVIDERS`.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable
from typing import Any

from sqlalchemy import String, bindparam, select

from supportdesk import policy
from supportdesk.accounts.models import System, User
from supportdesk.accounts.reference import system_vendors
from supportdesk.cache import fragments, generations
from supportdesk.errors import NotFound
from supportdesk.tickets import access_log
from supportdesk.tickets.models import (
    Ticket,
    case_page_generation,
    case_page_generation_of,
    ticket_page_generation,
    ticket_page_generation_of,
)

# Names other domains' parts of the ticket page read (the reply tools' canned replies
# and FAQ articles): each provider gives them for a viewer.
DETAIL_GENERATION_PROVIDERS: list[Callable[[User], tuple[str, ...]]] = []


def detail_generations(user: User, ticket: Ticket | TicketHead) -> tuple[str, ...]:
    """What the ticket page shows: the ticket (and its case), the municipality's people,
    institutions, queues and entitlements, the shared names, its system's vendor's known
    issues and SLA targets, and what other domains' parts of the page register."""
    names = [
        ticket_page_generation(ticket.municipality_id, ticket.id),
        generations.municipality_reference(ticket.municipality_id),
        generations.REFERENCE,
        generations.vendor_reference(system_vendors().get(ticket.system_id)),
    ]
    if ticket.vendor_case_id is not None:
        names.append(case_page_generation(ticket.municipality_id, ticket.vendor_case_id))
    for provider in DETAIL_GENERATION_PROVIDERS:
        names.extend(provider(user))
    return tuple(names)


# The ticket's own values as its table holds them: all a cached page needs (its key, the
# reopen offer, the access-log row, the title). A page built anew loads the model
# (`services.load_detail`), as it reads the ticket again anyway.
TicketHead = namedtuple(  # built from the table: a column added is a field added
    "TicketHead", [column.key for column in Ticket.__table__.columns]
)


def visible_ticket(user: User, number: str) -> TicketHead:
    """`policy.get_ticket`'s ticket, as its row, with the values of the page's generations
    read in the same statement (`detail_generation_columns`): `read_generations` then
    needs no query. The statement is the policy's kept one for this kind of viewer
    (`ticket_by_number`), run on the session's connection: a row, not a model, spares the
    ORM's work per statement, which cost more than the query (0.17 → 0.08 ms). On
    PostgreSQL the statement writes the page view's access-log row as well
    (`access_log.read_ticket`; `access_log.viewing` commits it)."""
    provided = [name for provider in DETAIL_GENERATION_PROVIDERS for name in provider(user)]
    statement, params = policy.ticket_by_number(
        user, number, detail_generation_columns(len(provided)), row=True
    )
    names = {f"{_PROVIDED}{index}": name for index, name in enumerate(provided)}
    row = access_log.read_ticket(user, statement, {**params, **names}, "page")
    if row is None:
        raise NotFound()
    values = row[len(TicketHead._fields) :]
    pairs = zip(values[::2], values[1::2], strict=True)
    fragments.remember_generations({name: value or 0 for name, value in pairs if name})
    return TicketHead._make(row[: len(TicketHead._fields)])


_PROVIDED = "detail_generation_"
_GENERATION_COLUMNS: dict[int, tuple[Any, ...]] = {}


def detail_generation_columns(provided: int) -> tuple[Any, ...]:
    """`detail_generations` in SQL, each name (NULL where none applies) and its value, of
    the ticket's columns: the ticket's page, its system's vendor's names, its case, and
    `provided` names of `DETAIL_GENERATION_PROVIDERS` (parameters `detail_generation_<i>`).
    Built once per count: a statement built anew costs more to key than a query.
    The municipality's names and the shared ones are read with the user already
    (`navigation`'s preloads). A name computed here and not in `detail_generations`
    is never used: the key holds what `detail_generations` names, and what no statement
    gave is read anew by `read_generations`."""
    found = _GENERATION_COLUMNS.get(provided)
    if found is None:
        vendor = (
            select(System.vendor_id)
            .where(System.id == Ticket.system_id)
            .correlate(Ticket)
            .scalar_subquery()
        )
        names = [
            ticket_page_generation_of(Ticket.municipality_id, Ticket.id),
            generations.vendor_reference_of(vendor),
            case_page_generation_of(Ticket.municipality_id, Ticket.vendor_case_id),
            *(bindparam(f"{_PROVIDED}{index}", type_=String) for index in range(provided)),
        ]
        found = tuple(c for name in names for c in (name, generations.value_of(name)))
        _GENERATION_COLUMNS[provided] = found
    return found

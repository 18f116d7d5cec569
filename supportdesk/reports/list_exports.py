"""The ticket list and the case queue as export rows ("Eksportér").

The rows are the lists' own pages (tickets/listing.py, escalation/listing.py: the same
tenant scope, filters and order as on screen), walked cursor by cursor up to MAX_ROWS,
then laid out as the `tickets` and `cases` reports' rows.
"""

from __future__ import annotations

from typing import Any

from supportdesk.accounts.models import User
from supportdesk.escalation.listing import CaseFilters, list_cases
from supportdesk.reports.case_queries import case_rows_for
from supportdesk.reports.queries import ticket_rows_for
from supportdesk.tickets.listing import TicketFilters, list_tickets

MAX_ROWS = 10_000
PAGE = 200


def ticket_list_rows(user: User, filters: TicketFilters) -> list[dict[str, Any]]:
    ids: list[int] = []
    cursor = None
    while len(ids) < MAX_ROWS:
        page = list_tickets(user, filters, cursor=cursor, limit=PAGE, with_counts=False)
        ids.extend(ticket.id for ticket in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return ticket_rows_for(ids[:MAX_ROWS])


def case_list_rows(user: User, filters: CaseFilters) -> list[dict[str, Any]]:
    ids: list[int] = []
    while len(ids) < MAX_ROWS:
        page = list_cases(user, filters, size=PAGE)
        ids.extend(case.id for case in page.cases)
        if page.next_cursor is None:
            break
        filters.cursor = page.next_cursor
    return case_rows_for(ids[:MAX_ROWS])

"""JSON API /api/v1: bearer tokens, the stable error shape, OpenAPI from the routes.

The blueprint lives in `api.base`; importing the endpoint modules here registers their
routes on it, so `supportdesk.api.bp` is the complete API and no module imports back
into this package.
"""

from __future__ import annotations

from supportdesk.api import (  # noqa: F401  (routes register on bp)
    accounts,
    audit,
    cases,
    faq,
    notifications,
    openapi,
    replies,
    reports,
    sensitive,
    ticket_actions,
    tickets,
)
from supportdesk.api.base import bp

__all__ = ["bp"]

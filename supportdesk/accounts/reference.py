"""Which vendor serves each system, kept per worker until reference data changes.

A page that shows a vendor's data (the ticket page shows its system's vendor's known
issues, SLA and agents) reads that vendor's generation, so it needs the vendor's id
before it reads its generations; this map spares it a query per request.
"""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import System
from supportdesk.cache import fragments, generations
from supportdesk.extensions import db


def system_vendors() -> dict[int, int]:
    """{system id: vendor id}, built again after any change to systems or vendors."""
    return fragments.kept(
        ("system_vendors",),
        (generations.REFERENCE,),
        lambda: {
            system: vendor
            for system, vendor in db.session.execute(select(System.id, System.vendor_id))
        },
    )


def vendor_references() -> tuple[str, ...]:
    """Every vendor's generation of names (a municipality's case list shows agents of all)."""
    return tuple(generations.vendor_reference(v) for v in sorted(set(system_vendors().values())))

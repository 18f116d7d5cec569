"""Every row one municipality owns is marked `MunicipalityOwned`, so the tenant column is
declared once and a new tenant table cannot leave it out."""

from __future__ import annotations

import supportdesk.models  # noqa: F401  (every table in the metadata)
from supportdesk.accounts.models import MunicipalityOwned
from supportdesk.extensions import db


def _owned_by_one_municipality(mapper) -> bool:
    column = mapper.columns.get("municipality_id")
    return (
        column is not None
        and not column.nullable
        and any(fk.column.table.name == "municipality" for fk in column.foreign_keys)
    )


def test_tenant_tables_are_municipality_owned():
    mappers = list(db.Model.registry.mappers)
    owned = {m.class_.__name__ for m in mappers if _owned_by_one_municipality(m)}
    marked = {m.class_.__name__ for m in mappers if issubclass(m.class_, MunicipalityOwned)}
    assert owned == marked
    assert {"Ticket", "VendorCase", "TicketEntry", "Institution"} <= marked


def test_the_tenant_column_is_indexed_unless_a_composite_index_leads_with_it():
    for mapper in db.Model.registry.mappers:
        if not issubclass(mapper.class_, MunicipalityOwned):
            continue
        table = mapper.local_table
        leading = {index.columns.values()[0].name for index in table.indexes}
        assert "municipality_id" in leading, table.name

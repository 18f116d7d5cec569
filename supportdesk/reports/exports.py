"""CSV and XLSX of a report's tables.

CSV is what Danish Excel opens with a double click: UTF-8 with a byte-order mark, `;`
between cells, decimal commas. A text cell that starts with `=`, `+`, `-`, `@` (or a tab
or carriage return) gets a leading apostrophe, so a subject like `=HYPERLINK(...)` is
shown as text and never runs as a formula (CSV injection). XLSX stores numbers as
numbers and text with `write_string`, which is never read as a formula.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import xlsxwriter
from flask import Response
from flask_babel import lazy_gettext as _l

from supportdesk.errors import ValidationFailed
from supportdesk.reports.services import Report
from supportdesk.reports.tables import Table, tables_for

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def neutralise(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value).replace(".", ",")
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))


def to_csv(tables: list[Table]) -> bytes:
    """One table: its header and rows. Several: each under its title, a blank line between."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    for index, table in enumerate(tables):
        if len(tables) > 1:
            if index:
                writer.writerow([])
            writer.writerow([csv_cell(table.title)])
        writer.writerow([csv_cell(h) for h in table.headers])
        writer.writerows([csv_cell(v) for v in row] for row in table.rows)
    return (BOM + out.getvalue()).encode("utf-8")


def to_xlsx(tables: list[Table]) -> bytes:
    """One sheet per table, named after it (Excel allows 31 characters)."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True})
    used: set[str] = set()
    for table in tables:
        name = _sheet_name(table.title, used)
        sheet = book.add_worksheet(name)
        for column, header in enumerate(table.headers):
            sheet.write_string(0, column, header, bold)
        for r, row in enumerate(table.rows, start=1):
            for column, value in enumerate(row):
                _write(sheet, r, column, value)
        sheet.set_column(0, max(0, len(table.headers) - 1), 18)
    book.close()
    return out.getvalue()


def _write(sheet: Any, row: int, column: int, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float):
        sheet.write_number(row, column, value)
    else:
        sheet.write_string(row, column, str(value))


def _sheet_name(title: str, used: set[str]) -> str:
    base = "".join(c for c in title if c not in "[]:*?/\\")[:31] or "Ark"
    name, n = base, 2
    while name.lower() in used:
        suffix = f" {n}"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def render(tables: list[Table], fmt: str) -> bytes:
    return to_csv(tables) if fmt == "csv" else to_xlsx(tables)


def download(report: Report, fmt: str, table: str | None = None) -> Response:
    """The report's tables (or the one named `table`) as a CSV or XLSX attachment (`send`
    checks the format)."""
    tables = tables_for(report)
    if table:
        tables = [t for t in tables if t.key == table]
        if not tables:
            raise ValidationFailed(fields={"table": str(_l("Unknown table."))})
    return send(tables, fmt, f"rapport-{report.name}-{report.filters.start}-{report.filters.end}")


def send(tables: list[Table], fmt: str, stem: str) -> Response:
    """Tables as a CSV or XLSX attachment named `stem`.csv / .xlsx."""
    if fmt not in MEDIA_TYPES:
        raise ValidationFailed(fields={"format": str(_l("Choose json, csv or xlsx."))})
    name = f"{stem}.{fmt}"
    return Response(
        render(tables, fmt),
        mimetype=MEDIA_TYPES[fmt].split(";")[0],
        headers={
            "Content-Type": MEDIA_TYPES[fmt],
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )

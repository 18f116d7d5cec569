"""Reading an onboarding workbook: one XLSX file, or CSV files named after its sheets.

Every cell becomes a stripped string ("" when empty), so the checks see the same values
whichever format the municipality filled in. CSV files are UTF-8 with or without a byte
order mark, separated by `;` (what Danish spreadsheet programs write) or `,`. Rows are
numbered as a spreadsheet shows them: the header is row 1.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask_babel import lazy_gettext as _l

# sheet → its columns, in the order of the example file (docs/onboarding-example/)
COLUMNS: dict[str, tuple[str, ...]] = {
    "municipalities": ("slug", "name", "wave", "go_live", "retention_days"),
    "institutions": ("municipality", "number", "name", "type"),
    "users": ("email", "name", "role", "municipality", "institution", "vendor"),
    "entitlements": ("email", "vendor"),
}
SHEETS = tuple(COLUMNS)
# A wave is ~20 municipalities with ~3,000 institutions and ~25,000 people at most.
MAX_ROWS = 100_000


class SourceError(Exception):
    """The file as a whole cannot be read; `message` says why in the user's language."""

    def __init__(self, message: Any) -> None:
        self.message = message
        super().__init__(str(message))


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it: the header is row 1
    cells: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass
class Sheet:
    name: str
    columns: tuple[str, ...]  # the header, lower-cased
    rows: list[Row] = field(default_factory=list)


def _text(value: Any) -> str:
    """A cell as text: dates as ISO dates, whole numbers without a decimal part."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _sheet(name: str, records: Iterable[Iterable[Any]]) -> Sheet:
    """The header row and the non-empty rows below it."""
    iterator = iter(records)
    header = next(iterator, None) or ()
    columns = tuple(_text(cell).lower() for cell in header)
    sheet = Sheet(name, columns)
    for number, record in enumerate(iterator, start=2):
        values = [_text(cell) for cell in record]
        if not any(values):
            continue
        if len(sheet.rows) >= MAX_ROWS:
            raise SourceError(
                _l("The sheet %(sheet)s has more than %(max)s rows.", sheet=name, max=MAX_ROWS)
            )
        cells = {column: value for column, value in zip(columns, values, strict=False) if column}
        sheet.rows.append(Row(number, cells))
    return sheet


def read_csv(name: str, data: bytes) -> Sheet:
    """One CSV file; the separator is the one its header line uses most (`;` or `,`)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(
            _l("The file %(file)s is not UTF-8 text. Save it as CSV (UTF-8).", file=name + ".csv")
        ) from None
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    try:
        return _sheet(name, csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise SourceError(
            _l("The file %(file)s is not valid CSV: %(reason)s", file=name + ".csv", reason=error)
        ) from None


def read_xlsx(data: bytes) -> dict[str, Sheet]:
    """The workbook's sheets that carry one of the sheet names (other sheets are ignored)."""
    # openpyxl is only needed for workbooks; loading it costs ~0.2 s of start-up
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise SourceError(_l("The file cannot be read as an Excel workbook (XLSX).")) from None
    try:
        found: dict[str, Sheet] = {}
        for worksheet in workbook.worksheets:
            name = worksheet.title.strip().lower()
            if name in COLUMNS and name not in found:
                found[name] = _sheet(name, worksheet.iter_rows(values_only=True))
        return found
    finally:
        workbook.close()


def _checked(found: dict[str, Sheet]) -> dict[str, Sheet]:
    if not found:
        raise SourceError(
            _l(
                "The file has none of the sheets %(sheets)s.",
                sheets=", ".join(SHEETS),
            )
        )
    return found


def read_files(files: Iterable[tuple[str, bytes]]) -> dict[str, Sheet]:
    """Uploaded or named files: one .xlsx workbook, or .csv files named after the sheets."""
    found: dict[str, Sheet] = {}
    for filename, data in files:
        path = Path(filename)
        suffix, stem = path.suffix.lower(), path.stem.strip().lower()
        if suffix == ".xlsx":
            for name, sheet in read_xlsx(data).items():
                found.setdefault(name, sheet)
        elif suffix == ".csv" and stem in COLUMNS:
            found.setdefault(stem, read_csv(stem, data))
        elif suffix == ".csv":
            raise SourceError(
                _l(
                    "The file %(file)s is not one of %(files)s.",
                    file=path.name,
                    files=", ".join(f"{name}.csv" for name in SHEETS),
                )
            )
        else:
            raise SourceError(
                _l("The file %(file)s is neither a workbook (.xlsx) nor CSV.", file=path.name)
            )
    return _checked(found)


def read_path(path: Path) -> dict[str, Sheet]:
    """A workbook file, or a folder of CSV files (`municipalities.csv`, …)."""
    if path.is_dir():
        files = [
            (child.name, child.read_bytes())
            for child in sorted(path.iterdir())
            if child.suffix.lower() == ".csv" and child.stem.lower() in COLUMNS
        ]
        return _checked(read_files(files) if files else {})
    if not path.is_file():
        raise SourceError(_l("There is no file or folder %(path)s.", path=str(path)))
    return read_files([(path.name, path.read_bytes())])

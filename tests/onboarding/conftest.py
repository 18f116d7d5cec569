"""Workbooks for the onboarding tests: the docs example, and small ones built per test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bench.onboard_wave import EXAMPLE_CSV, EXAMPLE_XLSX, read_csv_folder, write_csv, write_xlsx
from supportdesk.extensions import db as _db

Sheets = dict[str, list[list[str]]]


@pytest.fixture
def vendors(make_vendor):
    """The example's vendors (the demo's slugs), with the default limits 4 to 8."""
    return {slug: make_vendor(slug) for slug in ("netcompany", "meebook")}


@pytest.fixture
def example() -> Sheets:
    """The example's sheets, to change a cell before writing them out."""
    return read_csv_folder(EXAMPLE_CSV)


@pytest.fixture
def workbook(tmp_path) -> Callable[..., Path]:
    """`workbook(sheets)` writes a CSV folder (or, with xlsx=True, a workbook)."""
    count = iter(range(1000))

    def _write(sheets: Sheets, xlsx: bool = False, delimiter: str = ";") -> Path:
        n = next(count)
        if xlsx:
            return write_xlsx(sheets, tmp_path / f"wave{n}.xlsx")
        return write_csv(sheets, tmp_path / f"wave{n}", delimiter=delimiter)

    return _write


@pytest.fixture
def example_xlsx(tmp_path) -> Path:
    return Path(shutil.copy(EXAMPLE_XLSX, tmp_path / "eksempel.xlsx"))


@pytest.fixture
def onboard(app):
    """`onboard(path, "--dry-run")` runs the command; returns (exit code, output lines)."""
    runner = app.test_cli_runner()

    def _run(path: Path, *options: str) -> tuple[int, list[str]]:
        result = runner.invoke(args=["onboard", "import", str(path), *options])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        _db.session.expire_all()
        return result.exit_code, result.output.splitlines()

    return _run


def row_counts() -> dict[str, int]:
    """Rows in every table: what an import that writes nothing must leave as it was."""
    _db.session.expire_all()
    return {
        table.name: _db.session.scalar(select(func.count()).select_from(table))
        for table in _db.metadata.sorted_tables
    }


def user_row(sheets: Sheets, email: str) -> list[str]:
    return next(row for row in sheets["users"] if row[0] == email)

"""The upload form of a wave import (shape only: the checks live in `checks`)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField


class ImportForm(FlaskForm):
    files = MultipleFileField(
        _l("Workbook or CSV files"),
        description=_l(
            "One Excel workbook (.xlsx), or the CSV files municipalities.csv, "
            "institutions.csv, users.csv and entitlements.csv (choose several at once)."
        ),
    )
    dry_run = BooleanField(
        _l("Only check the file"),
        description=_l("Nothing is written and nobody is invited; the report shows what would be."),
    )
    partial = BooleanField(
        _l("Import the good rows even if some rows fail"),
        description=_l(
            "Without this nothing is written while any row fails. A row that refers to a "
            "failed row (an institution of a municipality with errors) fails too."
        ),
    )

    def chosen_files(self) -> list[tuple[str, bytes]]:
        """(file name, content) of every file chosen (none: an empty list)."""
        return [
            (upload.filename, upload.read())
            for upload in self.files.data or []
            if upload is not None and getattr(upload, "filename", "")
        ]

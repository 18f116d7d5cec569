"""`flask --app wsgi onboard import FILE [--dry-run] [--partial]`: a wave from a workbook.

The report is in Danish: one line per problem (sheet, row, column, reason), then per
sheet the rows created, updated, unchanged and failed. The last line, in the words of
the other commands, counts the rows written (or, with --dry-run, that would be):
`created N, updated N, unchanged N, failed N`. Exit code 0 when the import is written
(or would be), 1 when any row fails (with --partial the good rows are written all the
same), 2 when the file cannot be read.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask_babel import force_locale
from flask_babel import gettext as _

from supportdesk.extensions import db
from supportdesk.onboarding import services

onboard_cli = click.Group("onboard", help="Onboard rollout waves of municipalities.")


def _counts_line(counts: dict[str, int]) -> str:
    return (
        f"created {counts['created']}, updated {counts['updated']}, "
        f"unchanged {counts['unchanged']}, failed {counts['failed']}"
    )


def report_lines(result: services.ImportResult) -> list[str]:
    """The Danish report: problems, then per sheet what happened to its rows."""
    lines = []
    for problem in result.plan.problems:
        where = _("Sheet %(sheet)s, row %(row)s", sheet=problem.sheet, row=problem.row)
        if problem.column:
            where += ", " + _("column %(column)s", column=problem.column)
        lines.append(f"{where}: {problem.message}")
    for sheet in result.plan.sheets:
        counts = result.counts(sheet)
        lines.append(
            _(
                "%(sheet)s: %(created)s created, %(updated)s updated, %(unchanged)s "
                "unchanged, %(failed)s failed",
                sheet=sheet,
                **counts,
            )
        )
    if result.dry_run:
        lines.append(_("Dry run: nothing has been written."))
    elif not result.written:
        lines.append(_("Nothing has been written: correct the rows above and import again."))
    elif not result.counts()["created"] and not result.counts()["updated"]:
        lines.append(_("Nothing has changed: the database already holds what the file says."))
    elif result.invited:
        lines.append(
            _(
                "New users who get an e-mail with a link to choose a password: %(count)s.",
                count=result.invited,
            )
        )
    return lines


@onboard_cli.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check and count, write nothing.")
@click.option("--partial", is_flag=True, help="Write the good rows even when others fail.")
def onboard_import(path: Path, dry_run: bool, partial: bool) -> None:
    """Import municipalities, institutions, users and entitlements from an XLSX workbook
    or a folder of CSV files (municipalities.csv, institutions.csv, users.csv,
    entitlements.csv)."""
    with force_locale("da"):
        try:
            sheets = services.read_path(path)
        except services.SourceError as error:
            click.echo(f"Error: {error.message}", err=True)
            sys.exit(2)
        result = services.import_workbook(None, sheets, dry_run=dry_run, partial=partial)
        lines = report_lines(result)
    if dry_run or not result.written:
        db.session.rollback()
    else:
        db.session.commit()
    for line in lines:
        click.echo(line)
    prefix = "dry run, " if dry_run else ""
    click.echo(prefix + _counts_line(result.counts()))
    if not result.ok:
        sys.exit(1)

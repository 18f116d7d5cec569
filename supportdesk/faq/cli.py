"""`flask --app wsgi faq import PATH` / `faq export PATH`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from supportdesk.extensions import db
from supportdesk.faq.files import export_path, import_path
from supportdesk.faq.services import published_articles
from supportdesk.search import get_backend
from supportdesk.search.tasks import sync_now

faq_cli = click.Group("faq", help="FAQ articles as files.")


@faq_cli.command("import")
@click.argument("path", type=click.Path(exists=True, file_okay=True, path_type=Path))
def import_command(path: Path) -> None:
    """Import PATH/<system>/<slug>.md (upsert by slug); bad files are reported and skipped."""
    report = import_path(path)
    db.session.commit()
    if len(report.changed_slugs) > 10:
        # One rebuild is much faster than many small index commits.
        get_backend().rebuild(published_articles())
    else:
        for slug in report.changed_slugs:
            sync_now(slug)
    for result in report.results:
        line = f"{result.status:<9} {result.path}"
        if result.message:
            line += f": {result.message}"
        click.echo(line, err=result.status == "error")
    click.echo(
        f"{report.count('created')} created, {report.count('updated')} updated, "
        f"{report.count('unchanged')} unchanged, {report.count('error')} with errors"
    )
    if not report.ok:
        sys.exit(1)


@faq_cli.command("export")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def export_command(path: Path) -> None:
    """Write the published articles to PATH/<system>/<slug>.md."""
    count = export_path(path)
    click.echo(f"Exported {count} published articles to {path}")

"""`flask --app wsgi gdpr export|erase EMAIL|PHONE`: one person's data for the operator."""

from __future__ import annotations

import json
import sys

import click

from supportdesk.errors import DomainError
from supportdesk.extensions import db
from supportdesk.gdpr import services

gdpr_cli = click.Group("gdpr", help="Export or erase one person's data (GDPR).")


def _subject(identifier: str) -> services.Subject:
    try:
        subject = services.find_subject(identifier, None)
    except DomainError as error:
        click.echo(f"Error: {'; '.join(str(v) for v in error.fields.values())}", err=True)
        sys.exit(1)
    if not subject.found:
        click.echo(f"Error: nothing is stored about {identifier}", err=True)
        sys.exit(1)
    return subject


@gdpr_cli.command("export")
@click.argument("identifier")
def gdpr_export(identifier):
    """Print everything stored about EMAIL or PHONE as JSON on stdout."""
    subject = _subject(identifier)
    data = services.export(None, subject)
    db.session.commit()
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@gdpr_cli.command("erase")
@click.argument("identifier")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def gdpr_erase(identifier, yes):
    """Anonymise the tickets and account of EMAIL or PHONE (as the retention job does)."""
    subject = _subject(identifier)
    if not yes:
        click.confirm(
            f"Anonymise {len(subject.tickets)} ticket(s)"
            + (" and the account" if subject.user else "")
            + f" of {identifier}?",
            abort=True,
        )
    count = services.erase(None, subject)
    db.session.commit()
    click.echo(f"Anonymised {count} ticket(s)" + (" and the account" if subject.user else ""))

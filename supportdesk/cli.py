"""`flask --app wsgi …` command groups: call services, commit once, exit non-zero on failure."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from supportdesk import backup as backups
from supportdesk import outbox
from supportdesk.accounts import passwords, twofactor
from supportdesk.accounts import services as accounts
from supportdesk.accounts.models import Institution, Municipality, Role, User, Vendor
from supportdesk.demo import seed
from supportdesk.errors import DomainError
from supportdesk.extensions import db
from supportdesk.faq.cli import faq_cli
from supportdesk.gdpr.cli import gdpr_cli
from supportdesk.notifications.cli import devmail_cli
from supportdesk.onboarding.cli import onboard_cli
from supportdesk.retention.services import run_retention
from supportdesk.search.tasks import search_cli


def fail(message: str) -> None:
    """Print a clear reason on stderr and exit 1 (no traceback)."""
    db.session.rollback()
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def describe(error: DomainError) -> str:
    details = "; ".join(f"{k}: {v}" for k, v in error.fields.items())
    return f"{error.message}" + (f" ({details})" if details else "")


def _lookup(model, column, value, label: str):
    row = db.session.scalar(select(model).where(column == value))
    if row is None:
        fail(f"unknown {label} {value!r}")
    return row


def _user(email: str) -> User:
    return _lookup(User, User.email, email.strip().lower(), "user")


@contextmanager
def _refusal_fails() -> Iterator[None]:
    """A service's refusal (DomainError) ends the command with its reason."""
    try:
        yield
    except DomainError as error:
        fail(describe(error))


def _act_on_user(email: str, action: Callable[[None, User], object], summary: str) -> None:
    """Apply one service to the user as the system, commit, and print `summary`."""
    user = _user(email)
    action(None, user)
    db.session.commit()
    click.echo(summary.format(email=user.email))


users_cli = click.Group("users", help="Manage users.")
tokens_cli = click.Group("tokens", help="Manage API tokens.")
entitlements_cli = click.Group("entitlements", help="Grant and revoke support entitlement.")
demo_cli = click.Group("demo", help="Demo data.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--name", default=None, help="Full name (defaults to the e-mail's local part).")
@click.option("--municipality", "municipality_slug", default=None)
@click.option("--institution", "institution_number", default=None)
@click.option("--vendor", "vendor_slug", default=None)
@click.option("--password", default=None, help="Read from stdin when not given.")
def users_create(email, role, name, municipality_slug, institution_number, vendor_slug, password):
    """Create a user (password from stdin when --password is not given)."""
    municipality = institution = vendor = None
    if municipality_slug:
        municipality = _lookup(Municipality, Municipality.slug, municipality_slug, "municipality")
    if institution_number:
        institution = _lookup(Institution, Institution.number, institution_number, "institution")
        municipality = municipality or institution.municipality
    if vendor_slug:
        vendor = _lookup(Vendor, Vendor.slug, vendor_slug, "vendor")
    if password is None:
        password = sys.stdin.readline().rstrip("\n")
    with _refusal_fails():
        user = accounts.create_user(
            None,
            accounts.UserData(
                email=email,
                name=name or email.split("@")[0],
                role=Role(role),
                municipality=municipality,
                institution=institution,
                vendor=vendor,
                password=password,
            ),
        )
    db.session.commit()
    click.echo(f"Created {user.email} ({user.role.value})")


@users_cli.command("reset-2fa")
@click.argument("email")
def users_reset_2fa(email):
    """Remove a user's second factor (lost phone); they set it up again at next sign-in."""
    summary = "Two-factor sign-in reset for {email}; every session of theirs has ended"
    _act_on_user(email, twofactor.reset, summary)


@users_cli.command("invite")
@click.argument("email")
def users_invite(email):
    """E-mail the user a single-use link to choose their password (sent by the worker)."""
    _act_on_user(email, passwords.invite, "Invitation queued for {email}")


@tokens_cli.command("create")
@click.argument("email")
@click.option("--name", default="cli", help="A name to recognise the token by.")
def tokens_create(email, name):
    """Print a new API token for the user on stdout, nothing else."""
    user = _user(email)
    if not user.active:
        fail(f"user {email} is not active")
    _token, plain = accounts.create_token(user, name)
    db.session.commit()
    click.echo(plain)


def _entitlement_args(email: str, vendor_slug: str) -> tuple[User, Vendor]:
    return _user(email), _lookup(Vendor, Vendor.slug, vendor_slug, "vendor")


@entitlements_cli.command("grant")
@click.argument("email")
@click.argument("vendor_slug")
def entitlements_grant(email, vendor_slug):
    """Grant support entitlement (same limits as the UI)."""
    user, vendor = _entitlement_args(email, vendor_slug)
    with _refusal_fails():
        accounts.grant_entitlement(None, user, vendor)
    db.session.commit()
    count = accounts.entitled_count(user.municipality_id, vendor.id)
    click.echo(f"Granted {vendor.slug} to {user.email} ({count}/{vendor.max_entitled})")


@entitlements_cli.command("revoke")
@click.argument("email")
@click.argument("vendor_slug")
@click.option(
    "--reason",
    default="",
    help="Why; required when the revoke leaves the municipality below the vendor's minimum.",
)
def entitlements_revoke(email, vendor_slug, reason):
    """Revoke support entitlement (below the vendor's minimum only with --reason)."""
    user, vendor = _entitlement_args(email, vendor_slug)
    with _refusal_fails():
        accounts.revoke_entitlement(None, user, vendor, reason=reason)
    db.session.commit()
    count = accounts.entitled_count(user.municipality_id, vendor.id)
    click.echo(f"Revoked {vendor.slug} from {user.email} ({count}/{vendor.min_entitled} minimum)")


@demo_cli.command("seed")
@click.option(
    "--tickets",
    "ticket_count",
    type=click.IntRange(min=0),
    default=None,
    help="How many demo tickets (default about 2,000).",
)
@click.option("--quiet", is_flag=True, help="Do not print the demo logins.")
def demo_seed(ticket_count, quiet):
    """Idempotent realistic demo data."""
    logins = seed(ticket_count=ticket_count, echo=click.echo)
    if not quiet:
        click.echo(f"\nDemo logins (password for all: {logins.password}):")
        for email, label in logins.users:
            click.echo(f"  {label:<42} {email}")
        if logins.totp_secret:
            click.echo(
                "\nAdministrators and vendor staff sign in with a second factor. Add this demo "
                f"key to an authenticator app (time based, 6 digits): {logins.totp_secret}\n"
                "or print the current code with: .venv/bin/python -c "
                f"\"import pyotp; print(pyotp.TOTP('{logins.totp_secret}').now())\"\n"
                "Each code works once; wait for the next one to sign in again. The demo key "
                "is never given in production: there these users set up their own key at "
                "first sign-in."
            )


@click.command("worker")
@click.option("--once", is_flag=True, help="Deliver what is due now, run periodic jobs, exit.")
@click.option("--interval", type=click.FloatRange(min=0.1), default=2.0, show_default=True)
def worker(once, interval):
    """Run the outbox worker (e-mail, webhooks, indexing, SLA checks)."""
    if once:
        periodic = outbox.run_periodic(force=True)
        delivered, failed = outbox.run_once()
        click.echo(f"delivered {delivered}, failed {failed}, periodic {periodic}")
        return
    click.echo("worker running; Ctrl-C stops it")
    try:
        while True:
            outbox.run_periodic()
            delivered, _failed = outbox.run_once()
            if not delivered:
                time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("worker stopped")


@click.group("retention", help="Personal data retention.")
def retention_cli():
    pass


@retention_cli.command("run")
def retention_run():
    """Anonymise closed tickets past their municipality's retention period."""
    report = run_retention()
    db.session.commit()
    for slug, count in report.per_municipality.items():
        click.echo(f"{slug}: {count} ticket(s) anonymised")
    click.echo(
        f"Anonymised {report.tickets} ticket(s), removed {report.attachments} attachment(s), "
        f"{report.cases} case(s), {report.outbox} delivered outbox message(s)"
    )
    click.echo(
        f"Pruned {report.audit_events} security event(s) and {report.ticket_views} ticket "
        "view(s) past the audit retention period"
    )
    click.echo(f"Pruned {report.idempotency_keys} idempotency key(s) older than 24 hours")
    click.echo(f"Removed {report.orphaned_files} upload file(s) without an attachment row")


def _copy_backup(
    copy: Callable[[Path], backups.BackupReport], path: Path, done: str, direction: str
) -> None:
    """Back up to or restore from `path`; print what was copied, or fail with the reason."""
    try:
        report = copy(path)
    except backups.BackupError as error:
        fail(str(error))
    click.echo(
        f"{done} the {report.database} database ({report.tickets} ticket(s)) and "
        f"{report.files} upload file(s) {direction} {report.path}"
    )


@click.command("backup")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
def backup_command(path):
    """Back up the database, the uploads and a manifest into the new directory PATH."""
    _copy_backup(backups.backup, path, "Backed up", "to")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(path):
    """Restore a backup from PATH into the configured, empty database."""
    _copy_backup(backups.restore, path, "Restored", "from")


def install_excepthook() -> None:
    """An unreachable or refusing database ends any command with one clear line.

    Click lets other exceptions through to Python, which would print a traceback
    (also for Flask-Migrate's `db upgrade`, which is not one of our commands).
    """
    previous = sys.excepthook

    def hook(kind, error, traceback):
        if isinstance(error, OperationalError):
            detail = str(getattr(error, "orig", None) or error).strip().splitlines()
            sys.stderr.write(
                f"supportdesk: the database cannot be used: {detail[0] if detail else kind}\n"
            )
            return
        previous(kind, error, traceback)

    sys.excepthook = hook


def register_cli(app: Flask) -> None:
    groups = (
        users_cli,
        tokens_cli,
        entitlements_cli,
        demo_cli,
        worker,
        retention_cli,
        backup_command,
        restore_command,
        faq_cli,
        search_cli,
        gdpr_cli,
        onboard_cli,
        devmail_cli,
    )
    for group in groups:
        app.cli.add_command(group)

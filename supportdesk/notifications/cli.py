"""`flask --app wsgi devmail`: the local mail catcher of development."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import current_app

from supportdesk.notifications import devmail


@click.command("devmail")
def devmail_cli():
    """Catch the app's e-mail on SMTP_URL's port; read it at /dev/mail (Ctrl-C stops it)."""
    # aiosmtpd is a development dependency: imported only when the catcher runs
    from aiosmtpd.controller import Controller

    settings = current_app.config["SUPPORTDESK"]
    if not settings.dev_mail_dir:
        raise click.ClickException("set SUPPORTDESK_DEV_MAIL_DIR to the folder to keep mail in")
    smtp = urlsplit(settings.smtp_url)
    host, port = smtp.hostname or "127.0.0.1", smtp.port or 25
    directory = Path(settings.dev_mail_dir)
    controller = Controller(devmail.Catcher(directory), hostname=host, port=port)
    controller.start()
    click.echo(
        f"mail catcher on smtp://{host}:{port}; read the mail at "
        f"{settings.base_url.rstrip('/')}/dev/mail (Ctrl-C stops it)"
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        click.echo("mail catcher stopped")
    finally:
        controller.stop()

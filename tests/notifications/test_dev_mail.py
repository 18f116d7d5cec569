"""E-mail you can see in development: the local catcher keeps what the worker
sends over real SMTP, and /dev/mail shows it, only while SUPPORTDESK_DEV_MAIL_DIR is set."""

from __future__ import annotations

import dataclasses
import re

import pytest
from aiosmtpd.controller import Controller

from supportdesk import outbox
from supportdesk.accounts.models import Role
from supportdesk.config import ConfigError, load_settings
from supportdesk.notifications import services
from supportdesk.notifications.devmail import Catcher
from supportdesk.notifications.models import NotificationEvent
from tests.conftest import free_port


@pytest.fixture
def dev_mail(app, tmp_path):
    """The app with the development mail page on and a catcher on a free port."""
    port = free_port()
    directory = tmp_path / "dev-mail"
    original = app.config["SUPPORTDESK"]
    app.config["SUPPORTDESK"] = dataclasses.replace(
        original, dev_mail_dir=str(directory), smtp_url=f"smtp://127.0.0.1:{port}"
    )
    controller = Controller(Catcher(directory), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield directory
    finally:
        controller.stop()
        app.config["SUPPORTDESK"] = original


def test_the_page_is_not_found_while_the_setting_is_off(app, client, db, make_user, login):
    login(make_user(Role.coordinator))
    assert client.get("/dev/mail").status_code == 404
    assert client.get("/dev/mail/1796313021.M1P2Q1.host").status_code == 404
    assert "/dev/mail" not in client.get("/notifications").get_data(as_text=True)


def test_a_reply_email_is_readable_on_the_dev_mail_page(app, db, make_user, dev_mail):
    coordinator = make_user(Role.coordinator, name="Mette Sørensen", email="mette@esbjerg.dk")
    actor = make_user(Role.superuser, municipality=coordinator.municipality, name="Lars Holm")
    services.notify(
        [coordinator],
        NotificationEvent.ticket_reply,
        url="/tickets/ESB-2026-000001",
        context={"number": "ESB-2026-000001", "subject": "Aula-login", "excerpt": "Det virker"},
        actor=actor,
    )
    db.session.commit()
    assert outbox.run_once() == (1, 0)

    client = app.test_client()  # no sign-in: a person trying the demo reads it too
    page = client.get("/dev/mail")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Nyt svar på henvendelse ESB-2026-000001: Aula-login" in html
    assert "mette@esbjerg.dk" in html
    assert 'href="/dev/mail"' in html  # the footer link while the setting is on
    key = re.search(r'href="/dev/mail/([^"]+)"', html).group(1)
    message = client.get(f"/dev/mail/{key}").get_data(as_text=True)
    assert "Hej Mette Sørensen" in message
    assert "Lars Holm har svaret på henvendelse ESB-2026-000001." in message
    assert client.get("/dev/mail/not-a-key").status_code == 404
    assert client.get("/dev/mail/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_the_setting_is_refused_in_production(tmp_path):
    environ = {
        "SUPPORTDESK_ENV": "production",
        "SUPPORTDESK_SECRET_KEY": "x" * 32,
        "SUPPORTDESK_DEV_MAIL_DIR": str(tmp_path),
    }
    with pytest.raises(ConfigError, match="DEV_MAIL_DIR"):
        load_settings(environ, instance=tmp_path)


def test_the_catcher_command_needs_the_setting(app):
    result = app.test_cli_runner().invoke(args=["devmail"])
    assert result.exit_code != 0
    assert "SUPPORTDESK_DEV_MAIL_DIR" in result.output

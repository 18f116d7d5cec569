"""Reset links, invitations, lockout with its e-mail, and step-up before creating a token."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from supportdesk import outbox
from supportdesk.accounts import lockout
from supportdesk.accounts.models import ApiToken, PasswordLink, Role
from supportdesk.audit.models import SecurityEvent, SecurityEventKind
from supportdesk.outbox import OutboxMessage
from tests.accounts.test_two_factor import age_sessions
from tests.conftest import PASSWORD

NEW = "syv-grønne-elefanter-danser"


def _link(mail) -> str:
    text = mail.get_body(("plain",)).get_content()
    return re.search(r"http://testserver(/password/set/\S+)", text).group(1)


def test_reset_link_by_email_works_once_and_ends_sessions(client, db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator, email="mette@esbjerg.dk")
    other = client.application.test_client()
    assert other.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302

    assert "Glemt adgangskode?" in client.get("/login").get_data(as_text=True)
    same = []
    for email in ("mette@esbjerg.dk", "nobody@esbjerg.dk"):
        answer = client.post("/password/reset", data={"email": email}, follow_redirects=True)
        same.append(answer.get_data(as_text=True).count("Hvis adressen hører til en konto"))
    assert same == [1, 1]
    assert outbox.run_once() == (1, 0)
    [mail] = smtp_server.messages
    assert smtp_server.collector.recipients == [["mette@esbjerg.dk"]]
    assert mail["Subject"] == "Vælg en ny adgangskode til supportdesk"
    link = _link(mail)

    assert client.post(link, data={"password": "password12"}).status_code == 422
    assert client.post(link, data={"password": NEW}).status_code == 302
    assert client.get(link).status_code == 404  # single use
    assert other.get("/account").status_code == 302  # every session ended
    assert client.post("/login", data={"email": user.email, "password": NEW}).status_code == 302


def test_reset_link_expires_after_30_minutes(client, db, make_user):
    from datetime import timedelta

    from supportdesk.accounts import passwords
    from supportdesk.accounts.models import LinkPurpose
    from supportdesk.extensions import utcnow

    user = make_user(Role.coordinator)
    token = passwords.issue_link(user, LinkPurpose.reset, now=utcnow() - timedelta(minutes=31))
    db.session.commit()
    assert client.get(f"/password/set/{token}").status_code == 404
    fresh = passwords.issue_link(user, LinkPurpose.reset)
    db.session.commit()
    assert client.get(f"/password/set/{fresh}").status_code == 200
    assert db.session.scalar(select(func.count(PasswordLink.id))) == 2


def test_ten_failures_lock_the_account_and_mail_its_owner(client, db, make_user, smtp_server):
    smtp_server.start()
    user = make_user(Role.coordinator, email="lars@esbjerg.dk")
    for _ in range(lockout.ACCOUNT_LIMIT - 1):
        answer = client.post("/login", data={"email": user.email, "password": "wrong-one-1"})
        assert answer.status_code == 401
    locked = client.post("/login", data={"email": user.email, "password": "wrong-one-1"})
    assert locked.status_code == 429
    assert "låst i 15 minutter" in locked.get_data(as_text=True)
    # the right password does not help while the lock lasts
    right = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert right.status_code == 429
    # an unknown address answers the same way after as many failures
    for _ in range(lockout.ACCOUNT_LIMIT):
        last = client.post("/login", data={"email": "ghost@esbjerg.dk", "password": "x" * 10})
    assert last.status_code == 429
    outbox.run_once()
    [mail] = smtp_server.messages
    assert smtp_server.collector.recipients == [["lars@esbjerg.dk"]]
    assert "låst" in mail["Subject"]
    assert "127.0.0.1" in mail.get_body(("plain",)).get_content()
    kinds = set(db.session.scalars(select(SecurityEvent.kind)))
    assert {SecurityEventKind.login_failed, SecurityEventKind.account_locked} <= kinds


def test_token_creation_asks_for_the_password_after_ten_minutes(client, db, login, make_user):
    user = login(make_user(Role.coordinator))
    age_sessions(db, minutes=11)
    asked = client.post("/account", data={"action": "token", "token-name": "itsm"})
    assert asked.status_code == 401
    page = asked.get_data(as_text=True)
    assert 'name="replay-token-name" value="itsm"' in page
    assert db.session.scalar(select(func.count(ApiToken.id))) == 0
    wrong = client.post(
        "/account/confirm",
        data={"password": "not-it-at-all", "target": "/account", "method": "POST"},
    )
    assert wrong.status_code == 401
    confirmed = client.post(
        "/account/confirm",
        data={
            "password": PASSWORD,
            "target": "/account",
            "method": "POST",
            "replay-action": "token",
            "replay-token-name": "itsm",
        },
    )
    page = confirmed.get_data(as_text=True)
    assert 'name="token-name" value="itsm"' in page  # the original form, ready to send again
    assert (
        client.post("/account", data={"action": "token", "token-name": "itsm"}).status_code == 200
    )
    assert db.session.scalar(select(ApiToken.name).where(ApiToken.user_id == user.id)) == "itsm"


def test_invitation_by_command_line_is_queued(app, db, make_user):
    user = make_user(Role.hotline)
    result = app.test_cli_runner().invoke(args=["users", "invite", user.email])
    assert result.exit_code == 0, result.output
    [message] = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "account_email")
    )
    assert message.payload["template"] == "invitation"


def test_entitlement_change_asks_for_the_password_after_ten_minutes(
    client, db, login, make_user, make_vendor
):
    from supportdesk.accounts.models import SupportEntitlement

    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    coordinator = make_user(Role.coordinator, municipality=admin.municipality)
    vendor = make_vendor()
    age_sessions(db, minutes=11)
    form = {"user": str(coordinator.id), "vendor": str(vendor.id)}
    assert client.post("/admin/entitlements/grant", data=form).status_code == 401
    assert db.session.scalar(select(func.count(SupportEntitlement.id))) == 0
    client.post(
        "/account/confirm",
        data={"password": PASSWORD, "target": "/admin/entitlements/grant", "method": "POST"},
    )
    assert client.post("/admin/entitlements/grant", data=form).status_code == 302
    granted = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.entitlement_granted)
    )
    assert (granted.user_id, granted.actor_id) == (coordinator.id, admin.id)

"""Two-factor sign-in: forced set-up for some roles, TOTP codes once only, recovery codes."""

from __future__ import annotations

import re

import pyotp
from sqlalchemy import func, select

from supportdesk.accounts import twofactor
from supportdesk.accounts.models import Role, UserSession
from supportdesk.audit.models import SecurityEvent, SecurityEventKind
from tests.accounts.conftest import totp_now
from tests.conftest import PASSWORD
from tests.signin import give_two_factor


def _sign_in(client, user):
    return client.post("/login", data={"email": user.email, "password": PASSWORD})


def _events(db, kind) -> int:
    return db.session.scalar(select(func.count(SecurityEvent.id)).where(SecurityEvent.kind == kind))


def test_required_role_must_set_up_before_anything_else(client, db, make_user):
    agent = make_user(Role.vendor_agent)
    assert _sign_in(client, agent).headers["Location"] == "/account/2fa"
    for path in ("/cases", "/account", "/faq", "/api/v1/me"):
        answer = client.get(path)
        if path.startswith("/api/"):
            assert answer.status_code == 403
            assert answer.get_json()["error"]["code"] == "two_factor_required"
        else:
            assert answer.status_code == 302, path
            assert answer.headers["Location"] == "/account/2fa"
    page = client.get("/account/2fa").get_data(as_text=True)
    secret = re.search(r"<code[^>]*data-totp-secret[^>]*>([A-Z2-7]+)</code>", page).group(1)
    assert "<svg" in page
    wrong = client.post("/account/2fa", data={"code": "000000"})
    assert wrong.status_code == 422
    done = client.post("/account/2fa", data={"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(
        r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", done.get_data(as_text=True)
    )
    assert len(codes) == 10
    assert client.get("/cases").status_code == 200
    assert client.post("/logout").status_code == 302
    # the password alone does not sign in any more
    assert _sign_in(client, agent).headers["Location"] == "/login/2fa"
    assert client.get("/account").status_code == 302


def test_coordinators_need_it_when_the_municipality_says_so(client, db, login, make_user):
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    coordinator = make_user(Role.coordinator, municipality=admin.municipality)
    answer = client.post("/admin/two-factor", data={"require_coordinators": "yes"})
    assert answer.status_code == 302
    db.session.refresh(admin.municipality)
    assert admin.municipality.require_2fa_coordinators
    other = client.application.test_client()
    assert _sign_in(other, coordinator).headers["Location"] == "/account/2fa"


def test_code_is_single_use_and_wrong_codes_are_refused(client, db, make_user):
    user = make_user(Role.coordinator)
    secret = give_two_factor(user)
    assert _sign_in(client, user).headers["Location"] == "/login/2fa"
    assert client.get("/account").status_code == 302  # not signed in before the code
    assert client.post("/login/2fa", data={"code": "123456"}).status_code == 401
    code = totp_now(secret)
    assert client.post("/login/2fa", data={"code": code}).status_code == 302
    assert client.get("/account").status_code == 200
    client.post("/logout")
    # the same code again (a replay) is refused, the next one is accepted
    assert _sign_in(client, user).status_code == 302
    assert client.post("/login/2fa", data={"code": code}).status_code == 401
    assert client.post("/login/2fa", data={"code": totp_now(secret, 1)}).status_code == 302
    assert _events(db, SecurityEventKind.two_factor_failed) == 2
    session = db.session.scalar(select(UserSession).where(UserSession.ended_at.is_(None)))
    assert session.two_factor


def test_wrong_codes_send_back_to_the_password(client, db, make_user):
    user = make_user(Role.coordinator)
    give_two_factor(user)
    _sign_in(client, user)
    for _ in range(4):
        assert client.post("/login/2fa", data={"code": "111111"}).status_code == 401
    last = client.post("/login/2fa", data={"code": "111111"})
    assert "Log ind igen" in last.get_data(as_text=True)
    assert client.get("/login/2fa").headers["Location"] == "/login"


def test_recovery_code_works_once(client, db, make_user):
    user = make_user(Role.coordinator)
    give_two_factor(user)
    [code, *_rest] = twofactor.new_recovery_codes(user)
    db.session.commit()
    _sign_in(client, user)
    assert client.post("/login/2fa", data={"code": code}).status_code == 302
    client.post("/logout")
    _sign_in(client, user)
    assert client.post("/login/2fa", data={"code": code}).status_code == 401


def test_reset_by_command_ends_sessions_and_asks_for_set_up_again(
    app, client, db, login, make_user
):
    agent = login(make_user(Role.vendor_agent))
    assert client.get("/cases").status_code == 200
    result = app.test_cli_runner().invoke(args=["users", "reset-2fa", agent.email])
    assert result.exit_code == 0, result.output
    assert client.get("/cases").status_code == 302  # that session ended
    assert _sign_in(client, agent).headers["Location"] == "/account/2fa"
    assert _events(db, SecurityEventKind.two_factor_reset) == 1


def test_admin_resets_a_users_second_factor_after_step_up(client, db, login, make_user):
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    coordinator = make_user(Role.coordinator, municipality=admin.municipality)
    give_two_factor(coordinator)
    age_sessions(db, minutes=11)

    asked = client.post(f"/admin/users/{coordinator.id}/reset-2fa")
    assert asked.status_code == 401
    assert "Bekræft, at det er dig" in asked.get_data(as_text=True)
    db.session.refresh(coordinator)
    assert coordinator.has_two_factor

    confirmed = client.post(
        "/account/confirm",
        data={
            "password": PASSWORD,
            "target": f"/admin/users/{coordinator.id}/reset-2fa",
            "method": "POST",
        },
    )
    assert confirmed.status_code == 200
    assert "data-auto-submit" in confirmed.get_data(as_text=True)
    assert client.post(f"/admin/users/{coordinator.id}/reset-2fa").status_code == 302
    db.session.refresh(coordinator)
    assert not coordinator.has_two_factor


def age_sessions(db, minutes: int) -> None:
    """Pretend every session's last sign-in was `minutes` ago."""
    from datetime import timedelta

    from supportdesk.extensions import utcnow

    db.session.execute(
        UserSession.__table__.update().values(
            authenticated_at=utcnow() - timedelta(minutes=minutes)
        )
    )
    db.session.commit()

"""`flask --app wsgi …` commands: clear messages and exit codes, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from supportdesk.accounts.models import ApiToken, Role, SupportEntitlement, User
from supportdesk.extensions import db as _db
from tests.conftest import PASSWORD, ROOT


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, input: str | None = None):
        result = runner.invoke(args=list(args), input=input)
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        return result

    return invoke


def _user(email: str) -> User | None:
    _db.session.expire_all()
    return _db.session.scalar(select(User).where(User.email == email))


def test_users_create_with_password_option(cli, make_institution):
    school = make_institution("esbjerg")
    result = cli(
        "users", "create", "Ny@Esbjerg.dk", "--role", "superuser",
        "--institution", school.number, "--password", PASSWORD,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = _user("ny@esbjerg.dk")
    assert (user.role, user.institution_id, user.municipality_id) == (
        Role.superuser,
        school.id,
        school.municipality_id,
    )


def test_users_create_reads_password_from_stdin(cli, client, make_vendor):
    make_vendor("netcompany")
    result = cli(
        "users", "create", "agent@nc.dk", "--role", "vendor_agent", "--vendor", "netcompany",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    response = client.post("/login", data={"email": "agent@nc.dk", "password": PASSWORD})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "king"], "Invalid value for '--role'"),
        (["--role", "hotline", "--municipality", "atlantis"], "unknown municipality 'atlantis'"),
        (["--role", "superuser", "--institution", "000"], "unknown institution '000'"),
        (["--role", "vendor_agent", "--vendor", "nobody"], "unknown vendor 'nobody'"),
        (["--role", "hotline"], "kræver en kommune"),
        (["--role", "admin", "--password", "short"], "mindst 10 tegn"),
    ],
)
def test_users_create_bad_input(cli, make_municipality, args, message):
    make_municipality("esbjerg")
    result = cli("users", "create", "bad@x.dk", *args, input=PASSWORD + "\n")
    assert result.exit_code != 0
    assert message in result.output
    assert _user("bad@x.dk") is None


def test_users_create_duplicate_email(cli, make_user):
    existing = make_user(Role.admin)
    result = cli(
        "users", "create", existing.email.upper(), "--role", "admin", "--password", PASSWORD
    )
    assert result.exit_code == 1
    assert "findes allerede" in result.output


def test_tokens_create_prints_only_the_token(cli, client, make_user):
    user = make_user(Role.coordinator)
    result = cli("tokens", "create", user.email, "--name", "integration")
    assert result.exit_code == 0
    token = result.stdout
    assert re.fullmatch(r"sd_[A-Za-z0-9_-]{30,}\n", token)
    token = token.strip()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == user.email
    stored = _db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert stored.name == "integration"
    assert token not in (stored.token_hash, stored.prefix)


@pytest.mark.parametrize("inactive", [False, True])
def test_tokens_create_refuses_unknown_or_inactive(cli, make_user, inactive):
    email = make_user(Role.hotline, active=False).email if inactive else "ghost@x.dk"
    result = cli("tokens", "create", email)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Error:" in result.output


def test_entitlements_grant_and_revoke(cli, make_user, make_vendor):
    vendor = make_vendor("meebook")
    coordinator = make_user(Role.coordinator)
    result = cli("entitlements", "grant", coordinator.email, "meebook")
    assert result.exit_code == 0
    assert "1/8" in result.output
    # 1 → 0 is below the vendor's minimum (4): only with a reason
    result = cli("entitlements", "revoke", coordinator.email, "meebook")
    assert result.exit_code == 1
    result = cli("entitlements", "revoke", coordinator.email, "meebook", "--reason", "Fratrådt")
    assert result.exit_code == 0
    assert _db.session.scalar(select(func.count(SupportEntitlement.id))) == 0
    result = cli("entitlements", "revoke", coordinator.email, vendor.slug)
    assert result.exit_code == 1
    assert "ikke supportberettiget" in result.output


def test_entitlements_grant_refused_at_the_maximum(cli, make_user, make_vendor):
    vendor = make_vendor("stil", max_entitled=2, min_entitled=1)
    first = make_user(Role.coordinator, entitled=[vendor])
    make_user(Role.coordinator, municipality=first.municipality, entitled=[vendor])
    third = make_user(Role.coordinator, municipality=first.municipality)
    result = cli("entitlements", "grant", third.email, "stil")
    assert result.exit_code == 1
    assert "højst 2 supportberettigede" in result.output
    assert _db.session.scalar(select(func.count(SupportEntitlement.id))) == 2


@pytest.mark.parametrize(
    ("who", "vendor", "message"),
    [
        ("ghost@x.dk", "stil", "unknown user"),
        ("coordinator", "nowhere", "unknown vendor"),
        ("hotline", "stil", "koordinatorer"),
    ],
)
def test_entitlements_grant_bad_input(cli, make_user, make_vendor, who, vendor, message):
    make_vendor("stil")
    email = who if "@" in who else make_user(Role(who)).email
    result = cli("entitlements", "grant", email, vendor)
    assert result.exit_code == 1
    assert message in result.output


def test_demo_seed_is_idempotent(cli, db):
    def counts() -> dict[str, int]:
        db.session.expire_all()
        return {
            table.name: db.session.scalar(select(func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }

    first = cli("demo", "seed", "--quiet", "--tickets", "5")
    assert first.exit_code == 0, first.output
    after_first = counts()
    assert after_first["municipality"] >= 2
    assert after_first["support_entitlement"] > 0
    second = cli("demo", "seed", "--tickets", "5")
    assert second.exit_code == 0, second.output
    assert counts() == after_first
    assert "admin@esbjerg.sd-demo.dk" in second.output


def test_demo_logins_work(cli, client):
    result = cli("demo", "seed", "--tickets", "0")
    assert result.exit_code == 0, result.output
    password = re.search(r"password for all: (\S+)\)", result.output).group(1)
    emails = re.findall(r"(\S+@\S+\.sd-demo\.dk)", result.output)
    assert len(emails) >= 7
    users = {email: _user(email) for email in emails}
    # argon2 is slow on purpose: sign in over HTTP once per role; the other printed
    # logins are active and carry the very hash that just accepted the password.
    signed_in: dict[Role, str] = {}
    for email, user in users.items():
        assert user is not None, email
        assert user.active, email
        if user.role in signed_in:
            continue
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, email
        client.post("/logout")
        signed_in[user.role] = user.password_hash
    assert len(signed_in) == len(Role)
    for email, user in users.items():
        assert user.password_hash == signed_in[user.role], email


# --- configuration errors: the real command line, as a subprocess ---------------------


def _users_help(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`flask users --help` in a fresh process with this environment."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "users", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SUPPORTDESK_MAX_UPLOAD_MB", "lots"),
        ("SUPPORTDESK_DATABASE_URL", "mysql://somewhere/db"),
        ("SUPPORTDESK_SEARCH_BACKEND", "elastic"),
        # PostgreSQL full text needs a PostgreSQL database; the line names both variables.
        ("SUPPORTDESK_SEARCH_BACKEND", "postgres"),
        ("SUPPORTDESK_SESSION_COOKIE_SECURE", "maybe"),
    ],
)
def test_bad_environment_gives_one_clear_line(tmp_path, name, value):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTDESK_")}
    env["SUPPORTDESK_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.db'}"
    env[name] = value
    result = _users_help(env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    if value == "postgres":
        assert "SUPPORTDESK_DATABASE_URL" in lines[0]


def test_production_requires_a_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTDESK_")}
    env.update(SUPPORTDESK_ENV="production", SUPPORTDESK_DATABASE_URL=f"sqlite:///{tmp_path}/x.db")
    result = _users_help(env)
    assert result.returncode != 0
    assert "SUPPORTDESK_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["users", "create", "a@b.dk", "--role", "admin"]]
)
def test_unreachable_database_gives_one_clear_line(command):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTDESK_")}
    env["SUPPORTDESK_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/nothing"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command],
        cwd=ROOT,
        env=env,
        input="a-long-password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("supportdesk: the database cannot be used:"), result.stderr
    assert len(lines) <= 2, result.stderr  # Alembic may log one INFO line first

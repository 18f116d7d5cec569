"""Shared fixtures: the app over SQLite and PostgreSQL, factories, login, query counting.

Every test that uses `app` (or anything built on it) runs once per database: SQLite
always, and PostgreSQL at SUPPORTDESK_TEST_DATABASE_URL, by default the local server
(`postgresql+psycopg://postgres@127.0.0.1:5432/test`); set it to the empty string for
SQLite only. An unreachable PostgreSQL fails the run; it is never skipped.

Under pytest-xdist (`make test` runs `-n auto --dist loadgroup`) every worker has its
own session: its own databases (named after its pid), index and upload directories
(tmp_path_factory is per worker) and free ports. Tests that share something outside
those (the browser tests' seeded app and test-artifacts/) carry the `serial` marker
and run in one group, on one worker.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from supportdesk import create_app
from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import (
    Category,
    Institution,
    InstitutionType,
    Municipality,
    Role,
    System,
    User,
    Vendor,
)
from supportdesk.cache import fragments
from supportdesk.extensions import db as _db
from supportdesk.faq import search_log
from supportdesk.search import get_backend

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("SUPPORTDESK_TEST_DATABASE_URL", DEFAULT_PG_URL).strip()
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
PASSWORD = "correct-horse-battery"


def pytest_report_header(config):
    if PG_URL:
        return f"databases: sqlite, postgresql ({make_url(PG_URL).render_as_string()})"
    return "databases: sqlite only (SUPPORTDESK_TEST_DATABASE_URL is empty)"


# Fixtures that exist only on PostgreSQL (its full-text search backend, tests/faq/conftest.py).
POSTGRESQL_ONLY_FIXTURES = frozenset({"postgres_backend"})


def _other_backends_test(item) -> bool:
    """A run of a test meant for the other database only (`postgresql_only`, the
    PostgreSQL search fixtures, `sqlite_only`): not collected, not skipped."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend_app") if callspec is not None else None
    if backend == "postgresql":
        return item.get_closest_marker("sqlite_only") is not None
    if backend != "sqlite":
        return False
    return bool(
        item.get_closest_marker("postgresql_only")
        or POSTGRESQL_ONLY_FIXTURES.intersection(item.fixturenames)
        or callspec.params.get("search_backend") == "postgres"
    )


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config, items):
    """Browser tests and tests marked `serial` share one xdist group (one worker);
    tests for one database run once, on that database."""
    deselected = [item for item in items if _other_backends_test(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not _other_backends_test(item)]
    browser = Path(__file__).parent / "browser"
    for item in items:
        if item.get_closest_marker("serial") or browser in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("serial"))


@contextlib.contextmanager
def held_write_lock(app) -> Iterator[None]:
    """Another connection holds what a write needs: SQLite's write lock (BEGIN
    IMMEDIATE); on PostgreSQL a table lock that blocks writers of tickets, not readers."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(url.database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute("LOCK TABLE ticket IN EXCLUSIVE MODE")
        try:
            yield
        finally:
            conn.rollback()


@pytest.fixture(scope="session")
def password_hash() -> str:
    return account_services.hash_password(PASSWORD)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test server for this run (parallel runs do not collide)."""
    base = make_url(PG_URL)
    name = f"sdtest_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # Durability is not under test; commits without fsync keep the suite fast.
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
    except Exception as error:
        pytest.fail(
            f"PostgreSQL at {base.render_as_string()} is not usable: {error}", pytrace=False
        )
    yield base.set(database=name).render_as_string(hide_password=False)
    # what the tests' own apps still hold, written before their database goes
    search_log.flush_all(wait_for_clicks=0)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _test_environ(tmp: Path, database_url: str) -> dict[str, str]:
    return {
        "SUPPORTDESK_ENV": "testing",
        "SUPPORTDESK_SECRET_KEY": "test-secret-key",
        "SUPPORTDESK_DATABASE_URL": database_url,
        "SUPPORTDESK_INDEX_DIR": str(tmp / "index"),
        "SUPPORTDESK_UPLOAD_DIR": str(tmp / "uploads"),
        "SUPPORTDESK_SMTP_URL": "smtp://127.0.0.1:1",
        "SUPPORTDESK_BASE_URL": "http://testserver",
        # searches are written when a test asks (search_log.flush), when 50 wait, and
        # by the timer only 30 s on (the longest interval): not in the middle of a test
        # that counts statements
        "SUPPORTDESK_SEARCH_LOG_FLUSH_SECONDS": "30",
    }


class CommittingClient(FlaskClient):
    """A test client whose requests behave like separate requests in production.

    Tests share the app context, and so the session, with the requests they make.
    Ending the test's transaction before and after each request keeps it from holding
    SQLite's write lock (or a stale snapshot) while the request works, and
    Flask-Login's per-context user cache is dropped so each request loads its
    own user.
    """

    def open(self, *args, **kwargs):
        _db.session.commit()
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)  # Flask-Babel caches the locale per context too
        g.pop("csrf_token", None)  # and Flask-WTF the signed CSRF token
        try:
            return super().open(*args, **kwargs)
        finally:
            # As at the end of a real request: what the view did not commit is gone,
            # and the test's next read starts a fresh transaction.
            _db.session.rollback()
            g.pop("_login_user", None)
            g.pop("_flask_babel", None)
            g.pop("csrf_token", None)


@pytest.fixture(scope="session", params=BACKENDS)
def backend_app(request, tmp_path_factory):
    """One app per database for the whole session; tables created once."""
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp / 'test.db'}"
    environ = _test_environ(tmp, url)
    app = create_app(
        {
            "environ": environ,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
            "SQLITE_DEFERRED_OUTSIDE_REQUESTS": True,
        }
    )
    app.config["TEST_ENVIRON"] = environ
    app.test_client_class = CommittingClient
    with app.app_context():
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _wipe(app) -> None:
    """Empty every table in one transaction (DELETE: TRUNCATE of ~40 tables costs ~1 s on PG)."""
    with app.app_context():
        search_log.flush()  # nothing a test left waiting reaches the next one
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
    fragments.clear(app)  # generations start again from 0


@pytest.fixture
def app(backend_app):
    """The app with an empty database and an app context pushed."""
    with backend_app.app_context():
        yield backend_app
        _db.session.remove()
    _wipe(backend_app)


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(client) -> Callable[[User], User]:
    """Sign a user in on the test client without going through the form."""

    def _login(user: User, on=None, two_factor: bool = True) -> User:
        from tests.signin import sign_in_client  # a server-side session, as the form makes

        return sign_in_client(on or client, user, two_factor=two_factor)

    return _login


@pytest.fixture
def count_queries(app) -> Callable[[], contextlib.AbstractContextManager[list[str]]]:
    """`with count_queries() as queries:` collects every SQL statement executed."""

    @contextlib.contextmanager
    def _count() -> Iterator[list[str]]:
        statements: list[str] = []

        def _record(_conn, _cursor, statement, *_args):
            if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
                statements.append(statement)

        event.listen(_db.engine, "before_cursor_execute", _record)
        try:
            yield statements
        finally:
            event.remove(_db.engine, "before_cursor_execute", _record)

    return _count


# --- factories ----------------------------------------------------------------------

_seq = itertools.count(1)


@pytest.fixture
def make_municipality(app) -> Callable[..., Municipality]:
    def _make(slug: str | None = None, name: str | None = None) -> Municipality:
        n = next(_seq)
        slug = (slug or f"kommune{n}").lower()
        existing = _db.session.query(Municipality).filter_by(slug=slug).one_or_none()
        if existing:
            return existing
        code = "".join(c for c in slug.upper() if c.isalpha())[:3] + chr(65 + n % 26) * 2
        municipality = Municipality(
            slug=slug, name=name or f"{slug.title()} Kommune", code=code[:6]
        )
        _db.session.add(municipality)
        _db.session.commit()
        return municipality

    return _make


@pytest.fixture
def make_institution(app, make_municipality) -> Callable[..., Institution]:
    def _make(
        municipality: Municipality | str | None = None,
        type: InstitutionType = InstitutionType.skole,
        name: str | None = None,
    ) -> Institution:
        if not isinstance(municipality, Municipality):
            municipality = make_municipality(municipality)
        n = next(_seq)
        institution = Institution(
            municipality=municipality,
            number=f"{900000 + n}",
            name=name or f"Testskole {n}",
            type=type,
        )
        _db.session.add(institution)
        _db.session.commit()
        return institution

    return _make


@pytest.fixture
def make_vendor(app) -> Callable[..., Vendor]:
    def _make(slug: str | None = None, max_entitled: int = 8, min_entitled: int = 4) -> Vendor:
        slug = slug or f"vendor{next(_seq)}"
        existing = _db.session.query(Vendor).filter_by(slug=slug).one_or_none()
        if existing:
            return existing
        vendor = Vendor(
            slug=slug, name=slug.title(), max_entitled=max_entitled, min_entitled=min_entitled
        )
        _db.session.add(vendor)
        _db.session.commit()
        return vendor

    return _make


@pytest.fixture
def make_system(app, make_vendor) -> Callable[..., System]:
    def _make(
        slug: str | None = None,
        vendor: Vendor | None = None,
        categories: tuple[str, ...] = ("login", "beskeder"),
    ) -> System:
        slug = slug or f"system{next(_seq)}"
        existing = _db.session.query(System).filter_by(slug=slug).one_or_none()
        if existing:
            return existing
        system = System(slug=slug, name=slug.title(), vendor=vendor or make_vendor())
        for cat in categories:
            system.categories.append(Category(slug=cat, name=cat.title()))
        _db.session.add(system)
        _db.session.commit()
        return system

    return _make


@pytest.fixture
def make_user(app, password_hash, make_municipality, make_institution, make_vendor):
    """make_user(Role.superuser, municipality="esbjerg") with sensible organisations."""

    def _make(
        role: Role | str,
        municipality: Municipality | str | None = None,
        institution: Institution | None = None,
        vendor: Vendor | str | None = None,
        email: str | None = None,
        name: str | None = None,
        active: bool = True,
        entitled: list[Vendor] | tuple[Vendor, ...] = (),
    ) -> User:
        role = Role(role)
        n = next(_seq)
        if role.is_municipal:
            if institution is not None:
                municipality = institution.municipality
            elif not isinstance(municipality, Municipality):
                municipality = make_municipality(municipality)
            if role == Role.superuser and institution is None:
                institution = make_institution(municipality)
        else:
            municipality = None
        if role.is_vendor and not isinstance(vendor, Vendor):
            vendor = make_vendor(vendor)
        user = User(
            email=email or f"{role.value}{n}@test.example.dk",
            name=name or f"{role.value.title()} {n}",
            role=role,
            municipality=municipality,
            institution=institution if role in (Role.superuser, Role.hotline) else None,
            vendor=vendor if role.is_vendor else None,
            active=active,
            password_hash=password_hash,
        )
        _db.session.add(user)
        _db.session.commit()
        for v in entitled:
            account_services.grant_entitlement(None, user, v)
        if entitled:
            _db.session.commit()
        return user

    return _make


# --- a real server process ---------------------------------------------------------


@pytest.fixture
def live_server(app) -> Iterator[Callable[..., str]]:
    """Start gunicorn on a free port against the test database; returns its base URL.

    The server answers /healthz only with a search index: the empty one is built first.
    """
    processes: list[subprocess.Popen] = []

    def _start(workers: int = 2, extra_env: dict[str, str] | None = None) -> str:
        get_backend().rebuild([])
        _db.session.commit()
        port = free_port()
        env = {**os.environ, **app.config["TEST_ENVIRON"], **(extra_env or {})}
        env["SUPPORTDESK_ENV"] = "production"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                "--access-logfile",
                "-",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310
                    return url
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("server did not start within 30 s")

    yield _start
    for proc in processes:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def json_of(response) -> Any:
    return response.get_json()

"""Typed settings read from SUPPORTDESK_* environment variables."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "SUPPORTDESK_"
ROOT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT_DIR / "instance"


class ConfigError(ValueError):
    """A setting has a value the app cannot run with; the message names it."""


def _as_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{ENV_PREFIX}{name} must be true or false, not {raw!r}")


def _as_int(name: str, raw: str, minimum: int = 0) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{ENV_PREFIX}{name} must be at least {minimum}, not {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """Every setting the app reads, with the development defaults."""

    env: str = "development"
    database_url: str = ""
    secret_key: str = ""
    search_backend: str = "whoosh"
    index_dir: str = ""
    upload_dir: str = ""
    smtp_url: str = "smtp://127.0.0.1:8025"
    mail_from: str = "supportdesk <noreply@supportdesk.local>"
    base_url: str = "http://127.0.0.1:5000"
    max_upload_mb: int = 10
    reopen_days: int = 14
    session_cookie_secure: bool = False
    ratelimit_storage_uri: str = "memory://"
    # A signed-in session ends after this long without a request, and this long after
    # sign-in whatever happens (accounts/sessions.py).
    session_idle_hours: int = 8
    session_max_hours: int = 12
    # The security event log and the ticket access log are pruned by `retention run`.
    audit_retention_days: int = 730
    # Development only: the local mail catcher (`flask --app wsgi devmail`) keeps
    # every message in this Maildir and /dev/mail shows them; empty (the default) = off.
    dev_mail_dir: str = ""
    # A request waiting this long for a database lock gets 503 with Retry-After
    # (well before gunicorn's 30 s worker timeout; gunicorn.conf.py).
    db_busy_timeout: int = 10
    # How long the worker that claimed an outbox message keeps it (one delivery).
    outbox_lease_seconds: int = 120
    # Each worker writes the searches it logged together at most this long after the
    # first one began to wait (supportdesk/faq/search_log.py).
    search_log_flush_seconds: int = 2
    extra: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.env not in {"development", "production", "testing"}:
            raise ConfigError(f"{ENV_PREFIX}ENV must be development, production or testing")
        if self.env == "production" and not self.secret_key:
            raise ConfigError(f"{ENV_PREFIX}SECRET_KEY is required outside development")
        scheme = urlsplit(self.database_url).scheme
        if not scheme.startswith(("sqlite", "postgresql")):
            raise ConfigError(
                f"{ENV_PREFIX}DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL"
            )
        if self.search_backend not in {"whoosh", "postgres"}:
            raise ConfigError(f"{ENV_PREFIX}SEARCH_BACKEND must be whoosh or postgres")
        if self.search_backend == "postgres" and not scheme.startswith("postgresql"):
            # PostgreSQL full text searches the app's own database; SQLite has none.
            raise ConfigError(
                f"{ENV_PREFIX}SEARCH_BACKEND=postgres needs a postgresql+psycopg:// "
                f"{ENV_PREFIX}DATABASE_URL; with SQLite use {ENV_PREFIX}SEARCH_BACKEND=whoosh"
            )
        smtp = urlsplit(self.smtp_url)
        if smtp.scheme not in {"smtp", "smtps"} or not smtp.hostname:
            raise ConfigError(f"{ENV_PREFIX}SMTP_URL must look like smtp://host:port")
        if urlsplit(self.base_url).scheme not in {"http", "https"}:
            raise ConfigError(f"{ENV_PREFIX}BASE_URL must be an http(s) URL")
        if self.dev_mail_dir and self.env == "production":
            raise ConfigError(f"{ENV_PREFIX}DEV_MAIL_DIR is for development only")
        if not 1 <= self.search_log_flush_seconds <= 30:
            # a click reaching another worker first waits a minute for that worker's write
            raise ConfigError(f"{ENV_PREFIX}SEARCH_LOG_FLUSH_SECONDS must be 1 to 30")
        if self.session_idle_hours > self.session_max_hours:
            raise ConfigError(
                f"{ENV_PREFIX}SESSION_IDLE_HOURS cannot be longer than "
                f"{ENV_PREFIX}SESSION_MAX_HOURS"
            )


_INT_FIELDS = {
    "max_upload_mb",
    "reopen_days",
    "session_idle_hours",
    "session_max_hours",
    "audit_retention_days",
    "db_busy_timeout",
    "outbox_lease_seconds",
    "search_log_flush_seconds",
}
_BOOL_FIELDS = {"session_cookie_secure"}


def load_settings(
    environ: Mapping[str, str] | None = None, instance: Path | None = None
) -> Settings:
    """Read SUPPORTDESK_* variables; raise ConfigError with the variable's name when bad."""
    environ = os.environ if environ is None else environ
    instance = instance or DEFAULT_INSTANCE
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is None:
            continue
        name = f.name.upper()
        if f.name in _INT_FIELDS:
            values[f.name] = _as_int(name, raw, minimum=1)
        elif f.name in _BOOL_FIELDS:
            values[f.name] = _as_bool(name, raw)
        else:
            values[f.name] = raw.strip()
    settings = Settings(**values)
    defaults = {
        "database_url": f"sqlite:///{instance / 'supportdesk.db'}",
        "index_dir": str(instance / "index"),
        "upload_dir": str(instance / "uploads"),
    }
    settings = Settings(
        **{
            **settings.__dict__,
            **{k: v for k, v in defaults.items() if not getattr(settings, k)},
        }
    )
    settings.validate()
    return settings


def flask_config(settings: Settings) -> dict[str, Any]:
    """Translate settings to the Flask and extension keys."""
    secret = settings.secret_key or secrets.token_hex(32)
    secure = settings.session_cookie_secure or settings.base_url.startswith("https://")
    # Wait at most db_busy_timeout for a lock: SQLite's busy timeout, PostgreSQL's
    # lock_timeout (the request then answers 503 with Retry-After).
    busy_ms = settings.db_busy_timeout * 1000
    # No pool_pre_ping (a round trip on every checkout): supportdesk.pg_connections
    # refuses a pooled connection that PostgreSQL closed without asking it anything.
    # The pool hands out the connection returned last (LIFO): a worker keeps reusing one
    # warm connection, whose prepared statements (supportdesk.pg_connections) are there,
    # instead of rotating over every connection it ever opened; the others idle.
    engine_options: dict[str, Any] = {
        "connect_args": {"options": f"-c lock_timeout={busy_ms}"},
        "pool_use_lifo": True,
    }
    if settings.database_url.startswith("sqlite"):
        engine_options = {
            "connect_args": {"timeout": settings.db_busy_timeout, "check_same_thread": False}
        }
    return {
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": secure,
        "MAX_CONTENT_LENGTH": settings.max_upload_mb * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "da",
        "BABEL_DEFAULT_TIMEZONE": "Europe/Copenhagen",
        "RATELIMIT_STORAGE_URI": settings.ratelimit_storage_uri,
        "RATELIMIT_HEADERS_ENABLED": True,
        "TESTING": settings.env == "testing",
        "SUPPORTDESK": settings,
        **settings.extra,
    }

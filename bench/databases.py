"""What every benchmark needs around its data: a fresh PostgreSQL database, its removal,
and an app on a database URL with its index and uploads under the benchmark's folder, and
a test client signed in on it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def fresh_postgres(pg_url: str) -> str:
    """Drop and create the database `pg_url` names (synchronous_commit off); its URL."""
    url = make_url(pg_url)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
        conn.execute(text(f'ALTER DATABASE "{url.database}" SET synchronous_commit TO off'))
    admin.dispose()
    return url.render_as_string(hide_password=False)


def drop_postgres(url: str) -> None:
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def bench_app(url: str, data: Path, secret: str):
    """The app on `url`, its Whoosh index and uploads under `data`, mail to nowhere."""
    from supportdesk import create_app  # after the benchmark chose its database

    environ = {
        "SUPPORTDESK_ENV": "testing",
        "SUPPORTDESK_SECRET_KEY": secret,
        "SUPPORTDESK_DATABASE_URL": url,
        "SUPPORTDESK_INDEX_DIR": str(data / "index"),
        "SUPPORTDESK_UPLOAD_DIR": str(data / "uploads"),
        "SUPPORTDESK_SMTP_URL": "smtp://127.0.0.1:1",
    }
    return create_app({"environ": environ, "RATELIMIT_ENABLED": False, "SERVER_NAME": None})


def signed_in_client(app, user):
    """A test client with `user`'s server-side session, two-factor set up (in an app context)."""
    import pyotp

    from supportdesk.accounts import sessions
    from supportdesk.extensions import db, utcnow

    if not user.totp_secret:
        user.totp_secret, user.totp_enabled_at = pyotp.random_base32(32), utcnow()
    record = sessions.start(user, two_factor=True)
    db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
        session[sessions.SESSION_KEY] = record.id
    db.session.remove()
    return client

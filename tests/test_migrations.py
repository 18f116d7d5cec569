"""`flask --app wsgi db upgrade` builds an empty database whose schema matches the models."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import supportdesk.models  # noqa: F401  (every table in the metadata)
from supportdesk.extensions import db
from supportdesk.search.analysis import stem
from supportdesk.search.postgres_backend import field_terms, posting_weights, tsvector_literal
from tests.conftest import BACKENDS, PG_URL, ROOT


def _upgrade(url: str, tmp_path: Path, revision: str = "head") -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTDESK_")}
    env.update(
        SUPPORTDESK_DATABASE_URL=url,
        SUPPORTDESK_ENV="testing",
        SUPPORTDESK_INDEX_DIR=str(tmp_path / "index"),
        SUPPORTDESK_UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade", revision],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def _schema_diff(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


@pytest.fixture
def fresh_database(request, tmp_path):
    """An empty database of the given backend, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    base = make_url(PG_URL)
    name = f"sdmigrate_{os.getpid()}_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.parametrize("fresh_database", BACKENDS, indirect=True)
def test_upgrade_from_nothing_matches_the_models(fresh_database, tmp_path):
    _upgrade(fresh_database, tmp_path)
    diff = _schema_diff(fresh_database)
    assert diff == [], "migrations and models differ:\n" + "\n".join(map(str, diff))
    # Upgrading an up-to-date database is a no-op, not an error.
    _upgrade(fresh_database, tmp_path)


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not configured")
@pytest.mark.parametrize("fresh_database", ["postgresql"], indirect=True)
def test_search_postings_are_carried_over_from_an_older_index(fresh_database, tmp_path):
    """The stored tsvector gives the same weights as indexing the article again."""
    _upgrade(fresh_database, tmp_path, "0012_ticket_report_times")
    title, tags, body = "Printeren driller", "printer , kø", "Genstart printeren og vent."
    fields = field_terms(title, tags, body)
    words = {word for terms in fields.values() for word in terms}
    engine = create_engine(fresh_database)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO search_document (slug, system, category, audience,"
                    " municipality_id, vendor_id, title, tags, body, document) VALUES"
                    " ('printer', 'aula', 'login', 'public', NULL, 1, :title, :tags, :body,"
                    " CAST(:document AS tsvector))"
                ),
                {
                    "title": title,
                    "tags": tags,
                    "body": body,
                    "document": tsvector_literal(title, tags, body),
                },
            )
            for word in words:
                conn.execute(
                    text(
                        "INSERT INTO search_word (slug, word, stem, audience, vendor_id)"
                        " VALUES ('printer', :word, :stem, 'public', 1)"
                    ),
                    {"word": word, "stem": stem(word)},
                )
        _upgrade(fresh_database, tmp_path)
        with engine.connect() as conn:
            carried = dict(conn.execute(text("SELECT stem, weight FROM search_posting")).all())
            assert conn.scalar(text("SELECT documents FROM search_total")) == 1
            assert set(conn.scalars(text("SELECT word FROM search_vocabulary"))) == words
    finally:
        engine.dispose()
    lengths = {name: len(terms) for name, terms in fields.items()}
    expected = posting_weights(fields, lengths)
    assert carried.keys() == expected.keys()
    assert all(abs(carried[s] - w) < 1e-4 for s, w in expected.items())

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
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import supportdesk.models  # noqa: F401  (every table in the metadata)
from supportdesk.extensions import db
from supportdesk.search.analysis import stem
from supportdesk.search.postgres_ranking import visibility_key
from supportdesk.search.postgres_rows import field_terms, posting_weights, tsvector_literal
from tests.conftest import BACKENDS, PG_URL, ROOT


def _upgrade(url: str, tmp_path: Path, revision: str = "head", command: str = "upgrade") -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPPORTDESK_")}
    env.update(
        SUPPORTDESK_DATABASE_URL=url,
        SUPPORTDESK_ENV="testing",
        SUPPORTDESK_INDEX_DIR=str(tmp_path / "index"),
        SUPPORTDESK_UPLOAD_DIR=str(tmp_path / "uploads"),
    )
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", command, revision],
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
            # the ranking's packed blocks are derived from the postings (0016)
            packed = text(
                "SELECT b.stem, p.document, p.weight FROM search_block b"
                " JOIN search_posting p ON p.stem = b.stem AND p.visibility = b.visibility"
                " WHERE b.postings = int4send(p.document) || float4send(p.weight)"
                " || int2send(p.system) || int2send(p.category)"
            )
            assert {stem for stem, _d, _w in conn.execute(packed)} == carried.keys()
            assert conn.scalar(text("SELECT count(*) FROM search_block")) == len(carried)
            assert conn.scalar(text("SELECT documents FROM search_total")) == 1
            assert set(conn.scalars(text("SELECT word FROM search_vocabulary"))) == words
    finally:
        engine.dispose()
    lengths = {name: len(terms) for name, terms in fields.items()}
    expected = posting_weights(fields, lengths)
    assert carried.keys() == expected.keys()
    assert all(abs(carried[s] - w) < 1e-4 for s, w in expected.items())


_OLD_ROWS = {
    "search_document": "SELECT slug, system, category, audience, municipality_id, vendor_id"
    " FROM search_document",
    "search_posting": "SELECT slug, stem, weight, audience, municipality_id, vendor_id, system,"
    " category FROM search_posting",
    "search_word": "SELECT slug, word, stem, audience, municipality_id, vendor_id FROM search_word",
}


@pytest.mark.skipif("postgresql" not in BACKENDS, reason="PostgreSQL not configured")
@pytest.mark.parametrize("fresh_database", ["postgresql"], indirect=True)
def test_search_index_is_carried_to_integer_keys_and_back(fresh_database, tmp_path):
    """0015 numbers the documents and gives postings and words the visibility key and
    facet numbers; no rebuild is needed after upgrading or downgrading."""
    _upgrade(fresh_database, tmp_path, "0014_search_document_unindexed")
    engine = create_engine(fresh_database)
    documents = [
        # slug, system, category, audience, municipality, vendor
        ("printer", "aula", "login", "public", None, 1),
        ("lokal", "aula", "kalender", "municipal", 7, 1),
        ("intern", "easyiq", "login", "vendor_internal", None, 2),
    ]
    try:
        with engine.begin() as conn:
            for slug, system, category, audience, municipality, vendor in documents:
                values = {
                    "slug": slug,
                    "system": system,
                    "category": category,
                    "audience": audience,
                    "municipality": municipality,
                    "vendor": vendor,
                }
                conn.execute(
                    text(
                        "INSERT INTO search_document (slug, system, category, audience,"
                        " municipality_id, vendor_id, title, tags, body, document, title_length,"
                        " tags_length, body_length) VALUES (:slug, :system, :category,"
                        " :audience, :municipality, :vendor, :slug, '', '', 'x', 1, 0, 0)"
                    ),
                    values,
                )
                conn.execute(
                    text(
                        "INSERT INTO search_posting (slug, stem, weight, audience,"
                        " municipality_id, vendor_id, system, category) VALUES (:slug, :slug,"
                        " 1.5, :audience, :municipality, :vendor, :system, :category)"
                    ),
                    values,
                )
                conn.execute(
                    text(
                        "INSERT INTO search_word (slug, word, stem, audience, municipality_id,"
                        " vendor_id) VALUES (:slug, :slug, :slug, :audience, :municipality,"
                        " :vendor)"
                    ),
                    values,
                )
            before = {table: set(conn.execute(text(q)).all()) for table, q in _OLD_ROWS.items()}
        _upgrade(fresh_database, tmp_path)
        with engine.connect() as conn:
            postings = set(
                conn.execute(
                    text(
                        "SELECT d.slug, p.stem, p.weight, p.visibility, s.name, c.name"
                        " FROM search_posting p JOIN search_document d ON d.id = p.document"
                        " JOIN search_facet s ON s.id = p.system AND s.kind = 'system'"
                        " JOIN search_facet c ON c.id = p.category AND c.kind = 'category'"
                    )
                ).all()
            )
            words = set(
                conn.execute(
                    text(
                        "SELECT d.slug, w.word, w.visibility FROM search_word w"
                        " JOIN search_document d ON d.id = w.document"
                    )
                ).all()
            )
            # the next document and the next facet get fresh numbers
            next_document = conn.scalar(text("SELECT nextval('search_document_id_seq')"))
            next_facet = conn.scalar(text("SELECT nextval('search_facet_id_seq')"))
        keys = {slug: visibility_key(a, m, v) for slug, _s, _c, a, m, v in documents}
        assert sorted(keys.values()) == [0, 7, 16]  # public, vendor 2, municipality 7
        assert postings == {
            ("printer", "printer", 1.5, keys["printer"], "aula", "login"),
            ("lokal", "lokal", 1.5, keys["lokal"], "aula", "kalender"),
            ("intern", "intern", 1.5, keys["intern"], "easyiq", "login"),
        }
        assert words == {(slug, slug, key) for slug, key in keys.items()}
        assert next_document == 4
        assert next_facet == 5  # aula, easyiq, kalender, login
        _upgrade(fresh_database, tmp_path, "0014_search_document_unindexed", command="downgrade")
        with engine.connect() as conn:
            after = {table: set(conn.execute(text(q)).all()) for table, q in _OLD_ROWS.items()}
        assert after == before
    finally:
        engine.dispose()


@pytest.mark.parametrize("fresh_database", BACKENDS, indirect=True)
def test_search_log_ids_handed_out_in_blocks_pass_the_rows_kept_from_before(
    fresh_database, tmp_path
):
    """On SQLite the search log becomes AUTOINCREMENT: the rows it had keep their ids and
    the first block a worker takes starts after them; a row inserted without an id
    afterwards is numbered past the block."""
    _upgrade(fresh_database, tmp_path, "0017_search_word_unindexed_stem")
    engine = create_engine(fresh_database)
    row = (
        "INSERT INTO search_log (query, result_count, clicked, source, created_at)"
        " VALUES (:query, 0, false, 'page', CURRENT_TIMESTAMP)"
    )
    try:
        with engine.begin() as conn:
            for query in ("en", "to", "tre"):
                conn.execute(text(row), {"query": query})
        _upgrade(fresh_database, tmp_path)
        from supportdesk.faq.search_log import ID_BLOCK, _reserve_ids

        app = Flask(__name__)
        app.config.update(SQLALCHEMY_DATABASE_URI=fresh_database)
        db.init_app(app)
        with app.app_context():
            block = list(_reserve_ids(ID_BLOCK))
            db.engine.dispose()
        with engine.begin() as conn:
            kept = dict(conn.execute(text("SELECT query, id FROM search_log")).all())
            conn.execute(text(row), {"query": "fire"})
            after = conn.execute(text("SELECT id FROM search_log WHERE query = 'fire'")).scalar()
    finally:
        engine.dispose()
    assert sorted(kept.values()) == [1, 2, 3]
    assert len(set(block)) == ID_BLOCK
    assert min(block) > 3
    assert after > max(block)

"""psycopg describes a result's columns only when they are read (supportdesk/pg_connections.py).

SQLAlchemy keeps what it needs of a cached statement's columns and never reads
`cursor.description` for it beyond "is there a result"; building the description anyway
cost about 1 µs a column on every statement (80 columns a cached ticket page).
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import insert, select, text

from supportdesk.accounts.models import Municipality
from supportdesk.pg_connections import DescribedOnDemandCursor

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def columns_built(monkeypatch):
    built = []
    original = psycopg.Column.__init__

    def counting(self, cursor, index):
        built.append(index)
        original(self, cursor, index)

    monkeypatch.setattr(psycopg.Column, "__init__", counting)
    return built


def test_a_cached_statement_builds_no_column_description(db, make_municipality, columns_built):
    make_municipality("ribe", name="Ribe Kommune")
    statement = select(Municipality).where(Municipality.slug == "ribe")
    db.session.scalars(statement).one()  # compiled and its result's columns kept
    db.session.expunge_all()
    columns_built.clear()
    assert db.session.scalars(statement).one().name == "Ribe Kommune"
    assert columns_built == []


def test_a_description_read_is_the_result_s_own(db, make_municipality):
    make_municipality("ribe", name="Ribe Kommune")
    found = db.session.execute(text("SELECT slug, name AS title FROM municipality"))
    assert list(found.keys()) == ["slug", "title"]
    assert found.one() == ("ribe", "Ribe Kommune")

    cursor = db.session.connection().connection.dbapi_connection.cursor()
    assert isinstance(cursor, DescribedOnDemandCursor)
    cursor.execute("SELECT 1 AS one, 'a'::text AS letter")
    description = cursor.description
    assert len(description) == 2
    assert [column.name for column in description] == ["one", "letter"]
    assert description[1].type_code == 25  # text
    assert [column.name for column in description[:1]] == ["one"]
    cursor.execute("UPDATE municipality SET name = name")
    assert cursor.description is None


def test_many_rows_returned_by_one_insert_keep_their_columns(db):
    # in batches of 7 (insertmanyvalues): the description is read after several statements
    rows = db.session.execute(
        insert(Municipality)
        .returning(Municipality.id, Municipality.slug, sort_by_parameter_order=True)
        .execution_options(insertmanyvalues_page_size=7),
        [{"slug": f"m{n}", "name": f"Kommune {n}", "code": f"M{n:02d}"} for n in range(30)],
    ).all()
    assert [slug for _id, slug in rows] == [f"m{n}" for n in range(30)]

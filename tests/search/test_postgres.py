"""The PostgreSQL full-text backend: its index rows, outbox updates, rebuild, a configured app.

Behaviour shared with Whoosh (visibility, Danish analysis, synonyms, typos, recall)
runs against both backends through the `search_backend` fixture; these tests are
about what only the PostgreSQL backend has. They skip on the SQLite app.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from sqlalchemy import delete, event, func, select, text

from supportdesk import create_app, outbox
from supportdesk.accounts.models import Role
from supportdesk.faq import search_log, services
from supportdesk.faq.models import Article, ArticleState, Audience, Visibility
from supportdesk.pg_connections import read_only
from supportdesk.search.analysis import danish_analyzer, stem
from supportdesk.search.models import (
    SearchBlock,
    SearchDocument,
    SearchFacet,
    SearchPosting,
    SearchStem,
    SearchTotal,
    SearchVocabulary,
    SearchWord,
)
from supportdesk.search.postgres_backend import PostgresBackend, _ensure_extension
from supportdesk.search.postgres_ranking import POSTING, visibility_key, visibility_keys
from supportdesk.search.postgres_rows import (
    FIELDS,
    reals,
    row_for,
    tsvector_literal,
    with_postings,
)
from tests.search.conftest import CONTENT, write_article
from tests.signin import sign_in_client

QUERIES = ["log ind med mitid", "foraeldre", "billeder galleri", "skoleaarsskift", "kalnder"]
READER = Visibility(first_level=True)
INDEX_TABLES = (
    SearchTotal,
    SearchStem,
    SearchVocabulary,
    SearchWord,
    SearchBlock,
    SearchPosting,
    SearchFacet,
    SearchDocument,
)


@pytest.fixture
def pg(postgres_backend):
    return postgres_backend


def _import(app, path) -> None:
    result = app.test_cli_runner().invoke(args=["faq", "import", str(path)])
    assert result.exit_code == 0, result.output


def test_document_holds_the_projects_lexemes_weighted_by_field(app, db, pg, faq_world, tmp_path):
    write_article(
        tmp_path,
        "aula",
        "foraeldre-login",
        title="Forældre logger ind",
        tags="[MitID]",
        body="Foraeldrene bruger MitID, når de logger ind.",
    )
    _import(app, tmp_path)
    lexemes = db.session.scalar(
        select(func.tsvector_to_array(SearchDocument.document)).where(
            SearchDocument.slug == "foraeldre-login"
        )
    )
    analysed = {t.text for t in danish_analyzer()("Forældre logger ind MitID Foraeldrene bruger")}
    assert set(lexemes) == analysed  # stemmed once, by the Python analyzer; "ind" is a stop word
    weights = dict(
        db.session.execute(
            text(
                "SELECT lexeme, weights FROM search_document, unnest(document)"
                " WHERE slug = 'foraeldre-login'"
            )
        ).all()
    )
    title, tag, body_only = (
        next(t.text for t in danish_analyzer()(w)) for w in ("forældre", "mitid", "bruger")
    )
    assert "A" in weights[title]
    assert set(weights[tag]) == {"B", "D"}
    assert weights[body_only] == ["D"]
    assert tsvector_literal("it's", "", "a\\b") == "'it':1A 's':2A 'a':3 'b':4"
    words = set(db.session.scalars(select(SearchWord.word)))
    assert {"forældre", "forældrene", "mitid", "logger"} <= words


def test_outbox_delivery_indexes_and_removes(app, db, pg, faq_world, tmp_path, make_user):
    write_article(tmp_path, "aula", "printer", title="Printeren driller", body="Genstart den.")
    _import(app, tmp_path)
    # As if the immediate update after commit had failed: only the outbox is left.
    for model in INDEX_TABLES:
        db.session.execute(delete(model))
    db.session.commit()
    assert pg.search("printeren", READER).total == 0
    assert outbox.run_once()[1] == 0
    found = pg.search("printerne", READER)
    assert [hit.slug for hit in found.hits] == ["printer"]
    assert _stem_counts(db) == _recounted(db)

    editor = make_user(Role.vendor_editor, vendor=faq_world["vendors"]["netcompany"])
    article = db.session.scalar(select(Article).where(Article.slug == "printer"))
    services.change_state(editor, article, ArticleState.archived)
    db.session.commit()
    assert pg.search("printeren", READER).total == 1  # not delivered yet
    assert outbox.run_once() == (1, 0)
    assert pg.search("printeren", READER).total == 0
    assert db.session.scalar(select(func.count()).select_from(SearchWord)) == 0
    assert db.session.scalar(select(func.count()).select_from(SearchStem)) == 0
    assert outbox.run_once() == (0, 0)


def _stem_counts(db) -> dict[str, int]:
    return dict(db.session.execute(select(SearchStem.stem, SearchStem.documents)).all())


def _recounted(db) -> dict[str, int]:
    query = select(SearchWord.stem, func.count(SearchWord.document.distinct())).group_by(
        SearchWord.stem
    )
    return dict(db.session.execute(query).all())


def test_document_counts_follow_edits(app, db, pg, faq_world, tmp_path):
    write_article(
        tmp_path, "aula", "printer-a", title="Printeren driller", body="Genstart printeren."
    )
    write_article(tmp_path, "aula", "printer-b", title="Printer og kalender", body="Kalenderen.")
    _import(app, tmp_path)
    assert _stem_counts(db) == _recounted(db)
    assert _stem_counts(db)[stem("printer")] == 2
    write_article(tmp_path, "aula", "printer-b", title="Kalender", body="Kalenderen synker ikke.")
    _import(app, tmp_path)
    assert _stem_counts(db) == _recounted(db)
    assert _stem_counts(db)[stem("printer")] == 1
    _assert_postings_follow_documents(db)
    pg.remove("printer-a")
    db.session.commit()
    assert stem("printer") not in _stem_counts(db)
    assert _stem_counts(db) == _recounted(db)
    _assert_postings_follow_documents(db)
    assert pg.search("printer", READER).total == 0


def _assert_postings_follow_documents(db) -> None:
    """One posting per lexeme of each document, the document count, every word in the
    vocabulary."""
    lexemes = text("SELECT id, unnest(tsvector_to_array(document)) FROM search_document")
    postings = select(SearchPosting.document, SearchPosting.stem)
    assert set(db.session.execute(postings).all()) == set(db.session.execute(lexemes).all())
    documents = db.session.scalar(select(func.count()).select_from(SearchDocument))
    assert db.session.scalar(select(SearchTotal.documents)) == documents
    vocabulary = set(db.session.scalars(select(SearchVocabulary.word)))
    assert set(db.session.scalars(select(SearchWord.word))) <= vocabulary


def test_the_page_is_the_best_of_every_match_by_stored_weights(app, db, pg, faq_world, tmp_path):
    for n in range(25):
        write_article(tmp_path, "aula", f"note-{n:02}", title=f"Note {n}", body="Om printeren.")
    write_article(tmp_path, "aula", "printer", title="Printeren", body="Genstart den.")
    write_article(tmp_path, "aula", "long", title="Lang", body="printer " + "ord " * 200)
    _import(app, tmp_path)
    found = pg.search("printer", READER, limit=5)
    assert found.total == 27
    assert found.facets["system"] == {"aula": 27}
    # the title counts three times the body; a long body weighs its one mention less
    assert found.hits[0].slug == "printer"
    assert "long" not in [hit.slug for hit in found.hits]
    last = pg.search("printer", READER, limit=30)
    assert last.hits[-1].slug == "long"
    assert [hit.slug for hit in last.hits[:5]] == [hit.slug for hit in found.hits]


def test_rebuild_restores_identical_results(app, db, client, login, pg, faq_world, make_user):
    _import(app, CONTENT)
    login(make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"]))

    def answers():
        return [
            client.get("/api/v1/faq/search", query_string={"q": q, "limit": 20}).get_json()
            for q in QUERIES
        ]

    before = answers()
    assert all(a["total"] for a in before)
    assert before[-1]["suggestion"] == "kalender"
    for model in INDEX_TABLES:
        db.session.execute(delete(model))
    db.session.commit()
    assert all(a["total"] == 0 for a in answers())
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    published = db.session.scalar(
        select(func.count()).where(Article.state == ArticleState.published)
    )
    assert f"Indexed {published} published" in result.output
    after = answers()
    assert [[(r["slug"], r["score"]) for r in a["results"]] for a in before] == [
        [(r["slug"], r["score"]) for r in a["results"]] for a in after
    ]
    assert [(a["total"], a["facets"], a["suggestion"]) for a in before] == [
        (a["total"], a["facets"], a["suggestion"]) for a in after
    ]


def test_filters_facets_and_totals_agree(app, db, pg, faq_world):
    _import(app, CONTENT)
    everything = pg.search("login", READER, limit=50)
    assert everything.total == sum(everything.facets["system"].values())
    assert everything.total == sum(everything.facets["category"].values())
    system = next(iter(everything.facets["system"]))
    narrowed = pg.search("login", READER, system=system, limit=50)
    assert narrowed.total == everything.facets["system"][system]
    assert {hit.system for hit in narrowed.hits} == {system}
    assert narrowed.facets["system"] == {system: narrowed.total}
    scores = [hit.score for hit in everything.hits]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.postgresql_only
def test_an_app_configured_for_postgres_serves_search_and_health(app, db, faq_world, make_user):
    _import(app, CONTENT)
    user = make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    db.session.commit()
    configured = create_app(
        {
            "environ": {**app.config["TEST_ENVIRON"], "SUPPORTDESK_SEARCH_BACKEND": "postgres"},
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "SERVER_NAME": None,
        }
    )
    try:
        # The CLI runs in the current app context if there is one: push the configured app's.
        with configured.app_context():
            result = configured.test_cli_runner().invoke(args=["search", "rebuild"])
        assert result.exit_code == 0, result.output
        assert "Indexed" in result.output
        client = configured.test_client()
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.get_json()["search"] == "ok"
        sign_in_client(client, user)
        answer = client.get("/api/v1/faq/search?q=foraeldre+login").get_json()
        assert answer["total"] > 0
        assert "<mark>" in answer["results"][0]["snippet"]
        page = client.get("/faq/search?q=kalnder")
        assert page.status_code == 200
        assert "kalender" in page.get_data(as_text=True)
        with configured.app_context():
            from supportdesk.search import get_backend

            assert isinstance(get_backend(), PostgresBackend)
    finally:
        with configured.app_context():
            from supportdesk.extensions import db as configured_db

            search_log.flush()  # its searches, before its engine goes
            configured_db.session.remove()
            configured_db.engine.dispose()


def test_a_failing_query_answers_503_and_leaves_the_session_usable(
    app, db, client, pg, faq_world, monkeypatch
):
    _import(app, CONTENT)

    def broken(self, stems):
        db.session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr("supportdesk.search.postgres_backend._Stats.ensure", broken)
    page = client.get("/faq/search?q=forældre")
    assert page.status_code == 503
    api = client.get("/api/v1/faq/search?q=forældre")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "search_unavailable"
    monkeypatch.undo()
    assert client.get("/api/v1/faq/search?q=forældre").get_json()["total"] > 0


@pytest.mark.parametrize("fuzzystrmatch", [True, False], ids=["levenshtein-sql", "python"])
def test_typos_match_visible_words_with_or_without_the_extension(
    app, db, pg, faq_world, tmp_path, fuzzystrmatch
):
    # The SQL path needs the extension in this database (not left behind by another test).
    pg._fuzzystrmatch = fuzzystrmatch and _ensure_extension("fuzzystrmatch")
    assert pg._fuzzystrmatch is fuzzystrmatch
    write_article(tmp_path, "aula", "kalender", title="Kalenderen viser ikke aftaler")
    write_article(
        tmp_path,
        "aula",
        "lokal-kalender",
        audience="municipal",
        municipality="esbjerg",
        title="Synkronisering i Esbjerg",
    )
    _import(app, tmp_path)
    found = pg.search("kalnderen", READER)
    assert found.suggestion == "kalenderen"
    assert [hit.slug for hit in found.hits] == ["kalender"]
    # The other municipality's word is neither suggested nor used to match.
    assert pg.search("synkronisring", READER).suggestion is None
    esbjerg = Visibility(
        first_level=True, municipality_id=faq_world["municipalities"]["esbjerg"].id
    )
    assert pg.search("synkronisring", esbjerg).suggestion == "synkronisering"


def test_a_search_costs_three_statements_and_a_typo_one_more(app, db, pg, faq_world, count_queries):
    """Stems; the query stems' blocks (count, facets and ranking in numpy); the shown
    page's text."""
    _import(app, CONTENT)
    pg.search("kalnder", READER)  # the extension check happens once per process
    db.session.commit()
    for query, expected in (("forældre login", 3), ("skoleaarsskift", 3), ("kalnder", 4)):
        with count_queries() as statements:
            assert pg.search(query, READER).total > 0
        assert len(statements) == expected, (query, statements)


def test_visibility_keys_follow_the_audience_rule():
    """A caller's keys admit exactly the articles `visibility_query` lets them read,
    whatever ids municipalities and vendors share."""
    ids = [None, 1, 2, 3, 7]
    articles = [
        (audience, municipality, vendor)
        for audience in Audience
        for municipality in ids
        for vendor in ids[1:]
    ]
    callers = [Visibility(everything=True)] + [
        Visibility(first_level=first_level, municipality_id=municipality, vendor_id=vendor)
        for first_level in (False, True)
        for municipality in ids
        for vendor in ids
    ]
    for visible in callers:
        keys = visibility_keys(visible)
        for audience, municipality, vendor in articles:
            readable = visible.everything or (
                audience == Audience.public
                or (audience == Audience.first_level and visible.first_level)
                or (
                    audience == Audience.municipal
                    and municipality is not None
                    and municipality == visible.municipality_id
                )
                or (audience == Audience.vendor_internal and vendor == visible.vendor_id)
            )
            key = visibility_key(audience, municipality, vendor)
            assert (keys is None or key in keys) == readable, (visible, audience, municipality)


def test_equal_scores_are_ordered_by_slug_not_by_document_number(app, db, pg, faq_world, tmp_path):
    for n in range(6):
        write_article(tmp_path, "aula", f"note-{n}", title=f"Note {n}", body="Om printeren.")
    _import(app, tmp_path)
    # indexed again last to first: the document numbers now run against the slugs
    articles = db.session.scalars(select(Article).order_by(Article.slug.desc())).all()
    for article in articles:
        pg.remove(article.slug)
        pg.index(article)
    db.session.commit()
    numbers = db.session.scalars(select(SearchDocument.id).order_by(SearchDocument.slug)).all()
    assert numbers == sorted(numbers, reverse=True)
    found = pg.search("printer", READER, limit=3)
    assert found.total == 6
    assert len({hit.score for hit in found.hits}) == 1
    assert [hit.slug for hit in found.hits] == ["note-0", "note-1", "note-2"]


def test_facets_are_numbered_as_articles_bring_them(app, db, pg, faq_world, tmp_path):
    """A system or category new to the index gets a number on index(); counts, filters
    and hits show the slugs."""
    write_article(tmp_path, "aula", "printer-a", title="Printeren", category="kalender")
    _import(app, tmp_path)
    write_article(tmp_path, "laeringsplatform", "printer-b", title="Printer", category="opgaver")
    _import(app, tmp_path)
    facets = set(db.session.execute(select(SearchFacet.kind, SearchFacet.name)).all())
    assert facets == {
        ("system", "aula"),
        ("category", "kalender"),
        ("system", "laeringsplatform"),
        ("category", "opgaver"),
    }
    found = pg.search("printer", READER)
    assert found.facets == {
        "system": {"aula": 1, "laeringsplatform": 1},
        "category": {"kalender": 1, "opgaver": 1},
    }
    narrowed = pg.search("printer", READER, category="opgaver")
    assert [(h.slug, h.system, h.category) for h in narrowed.hits] == [
        ("printer-b", "laeringsplatform", "opgaver")
    ]
    assert pg.search("printer", READER, system="no-such-system").total == 0
    # indexing the same facets again takes no numbers: the next new one is the fifth
    pg.index(db.session.scalar(select(Article).where(Article.slug == "printer-a")))
    db.session.commit()
    write_article(tmp_path, "aula", "printer-c", title="Printer", category="beskeder")
    _import(app, tmp_path)
    numbers = dict(db.session.execute(select(SearchFacet.name, SearchFacet.id)).all())
    assert numbers["beskeder"] == 5


def test_a_system_filter_narrows_public_articles_too(app, db, pg, faq_world, tmp_path):
    """The filter was ANDed to the last of the visibility alternatives only, so public
    articles of every system came back under a system or category filter."""
    write_article(tmp_path, "aula", "printer-aula", title="Printeren", audience="first_level")
    write_article(
        tmp_path, "laeringsplatform", "printer-public", title="Printeren", audience="public"
    )
    _import(app, tmp_path)
    assert pg.search("printer", READER).total == 2
    narrowed = pg.search("printer", READER, system="aula")
    assert [hit.slug for hit in narrowed.hits] == ["printer-aula"]
    assert narrowed.total == 1
    assert narrowed.facets["system"] == {"aula": 1}
    assert pg.search("printer", READER, category="opgaver").total == 0


def _unpacked_blocks(db) -> dict[tuple[str, int], list[tuple]]:
    """Each block as (document, weight, system, category) tuples, in its stored order."""
    found = {}
    for block in db.session.scalars(select(SearchBlock)):
        found[(block.stem, block.visibility)] = np.frombuffer(block.postings, POSTING).tolist()
    return found


def _blocks_of_postings(db) -> dict[tuple[str, int], list[tuple]]:
    found: dict[tuple[str, int], list[tuple]] = {}
    postings = select(SearchPosting).order_by(SearchPosting.document)
    for p in db.session.scalars(postings):
        # psycopg reads a real as its shortest decimal: back to that float4's exact value
        values = (p.document, float(np.float32(p.weight)), p.system, p.category)
        found.setdefault((p.stem, p.visibility), []).append(values)
    return found


def test_blocks_follow_the_postings_through_edits_moves_and_removals(
    app, db, pg, faq_world, tmp_path
):
    """A search reads the packed blocks, never the postings: every index() and remove()
    leaves each stem's block, per visibility key, equal to its postings in document
    order, and drops blocks left empty."""
    write_article(tmp_path, "aula", "printer-a", title="Printeren driller", body="Genstart den.")
    write_article(tmp_path, "aula", "printer-b", title="Printer og kalender", body="Kalenderen.")
    _import(app, tmp_path)
    assert _unpacked_blocks(db) == _blocks_of_postings(db)
    assert pg.search("kalender", READER).total == 1
    # an edit drops a word and adds one; another audience moves the postings' key
    write_article(
        tmp_path, "aula", "printer-b", title="Printer", body="Fotoalbum.", audience="public"
    )
    _import(app, tmp_path)
    assert _unpacked_blocks(db) == _blocks_of_postings(db)
    assert pg.search("kalender", READER).total == 0
    assert pg.search("fotoalbum", Visibility()).total == 1
    pg.remove("printer-a")
    db.session.commit()
    assert _unpacked_blocks(db) == _blocks_of_postings(db)
    assert (stem("driller"), visibility_key(Audience.first_level, None, None)) not in (
        _unpacked_blocks(db)
    )
    assert [hit.slug for hit in pg.search("printer", READER).hits] == ["printer-b"]
    numbers = dict(db.session.execute(select(SearchDocument.slug, SearchDocument.id)).all())
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert _unpacked_blocks(db) == _blocks_of_postings(db)
    # An article keeps its number through edits and rebuilds, a new one takes the next:
    # a number never changes article, and the numbers stay about as many as the articles
    # (an upsert spent one on every edit).
    after = dict(db.session.execute(select(SearchDocument.slug, SearchDocument.id)).all())
    assert after["printer-b"] == numbers["printer-b"]
    assert after["printer-a"] == max(numbers.values()) + 1  # removed, so new to the index
    for _ in range(3):
        pg.index(db.session.scalar(select(Article).where(Article.slug == "printer-b")))
    write_article(tmp_path, "aula", "printer-c", title="Ny printer", body="Installer den.")
    _import(app, tmp_path)
    added = select(SearchDocument.id).where(SearchDocument.slug == "printer-c")
    assert db.session.scalar(added) == after["printer-a"] + 1


def _index_rows(db) -> dict[str, set[tuple]]:
    """Every row of the index tables but the counters, weights as float4 (rounded to 6
    significant digits: index() weighs against averages PostgreSQL computes in numeric)."""

    def rounded(value):
        if isinstance(value, float):
            return float(f"{value:.6g}")
        if isinstance(value, list | tuple):
            return tuple(rounded(v) for v in value)
        return value

    found = {
        model.__tablename__: {
            rounded(tuple(row)) for row in db.session.execute(select(*model.__table__.c))
        }
        for model in INDEX_TABLES
        if model is not SearchBlock
    }
    found["search_block"] = {
        (key, rounded(postings)) for key, postings in _unpacked_blocks(db).items()
    }
    return found


def test_rebuild_writes_the_rows_index_writes(app, db, pg, faq_world):
    """`search rebuild` writes every table with COPY and counts stems and packs blocks in
    Python: the rows are those index() writes for the same articles, article by article,
    once every article is there (the same average field lengths)."""
    _import(app, CONTENT)
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "articles analysed" in result.output
    rebuilt = _index_rows(db)
    assert len(rebuilt["search_document"]) > 40
    # to the bit: the blocks hold the postings' float4, and those are the CAST of index()
    assert _unpacked_blocks(db) == _blocks_of_postings(db)
    lengths = db.session.execute(
        select(*(func.avg(getattr(SearchDocument, f"{name}_length")) for name in FIELDS))
    ).one()
    averages = dict(zip(FIELDS, (float(a) for a in lengths), strict=True))
    article = db.session.scalar(select(Article).where(Article.slug == "aula-appen-virker-ikke"))
    weights = with_postings(row_for(article), averages)
    cast = text("SELECT unnest(CAST(:s AS text[])), unnest(CAST(:w AS real[]))")
    expected = dict(
        db.session.execute(
            cast, {"s": weights["posting_stems"], "w": weights["posting_weights"]}
        ).all()
    )
    number = select(SearchDocument.id).where(SearchDocument.slug == article.slug)
    stored = select(SearchPosting.stem, SearchPosting.weight).where(
        SearchPosting.document == number.scalar_subquery()
    )
    assert dict(db.session.execute(stored).all()) == expected
    # what index() of an article already there leaves as it is: counted from the rows
    _assert_postings_follow_documents(db)
    assert _stem_counts(db) == _recounted(db)
    words = select(SearchWord.word, SearchWord.stem).distinct()
    assert rebuilt["search_vocabulary"] == set(db.session.execute(words).all())
    used = {
        (kind, name)
        for document in db.session.scalars(select(SearchDocument))
        for kind, name in (("system", document.system), ("category", document.category))
    }
    assert {(kind, name) for _id, kind, name in rebuilt["search_facet"]} == used
    assert len(rebuilt["search_block"]) > 1000
    published = select(Article).where(Article.state == ArticleState.published)
    for article in db.session.scalars(published.order_by(Article.slug)).all():
        pg.index(article)
    db.session.commit()
    assert _index_rows(db) == rebuilt
    assert _unpacked_blocks(db) == _blocks_of_postings(db)


def test_a_rebuild_failing_while_it_copies_leaves_the_index_as_it_was(
    app, db, pg, faq_world, tmp_path
):
    """The words are copied while the articles are analysed: an article that cannot be
    analysed halfway aborts the COPY and the transaction: every row and count is as
    before (and every article's number), and searches answer from it. The articles before
    the failing one hold ~60 KiB of word rows each, so some have reached the server."""
    letters = "abcdefghijklmnoprstuvy"
    for n in range(5):
        body = " ".join(f"gen{a}{b}{c}{n}" for a in letters for b in letters for c in "aeiou")
        write_article(tmp_path, "aula", f"printer-{n}", title=f"Printer {n}", body=body)
    _import(app, tmp_path)
    before = _index_rows(db)
    articles = [_detached(db, f"printer-{n}") for n in range(5)] + [
        _detached(db, "printer-0") for _ in range(3)
    ]
    for n, article in enumerate(articles[5:]):
        article.slug = f"ny-{n}"
    articles[6].system = SimpleNamespace()  # no slug: row_for raises on the 7th article
    with pytest.raises(AttributeError):
        pg.rebuild(articles)
    assert _index_rows(db) == before
    assert pg.search("printer", READER).total == 5


def test_weights_are_copied_as_real_casts_round_them(db, pg):
    """COPY parses a weight's text as a real; `reals` rounds the float8 first, as the CAST
    of index() does, so both paths store the same float4 (and the blocks hold it)."""
    rng = np.random.default_rng(18)
    # float8 values halfway between two float4s and their neighbours, and ordinary ones
    below = np.float32(1.25) + np.float32(1.25) * np.float32(2.0**-24) * 0.999999
    values = [float(below), 1.0 + 2.0**-24, 1.0 + 3 * 2.0**-24, *rng.uniform(0, 3, 200)]
    cast = db.session.scalar(text("SELECT CAST(:v AS real[])"), {"v": values})
    assert reals(values) == [float(np.float32(v)) for v in cast]


def test_two_nodes_indexing_articles_that_share_a_stem_keep_both_in_its_block(
    app, db, pg, faq_world, tmp_path
):
    """Index writers take turns: the second waits for the first to commit and then
    rewrites the shared stem's block with both articles. Without the turn it rewrote the
    block as its statement saw the postings before the first committed, and the first
    article dropped out of every search for that word."""
    write_article(tmp_path, "aula", "printer-a", title="Printeren", body="Genstart den.")
    write_article(tmp_path, "aula", "printer-b", title="Printer", body="Tjek kablet.")
    _import(app, tmp_path)
    first, second = (_detached(db, slug) for slug in ("printer-a", "printer-b"))
    first.body += " Se også zebraguiden."
    second.body += " Zebraguiden hjælper."
    pg.index(first)  # this node's turn, held until it commits

    def other_node() -> None:
        with app.app_context():
            pg.index(second)
            db.session.commit()

    waiting = threading.Thread(target=other_node)
    waiting.start()
    try:
        _wait_for_a_waiting_backend(db)
        db.session.commit()
    finally:
        waiting.join(timeout=30)
    assert not waiting.is_alive()
    found = pg.search("zebraguiden", READER)
    assert sorted(hit.slug for hit in found.hits) == ["printer-a", "printer-b"]
    assert _unpacked_blocks(db) == _blocks_of_postings(db)


def test_an_article_moved_to_another_audience_while_searching_is_not_shown(
    app, db, pg, faq_world, tmp_path
):
    """The page's text is read after the blocks, in a statement of its own: an edit
    committed in between that makes an article vendor-internal must not show its new
    title and text to a first-level reader (the page statement checks the caller's
    keys again)."""
    write_article(tmp_path, "aula", "printer-a", title="Printeren", body="Genstart den.")
    write_article(tmp_path, "aula", "printer-b", title="Printer", body="Tjek kablet.")
    _import(app, tmp_path)
    moved = _detached(db, "printer-a")
    moved.title, moved.audience = "Intern printernote", Audience.vendor_internal
    db.session.commit()
    edits: list[str] = []

    def edit_on_another_node(_conn, _cursor, statement, *_args):
        if "FROM search_document d" in statement and not edits:
            edits.append(statement)
            worker = threading.Thread(target=_index_in_another_session, args=(app, db, pg, moved))
            worker.start()
            worker.join(timeout=30)

    event.listen(db.engine, "before_cursor_execute", edit_on_another_node)
    try:
        found = pg.search("printer", READER)
    finally:
        event.remove(db.engine, "before_cursor_execute", edit_on_another_node)
    assert edits
    assert [hit.slug for hit in found.hits] == ["printer-b"]
    assert "Intern" not in str(found.hits)


def _index_in_another_session(app, db, pg, article) -> None:
    with app.app_context():
        pg.index(article)
        db.session.commit()


def _detached(db, slug: str) -> SimpleNamespace:
    """An article's indexed fields, as a copy outside the session (no article row changes)."""
    article = db.session.scalar(select(Article).where(Article.slug == slug))
    return SimpleNamespace(
        slug=article.slug,
        title=article.title,
        body=article.body,
        tags=list(article.tags or []),
        system=SimpleNamespace(slug=article.system.slug, vendor_id=article.system.vendor_id),
        category=SimpleNamespace(slug=article.category.slug),
        audience=article.audience,
        municipality_id=article.municipality_id,
        state=article.state,
    )


def _wait_for_a_waiting_backend(db) -> None:
    """Until another connection waits for a lock (checked on a connection of its own)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    with db.engine.connect() as watcher:
        for _ in range(300):
            if watcher.scalar(query):
                return
            time.sleep(0.01)
    raise AssertionError("the other node never waited")


def test_a_search_only_reads_so_its_transaction_keeps_prepared_statements(app, db, pg, faq_world):
    """Every statement of a search counts as a read (`pg_connections.read_only`), so a
    request whose only database work was a search ends with COMMIT and psycopg keeps its
    prepared statements; a statement that looked like a write threw them away."""
    _import(app, CONTENT)
    db.session.commit()
    statements: list[str] = []

    def _record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", _record)
    try:
        assert pg.search("forældre login kalender billeder", READER).total > 0
    finally:
        event.remove(db.engine, "before_cursor_execute", _record)
    assert len(statements) == 3
    assert all(read_only(statement) for statement in statements), statements

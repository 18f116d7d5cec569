"""The PostgreSQL full-text backend: shared index for several app nodes (DESIGN §6).

Both backends analyse text with supportdesk.search.analysis and expand queries with
`build_query`, so folding, stemming, stop words, synonyms, compound splitting and
typo matching behave the same. Here each indexed article is a numbered row of
`search_document` with its text and the analysed lexemes as a weighted tsvector (A
title, B tags, D body; the 'simple' configuration is never applied, so nothing is
stemmed twice); every stem of a document with its BM25F weight is a row of
`search_posting`, its unstemmed words rows of `search_word`, each distinct word once
in `search_vocabulary`. Postings and words carry the document's number, its visibility
key (`postgres_ranking.visibility_key`) and, for postings, its system and category
numbers (`search_facet`), all small integers. The postings of each stem and visibility
key are also kept packed in one row of `search_block`, rewritten from the postings for
the stems each index() or remove() touches; index writers on all nodes take turns
(an advisory lock held to commit) so no rewrite leaves out another's document. What
an article's rows hold, and how `search rebuild` copies them all: postgres_rows.

A search is three statements: the query stems' document frequencies and whether the
caller may see them; the blocks of the query stems the caller may see, which numpy
scores, counts and facets (supportdesk.search.postgres_ranking); and the shown page's
text for its highlights. The articles' text and lexemes are never read for ranking.

Visibility is part of every WHERE clause: results, the total, the facets, the words
used for compounds and typos, and "Mente du …?" only ever come from articles the
caller may see. Typo candidates come from the vocabulary (same first letter, a
similar length, fuzzystrmatch's `levenshtein_less_equal` when the extension can be
created, otherwise the Damerau-Levenshtein distance in Python) and are kept when a
visible article holds them. There is no answer cache: every node reads the same
tables, so a change on one node shows on all at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Unpack

from sqlalchemy import (
    String,
    cast,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from supportdesk.extensions import db
from supportdesk.faq.models import Article, ArticleState
from supportdesk.search import Hit, SearchFilters, SearchResults, SearchUnavailable, Visibility
from supportdesk.search.analysis import (
    _LINKS,
    MIN_PART,
    is_stop,
    stem,
    words,
)
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
from supportdesk.search.postgres_ranking import (
    Answer,
    visibility_clause,
    visibility_sql,
)
from supportdesk.search.postgres_rows import (
    FIELDS,
    copy_index,
    copy_words,
    row_for,
    with_postings,
)
from supportdesk.search.query import build_query, closest, suggestion, within
from supportdesk.search.synonyms import Synonyms
from supportdesk.search.whoosh_backend import snippet

log = logging.getLogger(__name__)


_document = SearchDocument.__table__
_facet = SearchFacet.__table__
_posting = SearchPosting.__table__
_block = SearchBlock.__table__
_word = SearchWord.__table__
_stem = SearchStem.__table__
_vocabulary = SearchVocabulary.__table__
_total = SearchTotal.__table__

# rebuild(): an article already in the index keeps its number, a new one takes the next
# from the sequence. A number never changes article, so a search that read the blocks
# before a rebuild committed still shows the articles it ranked.
_NUMBERED = text("SELECT slug, id FROM search_document")
_NUMBERS = text(
    "SELECT nextval(pg_get_serial_sequence('search_document', 'id'))"
    " FROM generate_series(1, :count)"
)
# index(): an article keeps its number while it stays in the index; a new one takes the
# next. An update first, not INSERT … ON CONFLICT, which would spend a number of the
# sequence on every edit (the ranking's arrays are as long as the highest number).
# Writers take turns (`_WRITERS`), so no other node inserts the slug in between.
_UPDATE_DOCUMENT = text(
    "UPDATE search_document SET system = :system, category = :category,"
    " audience = :audience, municipality_id = :municipality_id, vendor_id = :vendor_id,"
    " title = :title, tags = :tags, body = :body, document = CAST(:document AS tsvector),"
    " title_length = :title_length, tags_length = :tags_length, body_length = :body_length"
    " WHERE slug = :slug RETURNING id"
)
_ADD_DOCUMENT = text(
    "INSERT INTO search_document (slug, system, category, audience, municipality_id,"
    " vendor_id, title, tags, body, document, title_length, tags_length, body_length)"
    " VALUES (:slug, :system, :category, :audience, :municipality_id, :vendor_id, :title,"
    " :tags, :body, CAST(:document AS tsvector), :title_length, :tags_length, :body_length)"
    " RETURNING id"
)
_REMOVE_DOCUMENT = text("DELETE FROM search_document WHERE slug = :slug RETURNING id")
_COUNT_DOCUMENTS = text(
    "INSERT INTO search_total (id, documents) VALUES (1, :delta)"
    " ON CONFLICT (id) DO UPDATE SET documents = search_total.documents + excluded.documents"
)
# A facet new to the index gets the next number. The NOT EXISTS keeps the sequence (and
# so the numbers, smallint in the postings) from growing by two with every index().
_ADD_FACETS = text(
    "INSERT INTO search_facet (kind, name)"
    " SELECT f.kind, f.name FROM (VALUES ('category', CAST(:category AS text)),"
    " ('system', CAST(:system AS text))) AS f(kind, name)"
    " WHERE NOT EXISTS (SELECT 1 FROM search_facet x WHERE x.kind = f.kind AND x.name = f.name)"
    " ORDER BY f.kind ON CONFLICT DO NOTHING"
)
# rebuild(): facets numbered 1.. afresh, the sequence set after them.
_RESTART_FACETS = text(
    "SELECT setval(pg_get_serial_sequence('search_facet', 'id'),"
    " (SELECT coalesce(max(id), 0) + 1 FROM search_facet), false)"
)
_INSERT_WORDS = text(
    "INSERT INTO search_word (document, word, stem, visibility)"
    " SELECT :number, w.word, w.stem, :visibility"
    " FROM unnest(CAST(:words AS text[]), CAST(:stems AS text[])) AS w(word, stem)"
    " ON CONFLICT DO NOTHING"
)
_DELETE_WORDS = text("DELETE FROM search_word WHERE document = :number RETURNING stem")
# In word order, so concurrent indexers adding the same new words wait in one order.
# A word whose last article is gone stays until the next rebuild: typo candidates are
# checked against the visible articles' words anyway.
_INSERT_VOCABULARY = text(
    "INSERT INTO search_vocabulary (word, stem)"
    " SELECT w.word, w.stem FROM unnest(CAST(:words AS text[]), CAST(:stems AS text[]))"
    " AS w(word, stem) ORDER BY w.word ON CONFLICT DO NOTHING"
)
_INSERT_POSTINGS = text(
    "INSERT INTO search_posting (document, stem, weight, visibility, system, category)"
    " SELECT :number, p.stem, p.weight, :visibility,"
    " (SELECT id FROM search_facet WHERE kind = 'system' AND name = :system),"
    " (SELECT id FROM search_facet WHERE kind = 'category' AND name = :category)"
    " FROM unnest(CAST(:posting_stems AS text[]), CAST(:posting_weights AS real[]))"
    " AS p(stem, weight)"
)
_DELETE_POSTINGS = text(
    "DELETE FROM search_posting WHERE document = :number RETURNING stem, visibility"
)
# A block is its postings in document order, packed as the binary send functions write
# them (`SearchBlock`): packed in Python by rebuild() (`postgres_rows`), rewritten from
# the postings for the stems and visibility keys an index() or remove() touched (in key
# order); blocks left without postings are dropped.
_REFRESH_BLOCKS = text(
    "INSERT INTO search_block (stem, visibility, postings)"
    " SELECT stem, visibility, string_agg(int4send(document) || float4send(weight)"
    " || int2send(system) || int2send(category), ''::bytea ORDER BY document)"
    " FROM search_posting WHERE stem = ANY(CAST(:stems AS text[]))"
    " AND visibility = ANY(CAST(:keys AS integer[]))"
    " GROUP BY stem, visibility ORDER BY stem, visibility"
    " ON CONFLICT (stem, visibility) DO UPDATE SET postings = excluded.postings"
)
_DROP_EMPTY_BLOCKS = text(
    "DELETE FROM search_block b"
    " WHERE b.stem = ANY(CAST(:stems AS text[])) AND b.visibility = ANY(CAST(:keys AS integer[]))"
    " AND NOT EXISTS (SELECT 1 FROM search_posting p"
    " WHERE p.stem = b.stem AND p.visibility = b.visibility)"
)
# Writers of the index take turns (all nodes): a block is rewritten from the postings as
# its writer's statement sees them, so two writers of one stem at once would each leave
# out the other's document. Held until commit; the rebuild takes it too, first.
_WRITERS = text("SELECT pg_advisory_xact_lock(:key)")
WRITERS_KEY = 0x5D5EA4C1  # "supportdesk search", any constant the app uses for nothing else
_AVERAGES = text(
    "SELECT CAST(avg(title_length) AS float), CAST(avg(tags_length) AS float),"
    " CAST(avg(body_length) AS float) FROM search_document"
)
# +1 and -1 in one statement in stem order, so concurrent indexers lock the rows they
# share in the same order (two statements, up then down, could deadlock).
_COUNT_STEMS = text(
    "INSERT INTO search_stem (stem, documents)"
    " SELECT c.stem, c.delta FROM unnest(CAST(:stems AS text[]), CAST(:deltas AS integer[]))"
    " AS c(stem, delta) ORDER BY c.stem"
    " ON CONFLICT (stem) DO UPDATE SET documents = search_stem.documents + excluded.documents"
)
_DROP_UNUSED_STEMS = text(
    "DELETE FROM search_stem WHERE documents <= 0 AND stem = ANY(CAST(:stems AS text[]))"
)
_TABLES = (
    "search_document, search_facet, search_posting, search_block, search_word,"
    " search_vocabulary, search_stem, search_total"
)


# Per stem its document count and whether the caller may see it (a block of a key the
# caller has: one probe of the blocks' primary key). The count of documents rides along,
# a one-row table left-joined to the stems, so it comes back even when no stem is known.
# One array parameter, so the statement is the same text (and prepared) for any stems.
_STEM_STATISTICS = (
    "SELECT t.n, s.stem, s.documents,"
    " EXISTS (SELECT 1 FROM search_block b WHERE b.stem = s.stem AND {visible})"
    " FROM (SELECT coalesce(max(documents), 0) AS n FROM search_total) AS t"
    " LEFT JOIN search_stem s ON s.stem = ANY(CAST(:stems AS text[]))"
)


class _Stats:
    """Per search: document frequency and caller visibility of stems, fetched in batches."""

    def __init__(self, visible: Visibility) -> None:
        self.visible = visible
        self.frequency: dict[str, int] = {}
        self.seen: dict[str, bool] = {}
        self._docs: int | None = None

    def ensure(self, stems: Iterable[str]) -> None:
        missing = sorted({s for s in stems if s not in self.frequency})
        if not missing:
            return
        statement = _STEM_STATISTICS.format(visible=visibility_sql(self.visible, "b.visibility"))
        rows = db.session.execute(text(statement), {"stems": missing})
        for docs, stemmed, frequency, visible in rows:
            self._docs = docs
            if stemmed is not None:
                self.frequency[stemmed] = frequency
                self.seen[stemmed] = bool(visible)
        for stemmed in missing:
            self.frequency.setdefault(stemmed, 0)
            self.seen.setdefault(stemmed, False)

    def add_visible(self, stemmed: str, frequency: int) -> None:
        """A stem read from a visible word row, with its count (no lookup needed)."""
        self.frequency[stemmed] = frequency
        self.seen[stemmed] = True

    def known(self, stemmed: str) -> bool:
        self.ensure([stemmed])
        return self.seen[stemmed]

    def df(self, stemmed: str) -> int:
        self.ensure([stemmed])
        return self.frequency[stemmed]

    @property
    def docs(self) -> int:
        if self._docs is None:
            self._docs = db.session.scalar(select(func.max(_total.c.documents))) or 0
        return self._docs


def _candidate_stems(tokens: list[str], synonyms: Synonyms) -> set[str]:
    """Every stem `build_query` may ask about, so one query answers them all."""
    stems: set[str] = set()
    for i, word in enumerate(tokens):
        if word in synonyms.by_first:
            match = synonyms.match(tokens, i)
            if match is not None:
                for phrase in match[1]:
                    stems.update(stem(w) for w in phrase if not is_stop(w))
        if is_stop(word) or len(word) < 2:
            continue
        stems.add(stem(word))
        if len(word) < 2 * MIN_PART:
            continue
        for cut in range(len(word) - MIN_PART, MIN_PART - 1, -1):
            head = word[:cut]
            stems.add(stem(word[cut:]))
            for link in _LINKS:
                if link and not head.endswith(link):
                    continue
                core = head[: len(head) - len(link)] if link else head
                if len(core) >= MIN_PART:
                    stems.add(stem(core))
    return stems


class PostgresBackend:
    """Search over the `search_*` tables in the app's database.

    index() and remove() write through the caller's session and do not commit: in
    the outbox handler the delivery commits them with the message, and `sync_now`
    commits after the request's own commit. rebuild() is one transaction of its own.
    """

    def __init__(self, synonyms_path: str | None = None, fuzzystrmatch: bool | None = None):
        self.synonyms_path = synonyms_path
        self._synonyms: Synonyms | None = None
        self._synonyms_mtime: float | None = None
        self._fuzzystrmatch = fuzzystrmatch  # None: find out (and create it) on first use
        self._lock = threading.Lock()

    # --- set-up ------------------------------------------------------------------------

    @property
    def fuzzystrmatch(self) -> bool:
        """Whether levenshtein_less_equal() is there; created when the role may do it."""
        if self._fuzzystrmatch is None:
            with self._lock:
                if self._fuzzystrmatch is None:
                    self._fuzzystrmatch = _ensure_extension("fuzzystrmatch")
        return self._fuzzystrmatch

    @property
    def synonyms(self) -> Synonyms:
        """The synonyms file as it is now (re-read when it changes)."""
        path = Path(self.synonyms_path) if self.synonyms_path else None
        mtime = path.stat().st_mtime if path and path.is_file() else None
        if self._synonyms is None or mtime != self._synonyms_mtime:
            self._synonyms = Synonyms.load(path)
            self._synonyms_mtime = mtime
        return self._synonyms

    # --- writing -----------------------------------------------------------------------

    def index(self, article: Article) -> None:
        if article.state != ArticleState.published:
            self.remove(article.slug)
            return
        row = row_for(article)
        db.session.execute(_WRITERS, {"key": WRITERS_KEY})
        number = db.session.scalar(_UPDATE_DOCUMENT, row)
        inserted = number is None
        if inserted:
            number = db.session.scalar(_ADD_DOCUMENT, row)
        row["number"] = number
        db.session.execute(_ADD_FACETS, row)
        # Weighed against today's average field lengths; the other articles keep the
        # weights of when they were indexed until the next rebuild.
        averages = dict(zip(FIELDS, db.session.execute(_AVERAGES).one(), strict=True))
        before = db.session.execute(_DELETE_POSTINGS, row).all()
        row = with_postings(row, averages)
        db.session.execute(_INSERT_POSTINGS, row)
        self._refresh_blocks(
            {s for s, _key in before} | set(row["posting_stems"]),
            {key for _s, key in before} | {row["visibility"]},
        )
        old = set(db.session.scalars(_DELETE_WORDS, row))
        db.session.execute(_INSERT_WORDS, row)
        db.session.execute(_INSERT_VOCABULARY, row)
        new = set(row["stems"])
        self._count_stems(added=new - old, gone=old - new)
        if inserted:  # the shared counter last, as in remove(): one lock order
            db.session.execute(_COUNT_DOCUMENTS, {"delta": 1})

    def remove(self, slug: str) -> None:
        # the writers' turn, then the document row, as index(): one lock order
        db.session.execute(_WRITERS, {"key": WRITERS_KEY})
        number = db.session.scalar(_REMOVE_DOCUMENT, {"slug": slug})
        if number is None:  # not in the index: it has no postings nor words either
            return
        before = db.session.execute(_DELETE_POSTINGS, {"number": number}).all()
        self._refresh_blocks({s for s, _key in before}, {key for _s, key in before})
        gone = set(db.session.scalars(_DELETE_WORDS, {"number": number}))
        self._count_stems(added=set(), gone=gone)
        db.session.execute(_COUNT_DOCUMENTS, {"delta": -1})

    @staticmethod
    def _refresh_blocks(stems: set[str], keys: set[int]) -> None:
        """Rewrite the blocks of these stems and visibility keys from their postings."""
        if stems:
            values = {"stems": sorted(stems), "keys": sorted(keys)}
            db.session.execute(_REFRESH_BLOCKS, values)
            db.session.execute(_DROP_EMPTY_BLOCKS, values)

    @staticmethod
    def _count_stems(added: set[str], gone: set[str]) -> None:
        """Keep search_stem's document counts in step (sorted: one lock order on all nodes)."""
        changes = sorted([(s, 1) for s in added] + [(s, -1) for s in gone])
        if changes:
            db.session.execute(
                _COUNT_STEMS,
                {"stems": [s for s, _d in changes], "deltas": [d for _s, d in changes]},
            )
        if gone:
            db.session.execute(_DROP_UNUSED_STEMS, {"stems": sorted(gone)})

    def rebuild(
        self, articles: Iterable[Article], progress: Callable[[int], None] | None = None
    ) -> int:
        """Replace every row in one transaction: searches see the old index until commit.

        Every table is written with COPY. The articles are analysed in number order while
        their words are copied, so the server writes those as the next are analysed;
        the postings need every article's field lengths and follow, with the stems'
        document counts and the blocks computed here. `progress(count)` as articles are
        analysed (`with_progress`). Index writers on all nodes wait for the commit. Runs on
        a connection of its own, so the caller's session must not hold uncommitted index()
        writes (it would wait for itself).
        """
        published = [a for a in articles if a.state == ArticleState.published]
        with db.engine.begin() as connection:
            # In the order indexers write them: an index() in flight finishes first, later
            # ones wait for the new rows; searches (ACCESS SHARE) go on reading the old.
            connection.execute(_WRITERS, {"key": WRITERS_KEY})
            connection.execute(text(f"LOCK TABLE {_TABLES} IN EXCLUSIVE MODE"))
            numbers = dict(connection.execute(_NUMBERED).all())
            for table in (_total, _stem, _vocabulary, _word, _block, _posting, _facet, _document):
                connection.execute(delete(table))
            connection.execute(_COUNT_DOCUMENTS, {"delta": len(published)})
            # Numbers for new articles before they are analysed (their words are copied
            # as they come); a rebuild that fails leaves those numbers unused, a gap the
            # ranking's arrays bear (`postgres_ranking._distinct`).
            new = [a.slug for a in published if a.slug not in numbers]
            if new:
                fresh = connection.scalars(_NUMBERS, {"count": len(new)}).all()
                numbers.update(zip(new, fresh, strict=True))
            published.sort(key=lambda article: numbers[article.slug])  # blocks: number order
            with connection.connection.driver_connection.cursor() as cursor:
                rows = copy_words(cursor, published, numbers, progress)
                if rows:
                    copy_index(cursor, rows)
            # Fresh statistics with the fresh rows: without them the planner guesses the
            # vocabulary lookups badly (30 ms instead of 1 ms at 2,000 articles).
            connection.execute(text(f"ANALYZE {_TABLES}"))
            # Last before the commit (a sequence does not roll back), so a rebuild that
            # fails leaves the numbering as it was.
            connection.execute(_RESTART_FACETS)
        if rows:
            _vacuum("search_posting")
        return len(rows)

    def check(self) -> None:
        try:
            db.session.execute(select(_document.c.slug).limit(1)).all()
        except SQLAlchemyError:
            db.session.rollback()
            raise

    # --- querying ----------------------------------------------------------------------

    def search(
        self, query: str, user_filter: Visibility, **filters: Unpack[SearchFilters]
    ) -> SearchResults:
        try:
            return self._search(query, user_filter, **filters)
        except SQLAlchemyError as error:
            # The failed statement aborted the transaction; end it so the page can
            # still render its 503 with the session usable.
            log.warning("search: PostgreSQL full-text query failed: %s", error)
            db.session.rollback()
            raise SearchUnavailable() from error

    def _search(
        self, text_: str, visible: Visibility, system=None, category=None, limit: int = 10
    ) -> SearchResults:
        results = SearchResults(query=text_)
        tokens = words(text_)
        synonyms = self.synonyms
        stats = _Stats(visible)
        stats.ensure(_candidate_stems(tokens, synonyms))
        node, corrections = build_query(
            tokens,
            synonyms,
            known=stats.known,
            frequency=stats.df,
            near_words=lambda word: self._near_words(word, visible, stats),
            docs=stats.docs,
        )
        if corrections:
            results.suggestion = suggestion(tokens, corrections)
        if node is None:
            return results
        stems = node.stems()
        stats.ensure(stems)
        answer = Answer(node, stats, visible, system, category, max(limit, 0))
        results.total = answer.total
        results.facets = answer.facets
        seen: dict[str, bool] = {}
        for shown in answer.page:
            results.hits.append(
                Hit.found(shown, snippet(shown["body"], stems, seen=seen), shown["score"])
            )
        return results

    def _near_words(self, word: str, visible: Visibility, stats: _Stats) -> list[str]:
        """Visible words within one or two edits, closest and most frequent first.

        The candidates come from the distinct words (same first letter, similar
        length); one visible article holding the word keeps it (EXISTS per candidate).
        """
        if len(word) < 4:
            return []
        maxdist = 1 if len(word) < 8 else 2
        held = (
            select(_word.c.document)
            .where(_word.c.word == _vocabulary.c.word, visibility_clause(visible, _word))
            .exists()
        )
        query = (
            select(_vocabulary.c.word, _vocabulary.c.stem, _stem.c.documents)
            .join(_stem, _stem.c.stem == _vocabulary.c.stem)
            .where(
                _vocabulary.c.word.startswith(word[0], autoescape=True),
                func.length(_vocabulary.c.word).between(len(word) - maxdist, len(word) + maxdist),
                _vocabulary.c.word != word,
            )
        )
        if self.fuzzystrmatch:
            # Levenshtein counts a transposition as two edits; Python checks the
            # Damerau distance of what is left.
            loose = 2 * maxdist
            query = query.where(
                func.levenshtein_less_equal(_vocabulary.c.word, cast(word, String), loose) <= loose
            )
        query = query.where(held)
        close: dict[str, str] = {}
        for candidate, stemmed, frequency in db.session.execute(query):
            if within(word, candidate, maxdist):
                close[candidate] = stemmed
                stats.add_visible(stemmed, frequency)
        return closest(word, {candidate: stats.df(s) for candidate, s in close.items()})


def _vacuum(table: str) -> None:
    """VACUUM after a rebuild, so the postings' covering index is read without the heap."""
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f"VACUUM {table}"))
    except SQLAlchemyError as error:
        log.warning("search: VACUUM %s failed (%s); autovacuum will do it", table, error)


def _ensure_extension(name: str) -> bool:
    """CREATE EXTENSION IF NOT EXISTS in its own transaction; False when not allowed."""
    try:
        with db.engine.begin() as connection:
            present = connection.scalar(
                text("SELECT 1 FROM pg_extension WHERE extname = :name"), {"name": name}
            )
            if present:
                return True
            connection.execute(text(f'CREATE EXTENSION IF NOT EXISTS "{name}"'))
        return True
    except SQLAlchemyError as error:
        log.warning("search: extension %s unavailable (%s); typos matched in Python", name, error)
        return False


__all__ = ["PostgresBackend"]

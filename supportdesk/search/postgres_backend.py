"""The PostgreSQL full-text backend: shared index for several app nodes (DESIGN §6).

Both backends analyse text with supportdesk.search.analysis and expand queries with
`build_query`, so folding, stemming, stop words, synonyms, compound splitting and
typo matching behave the same. Here the analysed lexemes are stored as a weighted
tsvector (A title, B tags, D body; the 'simple' configuration is never applied, so
nothing is stemmed twice) in `search_document`, and the unstemmed words with the
document's visibility in `search_word`.

Visibility is part of every WHERE clause: results, the total, the facets, the words
used for compounds and typos, and "Mente du …?" only ever come from articles the
caller may see. Typo candidates are found with fuzzystrmatch's
`levenshtein_less_equal` when the extension can be created, otherwise by the
Damerau-Levenshtein distance in Python over the visible words with the same first
letter and a similar length. There is no answer cache: every node reads the same
tables, so a change on one node shows on all at once.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Unpack

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.exc import SQLAlchemyError

from supportdesk.extensions import db
from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.search import Hit, SearchFilters, SearchResults, SearchUnavailable, Visibility
from supportdesk.search.analysis import (
    _LINKS,
    MIN_PART,
    danish_analyzer,
    is_stop,
    stem,
    words,
)
from supportdesk.search.models import SearchDocument, SearchStem, SearchWord
from supportdesk.search.query import Node, build_query, distance
from supportdesk.search.synonyms import Synonyms
from supportdesk.search.whoosh_backend import plain_text, snippet

log = logging.getLogger(__name__)

# ts_rank weights in the order D, C, B, A: body 1, tags 2, title 3 parts (ts_rank wants ≤ 1).
RANK_WEIGHTS = "'{0.3333, 0, 0.6667, 1.0}'::real[]"
# ts_rank normalisation 1: divide by 1 + log(document length), as BM25 damps long articles.
RANK_NORMALISATION = 1
MAX_WORD = 100  # longer "words" (hashes, glued URLs) are neither indexed nor suggested
MAX_POSITION = 16383  # PostgreSQL's limit for a tsvector position
MAX_POSITIONS = 255  # positions kept per lexeme

_document = SearchDocument.__table__
_word = SearchWord.__table__
_stem = SearchStem.__table__

_UPSERT_DOCUMENT = text(
    "INSERT INTO search_document (slug, system, category, audience, municipality_id,"
    " vendor_id, title, tags, body, document) VALUES (:slug, :system, :category, :audience,"
    " :municipality_id, :vendor_id, :title, :tags, :body, CAST(:document AS tsvector))"
    " ON CONFLICT (slug) DO UPDATE SET system = excluded.system, category = excluded.category,"
    " audience = excluded.audience, municipality_id = excluded.municipality_id,"
    " vendor_id = excluded.vendor_id, title = excluded.title, tags = excluded.tags,"
    " body = excluded.body, document = excluded.document"
)
_INSERT_WORDS = text(
    "INSERT INTO search_word (slug, word, stem, audience, municipality_id, vendor_id)"
    " SELECT :slug, w.word, w.stem, :audience, :municipality_id, :vendor_id"
    " FROM unnest(CAST(:words AS text[]), CAST(:stems AS text[])) AS w(word, stem)"
    " ON CONFLICT DO NOTHING"
)
_DELETE_WORDS = text("DELETE FROM search_word WHERE slug = :slug RETURNING stem")
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
_RECOUNT_STEMS = text(
    "INSERT INTO search_stem (stem, documents)"
    " SELECT stem, count(DISTINCT slug) FROM search_word GROUP BY stem"
)
# A copy of the document computed once per matched row: every ts_rank of the score then
# reads it as is, instead of decompressing the stored (TOAST-compressed) value again.
_DETOASTED = literal_column("search_document.document || ''::tsvector")


def _quote(lexeme: str) -> str:
    """A lexeme as a tsvector/tsquery literal."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(title: str, tags: str, body: str) -> str:
    """The analysed lexemes with positions and weights, in tsvector input syntax."""
    analyzer = danish_analyzer()
    positions: dict[str, list[str]] = {}
    position = 0
    for value, weight in ((title, "A"), (tags, "B"), (body, "")):  # D is the default weight
        for token in analyzer(value):
            lexeme = token.text
            position += 1
            if len(lexeme) > MAX_WORD:
                continue
            kept = positions.setdefault(lexeme, [])
            if len(kept) < MAX_POSITIONS and position <= MAX_POSITION:
                kept.append(f"{position}{weight}")
    return " ".join(f"{_quote(lexeme)}:{','.join(p)}" for lexeme, p in positions.items())


def vocabulary(title: str, tags: str, body: str) -> list[str]:
    """The distinct unstemmed words (folded, no stop words), as Whoosh's `words` field."""
    analyzer = danish_analyzer(stemming=False)
    seen: dict[str, None] = {}
    for value in (title, tags, body):
        for token in analyzer(value):
            if len(token.text) <= MAX_WORD:
                seen.setdefault(token.text, None)
    return list(seen)


def row_for(article: Article) -> dict:
    tags = " , ".join(article.tags or [])
    body = plain_text(article.body)
    unstemmed = vocabulary(article.title, tags, body)
    return {
        "slug": article.slug,
        "system": article.system.slug,
        "category": article.category.slug,
        "audience": Audience(article.audience).value,
        "municipality_id": article.municipality_id,
        "vendor_id": article.system.vendor_id,
        "title": article.title,
        "tags": tags,
        "body": body,
        "document": tsvector_literal(article.title, tags, body),
        "words": unstemmed,
        "stems": [stem(w) for w in unstemmed],
    }


def visibility_clause(visible: Visibility, table) -> ColumnElement[bool]:
    """The rule of `whoosh_backend.visibility_query` over a table's visibility columns."""
    if visible.everything:
        return true()
    allowed: list[ColumnElement[bool]] = [table.c.audience == Audience.public.value]
    if visible.first_level:
        allowed.append(table.c.audience == Audience.first_level.value)
    if visible.municipality_id is not None:
        allowed.append(
            and_(
                table.c.audience == Audience.municipal.value,
                table.c.municipality_id == visible.municipality_id,
            )
        )
    if visible.vendor_id is not None:
        allowed.append(
            and_(
                table.c.audience == Audience.vendor_internal.value,
                table.c.vendor_id == visible.vendor_id,
            )
        )
    return or_(*allowed)


def tsquery_text(node: Node) -> str:
    if node.kind == "term":
        return _quote(node.stemmed)
    joiner = " & " if node.kind == "and" else " | "
    return "(" + joiner.join(tsquery_text(child) for child in node.children) + ")"


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
        # Whether the caller may see a stem: one visible word row is enough (EXISTS).
        seen = (
            select(_word.c.slug)
            .where(_word.c.stem == _stem.c.stem, visibility_clause(self.visible, _word))
            .exists()
        )
        # The count of documents rides along: a one-row table left-joined to the stems,
        # so it comes back even when no stem is known.
        documents = select(func.count().label("n")).select_from(_document).subquery("documents")
        query = select(documents.c.n, _stem.c.stem, _stem.c.documents, seen).select_from(
            documents.outerjoin(_stem, _stem.c.stem.in_(missing))
        )
        for docs, stemmed, frequency, visible in db.session.execute(query):
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
            self._docs = db.session.scalar(select(func.count()).select_from(_document)) or 0
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
    """Search over the `search_document` and `search_word` tables in the app's database.

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
        # The upsert locks the document row first, so two nodes indexing the same
        # article take turns instead of failing on the words' primary key.
        db.session.execute(_UPSERT_DOCUMENT, row)
        old = set(db.session.scalars(_DELETE_WORDS, {"slug": article.slug}))
        db.session.execute(_INSERT_WORDS, row)
        new = set(row["stems"])
        self._count_stems(added=new - old, gone=old - new)

    def remove(self, slug: str) -> None:
        # the document row first, as index() does: one lock order, no deadlock between them
        db.session.execute(delete(_document).where(_document.c.slug == slug))
        gone = set(db.session.scalars(_DELETE_WORDS, {"slug": slug}))
        self._count_stems(added=set(), gone=gone)

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

        Runs on a connection of its own, so the caller's session must not hold
        uncommitted index() writes (it would wait for itself).
        """
        rows = [row_for(a) for a in articles if a.state == ArticleState.published]
        if progress is not None:
            progress(len(rows))
        with db.engine.begin() as connection:
            # In the order indexers write them: an index() in flight finishes first, later
            # ones wait for the new rows; searches (ACCESS SHARE) go on reading the old.
            connection.execute(
                text("LOCK TABLE search_document, search_word, search_stem IN EXCLUSIVE MODE")
            )
            connection.execute(delete(_stem))
            connection.execute(delete(_word))
            connection.execute(delete(_document))
            if rows:
                connection.execute(_UPSERT_DOCUMENT, rows)
                connection.execute(_INSERT_WORDS, rows)
                connection.execute(_RECOUNT_STEMS)
            # Fresh statistics with the fresh rows: without them the planner guesses the
            # vocabulary lookups badly (30 ms instead of 1 ms at 2,000 articles).
            connection.execute(text("ANALYZE search_document, search_word, search_stem"))
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
            changed = [corrections.get(w, w) for w in tokens]
            results.suggestion = None if changed == tokens else " ".join(changed)
        if node is None:
            return results
        stats.ensure(node.stems())
        matches = _document.c.document.op("@@")(cast(tsquery_text(node), TSQUERY))
        where = [matches, visibility_clause(visible, _document)]
        if system:
            where.append(_document.c.system == system)
        if category:
            where.append(_document.c.category == category)

        rows = db.session.execute(_answer_query(node, stats, where, max(limit, 0))).all()
        # Facet rows carry a count, hit rows a slug (at most `limit`, best first).
        counts = [(r.system, r.category, r.n) for r in rows if r.slug is None]
        hits = sorted((r for r in rows if r.slug is not None), key=lambda r: (-r.score, r.slug))
        results.total = sum(n for _s, _c, n in counts)
        for position, name in enumerate(("system", "category")):
            totals: dict[str, int] = {}
            for row in counts:
                totals[row[position]] = totals.get(row[position], 0) + row[2]
            results.facets[name] = dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
        stems = node.stems()
        for row in hits:
            results.hits.append(
                Hit(
                    slug=row.slug,
                    title=row.title,
                    system=row.system,
                    category=row.category,
                    snippet=snippet(row.body, stems),
                    score=round(float(row.score), 4),
                )
            )
        return results

    def _near_words(self, word: str, visible: Visibility, stats: _Stats) -> list[str]:
        """Visible words within one or two edits, closest and most frequent first."""
        if len(word) < 4:
            return []
        maxdist = 1 if len(word) < 8 else 2
        query = (
            select(_word.c.word, _word.c.stem, _stem.c.documents)
            .join(_stem, _stem.c.stem == _word.c.stem)
            .where(
                _word.c.word.startswith(word[0], autoescape=True),
                func.length(_word.c.word).between(len(word) - maxdist, len(word) + maxdist),
                _word.c.word != word,
                visibility_clause(visible, _word),
            )
            .distinct()
        )
        if self.fuzzystrmatch:
            # Levenshtein counts a transposition as two edits; Python checks the
            # Damerau distance of what is left.
            loose = 2 * maxdist
            query = query.where(
                func.levenshtein_less_equal(_word.c.word, cast(word, String), loose) <= loose
            )
        close: dict[str, str] = {}
        for candidate, stemmed, frequency in db.session.execute(query):
            if distance(word, candidate) <= maxdist:
                close[candidate] = stemmed
                stats.add_visible(stemmed, frequency)
        scored = {
            candidate: (distance(word, candidate), -stats.df(stemmed))
            for candidate, stemmed in close.items()
        }
        return sorted(scored, key=lambda c: (scored[c], c))


def _answer_query(node: Node, stats: _Stats, where: list, limit: int):
    """One statement, one pass over the matches: facet counts and the best `limit` hits.

    The matched rows are scored once into a CTE; its GROUP BY gives the facets (and so
    the total) and its top rows, joined back for title and body, the hits.
    """
    matched = (
        select(
            _document.c.slug,
            _document.c.system,
            _document.c.category,
            _DETOASTED.label("document"),
        )
        .where(*where)
        .offset(0)  # keeps the subquery, so the copy is made once per row
        .subquery("matched")
    )
    scored = select(
        matched.c.slug,
        matched.c.system,
        matched.c.category,
        _score(node, stats, matched.c.document).label("score"),
    ).cte("scored")
    best = (
        select(
            scored.c.slug,
            scored.c.system,
            scored.c.category,
            scored.c.score,
            _document.c.title,
            _document.c.body,
            cast(null(), Integer).label("n"),
        )
        .join(_document, _document.c.slug == scored.c.slug)
        .order_by(scored.c.score.desc(), scored.c.slug)
        .limit(limit)
        .subquery("best")
    )
    facets = select(
        cast(null(), String).label("slug"),
        scored.c.system,
        scored.c.category,
        cast(null(), Float).label("score"),
        cast(null(), String).label("title"),
        cast(null(), Text).label("body"),
        func.count().label("n"),
    ).group_by(scored.c.system, scored.c.category)
    return union_all(select(best), facets)


def _score(node: Node, stats: _Stats, document) -> ColumnElement[float]:
    """The node's score as SQL: idf times weighted ts_rank per stem, summed like the tree.

    ts_rank has no idea of rarity, so each stem's rank is multiplied by its BM25 idf
    from the document frequencies the query already fetched.
    """
    if node.kind == "term":
        df = stats.df(node.stemmed)
        n = max(stats.docs, 1)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        rank = func.ts_rank(
            literal_column(RANK_WEIGHTS),
            document,
            cast(_quote(node.stemmed), TSQUERY),
            RANK_NORMALISATION,
        )
        return literal(round(idf * node.boost, 6)) * rank
    parts = [_score(child, stats, document) for child in node.children]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    if node.kind == "and":
        return case((document.op("@@")(cast(tsquery_text(node), TSQUERY)), total), else_=0.0)
    if node.scale:
        hits = [
            case((document.op("@@")(cast(tsquery_text(child), TSQUERY)), 1.0), else_=0.0)
            for child in node.children
        ]
        matched = hits[0]
        for hit in hits[1:]:
            matched = matched + hit
        share = literal(node.scale / len(node.children))
        return total * (literal(1 - node.scale) + share * matched)
    return total


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


__all__ = ["PostgresBackend", "tsvector_literal", "visibility_clause"]

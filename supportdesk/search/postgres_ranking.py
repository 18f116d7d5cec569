"""The PostgreSQL backend's ranking: a query tree's total, facets and page.

A search reads the packed postings (`search_block`) of its stems that the caller may
see, one row per stem and visibility key, and ranks, counts and facets them in numpy;
only the shown page's articles are read besides.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from sqlalchemy import ColumnElement, text, true

from supportdesk.extensions import db
from supportdesk.faq.models import Audience, Visibility
from supportdesk.search.postings import idf
from supportdesk.search.query import Node
from supportdesk.search.ranking import array_scores


class Statistics(Protocol):
    """What scoring needs of the index: a stem's document frequency, the document count."""

    def df(self, stemmed: str) -> int: ...

    @property
    def docs(self) -> int: ...


NOBODY = -1  # a municipal article without a municipality: only `everything` sees it


def visibility_key(audience: str, municipality_id: int | None, vendor_id: int | None) -> int:
    """One integer per group of readers, stored with every posting and word.

    public 0, first level 1, one municipality's articles 2 + 2 x its id, one vendor's
    internal articles 3 + 2 x its id: a caller may see an article when its key is one
    of `visibility_keys` (at most four), a condition the index checks by itself.
    """
    match Audience(audience):
        case Audience.public:
            return 0
        case Audience.first_level:
            return 1
        case Audience.municipal if municipality_id is not None:
            return 2 + 2 * municipality_id
        case Audience.vendor_internal if vendor_id is not None:
            return 3 + 2 * vendor_id
    return NOBODY


def visibility_keys(visible: Visibility) -> tuple[int, ...] | None:
    """The keys a caller may see (the rule of `whoosh_backend.visibility_query`);
    None for `everything`."""
    if visible.everything:
        return None
    keys = [visibility_key(Audience.public, None, None)]
    if visible.first_level:
        keys.append(visibility_key(Audience.first_level, None, None))
    if visible.municipality_id is not None:
        keys.append(visibility_key(Audience.municipal, visible.municipality_id, None))
    if visible.vendor_id is not None:
        keys.append(visibility_key(Audience.vendor_internal, None, visible.vendor_id))
    return tuple(keys)


def visibility_clause(visible: Visibility, table) -> ColumnElement[bool]:
    """Whether a row of `table` (with a `visibility` key column) is visible to a caller."""
    keys = visibility_keys(visible)
    return true() if keys is None else table.c.visibility.in_(keys)


def visibility_sql(visible: Visibility, column: str) -> str:
    """`visibility_clause` as SQL text: the keys are integers, rendered as literals."""
    keys = visibility_keys(visible)
    if keys is None:
        return "true"
    return f"{column} = ANY('{{{','.join(map(str, keys))}}}'::integer[])"


# The blocks of the query stems the caller may see, and every facet's number and name
# (a few dozen rows: one table of systems and categories) to name the counts.
_BLOCKS = (
    "SELECT b.stem, b.postings, NULL AS kind, NULL AS name, NULL AS id"
    " FROM search_block b WHERE b.stem = ANY(CAST(:stems AS text[])) AND {visible}"
    " UNION ALL SELECT NULL, NULL, kind, name, id FROM search_facet"
)
# The shown page's text, for articles the caller may still see: an edit committed since
# the blocks were read may have moved one to another audience (a posting of the article
# with one of the caller's keys: all of an article's postings carry its key).
_SHOWN = (
    "SELECT d.id, d.slug, d.title, d.body FROM search_document d"
    " WHERE d.id = ANY(CAST(:ids AS integer[])) AND EXISTS (SELECT 1 FROM search_posting p"
    " WHERE p.document = d.id AND {visible})"
)
# A posting in a block, as PostgreSQL's int4send, float4send and int2send write its
# values one after the other (`SearchBlock`).
POSTING = np.dtype([("document", ">i4"), ("weight", ">f4"), ("system", ">i2"), ("category", ">i2")])


# Up to this many times as many numbers as postings, the distinct documents are marked
# in an array as long as the highest number instead of sorted.
SPREAD = 8


def _distinct(documents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct document numbers ascending, and where each of `documents` is among
    them (`np.unique(documents, return_inverse=True)`).

    Articles keep their numbers and new ones take the next, so the numbers are about
    as many as the articles: marking them in an array costs less than sorting the tens
    of thousands of postings of a long query. Sorted when the numbers are far sparser
    than the postings (a short query, or an index numbered by an older version).
    """
    top = int(documents.max()) + 1
    if top > SPREAD * len(documents) + 65536:
        return np.unique(documents, return_inverse=True)
    present = np.zeros(top, bool)
    present[documents] = True
    found = np.flatnonzero(present)
    place = np.empty(top, np.int32)
    place[found] = np.arange(len(found), dtype=np.int32)
    return found, place[documents]


class _Terms:
    """Each query stem's weight in every document of the answer (0.0 where absent), and
    its idf: what `ranking.array_scores` reads of an index."""

    def __init__(self, weights: dict[str, np.ndarray], idfs: dict[str, float]) -> None:
        self.weights, self.idfs = weights, idfs

    def term_weights(self, stemmed: str) -> tuple[list, float]:
        return [], self.idfs[stemmed]

    def term_array(self, stemmed: str, _docs: np.ndarray) -> np.ndarray:
        return self.weights[stemmed]


class _Facets:
    """Every facet's name by number and number by (kind, name): one small table."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.numbers: dict[tuple[str, str], int] = {}

    def add(self, number: int, kind: str, name: str) -> None:
        self.names[number] = name
        self.numbers[(kind, name)] = number


class _Matches:
    """The documents of a query's blocks: their numbers ascending, each stem's weight in
    each of them (0.0 where absent) and their system and category numbers."""

    def __init__(self, blocks: dict[str, list[np.ndarray]]) -> None:
        parts = [postings["document"] for same in blocks.values() for postings in same]
        self.documents, place = (
            _distinct(np.concatenate(parts)) if parts else (np.zeros(0, np.int64), None)
        )
        self.systems = np.zeros(len(self.documents), np.int32)
        self.categories = np.zeros(len(self.documents), np.int32)
        self.weights: dict[str, np.ndarray] = {}
        start = 0
        for stemmed, same in blocks.items():
            self.weights[stemmed] = np.zeros(len(self.documents))
            for postings in same:
                at = place[start : start + len(postings)]
                start += len(postings)
                self.weights[stemmed][at] = postings["weight"]
                self.systems[at] = postings["system"]
                self.categories[at] = postings["category"]


class Answer:
    """The total, the facets and the best `limit` hits of one query tree.

    One statement reads the blocks of the query's stems the caller may see (a few dozen
    rows however many documents hold them); numpy spreads each stem's weights over the
    documents found, scores them with the Whoosh backend's own array scorer
    (`ranking.array_scores`: the same arithmetic, so both backends rank alike), and
    counts the matched documents per system and category. A second statement reads the
    slug, title and body of the best `limit` and their ties, which are ordered by slug:
    the other articles' text is not read.
    """

    def __init__(self, node: Node, stats: Statistics, visible, system, category, limit: int):
        stems = sorted(node.stems())
        blocks, facets = _read_blocks(stems, visible)
        matches = _Matches(blocks)
        documents = max(stats.docs, 1)
        terms = _Terms(matches.weights, {s: idf(stats.df(s), documents) for s in stems})
        scores = array_scores(node, terms, matches.documents, {})
        # Every weight and idf is positive: a document matches exactly when it scores.
        matched = scores > 0.0
        for kind, value, column in (
            ("system", system, matches.systems),
            ("category", category, matches.categories),
        ):
            if value:
                matched &= column == facets.numbers.get((kind, value), -1)
        chosen = np.flatnonzero(matched)
        self.total = len(chosen)
        self.facets: dict[str, dict[str, int]] = {}
        for name, column in (("system", matches.systems), ("category", matches.categories)):
            values, counts = np.unique(column[chosen], return_counts=True)
            totals = dict(zip(map(facets.names.get, values.tolist()), counts.tolist(), strict=True))
            self.facets[name] = dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
        # slug, title, body, system, category and score of each shown hit, best first
        self.page: list[dict] = []
        if limit > 0 and self.total:
            self.page = _page(matches, facets, chosen, scores[chosen], visible, limit)


def _read_blocks(stems: list[str], visible) -> tuple[dict[str, list[np.ndarray]], _Facets]:
    """The postings of each stem's blocks the caller may see, and the facets."""
    statement = text(_BLOCKS.format(visible=visibility_sql(visible, "b.visibility")))
    blocks: dict[str, list[np.ndarray]] = {s: [] for s in stems}
    facets = _Facets()
    for row in db.session.execute(statement, {"stems": stems}):
        if row.stem is None:
            facets.add(row.id, row.kind, row.name)
        else:
            blocks[row.stem].append(np.frombuffer(row.postings, POSTING))
    return blocks, facets


def _page(
    matches: _Matches, facets: _Facets, chosen: np.ndarray, best: np.ndarray, visible, limit: int
) -> list[dict]:
    """The best `limit` of the chosen documents (positions in `matches`, scored `best`),
    ties at the cut ordered by slug, with their text."""
    if len(best) > limit:
        # Every document scoring at least the `limit`-th best score, ties included.
        cut = np.partition(best, len(best) - limit)[len(best) - limit]
        chosen, best = chosen[best >= cut], best[best >= cut]
    numbers = matches.documents[chosen].tolist()
    score = dict(zip(numbers, best.tolist(), strict=True))
    position = dict(zip(numbers, chosen.tolist(), strict=True))
    shown = text(_SHOWN.format(visible=visibility_sql(visible, "p.visibility")))
    page = []
    for row in db.session.execute(shown, {"ids": numbers}):
        at = position[row.id]
        page.append(
            {
                "slug": row.slug,
                "title": row.title,
                "body": row.body,
                "system": facets.names[int(matches.systems[at])],
                "category": facets.names[int(matches.categories[at])],
                "score": score[row.id],
            }
        )
    page.sort(key=lambda hit: (-hit["score"], hit["slug"]))
    return page[:limit]


__all__ = [
    "POSTING",
    "Answer",
    "Statistics",
    "visibility_clause",
    "visibility_key",
    "visibility_keys",
    "visibility_sql",
]

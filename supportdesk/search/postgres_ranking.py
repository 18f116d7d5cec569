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
_SHOWN = text(
    "SELECT id, slug, title, body FROM search_document WHERE id = ANY(CAST(:ids AS integer[]))"
)
# A posting in a block, as PostgreSQL's int4send, float4send and int2send write its
# values one after the other (`SearchBlock`).
POSTING = np.dtype([("document", ">i4"), ("weight", ">f4"), ("system", ">i2"), ("category", ">i2")])


def _distinct(documents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct document numbers ascending, and where each of `documents` is among
    them: `np.unique(documents, return_inverse=True)` without sorting, over an array as
    long as the highest number (the numbers are dense: rebuild() numbers from 1)."""
    present = np.zeros(int(documents.max()) + 1, bool)
    present[documents] = True
    return np.flatnonzero(present), (np.cumsum(present) - 1)[documents]


class _Terms:
    """Each query stem's weight in every document of the answer (0.0 where absent), and
    its idf: what `ranking.array_scores` reads of an index."""

    def __init__(self, weights: dict[str, np.ndarray], idfs: dict[str, float]) -> None:
        self.weights, self.idfs = weights, idfs

    def term_weights(self, stemmed: str) -> tuple[list, float]:
        return [], self.idfs[stemmed]

    def term_array(self, stemmed: str, _docs: np.ndarray) -> np.ndarray:
        return self.weights[stemmed]


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
        statement = text(_BLOCKS.format(visible=visibility_sql(visible, "b.visibility")))
        blocks: dict[str, list] = {s: [] for s in stems}
        names: dict[int, str] = {}
        numbers: dict[tuple[str, str], int] = {}
        for row in db.session.execute(statement, {"stems": stems}):
            if row.stem is None:
                names[row.id] = row.name
                numbers[(row.kind, row.name)] = row.id
            else:
                blocks[row.stem].append(np.frombuffer(row.postings, POSTING))
        parts = [postings["document"] for same in blocks.values() for postings in same]
        found, where = _distinct(np.concatenate(parts)) if parts else ([], [])
        systems = np.zeros(len(found), np.int32)
        categories = np.zeros(len(found), np.int32)
        weights: dict[str, np.ndarray] = {}
        start = 0
        for stemmed, same in blocks.items():
            weights[stemmed] = np.zeros(len(found))
            for postings in same:
                at = where[start : start + len(postings)]
                start += len(postings)
                weights[stemmed][at] = postings["weight"]
                systems[at] = postings["system"]
                categories[at] = postings["category"]
        documents = max(stats.docs, 1)
        idfs = {s: idf(stats.df(s), documents) for s in stems}
        # Every weight and idf is positive: a document matches exactly when it scores.
        scores = array_scores(node, _Terms(weights, idfs), found, {}) if parts else np.zeros(0)
        matched = scores > 0.0
        for kind, value, column in (
            ("system", system, systems),
            ("category", category, categories),
        ):
            if value:
                matched &= column == numbers.get((kind, value), -1)
        chosen = np.flatnonzero(matched)
        self.total = len(chosen)
        self.facets: dict[str, dict[str, int]] = {}
        for name, column in (("system", systems), ("category", categories)):
            values, counts = np.unique(column[chosen], return_counts=True)
            totals = dict(zip(map(names.get, values.tolist()), counts.tolist(), strict=True))
            self.facets[name] = dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
        # slug, title, body, system, category and score of each shown hit, best first
        self.page: list[dict] = []
        if limit <= 0 or not self.total:
            return
        best = scores[chosen]
        if len(best) > limit:
            # Every document scoring at least the `limit`-th best score, ties included.
            cut = np.partition(best, len(best) - limit)[len(best) - limit]
            chosen, best = chosen[best >= cut], best[best >= cut]
        score = dict(zip(found[chosen].tolist(), best.tolist(), strict=True))
        facet = dict(zip(found[chosen].tolist(), chosen.tolist(), strict=True))
        for row in db.session.execute(_SHOWN, {"ids": list(score)}):
            at = facet[row.id]
            self.page.append(
                {
                    "slug": row.slug,
                    "title": row.title,
                    "body": row.body,
                    "system": names[int(systems[at])],
                    "category": names[int(categories[at])],
                    "score": score[row.id],
                }
            )
        self.page.sort(key=lambda hit: (-hit["score"], hit["slug"]))
        del self.page[limit:]


__all__ = [
    "POSTING",
    "Answer",
    "Statistics",
    "visibility_clause",
    "visibility_key",
    "visibility_keys",
    "visibility_sql",
]

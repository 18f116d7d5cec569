"""The PostgreSQL backend's ranking: a query tree's total, facets and page in one statement.

The statement reads the postings of the query's stems that the caller may see (an
index-only scan of the covering index `ix_search_posting_rank`, the visibility and
filters evaluated in the index) and sums them per article; nothing else is read.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from sqlalchemy import ColumnElement, and_, or_, text, true
from sqlalchemy.dialects import postgresql

from supportdesk.extensions import db
from supportdesk.faq.models import Audience, Visibility
from supportdesk.search.models import SearchPosting
from supportdesk.search.postings import idf
from supportdesk.search.query import Node

_posting = SearchPosting.__table__


class Statistics(Protocol):
    """What scoring needs of the index: a stem's document frequency, the document count."""

    def df(self, stemmed: str) -> int: ...

    @property
    def docs(self) -> int: ...


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


MASK_BITS = 63  # stems per bigint presence mask


class _Plan:
    """A query tree as a linear sum per document: what one pass over the postings sums.

    Each leaf contributes idf x boost x its stem's weight, times the factors of its
    ancestors that depend on which stems a document holds: an "and" counts only when
    complete, an "or" with a scale multiplies by its coordination. Leaves under the same
    such ancestors form a group summed together; a document's presence of each stem is
    a bit in a mask. The score is then computed once per document from the group sums
    and the masks, as `Node.scores` computes it. Written as SQL text: the statement's
    shape differs with every query, and SQLAlchemy's compiler cost more than the query.
    """

    def __init__(self, node: Node, stats: Statistics) -> None:
        self.stems = sorted(node.stems())
        self.bit = {s: i for i, s in enumerate(self.stems)}
        self.groups: dict[tuple[int, ...], int] = {}
        self.leaves: list[tuple[str, int, float]] = []  # (stem, group, coefficient)
        self.nodes: dict[int, Node] = {}
        self._walk(node, stats, ())
        self.root = node

    def _walk(self, node: Node, stats: Statistics, path: tuple[int, ...]) -> None:
        if node.kind == "term":
            weight = idf(stats.df(node.stemmed), max(stats.docs, 1))
            group = self.groups.setdefault(path, len(self.groups))
            self.leaves.append((node.stemmed, group, weight * node.boost))
            return
        if node.kind == "and" or node.scale:
            self.nodes[id(node)] = node
            path = (*path, id(node))
        for child in node.children:
            self._walk(child, stats, path)

    @property
    def words(self) -> range:
        return range(len(self.stems) // MASK_BITS + 1)

    def matched(self, node: Node) -> str:
        """Whether a document matches the tree (as its tsquery would), over the masks."""
        if node.kind == "term":
            word, bit = divmod(self.bit[node.stemmed], MASK_BITS)
            return f"(m{word} & {1 << bit}) <> 0"
        joiner = " AND " if node.kind == "and" else " OR "
        return "(" + joiner.join(self.matched(child) for child in node.children) + ")"

    def score(self) -> str:
        parts = []
        for path, group in self.groups.items():
            factors = [self._factor(self.nodes[node_id]) for node_id in path]
            parts.append(" * ".join([f"coalesce(s{group}, 0)", *factors]))
        return " + ".join(parts)

    def _factor(self, node: Node) -> str:
        if node.kind == "and":
            return f"(CASE WHEN {self.matched(node)} THEN 1 ELSE 0 END)"
        hits = " + ".join(
            f"(CASE WHEN {self.matched(child)} THEN 1 ELSE 0 END)" for child in node.children
        )
        return f"({1 - node.scale!r} + {node.scale / len(node.children)!r} * ({hits}))"

    def leaf_rows(self) -> tuple[str, dict[str, object]]:
        """One row per stem (so each stem's postings are read once): its mask word and
        bit and its coefficient in each group, as a VALUES list and its params."""
        coefficients = {s: [0.0] * len(self.groups) for s in self.stems}
        for stemmed, group, coefficient in self.leaves:
            coefficients[stemmed][group] += coefficient
        rows, params = [], {}
        for i, stemmed in enumerate(self.stems):
            word, bit = divmod(i, MASK_BITS)
            params[f"stem{i}"] = stemmed
            factors = "".join(f", CAST({c!r} AS float8)" for c in coefficients[stemmed])
            rows.append(f"(CAST(:stem{i} AS text), {word}, CAST({1 << bit} AS bigint){factors})")
        return "VALUES " + ", ".join(rows), params


_ANSWER = """
WITH leaf (stem, word, bit, {coefficients}) AS ({leaves}),
per_document AS (
    SELECT search_posting.slug, search_posting.system, search_posting.category,
           {sums}, {masks}
    FROM search_posting JOIN leaf ON leaf.stem = search_posting.stem
    WHERE {where}
    GROUP BY search_posting.slug, search_posting.system, search_posting.category
),
scored AS (
    SELECT slug, system, category, {score} AS score FROM per_document WHERE {matched}
)
(SELECT slug, system, category, score, CAST(NULL AS bigint) AS n
 FROM scored ORDER BY score DESC, slug LIMIT :limit)
UNION ALL
SELECT NULL, system, category, NULL, count(*) FROM scored GROUP BY system, category
"""


class Answer:
    """The total, the facets and the best `limit` hits of one query tree: one statement.

    One pass over the query stems' postings the caller may see (an index-only scan of
    the covering index, filters included) sums per document the groups of `_Plan` and
    the masks of the stems it holds; the score follows per document, the matched
    documents give the facet counts (and so the total) and, sorted, the page. The
    articles' text and lexemes are not read.
    """

    def __init__(self, node: Node, stats: Statistics, visible, system, category, limit: int):
        plan = _Plan(node, stats)
        leaves, params = plan.leaf_rows()
        where = [_visibility_sql(visible)]
        for name, value in (("system", system), ("category", category)):
            if value:
                where.append(f"search_posting.{name} = :{name}")
                params[name] = value
        statement = _ANSWER.format(
            leaves=leaves,
            coefficients=", ".join(f"c{g}" for g in range(len(plan.groups))),
            sums=", ".join(
                f"sum(search_posting.weight * leaf.c{g}) AS s{g}" for g in range(len(plan.groups))
            ),
            masks=", ".join(
                f"coalesce(bit_or(leaf.bit) FILTER (WHERE leaf.word = {w}), 0) AS m{w}"
                for w in plan.words
            ),
            where=" AND ".join(where),
            score=plan.score(),
            matched=plan.matched(plan.root),
        )
        rows = db.session.execute(text(statement), {**params, "limit": limit}).all()
        counts = [r for r in rows if r.slug is None]
        self.total = sum(r.n for r in counts)
        self.facets: dict[str, dict[str, int]] = {}
        for position, name in enumerate(("system", "category")):
            totals: dict[str, int] = {}
            for row in counts:
                key = (row.system, row.category)[position]
                totals[key] = totals.get(key, 0) + row.n
            self.facets[name] = dict(sorted(totals.items(), key=lambda kv: (-kv[1], kv[0])))
        hits = sorted((r for r in rows if r.slug is not None), key=lambda r: (-r.score, r.slug))
        self.best = [(r.slug, float(r.score)) for r in hits]
        self.facet_of = {r.slug: (r.system, r.category) for r in hits}


@lru_cache(maxsize=1024)
def _visibility_sql(visible: Visibility) -> str:
    """`visibility_clause` over the postings as SQL text (its values are ids and enum
    names, rendered as literals), compiled once per kind of caller."""
    clause = visibility_clause(visible, _posting)
    return str(clause.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


__all__ = ["Answer", "Statistics", "visibility_clause"]

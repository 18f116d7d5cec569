"""The PostgreSQL backend's ranking: a query tree's total, facets and page in one statement.

The statement reads the postings of the query's stems that the caller may see (an
index-only scan of the covering index `ix_search_posting_rank`: the visibility keys are
index ranges, the facet filters checked in the index) and sums them per article by
document number; only the shown page's articles are read besides.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Protocol

from sqlalchemy import ColumnElement, text, true

from supportdesk.extensions import db
from supportdesk.faq.models import Audience, Visibility
from supportdesk.search.postings import idf
from supportdesk.search.query import Node


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


MASK_BITS = 63  # stems per bigint presence mask


def coordination(scale: float, children: int) -> list[float]:
    """`1 - scale + scale / children x hits` for 0 … children hits, as float8 values.

    The statement used to compute them per document from numeric literals (the shortest
    repr of `1 - scale` plus that of `scale / children` times hits: exact decimals) cast
    to float8 (correctly rounded). The same decimals, rounded the same way, here: the
    scores stay what they were to the last bit.
    """
    with localcontext(prec=100):
        base, step = Decimal(repr(1 - scale)), Decimal(repr(scale / children))
        return [float(base + step * hits) for hits in range(children + 1)]


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
        """Whether a document matches the tree (as its tsquery would), over the masks.

        The stems under a node and under its descendants of the same kind ("or" in
        "or", "and" in "and") are tested together, one test per mask word (any of
        their bits for an "or", all for an "and"): evaluated for every matching
        document, so a ticket text's forty stems are a few tests, not forty.
        """
        if node.kind == "term":
            word, bit = divmod(self.bit[node.stemmed], MASK_BITS)
            return f"(m{word} & {1 << bit}) <> 0"
        bits: dict[int, int] = {}
        nested: list[str] = []
        self._gather(node, node.kind, bits, nested)
        if node.kind == "and":
            tests = [f"(m{word} & {b}) = {b}" for word, b in sorted(bits.items())]
        else:
            tests = [f"(m{word} & {b}) <> 0" for word, b in sorted(bits.items())]
        tests += nested
        if len(tests) == 1:
            return tests[0]
        joiner = " AND " if node.kind == "and" else " OR "
        return "(" + joiner.join(tests) + ")"

    def _gather(self, node: Node, kind: str, bits: dict[int, int], nested: list[str]) -> None:
        """The mask bits of the stems joined by `kind` under `node`; other children's tests."""
        for child in node.children:
            if child.kind == "term":
                word, bit = divmod(self.bit[child.stemmed], MASK_BITS)
                bits[word] = bits.get(word, 0) | 1 << bit
            elif child.kind == kind:
                self._gather(child, kind, bits, nested)
            else:
                nested.append(self.matched(child))

    def factors(self) -> str:
        """Each "and" and coordinating "or" node's factor, once per document, as columns
        f0, f1, … (several groups share a node's factor).

        An "and" is 0 or 1. A coordination `1 - scale + scale / n x hits` is taken from
        the list of its n + 1 values, worked out here exactly as PostgreSQL's numeric
        arithmetic on the literals did it and rounded to float8 as its cast did: the
        same scores, without numeric arithmetic and its conversion to float8 per
        document.
        """
        columns = []
        for k, node in enumerate(self.nodes.values()):
            if node.kind == "and":
                columns.append(f"(CASE WHEN {self.matched(node)} THEN 1 ELSE 0 END) AS f{k}")
                continue
            hits = " + ".join(
                f"(CASE WHEN {self.matched(child)} THEN 1 ELSE 0 END)" for child in node.children
            )
            values = ",".join(repr(v) for v in coordination(node.scale, len(node.children)))
            columns.append(f"(CAST('{{{values}}}' AS float8[]))[{hits} + 1] AS f{k}")
        return ", ".join(columns)

    def score(self) -> str:
        """The sum of the groups, each times its ancestors' factors (columns of `factors`)."""
        column = {node_id: f"f{k}" for k, node_id in enumerate(self.nodes)}
        parts = []
        for path, group in self.groups.items():
            factors = [column[node_id] for node_id in path]
            parts.append(" * ".join([f"coalesce(s{group}, 0)", *factors]))
        return " + ".join(parts)

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


# All postings of a document carry its system and category: grouped by the number alone
# (one integer to hash per posting, not three), the facets ride along as min().
# The whole is a SELECT from the WITH query, so the statement reads as the read it is
# (`pg_connections.read_only`: a transaction that only read keeps its prepared statements).
_ANSWER = """
SELECT * FROM (
WITH leaf (stem, word, bit, {coefficients}) AS ({leaves}),
per_document AS (
    SELECT p.document, min(p.system) AS system, min(p.category) AS category, {sums}, {masks}
    FROM search_posting p JOIN leaf ON leaf.stem = p.stem
    WHERE {where}
    GROUP BY p.document
),
scored AS (
    SELECT document, system, category, {score} AS score
    FROM (SELECT *{factors} FROM per_document WHERE {matched} OFFSET 0) AS matched
),
page AS (
    SELECT document, score FROM scored
    WHERE score >= (SELECT min(score) FROM
                    (SELECT score FROM scored ORDER BY score DESC LIMIT :limit) AS best)
)
(SELECT d.slug, d.title, d.body, d.system, d.category, page.score, CAST(NULL AS bigint) AS n
 FROM page CROSS JOIN LATERAL (
     SELECT slug, title, body, system, category FROM search_document
     WHERE search_document.id = page.document OFFSET 0) AS d
 ORDER BY page.score DESC, d.slug LIMIT :limit)
UNION ALL
SELECT NULL, NULL, NULL, s.name, c.name, NULL, f.n
FROM (SELECT system, category, count(*) AS n FROM scored GROUP BY system, category) AS f
JOIN search_facet s ON s.id = f.system JOIN search_facet c ON c.id = f.category
) AS answer
"""


def _word_filter(plan: _Plan, word: int) -> str:
    """The leaves of one mask word (no filter when there is only one: up to 63 stems)."""
    return "" if len(plan.words) == 1 else f" FILTER (WHERE leaf.word = {word})"


# A facet filter is the facet's number, looked up once per statement (no such facet: NULL,
# nothing matches).
_FACET = "p.{kind} = (SELECT id FROM search_facet WHERE kind = '{kind}' AND name = :{kind})"


class Answer:
    """The total, the facets and the best `limit` hits of one query tree: one statement.

    One pass over the query stems' postings the caller may see (an index-only scan of
    the covering index, visibility and filters in the index) sums per document the
    groups of `_Plan` and the masks of the stems it holds; the score follows per
    document, the matched documents give the facet counts (and so the total). The page
    is the `limit` best scores (a top-N heapsort over numbers) and their ties, ordered
    by slug once the few documents' slugs, titles and bodies are read; the other
    articles' text is not read.
    """

    def __init__(self, node: Node, stats: Statistics, visible, system, category, limit: int):
        plan = _Plan(node, stats)
        leaves, params = plan.leaf_rows()
        where = [visibility_sql(visible, "p.visibility")]
        for kind, value in (("system", system), ("category", category)):
            if value:
                where.append(_FACET.format(kind=kind))
                params[kind] = value
        factors = plan.factors()
        statement = _ANSWER.format(
            leaves=leaves,
            coefficients=", ".join(f"c{g}" for g in range(len(plan.groups))),
            sums=", ".join(f"sum(p.weight * leaf.c{g}) AS s{g}" for g in range(len(plan.groups))),
            masks=", ".join(
                f"coalesce(bit_or(leaf.bit){_word_filter(plan, w)}, 0) AS m{w}" for w in plan.words
            ),
            where=" AND ".join(where),
            factors=f", {factors}" if factors else "",
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
        # slug, title, body, system, category, score of each shown hit, best first
        hits = (r for r in rows if r.slug is not None)
        self.page = sorted(hits, key=lambda r: (-r.score, r.slug))


__all__ = [
    "Answer",
    "Statistics",
    "visibility_clause",
    "visibility_key",
    "visibility_keys",
    "visibility_sql",
]

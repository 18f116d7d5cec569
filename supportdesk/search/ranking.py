"""Document sets as bitsets, and the top hits of a query.

A set of document numbers is a Python int whose bit `d` is set when document `d` is in
it: intersection, union and counting (`int.bit_count`) run in C over 64 documents per
machine word, so the total and the facet counts of a query cost a few microseconds even
when it matches thousands of articles.

The top hits score every matched document, in C loops: as numpy arrays, or over Python
lists when a query has only a few scores to compute (lists cost less to start). Scoring
12,000 matches of eight stems this way costs about a millisecond; the max-score bound
that scored fewer of them (level by level, groups split on one concept at a time) cost
more in its Python bookkeeping than it saved (issue 18, bench/RESULTS.md "Search: typo
candidates in C, every match scored as arrays"). A single-word query walks the stem's
documents in descending weight instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from functools import reduce
from itertools import repeat
from operator import add, mul, or_
from typing import Protocol

import numpy as np

_BIT = [1 << j for j in range(8)]


def bitset(docs: Iterable[int]) -> int:
    """The bitset of these document numbers."""
    docs = docs if isinstance(docs, list | tuple | set | frozenset) else list(docs)
    if not docs:
        return 0
    marks = bytearray((max(docs) >> 3) + 1)
    for d in docs:
        marks[d >> 3] |= _BIT[d & 7]
    return int.from_bytes(marks, "little")


# Up to this many documents a bitset is read lowest bit first, beyond it as an array
# (at 20,000 documents: 0.9 µs a document against 7 µs for the array, 10 documents).
FEW_POSITIONS = 8


def positions(bits: int) -> list[int]:
    """The document numbers in a bitset, ascending.

    A few are taken off lowest bit first (three int operations each); more are unpacked
    by numpy (`positions_array`, 7-15 µs at 20,000 documents). Reading the binary
    digits (`bin`) cost 0.3 ms at 20,000 documents however few were set, on every
    query with more than one word that was scored as lists.
    """
    if bits.bit_count() > FEW_POSITIONS:
        return positions_array(bits).tolist()
    found = []
    while bits:
        low = bits & -bits
        found.append(low.bit_length() - 1)
        bits ^= low
    return found


def positions_array(bits: int) -> np.ndarray:
    """`positions` as an array. The unpacked bits are read as booleans: numpy finds the
    set ones of a boolean array several times faster than of bytes (8-15 µs against 40
    at 20,000 documents)."""
    data = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) >> 3 or 1, "little"), np.uint8)
    return np.flatnonzero(np.unpackbits(data, bitorder="little").view(bool))


class Member:
    """Constant-time membership in a bitset (a bit test on an int is linear in its size)."""

    def __init__(self, bits: int) -> None:
        self.data = bits.to_bytes((bits.bit_length() + 7) >> 3 or 1, "little")

    def __contains__(self, d: int) -> bool:
        index = d >> 3
        return index < len(self.data) and bool(self.data[index] >> (d & 7) & 1)


class Ranked(Protocol):
    """What the ranking needs of a query node (see `query.Node`)."""

    kind: str
    children: list
    stemmed: str
    boost: float
    scale: float | None

    def bits(self, cache) -> int:
        """The documents the node matches, as a bitset."""


def _best(
    docs: list[int] | np.ndarray, scores: list[float] | np.ndarray, limit: int
) -> list[tuple[int, float]]:
    """The `limit` best (document, score), higher score first, on equal scores the lower
    document number."""
    if not isinstance(scores, np.ndarray):
        return heapq.nlargest(limit, zip(docs, scores, strict=True), key=_higher)
    if len(scores) > limit:
        # Every document scoring at least a score no better than the `limit`-th best:
        # the best ones, ties included, and a few more.
        kept = scores >= _at_most_best(scores, limit)
        docs, scores = docs[kept], scores[kept]
    order = np.lexsort((docs, -scores))[:limit]
    return list(zip(docs[order].tolist(), scores[order].tolist(), strict=True))


# Blocks per hit wanted that `_at_most_best` takes the best of.
BLOCKS_PER_HIT = 8


def _at_most_best(scores: np.ndarray, limit: int) -> float:
    """A score no better than the `limit`-th best: the `limit`-th best of the best
    scores of `BLOCKS_PER_HIT * limit` blocks (`limit` blocks each hold a score at least
    that good). numpy's selection over every score cost 90 µs at 10,000 scores (a
    synonym query at 20,000 articles); the blocks' best scores cost a tenth of that,
    and few scores pass the bound."""
    blocks = BLOCKS_PER_HIT * limit
    size = -(-len(scores) // blocks)
    if size < 2:
        return float(np.partition(scores, len(scores) - limit)[len(scores) - limit])
    padded = np.full(blocks * size, -np.inf)
    padded[: len(scores)] = scores
    best = padded.reshape(blocks, size).max(axis=1)
    return float(np.partition(best, blocks - limit)[blocks - limit])


def _higher(item: tuple[int, float]) -> tuple[float, int]:
    return (item[1], -item[0])


# From this many scores (matched documents times the stems of the query) a query is scored
# as arrays, below it as lists. Measured at 20,000 realistic articles, 851 queries: below
# 128 scores lists cost less (42 against 46 µs at 32-63 scores), from 128 on arrays (56
# against 103 µs at 256-511; a synonym group of nine stems over 150 matches).
ARRAYS = 128


def top_hits(node: Ranked, cache, matched: int, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (document, score) among the matched documents, best first.

    A single stem walks its documents by descending weight and stops at the `limit`-th
    matched one. A query of several clauses whose most common clause alone matches
    many documents first scores those matching another clause (`_others_first`). Else
    every matched document is scored: as numpy arrays from `ARRAYS` scores on, else in
    Python's C loops over lists (cheaper to start).
    """
    limit = max(limit, 1)
    if node.kind == "term":
        _parts, idf = cache.term_weights(node.stemmed)
        factor = idf * node.boost
        member = Member(matched)
        found: list[tuple[int, float]] = []
        for d, weight in cache.ranked(node.stemmed):
            if d in member:
                found.append((d, weight * factor))
                if len(found) == limit:
                    break
        return found
    # The bound holds for a coordination between none and full (`query` uses 0.9).
    if node.kind == "or" and 0 < (node.scale or 0) <= 1 and matched.bit_count() > ALONE_FROM:
        found = _others_first(node, cache, matched, limit)
        if found is not None:
            return found
    return _every_match(node, cache, matched, limit)


def _every_match(node: Ranked, cache, matched: int, limit: int) -> list[tuple[int, float]]:
    if matched.bit_count() * _stems_scored(node) >= ARRAYS:
        docs = positions_array(matched)
        return _best(docs, array_scores(node, cache, docs, {}), limit)
    members = positions(matched)
    return _best(members, _vector(node, cache, members), limit)


# From this many documents matching only its most common clause, a query first scores
# those matching another one (`_others_first`).
ALONE_FROM = 256
# Room for rounding: the bound multiplies and sums in another order than the score it
# bounds (measured: at most one unit in the last place above the exact bound).
_ROUNDING = 1 + 1e-9


def _others_first(node: Ranked, cache, matched: int, limit: int) -> list[tuple[int, float]] | None:
    """The top hits of a query (clauses with coordination) from the documents matching
    a clause other than its most common one, when no document matching the common one
    alone can reach them; None when one might, or when too few match another clause.

    A document matching one of `n` clauses scores at most that clause's best score
    (`_ceiling`) times the coordination of one clause. A rare word beside a synonym
    group or a word that most articles hold ("log ind" holds half of 20,000 realistic
    articles) then scores tens of documents instead of thousands (0.2-0.4 ms a
    synonym query, issue 18): the max-score idea, for the one clause that costs most.
    """
    clauses = [child.bits(cache) & matched for child in node.children]
    common = max(range(len(clauses)), key=lambda i: clauses[i].bit_count())
    others = reduce(or_, clauses[:common] + clauses[common + 1 :], 0)
    if others.bit_count() < limit or matched.bit_count() - others.bit_count() <= ALONE_FROM:
        return None
    best = _every_match(node, cache, others, limit)
    coordination = 1 - node.scale + node.scale / len(clauses)
    alone = coordination * _ceiling(node.children[common], cache)
    return best if best[-1][1] > alone * _ROUNDING else None


def _ceiling(node: Ranked, cache) -> float:
    """A score no document exceeds on this node: weights and idf are positive, and a
    coordination factor is at most 1."""
    if node.kind == "term":
        _parts, idf = cache.term_weights(node.stemmed)
        return cache.best_weight(node.stemmed) * idf * node.boost
    return sum(_ceiling(child, cache) for child in node.children)


def _stems_scored(node: Ranked) -> int:
    """How many stems a query scores (a synonym group's repeated stem counts each time)."""
    if node.kind == "term":
        return 1
    return sum(map(_stems_scored, node.children))


def _vector(node: Ranked, cache, docs: list[int], terms: dict | None = None) -> list[float]:
    """A node's score of each document (0.0 where it does not match), in C loops.

    The same floating-point operations in the same order as scoring one document at a
    time (adding 0.0 changes no sum; the definition is `reference_scores` in
    tests/search/test_ranking.py), so the same scores. `terms`: the vectors of the stems met so far
    (synonyms may repeat a stem).
    """
    terms = {} if terms is None else terms
    if node.kind == "term":
        key = (node.stemmed, node.boost)
        if key not in terms:
            _parts, idf = cache.term_weights(node.stemmed)
            values = cache.term_values(node.stemmed, docs)  # `docs` ascend (`positions`)
            terms[key] = list(map(mul, values, repeat(idf * node.boost)))
        return terms[key]
    vectors = [_vector(child, cache, docs, terms) for child in node.children]
    totals = vectors[0]
    for vector in vectors[1:]:
        totals = list(map(add, totals, vector))
    if node.kind == "and" and len(vectors) > 1:
        # Only documents matching every part: a part's 0.0 makes the minimum 0.0.
        return list(map(mul, totals, map(bool, map(min, *vectors))))
    if node.kind == "or" and node.scale:
        # Coordination: documents matching more of the query's concepts rank higher.
        n = len(vectors)
        hits = list(map(bool, vectors[0]))
        for vector in vectors[1:]:
            hits = list(map(add, hits, map(bool, vector)))
        factors = [1 - node.scale + node.scale * h / n for h in range(n + 1)]
        return list(map(mul, totals, map(factors.__getitem__, hits)))
    return totals


def array_scores(node: Ranked, cache, docs: np.ndarray, terms: dict) -> np.ndarray:
    """`_vector` with arrays: the same floating-point operations in the same order, one
    element at a time, so the same scores."""
    if node.kind == "term":
        key = (node.stemmed, node.boost)
        if key not in terms:
            _parts, idf = cache.term_weights(node.stemmed)
            terms[key] = cache.term_array(node.stemmed, docs) * (idf * node.boost)
        return terms[key]
    vectors = [array_scores(child, cache, docs, terms) for child in node.children]
    totals = vectors[0]
    for vector in vectors[1:]:
        totals = totals + vector
    if node.kind == "and" and len(vectors) > 1:
        return totals * (np.minimum.reduce(vectors) != 0.0)
    if node.kind == "or" and node.scale:
        n = len(vectors)
        hits = np.zeros(len(docs), np.intp)
        for vector in vectors:
            hits += vector != 0.0
        factors = np.array([1 - node.scale + node.scale * h / n for h in range(n + 1)])
        return totals * factors[hits]
    return totals

"""Document sets as bitsets, and the top hits without scoring every match.

A set of document numbers is a Python int whose bit `d` is set when document `d` is in
it: intersection, union and counting (`int.bit_count`) run in C over 64 documents per
machine word, so the total and the facet counts of a query cost a few microseconds even
when it matches thousands of articles.

The top hits use a max-score bound (as in block-max WAND / MaxScore): a query of several
concepts ranks documents matching more of them higher (coordination), and no document
matching `h` concepts can score more than the `h` best concepts' maximum weights. So
documents are scored level by level, from those matching every concept down, and the
ranking stops as soon as the tenth best score beats the bound of the next level. A
single-word query walks the stem's documents in descending weight instead.

Thousands of documents to score (long ticket texts in a large index) are scored as numpy
arrays, a few (most queries) in Python's C loops over lists, which cost less to start.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from itertools import chain, compress, repeat
from operator import add, mul
from typing import Protocol

import numpy as np

_BIT = [1 << j for j in range(8)]
_DIGITS = bytes.maketrans(b"01", b"\x00\x01")


def bitset(docs: Iterable[int]) -> int:
    """The bitset of these document numbers."""
    docs = docs if isinstance(docs, list | tuple | set | frozenset) else list(docs)
    if not docs:
        return 0
    marks = bytearray((max(docs) >> 3) + 1)
    for d in docs:
        marks[d >> 3] |= _BIT[d & 7]
    return int.from_bytes(marks, "little")


def positions(bits: int) -> list[int]:
    """The document numbers in a bitset, ascending (C loops over its binary digits)."""
    flags = bin(bits)[:1:-1].encode().translate(_DIGITS)  # bit d at index d, as 0 or 1
    return list(compress(range(len(flags)), flags))


def positions_array(bits: int) -> np.ndarray:
    """`positions` as an array."""
    data = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) >> 3 or 1, "little"), np.uint8)
    return np.flatnonzero(np.unpackbits(data, bitorder="little"))


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

    def bits(self, cache) -> int: ...

    def bound(self, cache) -> float: ...

    def scores(self, cache, candidates: AbstractSet[int]) -> dict[int, float]: ...


def _best(scored: Iterable[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    # Higher score first; on equal scores the lower document number (as before).
    return heapq.nlargest(limit, scored, key=lambda item: (item[1], -item[0]))


# Documents scored as lists of (documents, scores): Python lists or numpy arrays.
Scored = list[tuple[list[int] | np.ndarray, list[float] | np.ndarray]]


def _best_of(scored: Scored, limit: int) -> list[tuple[int, float]]:
    """`_best` of documents scored in parts, with the same order and tie-break."""
    if not isinstance(scored[0][1], np.ndarray):
        return _best(chain.from_iterable(zip(d, s, strict=True) for d, s in scored), limit)
    docs = np.concatenate([d for d, _s in scored])
    scores = np.concatenate([s for _d, s in scored])
    if len(scores) > limit:
        # Every document scoring at least the `limit`-th best score, ties included.
        tenth = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        kept = scores >= tenth
        docs, scores = docs[kept], scores[kept]
    order = np.lexsort((docs, -scores))[:limit]
    return list(zip(docs[order].tolist(), scores[order].tolist(), strict=True))


def top_hits(node: Ranked, cache, matched: int, limit: int) -> list[tuple[int, float]]:
    """The `limit` best (document, score) among the matched documents, best first.

    Exact: the same documents and scores as scoring every match.
    """
    limit = max(limit, 1)
    if node.kind == "term":
        # The stem's documents in descending weight: the first matched ones are the best.
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
    if node.kind == "or" and len(node.children) > 1:
        return _by_levels(node, cache, matched, limit)
    return _best(node.scores(cache, set(positions(matched))).items(), limit)


GROUPS = 2048
# Bounds are sums in another order than the scores: a margin for rounding.
SLACK = 1 + 1e-9
# From this many matched documents a query is scored as arrays (`_array`).
ARRAYS = 256


def _by_levels(node: Ranked, cache, matched: int, limit: int) -> list[tuple[int, float]]:
    """Top hits of a query of several concepts in two scoring passes.

    1. The documents matching the most concepts (at least `limit` of them) are scored:
       the `limit`-th best score is a threshold.
    2. Only documents that could still beat it are scored: groups split on one concept
       at a time (highest maximum first), each bounded by the best score its documents
       could reach given the concepts decided so far (bitset operations only).
    Each pass scores its documents in C loops (`_vector`, or `_array` for many).
    """
    children = node.children
    n = len(children)
    maxima_by_child = [_bound(child, cache, matched) for child in children]
    order = sorted(range(n), key=lambda i: -maxima_by_child[i])
    maxima = [maxima_by_child[i] for i in order]
    bits = [children[i].bits(cache) & matched for i in order]
    scale = node.scale

    def coordination(hits: int) -> float:
        return 1 - scale + scale * hits / n if scale else 1.0

    def bound(hits: int, total: float, decided: int) -> float:
        # The undecided concepts may add any number m of hits, at most the m best maxima.
        best, extra = coordination(hits) * total, total
        for m, maximum in enumerate(maxima[decided:], start=1):
            extra += maximum
            best = max(best, coordination(hits + m) * extra)
        return best

    # at_least[h]: the matched documents matching at least h of the concepts.
    at_least = [matched] + [0] * n
    for i, child_bits in enumerate(bits):
        for h in range(i + 1, 0, -1):
            at_least[h] |= at_least[h - 1] & child_bits
    # (all matched documents when fewer than `limit` match)
    seed = next((docs for docs in reversed(at_least) if docs.bit_count() >= limit), matched)
    many = matched.bit_count() >= ARRAYS
    scored = [_scored(node, cache, seed, many)]
    if seed == matched:
        return _best_of(scored, limit)
    threshold = _best_of(scored, limit)[-1][1]
    candidates = 0
    groups = [(matched & ~seed, 0, 0, 0.0)]
    explored = 0
    while groups:
        docs, decided, hits, total = groups.pop()
        if bound(hits, total, decided) * SLACK < threshold:
            continue
        explored += 1
        if decided == n or explored > GROUPS:
            candidates |= docs
            continue
        inside, outside = docs & bits[decided], docs & ~bits[decided]
        if outside:
            groups.append((outside, decided + 1, hits, total))
        if inside:
            groups.append((inside, decided + 1, hits + 1, total + maxima[decided]))
    if candidates:
        scored.append(_scored(node, cache, candidates, many))
    return _best_of(scored, limit)


def _scored(node: Ranked, cache, docs: int, many: bool):
    """The documents of a bitset, ascending, and their scores (as arrays when `many`)."""
    if many:
        members = positions_array(docs)
        return members, array_scores(node, cache, members, {})
    members = positions(docs)
    return members, _vector(node, cache, members)


def _bound(node: Ranked, cache, matched: int) -> float:
    """The highest score a matched document can reach on this node.

    For a group of alternatives (synonyms, typo candidates) the sum of their maxima is
    loose: a document matching one alternative scores at most its maximum (times the
    times it occurs: two synonyms may share a stem), and the documents matching
    several distinct ones are scored exactly (when they are not too many).
    """
    if node.kind != "or" or node.scale or len(node.children) < 2:
        return node.bound(cache)
    alternatives: dict[object, list] = {}
    for child in node.children:
        key = (child.stemmed, child.boost) if child.kind == "term" else id(child)
        alternatives.setdefault(key, []).append(child)
    single = 0.0
    seen = several = 0
    for same in alternatives.values():
        child_bits = same[0].bits(cache) & matched
        several |= seen & child_bits
        seen |= child_bits
        single = max(single, len(same) * _bound(same[0], cache, matched))
    if not several:
        return single
    if several.bit_count() > MULTI_LIMIT:
        return node.bound(cache)
    _members, scores = _scored(node, cache, several, several.bit_count() >= ARRAYS)
    return max(single, float(np.max(scores)))


MULTI_LIMIT = 2048


def _vector(node: Ranked, cache, docs: list[int], terms: dict | None = None) -> list[float]:
    """A node's score of each document (0.0 where it does not match), in C loops.

    The same floating-point operations in the same order as `Node.scores` (adding 0.0
    changes no sum), so the same scores. `terms`: the vectors of the stems met so far
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

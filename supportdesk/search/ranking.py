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
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from itertools import compress, repeat
from operator import add, mul, neg
from typing import Protocol

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


def _by_levels(node: Ranked, cache, matched: int, limit: int) -> list[tuple[int, float]]:
    """Score the documents matching the most concepts first; stop at the bound."""
    children = node.children
    n = len(children)
    # at_least[h]: the matched documents matching at least h of the concepts.
    at_least = [matched] + [0] * n
    for i, child in enumerate(children):
        bits = child.bits(cache) & matched
        for h in range(i + 1, 0, -1):
            at_least[h] |= at_least[h - 1] & bits
    maxima = sorted((child.bound(cache) for child in children), reverse=True)
    scale = node.scale
    best: list[tuple[float, int]] = []  # a min-heap of (score, -document)
    for h in range(n, 0, -1):
        level = at_least[h] & ~at_least[h + 1] if h < n else at_least[h]
        if not level:
            continue
        # Every document of a level matches h concepts: one coordination factor.
        coordination = 1 - scale + scale * h / n if scale else 1.0
        if len(best) == limit and best[0][0] > coordination * sum(maxima[:h]):
            break
        docs = positions(level)
        totals = _vector(children[0], cache, docs)
        for child in children[1:]:
            totals = list(map(add, totals, _vector(child, cache, docs)))
        if scale:
            totals = list(map(mul, totals, repeat(coordination)))
        for item in zip(totals, map(neg, docs), strict=True):
            if len(best) < limit:
                heapq.heappush(best, item)
            elif item > best[0]:
                heapq.heapreplace(best, item)
    return [(-negative, score) for score, negative in sorted(best, reverse=True)]


def _vector(node: Ranked, cache, docs: list[int]) -> list[float]:
    """A node's score of each document (0.0 where it does not match), in C loops.

    The same floating-point operations in the same order as `Node.scores` (adding 0.0
    changes no sum), so the same scores.
    """
    if node.kind == "term":
        parts, idf = cache.term_weights(node.stemmed)
        factor = idf * node.boost
        values = [0.0] * len(docs)
        for weights in parts:  # a document is in one segment's part only
            values = list(map(add, values, map(weights.get, docs, repeat(0.0))))
        return list(map(mul, values, repeat(factor)))
    if node.kind == "or" and node.scale:  # coordination below the top: not in C
        scores = node.scores(cache, set(docs))
        return list(map(scores.get, docs, repeat(0.0)))
    vectors = [_vector(child, cache, docs) for child in node.children]
    totals = vectors[0]
    for vector in vectors[1:]:
        totals = list(map(add, totals, vector))
    if node.kind == "and" and len(vectors) > 1:
        # Only documents matching every part: a part's 0.0 makes the minimum 0.0.
        totals = list(map(mul, totals, map(bool, map(min, *vectors))))
    return totals

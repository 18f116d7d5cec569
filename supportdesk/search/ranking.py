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
import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Protocol

_NONZERO = re.compile(rb"[^\x00]+")
_BYTE_BITS = [tuple(j for j in range(8) if byte >> j & 1) for byte in range(256)]


def bitset(docs: Iterable[int]) -> int:
    """The bitset of these document numbers."""
    marks = bytearray()
    for d in docs:
        index = d >> 3
        if index >= len(marks):
            marks.extend(bytes(index + 1 - len(marks)))
        marks[index] |= 1 << (d & 7)
    return int.from_bytes(marks, "little")


def positions(bits: int) -> list[int]:
    """The document numbers in a bitset, ascending (runs of zero bytes skipped in C)."""
    data = bits.to_bytes((bits.bit_length() + 7) >> 3, "little")
    found: list[int] = []
    for run in _NONZERO.finditer(data):
        base = run.start()
        for offset, byte in enumerate(run.group()):
            first = (base + offset) << 3
            found.extend(first + j for j in _BYTE_BITS[byte])
    return found


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
        coordination = 1 - scale + scale * h / n if scale else 1.0
        bound = coordination * sum(maxima[:h])
        if len(best) == limit and best[0][0] > bound:
            break
        for d, score in node.scores(cache, set(positions(level))).items():
            item = (score, -d)
            if len(best) < limit:
                heapq.heappush(best, item)
            elif item > best[0]:
                heapq.heapreplace(best, item)
    return [(-negative, score) for score, negative in sorted(best, reverse=True)]

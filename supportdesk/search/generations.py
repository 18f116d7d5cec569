"""One Whoosh index generation as the scorer reads it: its segments at their offsets.

A generation combines what each segment derived (`postings.SegmentPostings`) for a stem
across its segments: the weights per segment, the documents as one bitset, the documents
and weights as one pair of arrays. A new generation keeps what the last one combined for
every stem an edit or a merge of edits did not touch, and grows a stem an edit holds by
the edit's segment (issue 18: each search after an edit combined every stem it used
again).
"""

from __future__ import annotations

import contextlib
import heapq
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from functools import reduce
from itertools import repeat
from operator import or_

import numpy as np
from whoosh.query import Query

from supportdesk.search.analysis import spellings
from supportdesk.search.postings import SegmentPostings, by_weight, idf, kept
from supportdesk.search.ranking import bitset

# Combined entries per generation of stems found in more than one segment.
GENERATION_STEMS = 1024
# Stems whose documents from several segments are kept joined per generation (16 bytes
# a document).
GENERATION_ARRAYS = 256
# Document counts kept per generation (an int each).
GENERATION_FREQUENCIES = 16384
_NO_DOCS = np.zeros(0, np.int64)
_NO_WEIGHTS = np.zeros(0)


class SegmentStore:
    """`SegmentPostings` by segment id, across generations of one index directory."""

    def __init__(self) -> None:
        self.segments: dict[str, SegmentPostings] = {}
        self.last: GenerationPostings | None = None

    def clear(self) -> None:
        segments, self.segments, self.last = self.segments, {}, None
        for segment in segments.values():
            with contextlib.suppress(Exception):  # a broken reader is dropped either way
                segment.close()

    def generation(self, reader, generation: int | None) -> GenerationPostings:
        leaves = list(reader.leaf_readers())
        current: dict[str, SegmentPostings] = {}
        parts: list[tuple[SegmentPostings, int]] = []
        for leaf, offset in leaves:
            segid = leaf.segment().segment_id()
            segment = self.segments.get(segid)
            if segment is None:
                segment = SegmentPostings(leaf, offset)
            else:
                segment.attach(leaf, offset)
            current[segid] = segment
            parts.append((segment, offset))
        # Segments merged away or dropped are forgotten.
        for segid, segment in self.segments.items():
            if segid not in current:
                segment.close()
        self.segments = current
        fresh = GenerationPostings(reader, generation, parts)
        if self.last is not None:
            fresh.inherit(self.last)
        self.last = fresh
        return fresh


class GenerationPostings:
    """One index generation: its segments at their document offsets."""

    def __init__(self, reader, generation: int | None, parts) -> None:
        self.reader = reader
        self.generation = generation
        self.segments: list[tuple[SegmentPostings, int]] = parts
        self.doc_count = max(reader.doc_count_all(), 1)
        self._parts: OrderedDict[str, list[dict[int, float]]] = OrderedDict()
        self._bits: OrderedDict[str, int] = OrderedDict()
        self._arrays: OrderedDict[str, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._values: dict[str, dict[str, int]] = {}
        self._frequencies: OrderedDict[str, int] = OrderedDict()
        self._live: int | None = None
        # What the last generation combined for the stems that the segments added or
        # merged away since hold (`inherit`): when first asked for, each keeps its part
        # in the documents before `_shared` (the segments both share) and grows by the
        # added segments.
        self._shared = 0
        self._added: list[tuple[SegmentPostings, int]] = []
        self._earlier_parts: dict[str, list[dict[int, float]]] = {}
        self._earlier_bits: dict[str, int] = {}
        self._earlier_arrays: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def inherit(self, previous: GenerationPostings) -> None:
        """Keep what `previous` combined and counted from its segments for each stem
        that neither the segments added since nor those merged away hold: an edit
        touches only its own article's stems (issue 18). A stem those segments hold
        keeps, when first asked for, its part in the shared segments and grows by the
        added ones, instead of being combined across every segment again (a common stem
        is in most edits, and a merge of edits holds most of a small vocabulary); its
        count is summed anew.

        Only when both generations begin with the same segments at the same offsets
        and differ in small ones only (an edit's, a removal's, Whoosh's merge of edits
        every few edits): a stem none of those hold has the same documents and weights
        in both. A merge of a large segment or a rebuild starts anew. Deleted documents
        change nothing kept, as deleted documents are in every stem's documents until
        their segment is merged (`read_ids`).
        """
        old, new = previous.segments, self.segments
        same = 0
        while same < min(len(old), len(new)) and old[same] == new[same]:
            same += 1
        changed = [segment for segment, _offset in old[same:] + new[same:]]
        if not same or any(segment._stems is None for segment in changed):
            return
        touched = frozenset().union(*(segment._stems for segment in changed))
        last, offset = new[same - 1]
        self._shared = offset + last.doc_count
        self._added = new[same:]
        for mine, earlier, theirs in (
            (self._parts, self._earlier_parts, previous._parts),
            (self._bits, self._earlier_bits, previous._bits),
            (self._arrays, self._earlier_arrays, previous._arrays),
        ):
            for stemmed, combined in theirs.items():
                (earlier if stemmed in touched else mine)[stemmed] = combined
        for stemmed, count in previous._frequencies.items():
            if stemmed not in touched:
                self._frequencies[stemmed] = count

    def parts(self, stemmed: str) -> list[dict[int, float]]:
        """{document: weight without idf} of a stem, one dict per segment holding it."""

        def combined() -> list[dict[int, float]]:
            earlier = self._earlier_parts.pop(stemmed, None)
            segments = self.segments if earlier is None else self._added
            found = [w for w in (seg.weights(stemmed) for seg, _o in segments) if w]
            if earlier is None:
                return found
            # a segment's part holds its own documents only: the shared ones come first
            return [w for w in earlier if next(iter(w)) < self._shared] + found

        return kept(self._parts, stemmed, GENERATION_STEMS, combined)

    def _holding(self, stemmed: str) -> list[SegmentPostings]:
        self.parts(stemmed)  # derives the weights of every segment
        return [seg for seg, _o in self.segments if seg.weights(stemmed)]

    def term_bits(self, stemmed: str) -> int:
        """The documents holding a stem, deleted ones too, as a bitset."""

        def combined() -> int:
            earlier = self._earlier_bits.pop(stemmed, None)
            if earlier is not None:
                shared = earlier & ((1 << self._shared) - 1)
                return reduce(or_, (segment.bits(stemmed) for segment, _o in self._added), shared)
            return reduce(or_, (segment.bits(stemmed) for segment in self._holding(stemmed)), 0)

        return kept(self._bits, stemmed, GENERATION_STEMS, combined)

    def frequency(self, stemmed: str) -> int:
        """How many documents hold a stem, deleted ones too: from the weights read, else
        the segments' term dictionaries (no postings read). Summed once per generation
        (about 1 µs a segment; a long query asks about each of its words and synonyms,
        a typo about each candidate), and kept by the next one when its new segments
        lack the stem (`inherit`)."""
        return kept(
            self._frequencies,
            stemmed,
            GENERATION_FREQUENCIES,
            lambda: sum(segment.frequency(stemmed) for segment, _offset in self.segments),
        )

    def term_weights(self, stemmed: str) -> tuple[list[dict[int, float]], float]:
        """The stem's weights per segment and its idf (over every document)."""
        parts = self.parts(stemmed)
        return parts, idf(sum(map(len, parts)), self.doc_count)

    def term_values(self, stemmed: str, docs: list[int]) -> Iterable[float]:
        """The stem's weight (without idf) in each of these ascending documents, 0.0 where
        it is absent.

        Each segment holding the stem looks up only the documents in its range: after
        edits a stem is in several segments, and looking every document up in each of
        them made a query cost as many times more as there were segments.
        """
        holding = self._holding(stemmed)
        if len(holding) == 1:
            return map(holding[0].weights(stemmed).get, docs, repeat(0.0))
        values: list[float] = []
        for segment in holding:
            start = bisect_left(docs, segment.offset, len(values))
            end = bisect_left(docs, segment.offset + segment.doc_count, start)
            values.extend(repeat(0.0, start - len(values)))
            values.extend(map(segment.weights(stemmed).get, docs[start:end], repeat(0.0)))
        values.extend(repeat(0.0, len(docs) - len(values)))
        return values

    def term_array(self, stemmed: str, docs: np.ndarray) -> np.ndarray:
        """`term_values` as an array: the stem's weights spread over every document of
        the generation (0.0 where absent), then those of `docs` picked."""
        where, weights = self._postings(stemmed)
        if not len(where):  # a synonym no article uses
            return np.zeros(len(docs))
        spread = np.zeros(self.doc_count)
        spread[where] = weights
        return spread[docs]

    def _postings(self, stemmed: str) -> tuple[np.ndarray, np.ndarray]:
        """The (global) documents holding a stem and its weights in them, every segment's
        in one pair of arrays: after edits a common stem is in most of the one-article
        segments, and spreading each segment's apart cost numpy calls per segment."""
        earlier = self._earlier_arrays.pop(stemmed, None)
        if earlier is not None:
            where, weights = earlier
            cut = int(np.searchsorted(where, self._shared))  # ascending: the shared first
            added = [segment for segment, _o in self._added if segment.weights(stemmed)]
            return kept(
                self._arrays,
                stemmed,
                GENERATION_ARRAYS,
                lambda: _joined(stemmed, added, (where[:cut], weights[:cut])),
            )
        holding = self._holding(stemmed)
        if len(holding) == 1 and holding[0].offset == 0:  # its documents are global ones
            return holding[0].arrays(stemmed)
        return kept(self._arrays, stemmed, GENERATION_ARRAYS, lambda: _joined(stemmed, holding))

    def best_weight(self, stemmed: str) -> float:
        """The stem's highest weight (without idf) in any document, 0.0 when none
        holds it: a bound on its score (`ranking._ceiling`)."""
        return max((seg.best_weight(stemmed) for seg in self._holding(stemmed)), default=0.0)

    def ranked(self, stemmed: str) -> Iterable[tuple[int, float]]:
        """(document, weight) of a stem by descending weight, across segments."""
        lists = [segment.ranked(stemmed) for segment in self._holding(stemmed)]
        if len(lists) == 1:
            return lists[0]
        return heapq.merge(*lists, key=by_weight)

    def stored_fields(self, docnum: int) -> dict:
        """The stored fields of a document (its segment's kept reader)."""
        for segment, offset in reversed(self.segments):
            if docnum >= offset:
                return segment.stored(docnum - offset)
        raise IndexError(docnum)

    def near_words(self, word: str, maxdist: int) -> set[str]:
        """Indexed words within `maxdist` edits of `word` (same first letter)."""
        return {w for segment, _offset in self.segments for w in segment.near_words(word, maxdist)}

    def surfaces(self, stems: Iterable[str]) -> set[str]:
        """Every lowercase spelling of the indexed words with these stems: what a
        snippet marks."""
        words = {w for s in stems for segment, _o in self.segments for w in segment.surfaces(s)}
        return set().union(*map(spellings, words))

    def prepare(self, columns: Iterable[str]) -> None:
        """Derive now what every search with hits reads of this generation: the live
        documents, these columns' value sets and each segment's words by stem (the
        snippet spellings; a new segment's are built from its words, about 1 ms for
        one edited article and more for a merge of edits)."""
        self.live()
        for name in columns:
            self.value_bits(name)
        for segment, _offset in self.segments:
            segment._surfaces()

    def value_bits(self, name: str) -> dict[str, int]:
        """{value: bitset of the documents with it} of a column (`system`, `category`)."""
        if name not in self._values:
            values: dict[str, int] = {}
            for segment, offset in self.segments:
                for value, local in segment.value_bits(name).items():
                    values[value] = values.get(value, 0) | local << offset
            self._values[name] = values
        return self._values[name]

    def counts(self, name: str, matched: int) -> dict[str, int]:
        """How many matched documents have each value of a column (the facet)."""
        counts = {}
        for value, bits in self.value_bits(name).items():
            count = (matched & bits).bit_count()
            if count:
                counts[value] = count
        return counts

    def visible(self, key: tuple, query: Callable[[], Query]) -> int:
        """Live documents matching a visibility filter, from the segments' cached sets."""
        docs = 0
        for segment, offset in self.segments:
            docs |= segment.visible(key, query) << offset
        return docs & self.live()

    def live(self) -> int:
        """Every document of this generation not deleted, as a bitset (once for all
        callers: each segment's deletions are this generation's)."""
        if self._live is None:
            live = (1 << self.reader.doc_count_all()) - 1
            for segment, offset in self.segments:
                if segment.leaf.has_deletions():
                    live &= ~(bitset(segment.leaf.deleted_docs_set) << offset)
            self._live = live
        return self._live


def _joined(
    stemmed: str,
    segments: list[SegmentPostings],
    earlier: tuple[np.ndarray, np.ndarray] = (_NO_DOCS, _NO_WEIGHTS),
) -> tuple[np.ndarray, np.ndarray]:
    """A stem's (global) documents and weights: `earlier` ones, then these segments'."""
    held = [(*segment.arrays(stemmed), segment.offset) for segment in segments]
    return (
        np.concatenate([earlier[0], *(local + offset for local, _w, offset in held)]),
        np.concatenate([earlier[1], *(weights for _local, weights, _offset in held)]),
    )

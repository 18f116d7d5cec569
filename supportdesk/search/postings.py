"""What the Whoosh backend's scorer reads, derived once per index segment.

A Whoosh segment never changes once written; only its set of deleted documents
grows. So everything the scorer derives from a segment (per stem the documents
holding it and their BM25F term weights, the facet columns, the documents each
audience may see) is read once per segment and reused by every later index
generation. Publishing or editing an article writes a one-document
segment and marks the old copy deleted: the next query derives that one document's
stems, and nothing is recomputed for the thousands of others. Deleted documents stay
in the per-segment sets; `generations.GenerationPostings.visible` leaves them out.

Ranking is BM25F (Robertson & Zaragoza): a document's term frequencies in title,
tags and body are normalised by the field's length, boosted, summed and saturated
once. That weight is computed when the document is indexed (`bm25f_weights`, with the
average field lengths of the last rebuild) and stored as the posting weight of the
`rank` field, so a query reads ready weights. It leaves out the idf, which is the
stem's over all documents and applied per query, so a new document changes it
without touching a stored weight.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from itertools import repeat
from operator import add
from typing import TypeVar

import numpy as np
from whoosh.formats import Format
from whoosh.matching.wrappers import FilterMatcher
from whoosh.query import And, Or, Query, Term
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length, length_to_byte

from supportdesk.search.analysis import stem
from supportdesk.search.query import TEXT_FIELDS, near
from supportdesk.search.ranking import bitset

# BM25 constants.
K1 = 1.2
B = 0.75


def idf(df: int, n: int) -> float:
    """BM25's idf of a stem held by `df` of `n` documents."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


# Stems kept per segment: each entry is one dict of {document: weight}.
SEGMENT_STEMS = 4096
# Stems whose document count a segment keeps (a few bytes each).
SEGMENT_FREQUENCIES = 16384
SMALL_SEGMENT = 256
# The column holding an edited article's words and stems (`encode_terms`).
TERMS_COLUMN = "terms"
# Up to this many words a segment's typo candidates are found by comparing every word
# with the same first letter (no groups to build for a new segment).
FEW_WORDS = 2000
# The field holding each document's stems with their weights (`RankField`).
RANK = "rank"
_NOTHING: dict[int, float] = {}
K = TypeVar("K")
V = TypeVar("V")


# A `rank` posting's value: its weight as a little-endian 64-bit float.
WEIGHT = struct.Struct("<d")


class WeightFormat(Format):
    """Postings whose value is an 8-byte float weight (see `RankField`)."""

    posting_size = WEIGHT.size


def read_ids(leaf, name: str, text: str, weights: array | None = None) -> list[int]:
    """Document numbers of one term in one segment; with `weights`, also the `rank`
    weights (the 8-byte values) appended to it.

    Reads Whoosh's posting blocks whole (ids, and the values as one array) instead of
    one posting at a time through the matcher interface; falls back to that for other
    codecs. Deleted documents are included (callers leave them out with the segment's
    deletions), so a segment with deletions is read the fast way too.
    """
    matcher = _unfiltered(leaf, name, text)
    ids: list[int] = []
    if hasattr(matcher, "_read_data") and hasattr(matcher, "_next_block"):
        while matcher.is_active():
            matcher._read_ids()
            ids.extend(matcher._ids)
            if weights is not None:
                weights.frombytes(matcher._data[2])
            matcher._next_block()
        if weights is not None and sys.byteorder != "little":
            weights.byteswap()
        return ids
    while matcher.is_active():
        ids.append(matcher.id())
        if weights is not None:
            weights.append(WEIGHT.unpack(matcher.value())[0])
        matcher.next()
    return ids


def _unfiltered(leaf, name: str, text: str):
    """A term's matcher, deleted documents included.

    Whoosh wraps a segment's postings in a filter of its deleted documents, which moves
    past the first ones as it is made: unwrapped, a term whose first block was all
    deleted lost that block (a stem held only by an edited article's old copy counted
    none). A segment's own term table gives the postings unfiltered.
    """
    terms = getattr(leaf, "_terms", None)
    if terms is None:  # another reader: its filter, unwrapped
        matcher = leaf.postings(name, text)
        return matcher.child if isinstance(matcher, FilterMatcher) else matcher
    return terms.matcher(name, leaf._text_to_bytes(name, text), leaf.schema[name].format)


def average_lengths(stems: Iterable[dict[str, list[str]]], documents: int) -> dict[str, float]:
    """Average length of each text field over `documents` documents (at least 1)."""
    totals = dict.fromkeys(TEXT_FIELDS, 0)
    for fields in stems:
        for name in TEXT_FIELDS:
            totals[name] += len(fields[name])
    return {name: max(total / max(documents, 1), 1.0) for name, total in totals.items()}


def bm25f_weights(stems: dict[str, list[str]], averages: dict[str, float]) -> dict[str, float]:
    """{stem: BM25F weight without idf} of one document's title, tags and body stems.

    Field lengths are rounded as Whoosh keeps them (one byte per length).
    """
    pseudo: dict[str, float] = {}
    for name, boost in TEXT_FIELDS.items():
        terms = stems[name]
        if not terms:
            continue
        norm = 1 - B + B / averages[name] * byte_to_length(length_to_byte(len(terms)))
        for term, tf in Counter(terms).items():
            pseudo[term] = pseudo.get(term, 0.0) + boost * tf / norm
    return {term: tf * (K1 + 1) / (tf + K1) for term, tf in pseudo.items()}


class SegmentPostings:
    """The scorer's view of one segment: built lazily, kept while the segment exists."""

    def __init__(self, leaf, offset: int) -> None:
        self.leaf = leaf
        # Weights are keyed by the global document number (local + offset); a segment
        # whose offset changes (an earlier one merged away) drops them.
        self.offset = offset
        self.doc_count = leaf.doc_count_all()
        self._weights: OrderedDict[str, dict[int, float]] = OrderedDict()
        self._frequencies: OrderedDict[str, int] = OrderedDict()
        # Derived from the weights and dropped with them: bitset, ranked list, arrays.
        self._derived: dict[str, dict[str, object]] = {}
        # What is kept for the segment's life is held in tuples (see `_untracked`).
        self._columns: dict[str, tuple[str, ...]] = {}
        self._visible: dict[tuple, int] = {}
        self._values: dict[str, dict[str, int]] = {}
        # A segment of many words: its words ordered by first letter and length, each
        # one's key (`_key`), and per first letter and bigram the places of its words.
        self._ordered: tuple[str, ...] | None = None
        self._keys: np.ndarray | None = None
        self._bigrams: dict[tuple[str, str], np.ndarray] = {}
        # A segment of few words: its words by first letter.
        self._firsts: dict[str, tuple[str, ...]] | None = None
        self._perdoc = None
        self._by_stem: dict[str, tuple[str, ...]] | None = None
        self._words: tuple[str, ...] | None = None
        # A small segment (an edit, a merge of edits) lists its stems once, so a stem it
        # lacks costs a set lookup instead of a term-dictionary lookup.
        self._stems: frozenset[str] | None = None
        # ... and, when its column holds them, each stem's {local document: weight}.
        self._column_weights: dict[str, dict[int, float]] | None = None
        if self.doc_count <= SMALL_SEGMENT:
            terms = self._column_terms()
            if terms is not None:
                self._words, self._stems, self._column_weights = terms
            else:
                self._stems = frozenset(leaf.field_terms(RANK))

    def _column_terms(
        self,
    ) -> tuple[tuple[str, ...], frozenset[str], dict[str, dict[int, float]] | None] | None:
        """The words and stems of a small segment's documents, and each stem's weights
        in them, from the `terms` column (written with each edited article); None when
        a document has no value, no weights when one was written without them.

        Whoosh reads a term dictionary at about 5 µs a term and a stem's postings at
        about 27 µs: the few hundred words and stems of a one-article segment cost the
        first search after an edit 1-3 ms that way, and a merge of 40 edits 10 times
        more; a column value costs microseconds.
        """
        words: set[str] = set()
        stems: set[str] = set()
        weights: dict[str, dict[int, float]] | None = {}
        for local, value in enumerate(self.leaf.column_reader(TERMS_COLUMN)):
            if not value:  # a rebuilt article (the vocabulary document among them)
                return None
            word_part, stem_part, *weight_part = value.decode("utf-8").split("\t")
            words.update(word_part.split())
            spelled = stem_part.split()
            stems.update(spelled)
            if weights is not None and weight_part:
                for stemmed, weight in zip(spelled, weight_part[0].split(), strict=True):
                    weights.setdefault(stemmed, {})[local] = float(weight)
            else:
                weights = None
        return tuple(sorted(words)), frozenset(stems), weights

    def stored(self, local: int) -> dict:
        """A document's stored fields, through a reader kept for the segment's life.

        The reader of each new index generation would read the stored-fields column's
        offsets of every document again (15 ms for 20,000) before the first hit.
        """
        if self._perdoc is None:
            leaf = self.leaf
            self._perdoc = leaf.codec().per_document_reader(leaf._storage, leaf.segment())
        return self._perdoc.stored_fields(local)

    def close(self) -> None:
        if self._perdoc is not None:
            self._perdoc.close()
            self._perdoc = None

    def attach(self, leaf, offset: int) -> None:
        """The open reader of the current generation (the old one is closed with it)."""
        self.leaf = leaf
        if offset != self.offset:
            self.offset = offset
            self._weights.clear()
            self._derived.clear()

    def weights(self, stemmed: str) -> dict[int, float]:
        """{document: BM25F weight without idf} of a stem (empty when absent)."""
        if self._lacks(stemmed):
            return _NOTHING
        found = self._weights.get(stemmed)
        if found is not None:
            self._weights.move_to_end(stemmed)
            return found
        # A large segment's words may hold a stem its postings lost in a merge (a
        # removed article's, kept by the rebuild's vocabulary): only "absent" is sure.
        if self._stems is None and not self.leaf.frequency(RANK, stemmed):
            return _NOTHING
        if self._column_weights is not None:
            column = self._column_weights[stemmed]
            ids, weights = column.keys(), column.values()
        else:
            weights = array("d")
            ids = read_ids(self.leaf, RANK, stemmed, weights)
        if self.offset:
            ids = map(add, ids, repeat(self.offset))
        found = dict(zip(ids, weights, strict=False))
        self._weights[stemmed] = found
        while len(self._weights) > SEGMENT_STEMS:
            self._derived.pop(self._weights.popitem(last=False)[0], None)
        return found

    def frequency(self, stemmed: str) -> int:
        """How many documents hold a stem, deleted ones too (its postings' count): from
        the weights read or an edit's column, else the term dictionary, once per stem
        (a segment's counts never change; typo candidates ask again with each
        misspelling)."""
        if self._lacks(stemmed):
            return 0
        found = self._weights.get(stemmed)
        if found is not None:
            return len(found)
        if self._column_weights is not None:
            return len(self._column_weights[stemmed])
        return kept(
            self._frequencies,
            stemmed,
            SEGMENT_FREQUENCIES,
            lambda: self.leaf.doc_frequency(RANK, stemmed),
        )

    def _lacks(self, stemmed: str) -> bool:
        """Whether surely no document of this segment holds the stem, from what is kept
        in memory: a small segment's stems, or a large one's words grouped by stem (the
        snippet spellings, derived when a generation is prepared; an article's stems
        are its words' stems, `Analysed`), instead of the term dictionary (about 18 µs
        a stem in Whoosh, and a typo or compound asks about many stems no article
        holds). False when unsure: a large segment's words are a superset (the rebuild's
        vocabulary keeps a removed article's words after a merge dropped its postings)."""
        stems = self._stems if self._stems is not None else self._by_stem
        return stems is not None and stemmed not in stems

    def _derive(self, stemmed: str, what: str, make: Callable[[dict[int, float]], object]):
        weights = self.weights(stemmed)
        if not weights:
            return make(weights)
        derived = self._derived.setdefault(stemmed, {})
        if what not in derived:
            derived[what] = make(weights)
        return derived[what]

    def bits(self, stemmed: str) -> int:
        """The (global) documents holding a stem, as a bitset."""
        return self._derive(stemmed, "bits", bitset)

    def ranked(self, stemmed: str) -> tuple[tuple[int, float], ...]:
        """(document, weight) by descending weight, then ascending document."""
        return self._derive(
            stemmed, "ranked", lambda weights: tuple(sorted(weights.items(), key=by_weight))
        )

    def best_weight(self, stemmed: str) -> float:
        """The stem's highest weight in this segment (0.0 when absent)."""
        return self._derive(stemmed, "best", lambda weights: max(weights.values(), default=0.0))

    def arrays(self, stemmed: str) -> tuple[np.ndarray, np.ndarray]:
        """The local documents holding a stem and their weights, as arrays."""
        return self._derive(stemmed, "arrays", lambda weights: _arrays(weights, self.offset))

    def column(self, name: str) -> tuple[str, ...]:
        if name not in self._columns:
            self._columns[name] = tuple(self.leaf.column_reader(name))
        return self._columns[name]

    def value_bits(self, name: str) -> dict[str, int]:
        """{value: bitset of the local documents with that value} of a column."""
        if name not in self._values:
            groups: dict[str, list[int]] = {}
            for d, value in enumerate(self.column(name)):
                groups.setdefault(value, []).append(d)
            self._values[name] = {value: bitset(docs) for value, docs in groups.items()}
        return self._values[name]

    def visible(self, key: tuple, query: Callable[[], Query]) -> int:
        """Local documents matching a visibility filter as a bitset (deleted ones too);
        the filter is made only when this segment has not answered it before."""
        if key not in self._visible:
            self._visible[key] = self._query_bits(query())
        return self._visible[key]

    def _query_bits(self, query: Query) -> int:
        """A filter of terms, And and Or as a bitset: posting blocks read whole, no matcher
        per document (Whoosh's `docs_for_query` over 20,000 documents takes 0.4 s)."""
        if isinstance(query, Term):
            if not self.leaf.frequency(query.fieldname, query.text):
                return 0
            return bitset(read_ids(self.leaf, query.fieldname, query.text))
        if isinstance(query, And | Or):
            parts = [self._query_bits(child) for child in query.subqueries]
            found = parts[0] if parts else 0
            for part in parts[1:]:
                found = found & part if isinstance(query, And) else found | part
            return found
        searcher = Searcher(self.leaf, closereader=False)
        return bitset(searcher.docs_for_query(query))

    def words(self) -> tuple[str, ...]:
        """The indexed words of this segment, read once (the snippet spellings and the
        typo groups both need them): from its term dictionary, or for a small segment
        of edited articles from their `terms` column (`_column_terms`)."""
        if self._words is None:
            self._words = tuple(self.leaf.field_terms("words"))
        return self._words

    def surfaces(self, stemmed: str) -> tuple[str, ...]:
        """The indexed words (folded, unstemmed) of this segment with this stem."""
        return self._surfaces().get(stemmed, ())

    def _surfaces(self) -> dict[str, tuple[str, ...]]:
        if self._by_stem is None:
            groups: dict[str, list[str]] = {}
            for known in self.words():
                groups.setdefault(stem(known), []).append(known)
            self._by_stem = _untracked(groups)
        return self._by_stem

    def near_words(self, word: str, maxdist: int) -> list[str]:
        """Words of this segment within `maxdist` edits that start with the same letter."""
        return near(word, self._candidates(word, maxdist), maxdist)

    def _candidates(self, word: str, maxdist: int) -> list[str]:
        """Words that may be within `maxdist` edits: same first letter, a length at most
        `maxdist` away, and (in a large word list) enough shared bigrams.

        A segment of few words (an edit) lists those with the same first letter. A
        larger one orders its word list once by first letter and length, so the words
        of a first letter and a range of lengths are one slice of it, and groups their
        places in it by first letter and each pair of adjacent letters (bigram). An edit
        (insertion, deletion, substitution, transposition) removes at most three of a
        word's bigrams, so a word within `maxdist` edits shares at least `distinct
        bigrams - 3 * maxdist` of them: only those are compared letter by letter. A
        large vocabulary (product names, error codes) then costs a typo tens of
        comparisons, not thousands. The shared bigrams are counted by numpy over the
        slice's places (a `Counter` of the words took 0.3-0.6 ms a typo at 20,000
        articles, counting over the whole word list 0.1 ms).
        """
        first, size = word[0], len(word)
        known = self.words()
        if len(known) <= FEW_WORDS:
            if self._firsts is None:
                firsts: dict[str, list[str]] = {}
                for spelled in known:
                    firsts.setdefault(spelled[0], []).append(spelled)
                self._firsts = _untracked(firsts)
            return [k for k in self._firsts.get(first, ()) if abs(len(k) - size) <= maxdist]
        if self._ordered is None:
            self._order_words(known)
        lo, hi = np.searchsorted(
            self._keys, (_key(first, size - maxdist), _key(first, size + maxdist + 1))
        ).tolist()
        grams = _bigrams(word)
        need = len(grams) - 3 * maxdist
        if need <= 0:
            return list(self._ordered[lo:hi])
        held = [self._bigrams[key] for gram in grams if (key := (first, gram)) in self._bigrams]
        if not held:
            return []
        places = np.concatenate(held)
        places = places[(places >= lo) & (places < hi)]
        shared = np.bincount(places - lo, minlength=hi - lo)
        return [self._ordered[lo + n] for n in np.flatnonzero(shared >= need).tolist()]

    def _order_words(self, known: tuple[str, ...]) -> None:
        ordered = sorted(known, key=lambda spelled: (_key(spelled[0], len(spelled)), spelled))
        bigrams: dict[tuple[str, str], list[int]] = {}
        for place, spelled in enumerate(ordered):
            for gram in _bigrams(spelled):
                bigrams.setdefault((spelled[0], gram), []).append(place)
        self._bigrams = {key: np.array(places, np.int32) for key, places in bigrams.items()}
        self._keys = np.array([_key(w[0], len(w)) for w in ordered], np.int64)
        self._ordered = tuple(ordered)


def _key(first: str, length: int) -> int:
    """A word's place in a segment's ordered word list: by first letter, then length."""
    return (ord(first) << 32) + max(length, 0)


def encode_terms(words: Iterable[str], weights: dict[str, float]) -> bytes:
    """An edited article's words, stems and the stems' weights (as `repr` writes them:
    read back exactly) as its `terms` column value."""
    stems = sorted(weights)
    return "\t".join(
        (" ".join(sorted(words)), " ".join(stems), " ".join(repr(weights[s]) for s in stems))
    ).encode("utf-8")


def _untracked(groups: dict[K, list[str]]) -> dict[K, tuple[str, ...]]:
    """The groups as tuples of words, which Python's garbage collector stops tracking.

    A segment keeps its word groups (typos, snippet spellings) for its whole life: as
    lists, every full collection walked each of their 20,000 articles' words, a 200 ms
    pause in a search now and then (issue 18: the maximum after edits).
    """
    return {key: tuple(words) for key, words in groups.items()}


def _bigrams(word: str) -> set[str]:
    return {word[i : i + 2] for i in range(len(word) - 1)}


def _arrays(weights: dict[int, float], offset: int) -> tuple[np.ndarray, np.ndarray]:
    count = len(weights)
    local = np.fromiter(weights.keys(), np.int64, count) - offset
    return local, np.fromiter(weights.values(), np.float64, count)


def kept(cache: OrderedDict[str, V], key: str, limit: int, make: Callable[[], V]) -> V:
    """`cache[key]`, made and kept when missing; beyond `limit` entries the least
    recently used go (a stem every synonym query uses stays while rarer ones pass)."""
    found = cache.get(key)
    if found is not None:
        cache.move_to_end(key)
        return found
    found = cache[key] = make()
    while len(cache) > limit:
        cache.popitem(last=False)
    return found


def by_weight(item: tuple[int, float]) -> tuple[float, int]:
    return (-item[1], item[0])

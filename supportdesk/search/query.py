"""The query tree both search backends expand a query into.

Synonyms, exact stems, compound parts and typo corrections become a tree of `Node`s
that the Whoosh backend counts with bitsets and scores (`ranking`) and the PostgreSQL
backend turns into a tsquery.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA

from supportdesk.search.analysis import is_stop, split_compound, stem
from supportdesk.search.synonyms import Synonyms

TEXT_FIELDS = {"title": 3.0, "tags": 2.0, "body": 1.0}
FUZZY_BOOST = 0.4
# Typo candidates a word is searched as (the closest, most common visible words).
FUZZY_TERMS = 4
COMPOUND_BOOST = 0.8


class Postings(Protocol):
    """What a node needs from an index generation to count itself (`ranking` scores it)."""

    def term_bits(self, stemmed: str) -> int:
        """The documents holding a stem as a bitset (see `ranking`)."""


MAX_PLAIN_TERMS = 8
# More words than this (stop words aside) are a text, such as a ticket's subject and
# description in the deflection panel, rather than words typed into a search box.
LONG_QUERY = 6
COMMON_SHARE = 0.3
COMMON_MIN_DOCS = 1000


def _common(frequency: int, docs: int) -> bool:
    """Whether a word held by `frequency` of `docs` articles is too common to carry a
    query (in a small index every word is informative)."""
    return docs >= COMMON_MIN_DOCS and frequency > COMMON_SHARE * docs


def _prune(plain: list[tuple[int, Node]], docs: int, keep_some: bool) -> list[Node]:
    """Long queries (a ticket description) keep their rarest words; very common words
    are dropped when rarer ones carry the query. Keeps scoring cheap at 20k articles."""
    ranked = sorted(plain, key=lambda item: item[0])[:MAX_PLAIN_TERMS]
    if docs < COMMON_MIN_DOCS:
        return [node for _frequency, node in ranked]
    rare = [node for frequency, node in ranked if not _common(frequency, docs)]
    if rare or not keep_some:
        return rare
    return [node for _frequency, node in ranked[:2]]


def _rare_groups(
    clauses: list[Node],
    groups: list[Node],
    plain: list[tuple[int, Node]],
    held: Callable[[Node], int],
    docs: int,
) -> list[Node]:
    """A long query's clauses without the synonym groups most articles hold, when a
    rarer word or group carries the query: a group is a word with other spellings,
    dropped as `_prune` drops a common word (in a 20,000-article index such groups were
    nine tenths of a ticket text's postings). Not for a corrected word or a compound's
    parts, which are guesses, nor a group no article the caller may see holds
    (`held(group)` 0)."""
    frequencies = [(held(group), group) for group in groups]
    common = {id(group) for frequency, group in frequencies if _common(frequency, docs)}
    carried = any(f > 0 and not _common(f, docs) for f, _g in frequencies) or any(
        not _common(f, docs) for f, _n in plain
    )
    if not common or not carried:
        return clauses
    return [node for node in clauses if id(node) not in common]


def _group_frequency(
    group: Node, known: Callable[[str], bool], frequency: Callable[[str], int]
) -> int:
    """About how many articles a synonym group matches: as many as its most common
    visible alternative (a phrase: its rarest word); its stems' frequencies are known,
    their union is not. 0 when no alternative is visible."""
    held = 0
    for alternative in group.children:
        stems = [leaf.stemmed for leaf in alternative.children or [alternative]]
        if all(map(known, stems)):
            held = max(held, min(map(frequency, stems)))
    return held


class Node:
    """A query tree that Whoosh can score and that can be counted with set algebra."""

    def __init__(
        self,
        kind: str,
        children: list[Node] | None = None,
        stemmed: str = "",
        boost: float = 1.0,
        scale: float | None = None,
    ) -> None:
        self.kind, self.children, self.stemmed = kind, children or [], stemmed
        self.boost, self.scale = boost, scale

    @classmethod
    def term(cls, stemmed: str, boost: float = 1.0) -> Node:
        return cls("term", stemmed=stemmed, boost=boost)

    def stems(self) -> set[str]:
        if self.kind == "term":
            return {self.stemmed}
        return set().union(*(child.stems() for child in self.children))

    def bits(self, cache: Postings) -> int:
        """The documents this node matches, as a bitset."""
        if self.kind == "term":
            return cache.term_bits(self.stemmed)
        found = self.children[0].bits(cache)
        for child in self.children[1:]:
            if self.kind == "and":
                found &= child.bits(cache)
            else:
                found |= child.bits(cache)
        return found


def build_query(
    tokens: list[str],
    synonyms: Synonyms,
    known: Callable[[str], bool],
    frequency: Callable[[str], int],
    near_words: Callable[[str], list[str]],
    docs: int,
) -> tuple[Node | None, dict[str, str]]:
    """Clauses per concept: synonyms, exact stems, compound parts, then fuzzy.

    Shared by both backends so they expand a query identically. `known(stem)`: the
    stem occurs in an article the caller may see; `frequency(stem)`: its document
    frequency; `near_words(word)`: visible words within one or two edits, best first
    (at least the first `FUZZY_TERMS`);
    `docs`: the number of indexed articles. Returns the query tree (None when nothing
    is searchable) and the corrections {typed word: suggested word}.
    """
    clauses: list[Node] = []
    plain: list[tuple[int, Node]] = []  # (document frequency, clause) of ordinary words
    groups: list[Node] = []  # the synonym clauses
    corrections: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        match = synonyms.match(tokens, i) if tokens[i] in synonyms.by_first else None
        if match is not None:
            length, phrases = match
            alternatives = []
            for phrase in phrases:
                stems = [stem(w) for w in phrase if not is_stop(w)]
                if stems:
                    alternatives.append(
                        Node.term(stems[0])
                        if len(stems) == 1
                        else Node("and", [Node.term(s) for s in stems])
                    )
            if alternatives:
                clauses.append(Node("or", alternatives))
                groups.append(clauses[-1])
            i += length
            continue
        word = tokens[i]
        i += 1
        if is_stop(word) or len(word) < 2:
            continue
        stemmed = stem(word)
        if known(stemmed):
            plain.append((frequency(stemmed), Node.term(stemmed)))
            continue
        # An unknown word: a compound of known parts and/or a typo of a known word.
        options: list[Node] = []
        parts = split_compound(word, known)
        if parts:
            options.append(Node("and", [Node.term(stem(p), COMPOUND_BOOST) for p in parts]))
        candidates = near_words(word)
        if candidates:
            if not parts:
                corrections[word] = candidates[0]
            options.extend(Node.term(stem(c), FUZZY_BOOST) for c in candidates[:FUZZY_TERMS])
        if options:
            clauses.append(options[0] if len(options) == 1 else Node("or", options))
    if sum(not is_stop(word) for word in tokens) > LONG_QUERY:
        held = partial(_group_frequency, known=known, frequency=frequency)
        clauses = _rare_groups(clauses, groups, plain, held, docs)
    clauses.extend(_prune(plain, docs, keep_some=not clauses))
    if not clauses:
        return None, corrections
    if len(clauses) == 1:
        return clauses[0], corrections
    return Node("or", clauses, scale=0.9), corrections


def suggestion(tokens: list[str], corrections: dict[str, str]) -> str | None:
    """ "Mente du …?": the query's words with the corrections, None when none changed."""
    changed = [corrections.get(w, w) for w in tokens]
    return None if changed == tokens else " ".join(changed)


def closest(word: str, frequencies: dict[str, int]) -> list[str]:
    """Typo candidates ({candidate: document frequency}): the closest to `word` first,
    then the most frequent, then alphabetically."""
    scored = {candidate: (distance(word, candidate), -n) for candidate, n in frequencies.items()}
    return sorted(scored, key=lambda c: (scored[c], c))


def memo(fn: Callable[[str], bool]) -> Callable[[str], bool]:
    cache: dict[str, bool] = {}

    def wrapped(key: str) -> bool:
        if key not in cache:
            cache[key] = fn(key)
        return cache[key]

    return wrapped


def distance(a: str, b: str) -> int:
    """Damerau-Levenshtein distance in its restricted form (optimal string alignment:
    an adjacent transposition counts as one edit, a transposed pair is not edited
    again), computed by RapidFuzz in C."""
    return OSA.distance(a, b)


def within(a: str, b: str, maxdist: int) -> bool:
    """Whether `distance(a, b) <= maxdist`. RapidFuzz stops as soon as the distance
    must exceed `maxdist`; a typo is checked against hundreds of candidate words per
    query, and this check was most of a typo's cost while it ran in Python."""
    return OSA.distance(a, b, score_cutoff=maxdist) <= maxdist


def near(word: str, candidates: list[str], maxdist: int) -> list[str]:
    """The candidates within `maxdist` edits of `word`, closest first: `within` for each,
    in one RapidFuzz call over the list (a typo's hundreds of candidates cost a Python
    call each)."""
    found = process.extract(word, candidates, scorer=OSA.distance, score_cutoff=maxdist, limit=None)
    return [candidate for candidate, _distance, _index in found]

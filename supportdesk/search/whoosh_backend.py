"""The Whoosh backend: Danish analysis, boosted fields, highlights, facets, suggestions.

Visibility is a Whoosh `filter=` query, so a forbidden article never enters the
result set, the count or the facets. Words used for fuzzy matching, compound
splitting and "Mente du …?" must occur in a document the caller may see.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Unpack

from markupsafe import escape
from whoosh import index
from whoosh.codec.whoosh3 import W3Codec
from whoosh.columns import VarBytesColumn
from whoosh.fields import COLUMN, ID, KEYWORD, STORED, FieldType, Schema
from whoosh.query import And, Or, Query, Term
from whoosh.searching import Searcher

from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.search import (
    Hit,
    SearchFilters,
    SearchResults,
    SearchUnavailable,
    Visibility,
    with_progress,
)
from supportdesk.search.analysis import STOP_WORDS, fold, stem, words
from supportdesk.search.generations import GenerationPostings, SegmentStore
from supportdesk.search.postings import (
    TERMS_COLUMN,
    WEIGHT,
    WeightFormat,
    average_lengths,
    bm25f_weights,
    encode_terms,
)
from supportdesk.search.query import FUZZY_TERMS, build_query, closest, memo, suggestion
from supportdesk.search.ranking import top_hits
from supportdesk.search.storage import IndexStorage, SegmentReaders
from supportdesk.search.synonyms import Synonyms

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 20.0
# Answers kept per index generation: the same words from the same audience are common
# (the FAQ search box, the suggestions beside a ticket being written).
RESULT_ENTRIES = 1024
# The document that carries a rebuild's vocabulary (words of all articles). Never
# published, so no caller sees it; words of deleted articles only suggest what a
# caller may see (`_near_words` checks each candidate it returns).
VOCABULARY_SLUG = "~vocabulary"
# The columns counted for every answer (`SearchResults.facets`).
FACETS = ("system", "category")
_MARKDOWN_NOISE = re.compile(r"[#*_`>\[\]|]+|\(https?://[^)]*\)")


# The indexed form an article was written in, stored with it. Whether an index must be
# rebuilt (on first use, from the database) is decided from its schema (`is_current`).
SCHEMA_VERSION = "4"


class RankField(FieldType):
    """Per stem, the article's BM25F weight without idf (`postings.bm25f_weights`).

    Computed in Python when the article is indexed, so a query reads one posting list
    of ready weights per stem instead of three fields' frequencies and every
    document's field lengths. The weight is the posting's 8-byte value (Whoosh's own
    posting weight is a 32-bit float; `postings.read_ids` reads the values).
    """

    def __init__(self) -> None:
        super().__init__(WeightFormat(), analyzer=None)

    def index(self, value: dict[str, float], **_kwargs):
        for term, weight in value.items():
            yield term.encode("utf-8"), 1, 1.0, WEIGHT.pack(weight)


def make_schema() -> Schema:
    return Schema(
        slug=ID(stored=True, unique=True),
        title=STORED(),
        tags=STORED(),
        body=STORED(),
        rank=RankField(),
        # Distinct unstemmed words of title, tags and body: the vocabulary for typos and
        # suggestions (presence only, no frequencies).
        words=KEYWORD(scorable=True),
        system=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        audience=ID(stored=True),
        municipality=ID(stored=True),
        vendor=ID(stored=True),
        state=ID(stored=True),
        schema_version=STORED(),
        # On the vocabulary document: the average field lengths the weights use.
        averages=STORED(),
        # On an article written by an edit (`index`): its words, stems and the stems'
        # weights as one column value, which the small segment of edits reads instead of
        # its term dictionary and postings (`postings.SegmentPostings._column_terms`);
        # empty on rebuilt articles.
        terms=COLUMN(VarBytesColumn()),
    )


def is_current(schema: Schema) -> bool:
    """Whether an opened index was written in today's indexed form."""
    names = schema.names()
    return (
        "rank" in names
        and isinstance(schema["rank"], RankField)
        and TERMS_COLUMN in names
        and isinstance(schema[TERMS_COLUMN].column_type, VarBytesColumn)
    )


def plain_text(markdown: str) -> str:
    """Markdown without its markup, for indexing and snippets."""
    return _MARKDOWN_NOISE.sub(" ", markdown or "")


class Analysed:
    """An article analysed once: its stored fields, stems per field and words."""

    def __init__(self, article: Article) -> None:
        tags = " , ".join(article.tags or [])
        body = plain_text(article.body)
        self.document: dict[str, object] = {
            "slug": article.slug,
            "title": article.title,
            "tags": tags,
            "body": body,
            "system": article.system.slug,
            "category": article.category.slug,
            "audience": article.audience.value,
            "municipality": str(article.municipality_id or ""),
            "vendor": str(article.system.vendor_id),
            "state": article.state.value,
            "schema_version": SCHEMA_VERSION,
        }
        self.vocabulary: set[str] = set()
        self.stems: dict[str, list[str]] = {}
        for name, text in (("title", article.title), ("tags", tags), ("body", body)):
            terms = [w for w in words(text) if w not in STOP_WORDS]
            self.vocabulary.update(terms)
            self.stems[name] = list(map(stem, terms))

    def with_weights(self, averages: dict[str, float]) -> dict[str, object]:
        """The Whoosh document, its stems weighted with these average field lengths."""
        return {**self.document, "rank": bm25f_weights(self.stems, averages)}


def visibility_query(visible: Visibility) -> Query:
    """The Whoosh filter for a caller: published, and an audience they belong to."""
    published = Term("state", ArticleState.published.value)
    if visible.everything:
        return published
    allowed: list[Query] = [Term("audience", Audience.public.value)]
    if visible.first_level:
        allowed.append(Term("audience", Audience.first_level.value))
    if visible.municipality_id is not None:
        allowed.append(
            And(
                [
                    Term("audience", Audience.municipal.value),
                    Term("municipality", str(visible.municipality_id)),
                ]
            )
        )
    if visible.vendor_id is not None:
        allowed.append(
            And(
                [
                    Term("audience", Audience.vendor_internal.value),
                    Term("vendor", str(visible.vendor_id)),
                ]
            )
        )
    return And([published, Or(allowed)])


_WORD = re.compile(r"\w+")


class _Marks:
    """Finds the words to mark, judging each distinct word once (`seen`, per page)."""

    def __init__(self, judge: Callable[[str], bool], seen: dict[str, bool] | None) -> None:
        self.judge = judge
        self.seen = {} if seen is None else seen

    def marked(self, word: str) -> bool:
        lowered = word.lower()
        found = self.seen.get(lowered)
        if found is None:
            found = self.seen[lowered] = self.judge(lowered)
        return found

    def finditer(self, text: str, pos: int, endpos: int):
        return (m for m in _WORD.finditer(text, pos, endpos) if self.marked(m.group()))


class _Spellings:
    """Finds the words to mark by their lowercase spelling (one set lookup per word)."""

    def __init__(self, spellings: AbstractSet[str]) -> None:
        self.spellings = spellings

    def finditer(self, text: str, pos: int, endpos: int):
        spellings = self.spellings
        return (m for m in _WORD.finditer(text, pos, endpos) if m.group().lower() in spellings)


def snippet(
    text: str,
    stems: set[str],
    width: int = 220,
    seen: dict[str, bool] | None = None,
    surfaces: AbstractSet[str] | None = None,
) -> str:
    """Escaped text around the first matches with <mark> on words whose stem was searched.

    Cheaper than re-running the analyzer through Whoosh's highlighter: one pass up to
    the first match and through the shown window only. `surfaces`: every spelling of
    the indexed words with those stems (`GenerationPostings.surfaces`), so a word is
    looked up instead of folded and stemmed; else `seen`: the words judged so far,
    shared by a page of hits.
    """
    if surfaces is not None:
        finder = _Spellings(surfaces)
    else:
        finder = _Marks(
            lambda lowered: lowered not in STOP_WORDS and stem(fold(lowered)) in stems, seen
        )
    start = 0
    first = next(finder.finditer(text, 0, len(text)), None)
    if first is not None:
        start = max(0, first.start() - 60)
        start = text.rfind(" ", 0, start) + 1 if start else 0
    end = min(len(text), start + width)
    out, cursor = [], start
    for m in finder.finditer(text, start, min(len(text), end + 64)):
        if m.end() > end:
            break
        out.append(str(escape(text[cursor : m.start()])))
        out.append(f"<mark>{escape(m.group())}</mark>")
        cursor = m.end()
    out.append(str(escape(text[cursor:end])))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + " ".join("".join(out).split()) + suffix


class _Allowed:
    """The live document numbers a caller may see in one generation (cached)."""

    def __init__(self, postings: GenerationPostings, visible: Visibility) -> None:
        self.visible = visible
        self.everything = visible.everything
        # For "everything" too: the live documents, so deleted ones never count.
        self.bits = postings.visible(visible.key, lambda: visibility_query(visible))
        # The documents of the generation the caller may not see, deleted ones included.
        self.hidden = postings.reader.doc_count_all() - self.bits.bit_count()

    def has_term(self, postings: GenerationPostings, stemmed: str) -> bool:
        """Whether an article the caller may see holds the stem, without combining the
        stem's documents across segments (a long query asks about each of its words,
        and after an edit a common word's documents were combined anew for it: issue
        18). A stem that more documents hold (deleted ones too) than the caller may not
        see is surely held by one they may see; else each segment's documents holding
        it are asked in turn (global numbers, as `self.bits`)."""
        if postings.frequency(stemmed) > self.hidden:
            return True
        return any(self.bits & segment.bits(stemmed) for segment, _offset in postings.segments)


class WhooshBackend:
    """A file index under `index_dir`, opened lazily and rebuilt from the database when lost."""

    def __init__(
        self,
        index_dir: str | os.PathLike,
        synonyms_path: str | None = None,
        loader: Callable[[], Iterable[Article]] | None = None,
        result_entries: int = RESULT_ENTRIES,
    ) -> None:
        self.path = Path(index_dir)
        self.result_entries = result_entries  # 0: compute every answer (the search bench)
        self.synonyms_path = synonyms_path
        self._synonyms: Synonyms | None = None
        self._synonyms_mtime: float | None = None
        self.loader = loader
        self._ix = None
        self._searcher = None
        self._generation: int | None = None
        self._cache: GenerationPostings | None = None
        # What the scorer derived from each segment, kept across generations.
        self._segments = SegmentStore()
        # The open segment readers, kept across generations (storage.SegmentReaders).
        self._readers = SegmentReaders()
        self._lock = threading.RLock()
        self.storage = IndexStorage(self.path, is_current)  # the lock across processes (storage.py)
        self._allowed_cache: OrderedDict[tuple, _Allowed] = OrderedDict()
        self._results: OrderedDict[tuple, SearchResults] = OrderedDict()

    # --- index lifecycle -------------------------------------------------------------

    def _open(self):
        if self._ix is None:
            self._ix = self.storage.open_checked()
        return self._ix

    def _reset(self) -> None:
        with contextlib.suppress(Exception):  # broken readers are dropped either way
            self._readers.close()
        self._readers = SegmentReaders()
        self._searcher = None
        self._ix = None
        self._cache = None
        self._segments.clear()
        self._allowed_cache.clear()
        self._results.clear()

    def _get_searcher(self):
        ix = self._open()
        if self._searcher is not None and ix.latest_generation() != self._generation:
            # The segment readers stay open: the next one reuses those still in the index.
            self._searcher = None
            self._allowed_cache.clear()
            self._results.clear()
        if self._searcher is None:
            reader = self._readers.open(ix)
            self._searcher = Searcher(reader, fromindex=ix, closereader=False)
            self._generation = reader.generation()
        return self._searcher

    def _with_recovery(self, action: Callable[[], object]):
        """Run a read; if the index is missing or corrupt, rebuild it once and retry."""
        with self._lock:
            try:
                return action()
            except SearchUnavailable:
                raise
            except Exception as error:
                log.warning("search index at %s unusable (%s); rebuilding", self.path, error)
                self._reset()
            try:
                self._rebuild_when_broken()
                return action()
            except Exception as error:
                log.exception("search index at %s could not be rebuilt", self.path)
                self._reset()
                raise SearchUnavailable() from error

    def _rebuild_from_loader(self) -> None:
        if self.loader is None:
            raise SearchUnavailable()
        self.rebuild(self.loader())

    def _rebuild_when_broken(self) -> None:
        """Once across processes: another one may have rebuilt it meanwhile."""
        if self.loader is None:
            raise SearchUnavailable()
        self.storage.rebuild_once(self._rebuild_from_loader)

    def check(self) -> None:
        with self._lock:
            try:
                self._get_searcher().doc_count()
            except Exception:
                self._reset()
                raise

    def _writer(self):
        try:
            ix = self._open()
        except Exception:
            self._reset()
            self._rebuild_when_broken()
            ix = self._open()
        # Another process may hold the write lock: wait for it instead of failing.
        return ix.writer(timeout=WRITE_TIMEOUT, delay=0.05)

    def index(self, article: Article) -> None:
        if article.state != ArticleState.published:
            self.remove(article.slug)
            return
        analysed = Analysed(article)
        with self._lock:
            writer = self._writer()
            try:
                document = analysed.with_weights(self._averages(writer, analysed))
                terms = encode_terms(analysed.vocabulary, document["rank"])
                writer.update_document(
                    **document, words=" ".join(analysed.vocabulary), **{TERMS_COLUMN: terms}
                )
            except Exception:
                writer.cancel()
                raise
            writer.commit()
            self._warm()

    @staticmethod
    def _averages(writer, analysed: Analysed) -> dict[str, float]:
        """The average field lengths of the last rebuild (kept with its vocabulary).

        Weights already written are never recomputed, so an edit uses the same
        averages as the articles around it; the next rebuild brings them up to date.
        """
        with writer.searcher() as searcher:
            stored = searcher.document(slug=VOCABULARY_SLUG)
        if stored and stored.get("averages"):
            return stored["averages"]
        return average_lengths([analysed.stems], documents=1)

    def remove(self, slug: str) -> None:
        with self._lock:
            writer = self._writer()
            writer.delete_by_term("slug", slug)
            writer.commit()
            self._warm()

    def _warm(self) -> None:
        """Open the generation just written and derive what every search needs of it.

        `GenerationPostings.prepare`, and the documents each audience searched so far
        may see: without this, the first search after an edit paid for them
        (2-5 ms at 20,000 articles, issue 18). Only this process's searches gain;
        another process derives the generation on its first search after the edit, and
        a process that never searched (the outbox worker) opens nothing.
        The edit is written either way: a failure here only leaves the work to the
        next search, which recovers as any search does.
        """
        if self._searcher is None:  # this process has not searched: nothing to keep ready
            return
        visibilities = [allowed.visible for allowed in self._allowed_cache.values()]
        try:
            postings = self._generation_cache(self._get_searcher())
            postings.prepare(FACETS)
            for visible in visibilities:
                self._allowed(postings, visible)
        except Exception as error:
            log.warning("search index at %s: new generation not opened (%s)", self.path, error)
            self._reset()

    def rebuild(
        self, articles: Iterable[Article], progress: Callable[[int], None] | None = None
    ) -> int:
        """Build a fresh index beside the old one, then swap directories.

        One writer and one commit: each article is analysed once (`Analysed`), its
        stems weighted, and the postings sorted and written in a single segment.
        `progress(count)` as articles are written (`with_progress`).
        """
        with self._lock, self.storage.lock():
            self._reset()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = self.path.with_name(self.path.name + ".new")
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir(parents=True)
            ix = index.create_in(str(fresh), make_schema())
            # No per-posting field-length lookups while writing (Whoosh's block length
            # statistics, unused: the weights are ready): over half of the time.
            codec = W3Codec()
            codec.length_stats = False
            writer = ix.writer(limitmb=256, codec=codec)
            # Each article analysed once; the weights need every article's field lengths.
            analysed = [Analysed(a) for a in articles if a.state == ArticleState.published]
            # +1: the vocabulary document, as in the index's own document count.
            averages = average_lengths([a.stems for a in analysed], documents=len(analysed) + 1)
            vocabulary: set[str] = set()
            for article in with_progress(analysed, progress):
                # The vocabulary is only a word list: one document carries it all,
                # instead of one posting per word and article.
                vocabulary.update(article.vocabulary)
                writer.add_document(**article.with_weights(averages))
            writer.add_document(
                slug=VOCABULARY_SLUG,
                state="vocabulary",
                words=" ".join(sorted(vocabulary)),
                schema_version=SCHEMA_VERSION,
                averages=averages,
            )
            writer.commit()
            ix.close()
            old = self.path.with_name(self.path.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            fresh.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
            return len(analysed)

    # --- querying ----------------------------------------------------------------------

    @property
    def synonyms(self) -> Synonyms:
        return self._current_synonyms()

    def _current_synonyms(self) -> Synonyms:
        """The synonyms file as it is now; a changed file also forgets the kept answers."""
        path = Path(self.synonyms_path) if self.synonyms_path else None
        mtime = path.stat().st_mtime if path and path.is_file() else None
        if self._synonyms is None or mtime != self._synonyms_mtime:
            self._synonyms = Synonyms.load(path)
            self._synonyms_mtime = mtime
            self._results.clear()
        return self._synonyms

    def _allowed(self, postings: GenerationPostings, visible: Visibility) -> _Allowed:
        key = visible.key
        allowed = self._allowed_cache.get(key)
        if allowed is None:
            allowed = _Allowed(postings, visible)
            self._allowed_cache[key] = allowed
            while len(self._allowed_cache) > 64:
                self._allowed_cache.popitem(last=False)
        return allowed

    def search(
        self, query: str, user_filter: Visibility, **filters: Unpack[SearchFilters]
    ) -> SearchResults:
        return self._with_recovery(lambda: self._search(query, user_filter, **filters))

    def _search(self, text, visible, system=None, category=None, limit=10) -> SearchResults:
        """The answer for this index generation, computed once per caller audience.

        The key is the visibility, not the user: callers who may see the same
        articles get the same answer. A new generation (an article published,
        changed or withdrawn, by this process or the outbox worker) or new synonyms
        empty the store, because `_get_searcher` and `synonyms` check both first.
        """
        searcher = self._get_searcher()
        self._current_synonyms()
        key = (visible.key, text, system, category, limit)
        found = self._results.get(key)
        if found is None:
            found = self._compute(searcher, text, visible, system, category, limit)
            self._results[key] = found
            while len(self._results) > self.result_entries:
                self._results.popitem(last=False)
        else:
            self._results.move_to_end(key)
        # a copy: callers may not change what the next caller gets
        return SearchResults(
            query=found.query,
            total=found.total,
            hits=list(found.hits),
            facets={name: dict(counts) for name, counts in found.facets.items()},
            suggestion=found.suggestion,
        )

    def _compute(self, searcher, text, visible, system, category, limit) -> SearchResults:
        cache = self._generation_cache(searcher)
        allowed = self._allowed(cache, visible)
        results = SearchResults(query=text)
        tokens = words(text)
        node, corrections = self._build_query(cache, allowed, tokens)
        if corrections:
            results.suggestion = suggestion(tokens, corrections)
        if node is None:
            return results
        # Count and facet with bitsets (no scoring), then score only what can reach the
        # top hits (`top_hits`).
        matched = node.bits(cache) & allowed.bits
        if system:
            matched &= cache.value_bits("system").get(system, 0)
        if category:
            matched &= cache.value_bits("category").get(category, 0)
        results.total = matched.bit_count()
        for name in FACETS:
            counts = cache.counts(name, matched)
            results.facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        if not matched:
            return results
        best = top_hits(node, cache, matched, limit)
        stems = node.stems()
        surfaces = cache.surfaces(stems)
        for docnum, score in best[:limit]:
            stored = cache.stored_fields(docnum)
            results.hits.append(
                Hit.found(stored, snippet(stored["body"], stems, surfaces=surfaces), score)
            )
        return results

    def _generation_cache(self, searcher) -> GenerationPostings:
        if self._cache is None or self._cache.reader is not searcher.reader():
            self._cache = self._segments.generation(searcher.reader(), self._generation)
        return self._cache

    def _build_query(self, postings: GenerationPostings, allowed: _Allowed, tokens: list[str]):
        """The query tree and corrections for these tokens (see `build_query`)."""
        reader = postings.reader
        known = memo(lambda stemmed: allowed.has_term(postings, stemmed))
        return build_query(
            tokens,
            self.synonyms,
            known=known,
            frequency=postings.frequency,
            near_words=lambda word: self._near_words(postings, word, known),
            docs=reader.doc_count_all(),
        )

    def _near_words(
        self, postings: GenerationPostings, word: str, known: Callable[[str], bool]
    ) -> list[str]:
        """The first `FUZZY_TERMS` visible words within one or two edits, closest and
        most frequent first (all `build_query` uses).

        Candidates are ordered by how many articles hold their stem, read from the term
        dictionary, and checked for visibility in that order until enough are found:
        the check reads the stem's postings, and reading every candidate's was most of
        a typo's cost at 20,000 articles (issue 18).
        """
        if len(word) < 4:
            return []
        maxdist = 1 if len(word) < 8 else 2
        stems = {c: stem(c) for c in postings.near_words(word, maxdist) if c != word}
        held = {c: postings.frequency(stemmed) for c, stemmed in stems.items()}
        found: list[str] = []
        for candidate in closest(word, held):
            if known(stems[candidate]):
                found.append(candidate)
                if len(found) == FUZZY_TERMS:
                    break
        return found

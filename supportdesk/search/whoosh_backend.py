"""The Whoosh backend: Danish analysis, boosted fields, highlights, facets, suggestions.

Visibility is a Whoosh `filter=` query, so a forbidden article never enters the
result set, the count or the facets. Words used for fuzzy matching, compound
splitting and "Mente du …?" must occur in a document the caller may see.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
import math
import os
import re
import shutil
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Unpack

from markupsafe import escape
from whoosh import index
from whoosh.fields import ID, TEXT, Schema
from whoosh.query import And, Or, Query, Term

from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.search import Hit, SearchFilters, SearchResults, SearchUnavailable, Visibility
from supportdesk.search.analysis import (
    STOP_WORDS,
    danish_analyzer,
    fold,
    stem,
    words,
)
from supportdesk.search.query import TEXT_FIELDS, build_query, distance, memo
from supportdesk.search.storage import IndexStorage
from supportdesk.search.synonyms import Synonyms

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 20.0
# BM25 constants of the scorer.
K1 = 1.2
B = 0.75
# Answers kept per index generation: the same words from the same audience are common
# (the FAQ search box, the suggestions beside a ticket being written).
RESULT_ENTRIES = 1024
_MARKDOWN_NOISE = re.compile(r"[#*_`>\[\]|]+|\(https?://[^)]*\)")


def make_schema() -> Schema:
    analyzer = danish_analyzer()
    return Schema(
        slug=ID(stored=True, unique=True),
        title=TEXT(analyzer=analyzer, stored=True),
        tags=TEXT(analyzer=analyzer, stored=True),
        body=TEXT(analyzer=analyzer, stored=True),
        # Unstemmed words of title, tags and body: the vocabulary for typos and suggestions.
        words=TEXT(analyzer=danish_analyzer(stemming=False), phrase=False),
        system=ID(stored=True, sortable=True),
        category=ID(stored=True, sortable=True),
        audience=ID(stored=True),
        municipality=ID(stored=True),
        vendor=ID(stored=True),
        state=ID(stored=True),
    )


def plain_text(markdown: str) -> str:
    """Markdown without its markup, for indexing and snippets."""
    return _MARKDOWN_NOISE.sub(" ", markdown or "")


def document_for(article: Article) -> dict[str, str]:
    return {
        "slug": article.slug,
        "title": article.title,
        "tags": " , ".join(article.tags or []),
        "body": plain_text(article.body),
        "words": " ".join((article.title, " ".join(article.tags or []), plain_text(article.body))),
        "system": article.system.slug,
        "category": article.category.slug,
        "audience": article.audience.value,
        "municipality": str(article.municipality_id or ""),
        "vendor": str(article.system.vendor_id),
        "state": article.state.value,
    }


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


def snippet(text: str, stems: set[str], width: int = 220) -> str:
    """Escaped text around the first matches with <mark> on words whose stem was searched.

    Cheaper than re-running the analyzer through Whoosh's highlighter: one regex pass
    and cached stems.
    """
    marks = [
        m
        for m in _WORD.finditer(text)
        if m.group().lower() not in STOP_WORDS and stem(fold(m.group().lower())) in stems
    ]
    if marks:
        start = max(0, marks[0].start() - 60)
        start = text.rfind(" ", 0, start) + 1 if start else 0
    else:
        start = 0
    end = min(len(text), start + width)
    out, cursor = [], start
    for m in marks:
        if m.start() < start:
            continue
        if m.end() > end:
            break
        out.append(str(escape(text[cursor : m.start()])))
        out.append(f"<mark>{escape(m.group())}</mark>")
        cursor = m.end()
    out.append(str(escape(text[cursor:end])))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    return prefix + " ".join("".join(out).split()) + suffix


class _GenerationCache:
    """Postings as sets and facet columns for one index generation (LRU for terms)."""

    def __init__(self, searcher, generation: int | None) -> None:
        self.generation = generation
        self.reader = searcher.reader()
        self._terms: OrderedDict[str, frozenset[int]] = OrderedDict()
        self._columns: dict[str, list[str]] = {}
        self._scores: OrderedDict[str, dict[int, float]] = OrderedDict()
        self._lengths: dict[str, list[int]] = {}
        self._values: dict[tuple[str, str], frozenset[int]] = {}

    def term_docs(self, stemmed: str) -> frozenset[int]:
        docs = self._terms.get(stemmed)
        if docs is None:
            found: set[int] = set()
            for name in TEXT_FIELDS:
                if self.reader.frequency(name, stemmed):
                    found.update(self.reader.postings(name, stemmed).all_ids())
            docs = frozenset(found)
            self._terms[stemmed] = docs
            if len(self._terms) > 20000:
                self._terms.popitem(last=False)
        else:
            self._terms.move_to_end(stemmed)
        return docs

    def term_scores(self, stemmed: str) -> dict[int, float]:
        """Per-document score of one stem over title, tags and body (boosted BM25F)."""
        scores = self._scores.get(stemmed)
        if scores is not None:
            self._scores.move_to_end(stemmed)
            return scores
        scores = {}
        n = max(self.reader.doc_count_all(), 1)
        for name, boost in TEXT_FIELDS.items():
            df = self.reader.doc_frequency(name, stemmed)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            lengths = self.lengths(name)
            average = self.average_length(name)
            postings = self.reader.postings(name, stemmed)
            while postings.is_active():
                d = postings.id()
                tf = postings.weight()
                norm = tf + K1 * (1 - B + B * lengths[d] / average)
                scores[d] = scores.get(d, 0.0) + boost * idf * tf * (K1 + 1) / norm
                postings.next()
        self._scores[stemmed] = scores
        if len(self._scores) > 20000:
            self._scores.popitem(last=False)
        return scores

    def lengths(self, name: str) -> list[int]:
        if name not in self._lengths:
            self._lengths[name] = [
                self.reader.doc_field_length(d, name, 0) or 0
                for d in range(self.reader.doc_count_all())
            ]
        return self._lengths[name]

    def average_length(self, name: str) -> float:
        n = max(self.reader.doc_count_all(), 1)
        return max(self.reader.field_length(name) / n, 1.0)

    def column(self, name: str) -> list[str]:
        if name not in self._columns:
            self._columns[name] = list(self.reader.column_reader(name))
        return self._columns[name]

    def values(self, name: str, value: str) -> frozenset[int]:
        key = (name, value)
        if key not in self._values:
            self._values[key] = frozenset(d for d, v in enumerate(self.column(name)) if v == value)
        return self._values[key]


class _Allowed:
    """The document numbers a caller may see in one searcher generation (cached)."""

    def __init__(self, searcher, visible: Visibility) -> None:
        self.everything = visible.everything
        # For "everything" too: the live documents, so deleted ones never count.
        self.docs = frozenset(searcher.docs_for_query(visibility_query(visible)))

    def has_term(self, reader, stemmed: str) -> bool:
        for name in TEXT_FIELDS:
            if not reader.frequency(name, stemmed):
                continue
            if self.everything:
                return True
            postings = reader.postings(name, stemmed)
            for docnum in postings.all_ids():
                if docnum in self.docs:
                    return True
        return False


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
        self._cache: _GenerationCache | None = None
        self._lock = threading.RLock()
        self.storage = IndexStorage(self.path)  # the lock across processes (storage.py)
        self._allowed_cache: OrderedDict[tuple, _Allowed] = OrderedDict()
        self._results: OrderedDict[tuple, SearchResults] = OrderedDict()

    # --- index lifecycle -------------------------------------------------------------

    def _open(self):
        if self._ix is None:
            self._ix = self.storage.open_checked()
        return self._ix

    def _reset(self) -> None:
        if self._searcher is not None:
            with contextlib.suppress(Exception):  # a broken searcher is dropped either way
                self._searcher.close()
        self._searcher = None
        self._ix = None
        self._cache = None
        self._allowed_cache.clear()
        self._results.clear()

    def _get_searcher(self):
        ix = self._open()
        if self._searcher is not None and ix.latest_generation() != self._generation:
            # A fresh searcher, not Searcher.refresh(): refresh reuses segment readers
            # whose deletion sets are stale, so removed articles would still be found.
            self._searcher.close()
            self._searcher = None
            self._allowed_cache.clear()
            self._results.clear()
        if self._searcher is None:
            self._searcher = ix.searcher()
            self._generation = self._searcher.reader().generation()
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
        with self._lock:
            writer = self._writer()
            try:
                writer.update_document(**document_for(article))
            except Exception:
                writer.cancel()
                raise
            writer.commit()

    def remove(self, slug: str) -> None:
        with self._lock:
            writer = self._writer()
            writer.delete_by_term("slug", slug)
            writer.commit()

    def rebuild(self, articles: Iterable[Article]) -> int:
        """Build a fresh index beside the old one, then swap directories."""
        with self._lock, self.storage.lock():
            self._reset()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = self.path.with_name(self.path.name + ".new")
            shutil.rmtree(fresh, ignore_errors=True)
            fresh.mkdir(parents=True)
            ix = index.create_in(str(fresh), make_schema())
            writer = ix.writer(limitmb=128)
            count = 0
            for article in articles:
                if article.state == ArticleState.published:
                    writer.add_document(**document_for(article))
                    count += 1
            writer.commit()
            ix.close()
            old = self.path.with_name(self.path.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.path.exists():
                self.path.rename(old)
            fresh.rename(self.path)
            shutil.rmtree(old, ignore_errors=True)
            return count

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

    def _allowed(self, searcher, visible: Visibility) -> _Allowed:
        key = visible.key
        allowed = self._allowed_cache.get(key)
        if allowed is None:
            allowed = _Allowed(searcher, visible)
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
        reader = searcher.reader()
        cache = self._generation_cache(searcher)
        allowed = self._allowed(searcher, visible)
        results = SearchResults(query=text)
        node, corrections = self._build_query(reader, allowed, words(text))
        if corrections:
            results.suggestion = self._suggestion(text, corrections)
        if node is None:
            return results
        # Count and facet with set algebra on cached postings (no scoring), then let
        # Whoosh score only the top hits among exactly those documents.
        matched = node.docs(cache) & allowed.docs
        if system:
            matched = matched & cache.values("system", system)
        if category:
            matched = matched & cache.values("category", category)
        results.total = len(matched)
        for name in ("system", "category"):
            counts = Counter(cache.column(name)[d] for d in matched)
            results.facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        if not matched:
            return results
        scores = node.scores(cache, matched)
        best = heapq.nlargest(max(limit, 1), scores.items(), key=lambda item: (item[1], -item[0]))
        stems = node.stems()
        for docnum, score in best[:limit]:
            stored = searcher.stored_fields(docnum)
            results.hits.append(
                Hit(
                    slug=stored["slug"],
                    title=stored["title"],
                    system=stored["system"],
                    category=stored["category"],
                    snippet=snippet(stored["body"], stems),
                    score=round(score, 4),
                )
            )
        return results

    def _generation_cache(self, searcher) -> _GenerationCache:
        if self._cache is None or self._cache.generation != self._generation:
            self._cache = _GenerationCache(searcher, self._generation)
        return self._cache

    def _build_query(self, reader, allowed: _Allowed, tokens: list[str]):
        """The query tree and corrections for these tokens (see `build_query`)."""
        known = memo(lambda stemmed: allowed.has_term(reader, stemmed))
        return build_query(
            tokens,
            self.synonyms,
            known=known,
            frequency=lambda stemmed: max(
                reader.doc_frequency(name, stemmed) for name in TEXT_FIELDS
            ),
            near_words=lambda word: self._near_words(reader, word, known),
            docs=reader.doc_count_all(),
        )

    def _near_words(self, reader, word: str, known: Callable[[str], bool]) -> list[str]:
        """Visible words within one or two edits, closest and most frequent first."""
        if len(word) < 4:
            return []
        maxdist = 1 if len(word) < 8 else 2
        scored: dict[str, tuple[int, int]] = {}
        for candidate in reader.terms_within("words", word, maxdist, prefix=1):
            if candidate == word or candidate in scored:
                continue
            stemmed = stem(candidate)
            if not known(stemmed):
                continue
            freq = max(reader.doc_frequency(n, stemmed) for n in TEXT_FIELDS)
            scored[candidate] = (distance(word, candidate), -freq)
        return sorted(scored, key=lambda c: (scored[c], c))

    @staticmethod
    def _suggestion(text: str, corrections: dict[str, str]) -> str | None:
        typed = words(text)
        changed = [corrections.get(w, w) for w in typed]
        return None if changed == typed else " ".join(changed)

"""Search behind one interface: Whoosh on one machine, PostgreSQL full text on several.

The index is derived data. It is updated through the outbox ("search.index") in
the transaction that publishes or archives an article, can be rebuilt from the
database at any time (`flask --app wsgi search rebuild`), and every search is
filtered by the caller's visibility *inside* the backend query, so results,
totals, facets and suggestions only ever come from articles the caller may see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict, TypeVar, Unpack

from flask import Flask, current_app
from flask_babel import lazy_gettext as _l

from supportdesk.config import ROOT_DIR
from supportdesk.errors import DomainError
from supportdesk.faq import services
from supportdesk.faq.models import Article, Visibility

PROGRESS_EVERY = 1000  # articles between two progress(count) calls of a rebuild
T = TypeVar("T")


def with_progress(items: Iterable[T], progress: Callable[[int], None] | None) -> Iterator[T]:
    """The items; `progress(count)` once every `PROGRESS_EVERY` items the caller is done
    with, and after the last when it fell between (a rebuild's progress, both backends)."""
    count = 0
    for count, item in enumerate(items, 1):
        yield item
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(count)
    if progress is not None and count % PROGRESS_EVERY:
        progress(count)


class SearchUnavailable(DomainError):
    """The index could not be opened nor rebuilt: a clear 503, never a 500."""

    status = 503
    code = "search_unavailable"
    default_message = _l("Search is temporarily unavailable. Please try again in a moment.")


@dataclass
class Hit:
    slug: str
    title: str
    system: str
    category: str
    snippet: str  # HTML: escaped text with <mark> around matched words
    score: float

    @classmethod
    def found(cls, stored: Mapping[str, Any], snippet: str, score: float) -> Hit:
        """A hit from an article's stored fields, as either backend keeps them."""
        keys = ("slug", "title", "system", "category")
        return cls(*(stored[key] for key in keys), snippet=snippet, score=round(score, 4))


@dataclass
class SearchResults:
    query: str
    total: int = 0
    hits: list[Hit] = field(default_factory=list)
    facets: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"system": {}, "category": {}}
    )
    suggestion: str | None = None


class SearchFilters(TypedDict, total=False):
    """What narrows a search besides the words and the caller's visibility."""

    system: str | None
    category: str | None
    limit: int


class SearchBackend(Protocol):
    def index(self, article: Article) -> None:
        """Add, replace or (when not published) remove one article."""

    def remove(self, slug: str) -> None: ...

    def rebuild(
        self, articles: Iterable[Article], progress: Callable[[int], None] | None = None
    ) -> int:
        """Replace the whole index with these articles; returns how many were indexed.

        `progress(count)` is called now and then with the number of articles done.
        """

    def search(
        self, query: str, user_filter: Visibility, **filters: Unpack[SearchFilters]
    ) -> SearchResults: ...

    def check(self) -> None:
        """Raise if the index is unusable (the /healthz search check)."""


def get_backend(app: Flask | None = None) -> SearchBackend:
    """The app's backend, created once per process."""
    app = app or current_app
    backend = app.extensions.get("supportdesk.search")
    if backend is None:
        backend = _create(app)
        app.extensions["supportdesk.search"] = backend
    return backend


def _create(app: Flask) -> SearchBackend:
    settings = app.config["SUPPORTDESK"]
    synonyms = app.config.get("SUPPORTDESK_SYNONYMS", _default_synonyms())
    if settings.search_backend == "postgres":
        # Several app nodes share the database, so no node owns a local index. The
        # backends import this module's types (Hit, SearchResults …): imported here,
        # once this module is complete, to avoid that cycle (and PostgreSQL's only
        # when configured).
        from supportdesk.search.postgres_backend import PostgresBackend

        return PostgresBackend(synonyms_path=synonyms)
    from supportdesk.search.whoosh_backend import WhooshBackend  # same cycle as above

    return WhooshBackend(
        settings.index_dir,
        synonyms_path=synonyms,
        loader=_published_articles,
    )


def _default_synonyms() -> str:
    return str(ROOT_DIR / "faq_content" / "synonyms.txt")


def _published_articles() -> list[Article]:
    return services.published_articles()


def init_app(app: Flask) -> None:
    """Health check for /healthz and the outbox handler (registered on import)."""
    # registers the outbox handler and the article_changed receiver; imported here
    # because tasks imports get_backend from this module (cycle)
    from supportdesk.search import tasks  # noqa: F401

    app.extensions["supportdesk.search_health"] = lambda: get_backend(app).check()
    storage = getattr(get_backend(app), "storage", None)  # Whoosh: a local directory
    if storage is not None:
        storage.check_at_start()

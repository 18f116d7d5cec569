"""FAQ articles with every version kept, feedback, deflections and the search log."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from supportdesk.accounts.models import Category, Municipality, System, User, str_enum
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow


class Audience(enum.StrEnum):
    public = "public"
    first_level = "first_level"
    municipal = "municipal"
    vendor_internal = "vendor_internal"


@dataclass(frozen=True)
class Visibility:
    """Which published articles a caller may read; built by policy.article_visibility(user)."""

    everything: bool = False
    first_level: bool = False
    municipality_id: int | None = None
    vendor_id: int | None = None

    @property
    def key(self) -> tuple[bool, bool, int | None, int | None]:
        return (self.everything, self.first_level, self.municipality_id, self.vendor_id)


class ArticleState(enum.StrEnum):
    draft = "draft"
    review = "review"
    published = "published"
    archived = "archived"


# Allowed state changes (draft → review → published → archived, and back to draft to rework).
TRANSITIONS: dict[ArticleState, frozenset[ArticleState]] = {
    ArticleState.draft: frozenset({ArticleState.review, ArticleState.published}),
    ArticleState.review: frozenset({ArticleState.draft, ArticleState.published}),
    ArticleState.published: frozenset({ArticleState.archived, ArticleState.draft}),
    ArticleState.archived: frozenset({ArticleState.draft, ArticleState.published}),
}

article_relation = Table(
    "article_relation",
    db.metadata,
    Column("article_id", ForeignKey("article.id", ondelete="CASCADE"), primary_key=True),
    Column("related_id", ForeignKey("article.id", ondelete="CASCADE"), primary_key=True),
)


class Article(db.Model):
    """One FAQ article; its current text is the latest version, history in ArticleVersion."""

    __tablename__ = "article"
    __table_args__ = (Index("ix_article_system_state", "system_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("category.id"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    audience: Mapped[Audience] = mapped_column(str_enum(Audience, "article_audience"))
    # Only for municipal (local) guides: the municipality that owns them.
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    state: Mapped[ArticleState] = mapped_column(
        str_enum(ArticleState, "article_state"), default=ArticleState.draft
    )
    # The "updated" date shown to readers and kept in the file's front matter.
    updated: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column()

    system: Mapped[System] = relationship()
    category: Mapped[Category] = relationship()
    municipality: Mapped[Municipality | None] = relationship()
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", order_by="ArticleVersion.number", cascade="all, delete-orphan"
    )
    related: Mapped[list[Article]] = relationship(
        secondary=article_relation,
        primaryjoin=lambda: Article.id == article_relation.c.article_id,
        secondaryjoin=lambda: Article.id == article_relation.c.related_id,
        order_by=lambda: Article.title,
    )

    @property
    def vendor_id(self) -> int:
        return self.system.vendor_id

    def __repr__(self) -> str:
        return f"<Article {self.slug}>"


class ArticleVersion(db.Model):
    """A snapshot of an article after each change: who changed what, and when."""

    __tablename__ = "article_version"
    __table_args__ = (UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("article.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    category_slug: Mapped[str] = mapped_column(String(60))
    audience: Mapped[Audience] = mapped_column(str_enum(Audience, "article_audience"))
    state: Mapped[ArticleState] = mapped_column(str_enum(ArticleState, "article_state"))
    # What happened: "import", "edit", "review", "publish", "archive" …
    action: Mapped[str] = mapped_column(String(20))
    # None for changes made by the file import.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship()


class ArticleFeedback(db.Model):
    """ "Var artiklen nyttig?": no user id, so the report holds no personal data."""

    __tablename__ = "article_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), index=True
    )
    helpful: Mapped[bool] = mapped_column(Boolean)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()


class Deflection(db.Model):
    """An article solved the problem before a ticket was created (DESIGN rule 8)."""

    __tablename__ = "deflection"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), index=True
    )
    system_id: Mapped[int] = mapped_column(ForeignKey("system.id"), index=True)
    municipality_id: Mapped[int | None] = mapped_column(ForeignKey("municipality.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()
    system: Mapped[System] = relationship()


class SearchLog(db.Model):
    """One search: the normalised query and whether a result was opened; nobody's id."""

    __tablename__ = "search_log"
    # SQLite: ids are never reused, so `search_log` can take them in blocks beforehand
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(200), index=True)
    system_slug: Mapped[str | None] = mapped_column(String(60))
    result_count: Mapped[int] = mapped_column(Integer)
    clicked: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(12), default="page")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class TicketShownArticle(db.Model):
    """Which articles were suggested while the ticket was written (keyed by ticket id)."""

    __tablename__ = "ticket_shown_article"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("article.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    article: Mapped[Article] = relationship()


# The published articles' slugs, titles and audiences (offered for insertion on the
# ticket page); the search pages follow their own index generation instead.
ARTICLES_GENERATION = "faq:articles"
generations.track(
    Article,
    lambda _article: [ARTICLES_GENERATION],
    only=("slug", "title", "state", "audience", "municipality_id", "system_id"),
)


__all__ = [
    "ARTICLES_GENERATION",
    "TRANSITIONS",
    "Article",
    "ArticleFeedback",
    "ArticleState",
    "ArticleVersion",
    "Audience",
    "Deflection",
    "SearchLog",
    "TicketShownArticle",
    "Visibility",
    "article_relation",
]

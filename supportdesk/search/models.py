"""Tables of the PostgreSQL full-text backend: derived from published articles, rebuildable.

They exist on SQLite too (one schema for both databases) but only the `postgres`
search backend fills and reads them.
"""

from __future__ import annotations

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.extensions import db


class SearchDocument(db.Model):
    """One published article as the search sees it: visibility, text for snippets, lexemes."""

    __tablename__ = "search_document"
    __table_args__ = (Index("ix_search_document_document", "document", postgresql_using="gin"),)

    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    system: Mapped[str] = mapped_column(String(60))
    category: Mapped[str] = mapped_column(String(60))
    # The visibility columns mirror Article (audience, municipality, the system's vendor).
    audience: Mapped[str] = mapped_column(String(20))
    municipality_id: Mapped[int | None] = mapped_column(Integer)
    vendor_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    tags: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    # Lexemes of the project's Danish analysis with weights A (title), B (tags), D (body).
    document: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))


class SearchWord(db.Model):
    """An unstemmed word of one document: the vocabulary for typos, compounds and suggestions.

    Carries the document's visibility columns so "words the caller may see" is one
    indexed lookup without a join.
    """

    __tablename__ = "search_word"
    __table_args__ = (
        Index("ix_search_word_stem", "stem"),
        Index("ix_search_word_word", "word", postgresql_ops={"word": "text_pattern_ops"}),
    )

    slug: Mapped[str] = mapped_column(String(120), primary_key=True)
    word: Mapped[str] = mapped_column(String(100), primary_key=True)
    stem: Mapped[str] = mapped_column(String(100))
    audience: Mapped[str] = mapped_column(String(20))
    municipality_id: Mapped[int | None] = mapped_column(Integer)
    vendor_id: Mapped[int] = mapped_column(Integer)


class SearchStem(db.Model):
    """How many documents hold a stem: the idf of ranking and the order of long queries."""

    __tablename__ = "search_stem"

    stem: Mapped[str] = mapped_column(String(100), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)


__all__ = ["SearchDocument", "SearchStem", "SearchWord"]

"""Tables of the PostgreSQL full-text backend: derived from published articles, rebuildable.

They exist on SQLite too (one schema for both databases) but only the `postgres`
search backend fills and reads them.
"""

from __future__ import annotations

from sqlalchemy import (
    REAL,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from supportdesk.extensions import db


class SearchDocument(db.Model):
    """One published article as the search sees it: visibility, text for snippets, lexemes."""

    __tablename__ = "search_document"
    __table_args__ = (
        # Rows of a few dozen bytes (text and lexemes out of line): counting and faceting
        # thousands of matches reads a few hundred heap pages, not the articles' text.
        {"postgresql_with": {"toast_tuple_target": "128"}},
    )

    # The document number the postings and words refer to: 4 bytes instead of the slug.
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
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
    # Not indexed: searches read `search_block`; the lexemes let a migration derive the
    # postings from an index written by an older version without analysing again.
    document: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))
    # Terms per field (stop words left out): the average lengths of BM25F's normalisation.
    title_length: Mapped[int] = mapped_column(Integer, default=0)
    tags_length: Mapped[int] = mapped_column(Integer, default=0)
    body_length: Mapped[int] = mapped_column(Integer, default=0)


class SearchPosting(db.Model):
    """A stem of one document with its BM25F weight (idf left out), computed when indexed.

    Carries the document's visibility key and facet numbers: the rows a stem's blocks
    (`SearchBlock`) are packed from, and whether a shown article is still visible to
    the caller. Every column but the stem is a small integer.
    """

    __tablename__ = "search_posting"
    __table_args__ = (
        # The visibility key second: the postings of one block are one index range, read
        # without the heap when index() rewrites the blocks of the stems it touched.
        Index(
            "ix_search_posting_rank",
            "stem",
            "visibility",
            postgresql_include=["document", "weight", "system", "category"],
        ),
        # A block rewrite is a short pass over a few thousand index entries: parallel
        # workers cost more to start than they save, and take cores from other requests.
        {"postgresql_with": {"parallel_workers": "0"}},
    )

    document: Mapped[int] = mapped_column(Integer, primary_key=True)  # search_document.id
    stem: Mapped[str] = mapped_column(String(100), primary_key=True)
    weight: Mapped[float] = mapped_column(REAL)
    visibility: Mapped[int] = mapped_column(Integer)  # postgres_ranking.visibility_key
    system: Mapped[int] = mapped_column(SmallInteger)  # search_facet.id
    category: Mapped[int] = mapped_column(SmallInteger)  # search_facet.id


class SearchBlock(db.Model):
    """The postings of one stem that one group of readers may see, packed: what a search reads.

    A search reads a few dozen of these rows (one per query stem and visibility key the
    caller has) and scores, counts and facets the documents in numpy, instead of the
    database grouping tens of thousands of posting rows per long query. `postings` is
    the block's postings in document order, 12 bytes each, as PostgreSQL's binary send
    functions write them (big-endian): document number int4, weight float4 (the
    postings' `real`), system and category numbers int2 (`postgres_ranking.POSTING`).
    Derived from `search_posting` by `postgres_backend` for the stems an index() or
    remove() touched.
    """

    __tablename__ = "search_block"

    stem: Mapped[str] = mapped_column(String(100), primary_key=True)
    visibility: Mapped[int] = mapped_column(Integer, primary_key=True)
    postings: Mapped[bytes] = mapped_column(LargeBinary)


class SearchFacet(db.Model):
    """A system or category slug by number: the postings carry the number, facets and
    hits show the slug. Added by index(), numbered afresh by rebuild()."""

    __tablename__ = "search_facet"
    __table_args__ = (UniqueConstraint("kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "system" or "category"
    name: Mapped[str] = mapped_column(String(60))


class SearchVocabulary(db.Model):
    """Every distinct unstemmed word once: typo candidates come from here, not from the
    (word, document) rows, whose visibility is then checked for the few candidates."""

    __tablename__ = "search_vocabulary"
    __table_args__ = (
        Index("ix_search_vocabulary_word", "word", postgresql_ops={"word": "text_pattern_ops"}),
    )

    word: Mapped[str] = mapped_column(String(100), primary_key=True)
    stem: Mapped[str] = mapped_column(String(100))


class SearchWord(db.Model):
    """An unstemmed word of one document: the vocabulary for typos, compounds and suggestions.

    Carries the document's visibility key so "words the caller may see" is one
    indexed lookup without a join.
    """

    __tablename__ = "search_word"
    __table_args__ = (
        Index("ix_search_word_word", "word", postgresql_ops={"word": "text_pattern_ops"}),
    )

    document: Mapped[int] = mapped_column(Integer, primary_key=True)  # search_document.id
    word: Mapped[str] = mapped_column(String(100), primary_key=True)
    stem: Mapped[str] = mapped_column(String(100))
    visibility: Mapped[int] = mapped_column(Integer)  # postgres_ranking.visibility_key


class SearchStem(db.Model):
    """How many documents hold a stem: the idf of ranking and the order of long queries."""

    __tablename__ = "search_stem"

    stem: Mapped[str] = mapped_column(String(100), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)


class SearchTotal(db.Model):
    """The number of indexed documents (one row): the idf's N without counting every search."""

    __tablename__ = "search_total"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)


__all__ = [
    "SearchBlock",
    "SearchDocument",
    "SearchFacet",
    "SearchPosting",
    "SearchStem",
    "SearchTotal",
    "SearchVocabulary",
    "SearchWord",
]

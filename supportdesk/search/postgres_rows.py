"""What the PostgreSQL full-text index stores of an article, and how a rebuild copies it.

`row_for` analyses an article once (supportdesk.search.analysis) into its
`search_document` row, its unstemmed words and their stems, and its terms per field;
`with_postings` weighs its stems (BM25F without the idf, against the average field
lengths); `grouped_postings` gathers many rows' postings into the blocks a search reads.
index() in postgres_backend writes one row with statements; `copy_words` and
`copy_index` write a whole rebuild's rows with COPY, computing here what index() has the
database derive (facet numbers, the stems' document counts, the packed blocks).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

import numpy as np

from supportdesk.faq.models import Article, Audience
from supportdesk.search import with_progress
from supportdesk.search.analysis import danish_analyzer, stem, unique
from supportdesk.search.postgres_ranking import POSTING, visibility_key
from supportdesk.search.postings import K1, B
from supportdesk.search.query import TEXT_FIELDS
from supportdesk.search.whoosh_backend import plain_text

MAX_WORD = 100  # longer "words" (hashes, glued URLs) are neither indexed nor suggested
MAX_POSITION = 16383  # PostgreSQL's limit for a tsvector position
MAX_POSITIONS = 255  # positions kept per lexeme
FIELDS = tuple(TEXT_FIELDS)  # title, tags, body
_unstemmed = danish_analyzer(stemming=False)

# rebuild(): a row's keys in the order of search_document's columns ("number" is `id`).
_DOCUMENT_COLUMNS = (
    "number",
    "slug",
    "system",
    "category",
    "audience",
    "municipality_id",
    "vendor_id",
    "title",
    "tags",
    "body",
    "document",
    "title_length",
    "tags_length",
    "body_length",
)


def _quote(lexeme: str) -> str:
    """A lexeme as a tsvector/tsquery literal."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def field_terms(title: str, tags: str, body: str) -> dict[str, list[str]]:
    """Each field's unstemmed terms in order (folded, no stop words): analysed once."""
    values = {"title": title, "tags": tags, "body": body}
    return {name: [token.text for token in _unstemmed(values[name])] for name in FIELDS}


def _tsvector(fields: dict[str, list[str]]) -> str:
    """The stemmed lexemes with positions and weights, in tsvector input syntax."""
    positions: dict[str, list[str]] = {}
    position = 0
    for name, weight in zip(FIELDS, ("A", "B", ""), strict=True):  # D is the default
        for word in fields[name]:
            position += 1
            if len(word) > MAX_WORD:
                continue
            kept = positions.setdefault(stem(word), [])
            if len(kept) < MAX_POSITIONS and position <= MAX_POSITION:
                kept.append(f"{position}{weight}")
    return " ".join(f"{_quote(lexeme)}:{','.join(p)}" for lexeme, p in positions.items())


def tsvector_literal(title: str, tags: str, body: str) -> str:
    """The analysed lexemes with positions and weights, in tsvector input syntax."""
    return _tsvector(field_terms(title, tags, body))


def posting_weights(fields: dict[str, list[str]], averages: dict[str, float]) -> dict[str, float]:
    """{stem: BM25F weight without idf}, as the Whoosh backend's scorer weighs a stem.

    A field's term frequency is normalised by its length against the average length
    (`averages`; a field without one counts as average), boosted, summed over the
    fields and saturated once.
    """
    pseudo: dict[str, float] = {}
    for name, boost in TEXT_FIELDS.items():
        terms = fields[name]
        if not terms:
            continue
        average = averages.get(name) or len(terms)
        norm = 1 - B + B * len(terms) / average
        for stemmed, tf in Counter(stem(w) for w in terms if len(w) <= MAX_WORD).items():
            pseudo[stemmed] = pseudo.get(stemmed, 0.0) + boost * tf / norm
    return {s: tf * (K1 + 1) / (tf + K1) for s, tf in pseudo.items()}


def row_for(article: Article) -> dict:
    tags = " , ".join(article.tags or [])
    body = plain_text(article.body)
    fields = field_terms(article.title, tags, body)
    unstemmed = unique(w for name in FIELDS for w in fields[name] if len(w) <= MAX_WORD)
    return {
        "slug": article.slug,
        "system": article.system.slug,
        "category": article.category.slug,
        "audience": Audience(article.audience).value,
        "municipality_id": article.municipality_id,
        "vendor_id": article.system.vendor_id,
        "visibility": visibility_key(
            article.audience, article.municipality_id, article.system.vendor_id
        ),
        "title": article.title,
        "tags": tags,
        "body": body,
        "document": _tsvector(fields),
        "words": unstemmed,
        "stems": [stem(w) for w in unstemmed],
        **{f"{name}_length": len(fields[name]) for name in FIELDS},
        "fields": fields,
    }


def with_postings(row: dict, averages: dict[str, float]) -> dict:
    """The row with its stems and their weights as the postings' `real` column holds them
    (`reals`): index() casts them, a rebuild copies them and packs them into blocks."""
    weights = posting_weights(row["fields"], averages)
    return {**row, "posting_stems": list(weights), "posting_weights": reals(weights.values())}


def grouped_postings(
    rows: list[dict], facets: dict[tuple[str, str], int]
) -> dict[tuple[str, int], list[tuple]]:
    """{(stem, visibility key): [(number, weight, system, category), …]} of rows given in
    ascending number (`with_postings`): each block's postings in document order, as
    `_REFRESH_BLOCKS` packs them."""
    blocks: dict[tuple[str, int], list[tuple]] = {}
    for row in rows:
        number, key = row["number"], row["visibility"]
        system = facets[("system", row["system"])]
        category = facets[("category", row["category"])]
        for stemmed, weight in zip(row["posting_stems"], row["posting_weights"], strict=True):
            blocks.setdefault((stemmed, key), []).append((number, weight, system, category))
    return blocks


def reals(values: Iterable[float]) -> list[float]:
    """The values as PostgreSQL's `real` holds them (float8 rounded to the nearest float4)."""
    return np.fromiter(values, dtype=np.float64).astype(np.float32).tolist()


def _copy(cursor, table: str, columns: str, rows: Iterable[tuple]) -> None:
    """COPY rows (tuples in the order of columns) into table, in the cursor's transaction."""
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def copy_words(
    cursor,
    articles: list[Article],
    numbers: dict[str, int],
    progress: Callable[[int], None] | None,
) -> list[dict]:
    """The articles analysed (`row_for`) and numbered, their words copied as they come."""
    rows = []

    def words_of_articles() -> Iterable[tuple]:
        for article in with_progress(articles, progress):
            row = row_for(article)
            number = row["number"] = numbers[article.slug]
            rows.append(row)
            for word, stemmed in zip(row["words"], row["stems"], strict=True):
                yield number, word, stemmed, row["visibility"]

    _copy(cursor, "search_word", "document, word, stem, visibility", words_of_articles())
    return rows


def copy_index(cursor, rows: list[dict]) -> None:
    """Write the rest of the index of rows (`copy_words`, in number order) with COPY.

    What index() has the database derive (facet numbers, stem counts, blocks) is
    computed here from the same rows.
    """
    averages = {name: sum(row[f"{name}_length"] for row in rows) / len(rows) for name in FIELDS}
    kinds = ("system", "category")
    facets = {f: i for i, f in enumerate(sorted({(k, row[k]) for row in rows for k in kinds}), 1)}
    _copy(cursor, "search_facet", "id, kind, name", ((i, k, n) for (k, n), i in facets.items()))
    _copy(
        cursor,
        "search_document",
        ", ".join("id" if column == "number" else column for column in _DOCUMENT_COLUMNS),
        (tuple(row[column] for column in _DOCUMENT_COLUMNS) for row in rows),
    )
    vocabulary: dict[str, str] = {}
    documents: Counter[str] = Counter()
    for row in rows:
        vocabulary.update(zip(row["words"], row["stems"], strict=True))
        documents.update(set(row["stems"]))
    _copy(cursor, "search_vocabulary", "word, stem", sorted(vocabulary.items()))
    _copy(cursor, "search_stem", "stem, documents", sorted(documents.items()))
    blocks = grouped_postings([with_postings(row, averages) for row in rows], facets)
    keys = sorted(blocks)  # the order of the postings' covering index
    _copy(
        cursor,
        "search_posting",
        "document, stem, weight, visibility, system, category",
        (
            (number, stemmed, weight, key, system, category)
            for stemmed, key in keys
            for number, weight, system, category in blocks[stemmed, key]
        ),
    )
    _copy(
        cursor,
        "search_block",
        "stem, visibility, postings",
        ((s, k, np.array(blocks[s, k], POSTING).tobytes()) for s, k in keys),
    )


__all__ = [
    "FIELDS",
    "copy_index",
    "copy_words",
    "field_terms",
    "grouped_postings",
    "posting_weights",
    "reals",
    "row_for",
    "tsvector_literal",
    "with_postings",
]

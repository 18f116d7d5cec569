"""Where a PostgreSQL `search rebuild` spends its time, and what an edit costs after it.

`python -m bench.pg_rebuild --database-url URL [--articles N] [--corpus harsh|realistic]`
builds the search benchmark's corpus in a throw-away database on that server (as
`bench.search_bench --backend postgres` does), rebuilds the index twice (into empty
tables, then over the full index, as an operator's rebuild runs) and prints each
rebuild's time with the seconds spent per statement and per table copied; then it edits
50 articles (index() and commit) and prints the median and the slowest. Prints only.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter

from sqlalchemy import event

from bench.search_bench import _postgres_app, make_corpus
from supportdesk.extensions import db
from supportdesk.search import postgres_rows

EDITS = 50


def _timed_statements(spent: Counter) -> None:
    """Add each statement's wall time to spent, keyed by its first words."""

    @event.listens_for(db.engine, "before_cursor_execute")
    def before(conn, _cursor, _statement, _parameters, _context, _executemany):
        conn.info["started"] = time.perf_counter()

    @event.listens_for(db.engine, "after_cursor_execute")
    def after(conn, _cursor, statement, _parameters, _context, _executemany):
        spent[" ".join(statement.split())[:60]] += time.perf_counter() - conn.info["started"]

    copy = postgres_rows._copy

    def timed_copy(cursor, table, columns, rows):
        started = time.perf_counter()
        copy(cursor, table, columns, rows)
        spent[f"COPY {table}"] += time.perf_counter() - started

    postgres_rows._copy = timed_copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--corpus", choices=["harsh", "realistic"], default="harsh")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    docs, words, _topics = make_corpus(args.articles, args.corpus, rng)
    spent: Counter = Counter()
    with _postgres_app(args.database_url) as (backend, size_mb, commit):
        _timed_statements(spent)
        for name in ("into empty tables", "over the full index"):
            spent.clear()
            started = time.perf_counter()
            backend.rebuild(docs)
            print(f"rebuild {name}: {time.perf_counter() - started:.1f} s")
            for what, seconds in spent.most_common(8):
                print(f"  {seconds:6.2f} s  {what}")
        print(f"index size: {size_mb():.1f} MB")
        edits = []
        for _ in range(EDITS):
            doc = docs[rng.randrange(len(docs))]
            doc.body += " " + " ".join(rng.choice(words) for _ in range(20))
            started = time.perf_counter()
            backend.index(doc)
            commit()
            edits.append((time.perf_counter() - started) * 1000)
        print(
            f"{EDITS} edits, index() and commit: median {statistics.median(edits):.0f} ms,"
            f" slowest {max(edits):.0f} ms"
        )


if __name__ == "__main__":
    main()

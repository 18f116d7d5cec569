"""Search answers before and after a ranking change: are they identical?

`python -m bench.search_answers dump OUT.json [--articles N] [--corpus harsh|realistic]`
builds the search benchmark's corpus in a throw-away Whoosh index (with `--backend
postgres --database-url URL`, the PostgreSQL full-text tables in a throw-away database on
that server, as `bench.search_bench` does), answers 200 of its
queries three ways each (two caller visibilities and one with a system filter: 600
searches), edits 5 articles and removes 5, and answers the same 600 again. Each answer
is kept whole: total, facets, suggestion and the page's slugs, scores and snippets.
Run it on two checkouts, then `python -m bench.search_answers diff A.json B.json`, which
counts the searches whose answers differ and exits non-zero when any do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from bench.search_bench import CONTENT, VISIBILITIES, _postgres_app, make_corpus, make_queries
from supportdesk.search.whoosh_backend import WhooshBackend

QUERIES = 200
CHANGES = 5


def answers(backend, queries: list[tuple[str, str]]) -> list[dict]:
    found = []
    for n, (_kind, text) in enumerate(queries):
        for way in range(3):
            visible = VISIBILITIES[(n + way) % len(VISIBILITIES)]
            result = backend.search(text, visible, system="aula" if way == 2 else None)
            found.append(
                {
                    "query": text,
                    "way": way,
                    "total": result.total,
                    "facets": result.facets,
                    "suggestion": result.suggestion,
                    "hits": [[hit.slug, hit.score, hit.snippet] for hit in result.hits],
                }
            )
    return found


@contextlib.contextmanager
def _whoosh():
    workdir = Path(tempfile.mkdtemp(prefix="search-answers-"))
    try:
        yield WhooshBackend(
            workdir / "index", synonyms_path=str(CONTENT / "synonyms.txt"), result_entries=0
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _postgres(database_url: str):
    with _postgres_app(database_url) as (backend, _size_mb, _commit):
        yield backend


def dump(
    out: Path, articles: int, corpus: str, seed: int, backend_name: str, database_url: str
) -> None:
    rng = random.Random(seed)
    docs, words, topics = make_corpus(articles, corpus, rng)
    queries = make_queries(QUERIES, words, rng, topics)
    opened = _postgres(database_url) if backend_name == "postgres" else _whoosh()
    with opened as backend:
        backend.rebuild(docs)
        before = answers(backend, queries)
        for _ in range(CHANGES):
            article = docs[rng.randrange(len(docs))]
            article.body += f" rettet {rng.choice(words)} {rng.choice(words)}"
            backend.index(article)
        for _ in range(CHANGES):
            backend.remove(docs[rng.randrange(len(docs))].slug)
        after = answers(backend, queries)
    out.write_text(json.dumps({"before": before, "after": after}, ensure_ascii=False))
    print(f"{len(before)} searches before and {len(after)} after edits written to {out}")


def diff(first: Path, second: Path) -> int:
    """How many searches answer differently (printing the first few)."""
    a, b = (json.loads(path.read_text(encoding="utf-8")) for path in (first, second))
    differing = 0
    for phase in ("before", "after"):
        pairs = list(zip(a[phase], b[phase], strict=True))
        changed = [(x, y) for x, y in pairs if x != y]
        differing += len(changed)
        print(f"{phase} edits: {len(pairs)} searches, {len(changed)} differ")
        for x, y in changed[:3]:
            print(f"  {x['query'][:60]!r} ({x['way']}): {x['total']} / {y['total']} hits,")
            print(f"    {[h[:2] for h in x['hits'][:3]]}\n    {[h[:2] for h in y['hits'][:3]]}")
    return differing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    dumping = commands.add_parser("dump", help="answer the searches, write them as JSON")
    dumping.add_argument("out", type=Path)
    dumping.add_argument("--articles", type=int, default=2_000)
    dumping.add_argument("--corpus", choices=["harsh", "realistic"], default="harsh")
    dumping.add_argument("--seed", type=int, default=2026)
    dumping.add_argument("--backend", choices=["whoosh", "postgres"], default="whoosh")
    dumping.add_argument(
        "--database-url",
        default=os.environ.get("SUPPORTDESK_TEST_DATABASE_URL", ""),
        help="postgres backend: a server where a throw-away database may be created",
    )
    comparing = commands.add_parser("diff", help="compare two dumps")
    comparing.add_argument("first", type=Path)
    comparing.add_argument("second", type=Path)
    args = parser.parse_args()
    if args.command == "dump":
        if args.backend == "postgres" and not args.database_url.startswith("postgresql"):
            parser.error("--backend postgres needs --database-url postgresql+psycopg://…")
        dump(args.out, args.articles, args.corpus, args.seed, args.backend, args.database_url)
    else:
        sys.exit(1 if diff(args.first, args.second) else 0)


if __name__ == "__main__":
    main()

"""Search benchmark: 20,000 Danish-like articles, 1,000 mixed queries, p50/p99 per query.

`make bench-search` (or `python -m bench.search_bench [--articles N] [--queries N]`).
Builds a throw-away Whoosh index with the production backend and analyzer (or, with
`--backend postgres --database-url URL`, the PostgreSQL full-text tables in a
throw-away database on that server), runs
plain, inflected, typo, ASCII-spelled, synonym, compound and multi-word queries as
anonymous, first-level, municipal and vendor callers, and writes the figures to
bench/RESULTS.md under "## Search" (and ", realistic corpus"). After the timed queries,
50 article edits are interleaved with queries (p50/p99 after edits), and after each of
those queries one fixed piece of work about as long as a median search is timed: the
p99 / p50 this machine itself gives a constant cost in the same seconds. `--corpus harsh`:
random mixes of the starter words, a query matches thousands of articles; `--corpus
realistic`: articles on topics that share few words, a query matches tens; default both.
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import random
import re
import shutil
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from supportdesk.faq.models import ArticleState, Audience, Visibility
from supportdesk.search.whoosh_backend import WhooshBackend

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "faq_content"
RESULTS = Path(__file__).with_name("RESULTS.md")
SYSTEMS = {
    "aula": (1, ["login", "beskeder", "kalender", "komme-gaa", "grupper", "galleri", "samtykker"]),
    "laeringsplatform": (2, ["login", "forloeb", "elevplaner", "opgaver", "skoleaarsskift"]),
    "fildeling": (3, ["deling", "adgang", "synkronisering", "lagerplads", "login"]),
    "brugeradministration": (4, ["brugeroprettelse", "uni-login", "roller", "dataimport"]),
}
FALLBACK_WORDS = [
    "forældre",
    "barn",
    "elev",
    "lærer",
    "pædagog",
    "besked",
    "kalender",
    "fravær",
    "sygemelding",
    "skoleår",
    "login",
    "mitid",
    "unilogin",
    "adgangskode",
    "gruppe",
    "billeder",
    "galleri",
    "samtykke",
    "forløb",
    "elevplan",
    "opgave",
    "aflevering",
    "mappe",
    "deling",
    "synkronisering",
    "lagerplads",
    "rettigheder",
    "medarbejder",
    "institution",
    "kommune",
    "hotline",
    "superbruger",
    "notifikation",
    "telefon",
    "appen",
    "indstillinger",
    "dokument",
    "skema",
]


def vocabulary() -> list[str]:
    """Real Danish words from the starter content, so term statistics look realistic."""
    words: list[str] = []
    for path in sorted(CONTENT.glob("*/*.md")):
        words += re.findall(r"[a-zæøå]{3,}", path.read_text(encoding="utf-8").lower())
    return words or FALLBACK_WORDS


def make_articles(count: int, words: list[str], rng: random.Random) -> list[SimpleNamespace]:
    articles = []
    systems = list(SYSTEMS.items())
    audiences = [
        Audience.public,
        Audience.first_level,
        Audience.first_level,
        Audience.municipal,
        Audience.vendor_internal,
    ]
    for n in range(count):
        slug_system, (vendor_id, categories) = systems[n % len(systems)]
        audience = audiences[rng.randrange(len(audiences))]
        title = " ".join(rng.choice(words) for _ in range(rng.randint(4, 9))).capitalize()
        paragraphs = [
            " ".join(rng.choice(words) for _ in range(rng.randint(25, 60)))
            for _ in range(rng.randint(3, 7))
        ]
        system = SimpleNamespace(slug=slug_system, vendor_id=vendor_id)
        articles.append(
            SimpleNamespace(
                slug=f"artikel-{n}",
                title=title,
                body="\n\n".join(paragraphs),
                tags=[rng.choice(words) for _ in range(rng.randint(1, 5))],
                system=system,
                category=SimpleNamespace(slug=rng.choice(categories)),
                audience=audience,
                municipality_id=rng.randint(1, 98) if audience == Audience.municipal else None,
                state=ArticleState.published,
            )
        )
    return articles


COMMON_WORDS = 150
# Words an article's topic shares with a few other topics (ordinary FAQ words) and
# words only its topic uses (product, screen and institution names, error codes).
SHARED_TOPIC_WORDS = 8
OWN_TOPIC_WORDS = 32
ARTICLES_PER_TOPIC = 25
SYLLABLES = [
    "ka", "ber", "lin", "sko", "dal", "mo", "ret", "vik", "ung", "tor", "pe", "sam", "lu",
    "fix", "net", "plan", "bo", "gra", "hus", "mil", "nor", "sti", "val", "ek", "tra", "ud",
]  # fmt: skip
SUFFIXES = ["", "", "", "oversigt", "modul", "portal", "skema", "klient", "fejl", "skole"]


def _topic_word(rng: random.Random, taken: set[str]) -> str:
    """A made-up word no other topic has: a product or screen name, or an error code."""
    while True:
        if rng.random() < 0.15:
            word = f"{rng.choice(SYLLABLES)[0]}{rng.randint(1000, 99999)}"  # e.g. "k4711"
        else:
            syllables = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))
            word = syllables + rng.choice(SUFFIXES)
        if word not in taken:
            taken.add(word)
            return word


def make_realistic_articles(
    count: int, words: list[str], rng: random.Random
) -> tuple[list[SimpleNamespace], list[list[str]]]:
    """Articles that share few words, as real FAQ articles do.

    Each article is about one of `count // 25` topics. A topic has 40 words: 32 only
    it uses (product and screen names, error codes, institution words) and 8 ordinary
    words of the starter content that a few other topics use too. An article draws 60 %
    of its words from its topic, 35 % from the starter content's common words (by
    frequency) and 5 % are its own. A query made of a topic's words matches tens of
    articles, not thousands; common words and synonyms still match many.
    Returns the articles and the topics' word lists (for the queries).
    """
    ranked = [w for w, _n in Counter(words).most_common()]
    frequent = set(ranked[:COMMON_WORDS])
    common = [w for w in words if w in frequent]  # with repetitions, as often as in the text
    rarer = sorted(set(ranked[COMMON_WORDS:])) or ranked
    taken = set(ranked)
    topics = [
        rng.sample(rarer, min(SHARED_TOPIC_WORDS, len(rarer)))
        + [_topic_word(rng, taken) for _ in range(OWN_TOPIC_WORDS)]
        for _ in range(max(count // ARTICLES_PER_TOPIC, 1))
    ]
    articles = make_articles(count, words, rng)
    for article in articles:
        topic = topics[rng.randrange(len(topics))]
        own = [_topic_word(rng, taken) for _ in range(3)]

        def word(topic=topic, own=own) -> str:
            roll = rng.random()
            if roll < 0.6:
                return rng.choice(topic)
            if roll < 0.95:
                return rng.choice(common)
            return rng.choice(own)

        article.title = " ".join(word() for _ in range(rng.randint(4, 9))).capitalize()
        article.body = "\n\n".join(
            " ".join(word() for _ in range(rng.randint(25, 60))) for _ in range(rng.randint(3, 7))
        )
        article.tags = [rng.choice(topic) for _ in range(rng.randint(1, 5))]
    return articles, topics


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    return word[:i] + word[i + 1 :]


def _ascii(word: str) -> str:
    return word.replace("æ", "ae").replace("ø", "oe").replace("å", "aa")


def make_queries(
    count: int, words: list[str], rng: random.Random, topics: list[list[str]] | None = None
) -> list[tuple[str, str]]:
    """Mixed query kinds; with `topics`, each query takes its words from one topic."""
    synonyms = ["log ind", "logge på", "sygemelding", "fotos", "kodeord", "forældreintra"]
    kinds = ["plain", "multi", "typo", "ascii", "synonym", "compound", "long"]
    queries = []
    for n in range(count):
        if topics:
            words = topics[rng.randrange(len(topics))]
        long_words = [w for w in words if len(w) >= 6] or words
        kind = kinds[n % len(kinds)]
        if kind == "plain":
            q = rng.choice(words)
        elif kind == "multi":
            q = " ".join(rng.choice(words) for _ in range(3))
        elif kind == "typo":
            q = _typo(rng.choice(long_words), rng) + " " + rng.choice(words)
        elif kind == "ascii":
            q = _ascii(" ".join(rng.choice(words) for _ in range(2)))
        elif kind == "synonym":
            q = rng.choice(synonyms) + " " + rng.choice(words)
        elif kind == "compound":
            q = rng.choice(long_words) + rng.choice(long_words)
        else:  # a ticket subject + description as the deflection panel sends it
            q = " ".join(rng.choice(words) for _ in range(18))
        queries.append((kind, q))
    return queries


VISIBILITIES = [
    Visibility(),
    Visibility(first_level=True, municipality_id=7),
    Visibility(first_level=True, municipality_id=42),
    Visibility(first_level=True, vendor_id=2),
]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def run(
    articles: int,
    queries: int,
    seed: int,
    backend_name: str = "whoosh",
    database_url: str = "",
    corpus: str = "harsh",
) -> dict[str, object]:
    if backend_name == "postgres":
        with _postgres_app(database_url) as (backend, size_mb, commit):
            return _measure(backend, articles, queries, seed, size_mb, corpus, commit)
    workdir = Path(tempfile.mkdtemp(prefix="search-bench-"))
    try:
        # no kept answers: every timed query is computed (the engine, not the answer store)
        backend = WhooshBackend(
            workdir / "index", synonyms_path=str(CONTENT / "synonyms.txt"), result_entries=0
        )

        def size_mb() -> float:
            files = (workdir / "index").rglob("*")
            return sum(p.stat().st_size for p in files if p.is_file()) / 1024 / 1024

        return _measure(backend, articles, queries, seed, size_mb, corpus, lambda: None)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _postgres_app(database_url: str):
    """An app on a fresh database of that server, with only the search tables."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from supportdesk import create_app
    from supportdesk.extensions import db
    from supportdesk.search.postgres_backend import PostgresBackend

    base = make_url(database_url)
    name = f"search_bench_{os.getpid()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=name).render_as_string(hide_password=False)
        app = create_app(
            {
                "environ": {
                    "SUPPORTDESK_ENV": "testing",
                    "SUPPORTDESK_SECRET_KEY": "bench",
                    "SUPPORTDESK_DATABASE_URL": url,
                    "SUPPORTDESK_SEARCH_BACKEND": "postgres",
                }
            }
        )
        with app.app_context():
            search_tables = [t for t in db.metadata.sorted_tables if t.name.startswith("search_")]
            db.metadata.create_all(db.engine, tables=search_tables)
            backend = PostgresBackend(synonyms_path=str(CONTENT / "synonyms.txt"))

            def size_mb() -> float:
                sizes = [f"pg_total_relation_size('{t.name}')" for t in search_tables]
                query = text("SELECT " + " + ".join(sizes))
                return db.session.scalar(query) / 1024 / 1024

            yield backend, size_mb, db.session.commit
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


EDITS = 50
QUERIES_PER_EDIT = 20


def make_corpus(
    articles: int, corpus: str, rng: random.Random
) -> tuple[list[SimpleNamespace], list[str], list[list[str]] | None]:
    """The articles of a corpus, the words they draw on and (realistic) their topics."""
    words = vocabulary()
    if corpus == "realistic":
        docs, topics = make_realistic_articles(articles, words, rng)
        return docs, words, topics
    return make_articles(articles, words, rng), words, None


def _measure(
    backend, articles: int, queries: int, seed: int, size_mb, corpus: str, commit
) -> dict[str, object]:
    rng = random.Random(seed)
    docs, words, topics = make_corpus(articles, corpus, rng)
    started = time.perf_counter()
    cpu_started = time.process_time()
    backend.rebuild(docs, progress=_progress(articles))
    index_seconds = time.perf_counter() - started
    index_cpu = time.process_time() - cpu_started
    size = size_mb() * 1024 * 1024
    qs = make_queries(queries, words, rng, topics)
    for _kind, q in qs[:50]:  # warm up caches and the first searcher
        backend.search(q, VISIBILITIES[0], limit=10)
    timings: dict[str, list[float]] = {}
    cpu: list[float] = []
    totals = []
    for n, (kind, q) in enumerate(qs):
        visible = VISIBILITIES[n % len(VISIBILITIES)]
        t0, c0 = time.perf_counter(), time.process_time()
        result = backend.search(q, visible, limit=10)
        timings.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        totals.append(result.total)
    every = [t for ts in timings.values() for t in ts]
    # Edits interleaved with queries: each edit is a new index generation (Whoosh: a new
    # segment); the queries after it show what an edit costs the next searches.
    edited: list[float] = []
    edited_cpu: list[float] = []
    edited_kinds: dict[str, list[float]] = {}
    # Beside each search after an edit, one fixed piece of work as long as a median
    # search: the p99 / p50 the machine itself gives a cost that never changes (no data,
    # no allocation, no I/O), measured in the same seconds as the searches.
    rounds = calibrated(statistics.median(every))
    fixed: list[float] = []
    for e in range(EDITS):
        article = docs[rng.randrange(len(docs))]
        article.body += f" rettet {rng.choice(words)}"
        backend.index(article)
        commit()
        for i in range(QUERIES_PER_EDIT):
            kind, q = qs[(e * QUERIES_PER_EDIT + i) % len(qs)]
            t0, c0 = time.perf_counter(), time.process_time()
            backend.search(q, VISIBILITIES[i % len(VISIBILITIES)], limit=10)
            edited.append((time.perf_counter() - t0) * 1000)
            edited_kinds.setdefault(kind, []).append(edited[-1])
            edited_cpu.append((time.process_time() - c0) * 1000)
            fixed.append(timed_work(rounds))
    return {
        "articles": articles,
        "corpus": corpus,
        "queries": queries,
        "index_seconds": index_seconds,
        "index_cpu": index_cpu,
        "index_mb": size / 1024 / 1024,
        "p50": statistics.median(every),
        "p99": percentile(every, 99),
        "max": max(every),
        "by_kind": {k: (statistics.median(v), percentile(v, 99)) for k, v in timings.items()},
        "edit_by_kind": {
            k: (statistics.median(v), percentile(v, 90), percentile(v, 99))
            for k, v in edited_kinds.items()
        },
        "mean_total": statistics.mean(totals),
        "median_total": statistics.median(totals),
        "edit_p50": statistics.median(edited),
        "edit_p99": percentile(edited, 99),
        "edit_max": max(edited),
        "cpu_p50": statistics.median(cpu),
        "cpu_p99": percentile(cpu, 99),
        "edit_cpu_p50": statistics.median(edited_cpu),
        "edit_cpu_p99": percentile(edited_cpu, 99),
        "spread_p50": statistics.median(fixed),
        "spread_p99": percentile(fixed, 99),
        "backend": type(getattr(backend, "backend", backend)).__name__,
        "load": os.getloadavg(),
    }


def _fixed_work(rounds: int) -> int:
    total = 0
    for i in range(rounds):
        total += i * i
    return total


def timed_work(rounds: int) -> float:
    """Milliseconds one run of the fixed work took."""
    t0 = time.perf_counter()
    _fixed_work(rounds)
    return (time.perf_counter() - t0) * 1000


def calibrated(target_ms: float) -> int:
    """Rounds of `_fixed_work` that take about `target_ms` on this machine now."""
    probe = 10_000
    took = statistics.median(timed_work(probe) for _ in range(21))
    return max(1, round(probe * target_ms / took))


def _progress(total: int):
    started = time.perf_counter()

    def show(done: int) -> None:
        print(f"  rebuild: {done:,}/{total:,} articles, {time.perf_counter() - started:.1f} s")

    return show


def report(figures: dict[str, object]) -> str:
    postgres = figures.get("backend") == "PostgresBackend"
    realistic = figures.get("corpus") == "realistic"
    engine = (
        "PostgreSQL full-text backend (stored BM25F postings, covering index)"
        if postgres
        else "Whoosh backend"
    )
    flags = f"--articles {figures['articles']} --corpus {figures['corpus']}"
    command = (
        f"`python -m bench.search_bench --backend postgres {flags}`"
        " (PostgreSQL on the same machine)"
        if postgres
        else f"`make bench-search BENCH_ARGS='{flags}'`"
    )
    heading = "## Search, PostgreSQL full text" if postgres else "## Search"
    if realistic:
        heading += ", realistic corpus"
    load = figures["load"]
    lines = [
        heading,
        "",
        f"Measured {dt.datetime.now(dt.UTC).date().isoformat()} with {command} on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{engine} with the Danish analyzer and synonyms, visibility filter, highlights and "
        f"facets on every query. Load average at the end (1/5/15 min): "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| articles indexed | {figures['articles']:,} ({figures['corpus']} corpus) |",
        f"| indexing time (full rebuild) | {figures['index_seconds']:.1f} s"
        f" ({figures['index_cpu']:.1f} s CPU in this process) |",
        f"| index size | {figures['index_mb']:.1f} MB |",
        f"| queries | {figures['queries']:,} (mixed kinds, 4 caller visibilities) |",
        f"| query p50 | {figures['p50']:.2f} ms |",
        f"| query p99 | {figures['p99']:.2f} ms |",
        f"| query max | {figures['max']:.2f} ms |",
        f"| query CPU time p50 / p99 (this process only) | {figures['cpu_p50']:.2f}"
        f" / {figures['cpu_p99']:.2f} ms |",
        f"| hits per query (mean / median) | {figures['mean_total']:.0f}"
        f" / {figures['median_total']:.0f} |",
        f"| after {EDITS} edits, {QUERIES_PER_EDIT} queries after each: p50 / p99 / max |"
        f" {figures['edit_p50']:.2f} / {figures['edit_p99']:.2f}"
        f" / {figures['edit_max']:.2f} ms (p99 = {figures['edit_p99'] / figures['edit_p50']:.2f}"
        " x p50) |",
        f"| the same, CPU time p50 / p99 | {figures['edit_cpu_p50']:.2f}"
        f" / {figures['edit_cpu_p99']:.2f} ms |",
        f"| this machine's own spread: one fixed piece of work about as long as a median"
        f" search, timed after each search after the edits, p50 / p99 |"
        f" {figures['spread_p50']:.2f}"
        f" / {figures['spread_p99']:.2f} ms (p99 ="
        f" {figures['spread_p99'] / figures['spread_p50']:.2f} x p50) |",
        "",
        "| query kind | p50 ms | p99 ms | after edits: p50 / p90 / p99 ms |",
        "|---|---|---|---|",
    ]
    for kind, (p50, p99) in sorted(figures["by_kind"].items()):
        edit = figures["edit_by_kind"][kind]
        lines.append(
            f"| {kind} | {p50:.2f} | {p99:.2f} | {edit[0]:.2f} / {edit[1]:.2f} / {edit[2]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def write_results(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    heading = section.splitlines()[0]
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--backend", choices=["whoosh", "postgres"], default="whoosh")
    parser.add_argument(
        "--corpus",
        choices=["harsh", "realistic", "both"],
        default="both",
        help="harsh: random mixes of the starter words (a query matches thousands);"
        " realistic: topics that share few words (a query matches tens)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SUPPORTDESK_TEST_DATABASE_URL", ""),
        help="postgres backend: a server where a throw-away database may be created",
    )
    args = parser.parse_args()
    if args.backend == "postgres" and not args.database_url.startswith("postgresql"):
        parser.error("--backend postgres needs --database-url postgresql+psycopg://…")
    corpora = ["harsh", "realistic"] if args.corpus == "both" else [args.corpus]
    for corpus in corpora:
        figures = run(
            args.articles,
            args.queries,
            args.seed,
            args.backend,
            args.database_url,
            corpus,
        )
        section = report(figures)
        print(section)
        if not args.no_write:
            write_results(section)
            print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()

"""Where a page's CPU goes, in-process: cProfile over the Flask test client.

`python -m bench.page_profile [--backend sqlite|postgresql] [--tickets N] [--requests N]
[--pages ticket_page,faq_search_page] [--top N] [--keep]` seeds a database the way
`make bench` does (bench/run.py: demo seed, FAQ import, index rebuild), signs in through the
real login form as the coordinator and the superuser, then per page: warms the caches, times
`--requests` requests (CPU time of this process, SQL statements per request) and prints the
statements of one request and the functions with the most own and cumulative time under
cProfile. No gunicorn, no network: what
is left is the app's own cost per request, the figure `make bench` reports as CPU ms/req.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import random
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from bench.run import (
    COORDINATOR,
    DATA,
    DEMO_PASSWORD,
    FAQ_QUERIES,
    SUPERUSER,
    Target,
    csrf_token,
    drop_database,
    prepare,
    scenario_data,
)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/supportdesk_bench_profile"


def sign_in(client, email: str) -> None:
    """The real login form (a password sign-in; the coordinator and superuser need no code)."""
    page = client.get("/login")
    answer = client.post(
        "/login",
        data={
            "email": email,
            "password": DEMO_PASSWORD,
            "csrf_token": csrf_token(page.data, "/login"),
        },
    )
    if answer.status_code != 302:
        raise SystemExit(f"sign-in as {email} failed with {answer.status_code}")


def pages(app, data: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    rng = random.Random(5)
    numbers = data["ticket_numbers"]
    coordinator = app.test_client()
    sign_in(coordinator, COORDINATOR)
    superuser = app.test_client()
    sign_in(superuser, SUPERUSER)
    store = app.extensions["fragment_cache"]

    def first_view() -> Any:
        # a ticket page no worker has rendered yet (each worker's first view of each
        # ticket in `make bench`): its fragment and the whole page go, the shared ones
        # stay warm
        gone = {"tickets.detail", "tickets.detail:page"}
        with store._lock:
            for key in [k for k in store._data if k[0] in gone]:
                del store._data[key]
        return coordinator.get(f"/tickets/{rng.choice(numbers)}")

    in_turn = itertools.cycle(numbers)  # the warm-up (400) renders each of the 300 once
    return {
        "ticket_page": lambda: coordinator.get(f"/tickets/{rng.choice(numbers)}"),
        "ticket_page_hit": lambda: coordinator.get(f"/tickets/{next(in_turn)}"),
        "ticket_page_miss": first_view,
        "ticket_list": lambda: coordinator.get("/tickets"),
        "faq_search_page": lambda: superuser.get(f"/faq/search?q={rng.choice(FAQ_QUERIES)}"),
    }


def measure(app, name: str, call: Callable[[], Any], requests: int, top: int) -> None:
    from supportdesk.extensions import db

    with app.app_context():
        engine = db.engine
    statements = 0

    def _count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    for _ in range(min(requests, 400)):  # every sampled ticket rendered once: caches warm
        response = call()
        if response.status_code != 200:
            raise SystemExit(f"{name}: {response.status_code}")
    event.listen(engine, "before_cursor_execute", _count)
    started, wall = time.process_time(), time.perf_counter()
    for _ in range(requests):
        call()
    cpu = (time.process_time() - started) / requests * 1000
    elapsed = (time.perf_counter() - wall) / requests * 1000
    event.remove(engine, "before_cursor_execute", _count)
    print(
        f"\n## {name}: {cpu:.2f} CPU ms/req, {elapsed:.2f} wall ms/req, "
        f"{statements / requests:.1f} SQL/req ({requests} requests)"
    )
    seen: list[str] = []

    def _record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", _record)
    call()
    event.remove(engine, "before_cursor_execute", _record)
    print(f"\n{name}, the statements of one request:")
    print("\n".join(f"  {line}" for line in seen))
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(requests):
        call()
    profile.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        lines = out.getvalue().splitlines()
        start = next(i for i, line in enumerate(lines) if "ncalls" in line)
        print(f"\n{name}, by {order}:")
        print("\n".join(lines[start : start + top + 1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_profile", description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--pages", type=lambda s: s.split(","), default=None)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the database")
    args = parser.parse_args(argv)
    workdir = DATA / f"profile-{args.backend}"
    url = f"sqlite:///{workdir / 'bench.db'}" if args.backend == "sqlite" else args.pg_url
    target = Target(args.backend, args.tickets, url, workdir)
    reuse = args.keep and (workdir / "index").exists()
    if not reuse:
        prepare(target, fresh=True)
    data = scenario_data(target)
    from supportdesk import create_app

    app = create_app({"environ": target.environ(), "RATELIMIT_ENABLED": False})
    try:
        for name, call in pages(app, data).items():
            if args.pages is None or name in args.pages:
                measure(app, name, call, args.requests, args.top)
    finally:
        if not args.keep:
            drop_database(target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

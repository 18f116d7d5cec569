"""Gunicorn entry point for `make bench`: the real app plus per-request counters.

The counters exist only here, only with SUPPORTDESK_BENCH=1: `X-Bench-Queries`
(SQL statements), `X-Bench-CPU-us` (the worker's CPU time for the request, a
figure that other load on the machine disturbs far less than wall-clock time) and
`X-Bench-Cache-Misses` (fragments the request had to render anew,
supportdesk/cache/fragments.py) and `X-Bench-Fragments` (per fragment name, the
request's hits and misses: `tickets.detail=0/1,main_menu=2/0`).
Rate limits are off so that the limiter, not the app, is not what gets measured.
"""

from __future__ import annotations

import os
import time

from flask import Flask, g, has_request_context
from sqlalchemy import event

from supportdesk import create_app
from supportdesk.cache.fragments import fragment_name
from supportdesk.extensions import db

_NOT_COUNTED = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")


def instrument(app: Flask) -> None:
    """Count SQL statements per request into a response header."""
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        # the head of the statement only: a ticket page's statement is 2 kB
        if has_request_context() and not statement[:40].lstrip().upper().startswith(_NOT_COUNTED):
            g.bench_queries = g.get("bench_queries", 0) + 1

    # each fragment the request asks for, hit or miss, on `g`: a handful of tuples per
    # request instead of copying the store's per-name totals before and after it
    store = app.extensions["fragment_cache"]
    get_or_build = store.get_or_build

    def _counted(key, build, bounded=False):
        misses = store.misses
        value = get_or_build(key, build, bounded)
        asked = g.get("bench_fragments") if has_request_context() else None
        if asked is not None:
            asked.append((fragment_name(key), store.misses == misses))
        return value

    store.get_or_build = _counted

    def _start():
        g.bench_cpu = time.process_time()
        g.bench_fragments = []

    # first, before the app's own hooks: a hook that answers (the two-factor set-up
    # redirect) skips the rest, and a request without these marks reported nothing
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _header(response):
        response.headers["X-Bench-Queries"] = str(g.get("bench_queries", 0))
        spent = time.process_time() - g.get("bench_cpu", time.process_time())
        response.headers["X-Bench-CPU-us"] = str(int(spent * 1_000_000))
        counts: dict[str, list[int]] = {}
        for name, hit in g.get("bench_fragments", ()):
            counts.setdefault(name, [0, 0])[0 if hit else 1] += 1
        response.headers["X-Bench-Cache-Misses"] = str(sum(m for _h, m in counts.values()))
        response.headers["X-Bench-Fragments"] = ",".join(
            f"{name}={hits}/{missed}" for name, (hits, missed) in sorted(counts.items())
        )
        return response


app = create_app({"RATELIMIT_ENABLED": False})
if os.environ.get("SUPPORTDESK_BENCH") == "1":
    instrument(app)

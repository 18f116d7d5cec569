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
from supportdesk.extensions import db

_NOT_COUNTED = ("BEGIN", "SAVEPOINT", "RELEASE", "COMMIT", "ROLLBACK")


def instrument(app: Flask) -> None:
    """Count SQL statements per request into a response header."""
    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        if has_request_context() and not statement.lstrip().upper().startswith(_NOT_COUNTED):
            g.bench_queries = g.get("bench_queries", 0) + 1

    store = app.extensions["fragment_cache"]

    def _start():
        g.bench_cpu = time.process_time()
        g.bench_misses = store.misses
        g.bench_fragments = (dict(store.hits_by_name), dict(store.misses_by_name))

    # first, before the app's own hooks: a hook that answers (the two-factor set-up
    # redirect) skips the rest, and a request without these marks reported the worker's
    # totals so far as its own
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _header(response):
        response.headers["X-Bench-Queries"] = str(g.get("bench_queries", 0))
        spent = time.process_time() - g.get("bench_cpu", time.process_time())
        response.headers["X-Bench-CPU-us"] = str(int(spent * 1_000_000))
        misses = store.misses - g.get("bench_misses", store.misses)
        response.headers["X-Bench-Cache-Misses"] = str(misses)
        hits_before, misses_before = g.get("bench_fragments", ({}, {}))
        counts = []
        for name in sorted({*store.hits_by_name, *store.misses_by_name}):
            hits = store.hits_by_name.get(name, 0) - hits_before.get(name, 0)
            missed = store.misses_by_name.get(name, 0) - misses_before.get(name, 0)
            if hits or missed:
                counts.append(f"{name}={hits}/{missed}")
        response.headers["X-Bench-Fragments"] = ",".join(counts)
        return response


app = create_app({"RATELIMIT_ENABLED": False})
if os.environ.get("SUPPORTDESK_BENCH") == "1":
    instrument(app)

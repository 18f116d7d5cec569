"""Gunicorn entry point for `make bench`: the real app plus a per-request SQL counter.

The counter exists only here, only with SUPPORTDESK_BENCH=1: it adds an
`X-Bench-Queries` header so the load generator can report queries per request.
Rate limits are off so that the limiter, not the app, is not what gets measured.
"""

from __future__ import annotations

import os

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

    @app.after_request
    def _header(response):
        response.headers["X-Bench-Queries"] = str(g.get("bench_queries", 0))
        return response


app = create_app({"RATELIMIT_ENABLED": False})
if os.environ.get("SUPPORTDESK_BENCH") == "1":
    instrument(app)

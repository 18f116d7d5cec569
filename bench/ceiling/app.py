"""A bare Flask app that renders the newest 50 rows of a ticket-sized table through Jinja.

It runs under the same gunicorn settings as supportdesk in `make bench`; each page's
throughput is reported as a ratio of this one's. No login, no ORM, no policy: the
cost of the framework, the template engine and one indexed query, nothing else.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

from flask import Flask, g, jsonify, render_template
from sqlalchemy import Engine, create_engine, text

TABLE = "bench_ceiling_row"
PAGE_SIZE = 50
ROWS_SQL = text(
    f"SELECT id, number, subject, status, priority, institution, created_at "  # noqa: S608 — constant
    f"FROM {TABLE} ORDER BY id DESC LIMIT {PAGE_SIZE}"
)


def populate(engine: Engine, count: int) -> None:
    """(Re)create the table with `count` rows, generated inside the database (fast)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(
            text(
                f"CREATE TABLE {TABLE} (id INTEGER PRIMARY KEY, number VARCHAR(32) NOT NULL, "
                "subject VARCHAR(200) NOT NULL, status VARCHAR(16) NOT NULL, "
                "priority VARCHAR(16) NOT NULL, institution VARCHAR(120) NOT NULL, "
                "created_at VARCHAR(40) NOT NULL)"
            )
        )
        if engine.dialect.name == "postgresql":
            source = "SELECT x FROM generate_series(1, :n) AS g(x)"
            number = "'ESB-2026-' || lpad(x::text, 7, '0')"
        else:
            conn.execute(text("PRAGMA journal_mode=WAL"))
            source = (
                "WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < :n) "
                "SELECT x FROM seq"
            )
            number = "'ESB-2026-' || substr('0000000' || x, -7, 7)"
        conn.execute(
            text(
                f"INSERT INTO {TABLE} (id, number, subject, status, priority, institution, "  # noqa: S608
                f"created_at) SELECT x, {number}, 'Forælder kan ikke logge ind i Aula ' || x, "
                "(CASE x % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'open' WHEN 2 THEN 'waiting' "
                "ELSE 'resolved' END), (CASE x % 3 WHEN 0 THEN 'normal' WHEN 1 THEN 'high' "
                "ELSE 'low' END), 'Rosenvængets Skole', :ts "
                f"FROM ({source}) AS s"
            ),
            {"n": count, "ts": (start + timedelta(minutes=1)).isoformat()},
        )


def create_app(database_url: str | None = None) -> Flask:
    app = Flask(__name__)
    engine = create_engine(database_url or os.environ["BENCH_CEILING_DATABASE_URL"])

    @app.get("/")
    def rows():
        with engine.connect() as conn:
            found = conn.execute(ROWS_SQL).all()
        return render_template("rows.html", rows=found)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.before_request
    def _start():
        g.bench_cpu = time.process_time()

    @app.after_request
    def _counters(response):
        response.headers["X-Bench-Queries"] = "1" if response.status_code == 200 else "0"
        spent = time.process_time() - g.get("bench_cpu", time.process_time())
        response.headers["X-Bench-CPU-us"] = str(int(spent * 1_000_000))
        return response

    return app


if os.environ.get("BENCH_CEILING_DATABASE_URL"):
    app = create_app()

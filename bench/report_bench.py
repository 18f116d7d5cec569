"""Reports benchmark: a municipality's 90-day report and the whole rollout at 1,000,000 tickets.

`make bench-reports` (or `python -m bench.report_bench [--tickets N] [--runs N]`). It
creates a fresh PostgreSQL database `supportdesk_report_bench` on the server of --pg-url,
builds the schema, 100 municipalities with 30 institutions each and the four vendors,
then generates the tickets in SQL (INSERT … SELECT over generate_series: two years of
tickets, skewed so a few municipalities are large, written in time order as tickets
arrive), 50,000 vendor cases with 100,000
tickets linked to them, and a first reply on 70 % of the tickets (bulk inserted, so the
tickets' first answer and business times are then filled from them as migration
0012_ticket_report_times fills an existing database). It then times, through
the Flask test client in this process (no network), signed in:

- the municipality report page (`/reports/municipality?preset=90`) of the largest
  municipality, as its coordinator: target p95 < 1 s;
- the whole-rollout page (`/reports/rollout?preset=90`) as the system admin:
  target p95 < 3 s;

plus the JSON API of both. Figures, SQL statement counts and the load average (the
machine is shared) go to bench/RESULTS.md between `<!-- bench:reports:start -->` and
`<!-- bench:reports:end -->`. The database is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from bench.databases import bench_app, drop_postgres, fresh_postgres, signed_in_client

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data" / "reports"
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- bench:reports:start -->", "<!-- bench:reports:end -->"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/supportdesk_report_bench"
MUNICIPALITIES = 100
INSTITUTIONS = 30
CASES = 50_000
MUNICIPALITY_TARGET_MS = 1000.0
ROLLOUT_TARGET_MS = 3000.0
SYSTEMS = [
    ("aula", "Aula", "netcompany-bench"),
    ("laeringsplatform", "Læringsplatform", "laering-bench"),
    ("fildeling", "Fildeling", "fildeling-bench"),
    ("brugeradministration", "Brugeradministration", "brugeradm-bench"),
]


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# The organisations: ids are 1..N in insertion order on a fresh database, which the
# ticket generator below relies on (municipality m has institutions (m-1)*30+1 ..,
# user 1 is the admin, 2m the superuser and 2m+1 the coordinator of municipality m).
ORGANISATIONS = f"""
INSERT INTO vendor (slug, name, min_entitled, max_entitled, business_days,
                    business_start, business_end, timezone)
SELECT v.slug, v.slug, 0, 8, '1,2,3,4,5', '08:00', '16:00', 'Europe/Copenhagen'
FROM (VALUES {", ".join(f"({i}, '{v}')" for i, (_s, _n, v) in enumerate(SYSTEMS, 1))})
     AS v(n, slug) ORDER BY v.n;
INSERT INTO system (slug, name, vendor_id)
SELECT s.slug, s.name, s.n FROM (VALUES {
    ", ".join(f"({i}, '{s}', '{n}')" for i, (s, n, _v) in enumerate(SYSTEMS, 1))
}) AS s(n, slug, name) ORDER BY s.n;
INSERT INTO category (system_id, slug, name)
SELECT s, 'kategori' || c, 'Kategori ' || c
FROM generate_series(1, {len(SYSTEMS)}) s, generate_series(1, 3) c ORDER BY s, c;
INSERT INTO municipality (slug, name, code, retention_days, require_2fa_coordinators,
                          auto_relay_answers, created_at)
SELECT 'kommune' || lpad(m::text, 3, '0'), 'Kommune ' || m, 'B' || lpad(m::text, 3, '0'),
       730, false, false, now()
FROM generate_series(1, {MUNICIPALITIES}) m ORDER BY m;
INSERT INTO institution (municipality_id, number, name, type, active)
SELECT m, (700000 + (m - 1) * {INSTITUTIONS} + i)::text, 'Skole ' || m || '-' || i,
       (ARRAY['skole', 'dagtilbud', 'sfo', 'klub', 'dagpleje'])[1 + i % 5], true
FROM generate_series(1, {MUNICIPALITIES}) m, generate_series(1, {INSTITUTIONS}) i
ORDER BY m, i;
"""  # noqa: S608 (constants only)


def _tickets_sql(count: int) -> str:
    """Two years of tickets; municipality m gets a share that falls with m (a few large)."""
    return f"""
SELECT setseed(0.15);
INSERT INTO ticket (number, municipality_id, institution_id, system_id, category_id,
                    created_by_id, subject, description, status, priority, source,
                    created_at, updated_at, resolved_at, closed_at, version)
SELECT 'B-' || g, m, (m - 1) * {INSTITUTIONS} + 1 + (g % {INSTITUTIONS}), s,
       (s - 1) * 3 + 1 + (g / 7) % 3, 2 * m, 'Henvendelse ' || g, '',
       st, 'normal', CASE WHEN g % 5 = 0 THEN 'hotline' ELSE 'web' END,
       created, created,
       CASE WHEN st IN ('resolved', 'closed') THEN created + r * interval '3 days' END,
       CASE WHEN st = 'closed' THEN created + r * interval '4 days' END, 1
FROM (
  SELECT g,
         1 + floor({MUNICIPALITIES} * power(random(), 2))::int AS m,
         1 + g % {len(SYSTEMS)} AS s,
         now() - random() * interval '730 days' AS created,
         random() AS r,
         (ARRAY['resolved', 'closed', 'closed', 'resolved', 'open', 'new', 'waiting',
                'resolved', 'closed', 'closed'])[1 + g % 10] AS st
  FROM generate_series(1, {count}) g
) t
ORDER BY created;
"""  # noqa: S608 (constants only)


CASES_SQL = f"""
INSERT INTO vendor_case (number, vendor_id, municipality_id, system_id, status, priority,
                         subject, summary, created_at, updated_at, first_response_at,
                         response_due_at, resolved_at, resolution_due_at, paused_seconds,
                         sla_state, version)
SELECT 'BC-' || g, v, m, v, CASE WHEN r < 0.7 THEN 'resolved' ELSE 'in_progress' END,
       (ARRAY['low', 'normal', 'high', 'critical'])[1 + g % 4], 'Sag ' || g, '',
       created, created, created + r * interval '10 hours', created + interval '8 hours',
       CASE WHEN r < 0.7 THEN created + r * interval '6 days' END,
       created + interval '5 days', CASE WHEN g % 7 = 0 THEN 3600 ELSE 0 END, 'ok', 1
FROM (
  SELECT g, 1 + g % {len(SYSTEMS)} AS v,
         1 + floor({MUNICIPALITIES} * power(random(), 2))::int AS m,
         now() - random() * interval '730 days' AS created, random() AS r
  FROM generate_series(1, {CASES}) g
) c;
UPDATE ticket SET vendor_case_id = 1 + id % {CASES} WHERE id % 10 = 0;
INSERT INTO ticket_entry (ticket_id, municipality_id, kind, author_id, body, created_at)
SELECT id, municipality_id, 'reply', 2 * municipality_id + 1, 'Svar',
       created_at + random() * interval '2 days'
FROM ticket WHERE id % 10 < 7 ORDER BY created_at;
"""  # noqa: S608 (constants only)


def _users(session, password_hash: str) -> None:
    from supportdesk.accounts.models import Role, User

    session.add(
        User(email="admin@bench.dk", name="Admin", role=Role.admin, password_hash=password_hash)
    )
    session.flush()
    for m in range(1, MUNICIPALITIES + 1):
        session.add(
            User(
                email=f"superbruger{m}@bench.dk",
                name=f"Superbruger {m}",
                role=Role.superuser,
                municipality_id=m,
                institution_id=(m - 1) * INSTITUTIONS + 1,
                password_hash=password_hash,
            )
        )
        session.flush()
        session.add(
            User(
                email=f"koordinator{m}@bench.dk",
                name=f"Koordinator {m}",
                role=Role.coordinator,
                municipality_id=m,
                password_hash=password_hash,
            )
        )
        session.flush()


def _run_sql(engine, sql: str) -> None:
    """Plain SQL through the driver (no parameters, so `%` is the modulo operator)."""
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cursor:
            for statement in sql.split(";"):
                if statement.strip():
                    cursor.execute(statement)
        raw.commit()
    finally:
        raw.close()


def build(app, tickets: int) -> dict[str, float]:
    from supportdesk.extensions import db
    from supportdesk.reports.durations import fill_business_times
    from supportdesk.tickets.history import fill_from_history
    from supportdesk.tickets.models import Ticket

    phases: dict[str, float] = {}
    with app.app_context():
        start = time.perf_counter()
        db.create_all()
        _run_sql(db.engine, ORGANISATIONS)
        _users(db.session, "bench-not-a-real-hash")
        db.session.commit()
        phases["schema and organisations"] = time.perf_counter() - start
        for name, sql in (("tickets", _tickets_sql(tickets)), ("cases and replies", CASES_SQL)):
            start = time.perf_counter()
            _run_sql(db.engine, sql)
            phases[name] = time.perf_counter() - start
            log(f"{name}: {phases[name]:.1f} s")
        start = time.perf_counter()
        # the replies were inserted in bulk: the first answer's time filled from them as
        # migration 0012_ticket_report_times fills an existing database
        fill_from_history()
        for m in range(1, MUNICIPALITIES + 1):  # a municipality's tickets at a time
            fill_business_times(db.session, Ticket.municipality_id == m)
        db.session.commit()
        phases["report times filled"] = time.perf_counter() - start
        log(f"report times filled: {phases['report times filled']:.1f} s")
        start = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        phases["vacuum analyze"] = time.perf_counter() - start
        db.session.remove()
    return phases


def _client(app, email: str):
    """A test client with the user's server-side session (two-factor set up)."""
    from supportdesk.accounts.models import User
    from supportdesk.extensions import db

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        return signed_in_client(app, user)


def _measure(app, client, url: str, runs: int) -> dict[str, Any]:
    from supportdesk.extensions import db

    def call() -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)

    call()  # warm: templates compiled, menu cached
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    call()
    event.remove(engine, "before_cursor_execute", listener)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "statements": len(statements),
        "p50": statistics.median(times),
        "p95": times[max(0, round(0.95 * len(times)) - 1)],
        "runs": runs,
    }


def _municipality_sizes(app) -> list[tuple[int, int]]:
    """(municipality id, tickets in the last 90 days), largest first."""
    from supportdesk.extensions import db

    with app.app_context():
        rows = db.session.execute(
            text(
                "SELECT municipality_id, count(*) FROM ticket "
                "WHERE created_at >= now() - interval '90 days' "
                "GROUP BY municipality_id ORDER BY count(*) DESC"
            )
        ).all()
        db.session.remove()
    return [(row[0], row[1]) for row in rows]


def _counts(app) -> dict[str, int]:
    from supportdesk.extensions import db

    with app.app_context():
        counts = {
            table: db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
            for table in ("ticket", "ticket_entry", "vendor_case", "municipality")
        }
        counts["ticket_90_days"] = db.session.execute(
            text("SELECT count(*) FROM ticket WHERE created_at >= now() - interval '90 days'")
        ).scalar_one()
        db.session.remove()
    return counts


def _write_results(section: str) -> None:
    text_ = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    block = f"{START}\n{section}\n{END}"
    if START in text_ and END in text_:
        before, rest = text_.split(START, 1)
        after = rest.split(END, 1)[1]
        text_ = before + block + after
    else:
        text_ = text_.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text_, encoding="utf-8")


def _verdict(value: float, target: float) -> str:
    return "**met**" if value < target else "**missed**"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_PG_URL", DEFAULT_PG))
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure an existing database")
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    url = make_url(args.pg_url).render_as_string(hide_password=False)
    if not args.reuse:
        url = fresh_postgres(args.pg_url)
    app = bench_app(url, DATA, "bench-reports")
    phases: dict[str, float] = {}
    if not args.reuse:
        log(f"generating {args.tickets:,} tickets")
        phases = build(app, args.tickets)
    counts = _counts(app)
    sizes = _municipality_sizes(app)
    municipality_id, tickets_90 = sizes[0]
    median_id, median_90 = sizes[len(sizes) // 2]
    log(f"largest municipality: {municipality_id} with {tickets_90:,} tickets in 90 days")
    load_before = os.getloadavg()
    coordinator = _client(app, f"koordinator{municipality_id}@bench.dk")
    typical = _client(app, f"koordinator{median_id}@bench.dk")
    admin = _client(app, "admin@bench.dk")
    results = {
        "municipality page, largest": _measure(
            app, coordinator, "/reports/municipality?preset=90", args.runs
        ),
        "municipality API, largest": _measure(
            app, coordinator, "/api/v1/reports/municipality?preset=90", args.runs
        ),
        "municipality page, median size": _measure(
            app, typical, "/reports/municipality?preset=90", args.runs
        ),
        "rollout page": _measure(app, admin, "/reports/rollout?preset=90", max(5, args.runs // 2)),
        "rollout API": _measure(
            app, admin, "/api/v1/reports/rollout?preset=90", max(5, args.runs // 2)
        ),
    }
    load_after = os.getloadavg()
    for name, figures in results.items():
        log(f"{name}: p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms")
    lines = [
        f"## Reports (bench/report_bench.py, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"PostgreSQL, {counts['ticket']:,} tickets over two years ({counts['ticket_90_days']:,} "
        f"in the last 90 days), {counts['ticket_entry']:,} replies, {counts['vendor_case']:,} "
        f"vendor cases, {counts['municipality']} municipalities. The largest municipality has "
        f"{tickets_90:,} tickets in 90 days, the median one {median_90:,}. "
        "Load average before / after the timings: "
        f"{' '.join(f'{v:.2f}' for v in load_before)} / "
        f"{' '.join(f'{v:.2f}' for v in load_after)} (2 shared cores).",
        "",
        "| report | SQL statements | runs | p50 ms | p95 ms | target |",
        "|---|---|---|---|---|---|",
    ]
    for name, figures in results.items():
        target = MUNICIPALITY_TARGET_MS if name.startswith("municipality") else ROLLOUT_TARGET_MS
        lines.append(
            f"| {name} (90 days) | {figures['statements']} | {figures['runs']} | "
            f"{figures['p50']:.0f} | {figures['p95']:.0f} | < {target:.0f} ms: "
            f"{_verdict(figures['p95'], target)} |"
        )
    if phases:
        lines += [
            "",
            "Data generation: "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
            + ".",
        ]
    lines += [
        "",
        "Timings are requests through the Flask test client in the benchmark's process "
        "(no network, no gunicorn), signed in as the municipality's coordinator and as the "
        "system admin; each page renders its charts and tables.",
    ]
    if not args.no_results:
        _write_results("\n".join(lines))
        log(f"results written to {RESULTS.relative_to(ROOT)}")
    if not args.keep and not args.reuse:
        drop_postgres(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

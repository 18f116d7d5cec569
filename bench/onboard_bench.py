"""Onboarding benchmark: import waves of 25 municipalities, then time the wave overview.

`make bench-onboard` (or `python -m bench.onboard_bench [--backends sqlite,postgresql]`).
For each database it creates a fresh one (SQLite under bench/.data/onboard/, PostgreSQL
`supportdesk_onboard_bench` on the server of --pg-url), seeds the demo data (five
municipalities, the four vendors), then imports four generated waves as XLSX workbooks,
each 25 municipalities with 1,500 institutions, 12,000 people and 600 entitlements, the
way `onboard import` does (read, check, write in one transaction, commit). The first
wave is also checked with --dry-run first and imported a second time (a no-op). With 105
municipalities in the database it times the wave overview: the readiness computation
alone and the whole page for a signed-in system admin, with its SQL statement count.
Figures and machine notes (load average: the machine is shared) go to bench/RESULTS.md
between `<!-- bench:onboard:start -->` and `<!-- bench:onboard:end -->`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from bench.databases import bench_app, drop_postgres, fresh_postgres, signed_in_client
from bench.onboard_wave import generate, write_xlsx

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data" / "onboard"
RESULTS = ROOT / "bench" / "RESULTS.md"
START, END = "<!-- bench:onboard:start -->", "<!-- bench:onboard:end -->"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/supportdesk_onboard_bench"
WAVES = 4
IMPORT_TARGET_S = 60.0
PAGE_TARGET_MS = 300.0


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


@contextlib.contextmanager
def stopwatch(into: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    yield
    into[name] = time.perf_counter() - start


def _database(backend: str, pg_url: str) -> str:
    if backend == "sqlite":
        shutil.rmtree(DATA / "sqlite", ignore_errors=True)
        (DATA / "sqlite").mkdir(parents=True)
        return f"sqlite:///{DATA / 'sqlite' / 'onboard.db'}"
    return fresh_postgres(pg_url)


def _drop(backend: str, url: str) -> None:
    if backend == "sqlite":
        shutil.rmtree(DATA / "sqlite", ignore_errors=True)
        return
    drop_postgres(url)


def _app(url: str):
    return bench_app(url, DATA, "bench-onboard")


def _workbooks() -> list[Path]:
    paths = []
    for wave in range(1, WAVES + 1):
        path = DATA / f"wave{wave}.xlsx"
        if not path.exists():
            write_xlsx(generate(wave=wave), path)
        paths.append(path)
    return paths


def _import(path: Path, **options: bool) -> tuple[dict[str, float], Any]:
    from supportdesk.extensions import db
    from supportdesk.onboarding import services

    phases: dict[str, float] = {}
    cpu = time.process_time()
    with stopwatch(phases, "total"):
        with stopwatch(phases, "read"):
            sheets = services.read_path(path)
        with stopwatch(phases, "check_write"):
            result = services.import_workbook(None, sheets, **options)
        with stopwatch(phases, "commit"):
            if result.written and not options.get("dry_run"):
                db.session.commit()
            else:
                db.session.rollback()
    phases["cpu"] = time.process_time() - cpu
    db.session.remove()
    return phases, result


def _signed_in_admin(app) -> Any:
    """A test client with the demo admin's server-side session (two-factor set up)."""
    from supportdesk.accounts.models import Role, User
    from supportdesk.extensions import db

    admin = db.session.scalar(select(User).where(User.role == Role.admin))
    return signed_in_client(app, admin)


def _timed(call: Callable[[], Any], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _overview(app, runs: int) -> dict[str, Any]:
    from supportdesk.accounts.models import Municipality
    from supportdesk.extensions import db
    from supportdesk.onboarding import readiness

    client = _signed_in_admin(app)
    statements: list[str] = []

    def page() -> None:
        response = client.get("/admin/onboarding/waves")
        assert response.status_code == 200, response.status_code

    page()  # warm: templates compiled, menu cached
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    page()
    event.remove(db.engine, "before_cursor_execute", listener)
    pages = _timed(page, runs)

    def compute() -> None:
        readiness.overview(readiness.today())
        db.session.remove()

    computed = _timed(compute, runs)
    municipalities = db.session.scalar(select(func.count(Municipality.id)))
    db.session.remove()
    return {
        "municipalities": municipalities,
        "statements": len(statements),
        "page_p50": statistics.median(pages),
        "page_p95": sorted(pages)[int(0.95 * (len(pages) - 1))],
        "compute_p50": statistics.median(computed),
        "runs": runs,
    }


def run_backend(backend: str, pg_url: str, runs: int, keep: bool) -> dict[str, Any]:
    from supportdesk.accounts.models import User
    from supportdesk.demo import seed
    from supportdesk.extensions import db

    url = _database(backend, pg_url)
    app = _app(url)
    figures: dict[str, Any] = {"backend": backend, "waves": []}
    try:
        with app.app_context():
            db.create_all()
            seed(ticket_count=0, echo=lambda _line: None)
            db.session.commit()
            db.session.remove()
            if backend == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("VACUUM ANALYZE"))
            paths = _workbooks()
            phases, result = _import(paths[0], dry_run=True)
            log(f"{backend}: wave 1 dry run {phases['total']:.1f} s")
            figures["dry_run"] = phases
            for number, path in enumerate(paths, start=1):
                phases, result = _import(path)
                counts = result.counts()
                log(f"{backend}: wave {number} imported in {phases['total']:.1f} s {counts}")
                assert result.ok, result.plan.problems[:5]
                figures["waves"].append({"number": number, **phases, **counts})
            phases, result = _import(paths[0])
            log(f"{backend}: wave 1 again {phases['total']:.1f} s {result.counts()}")
            figures["reimport"] = {**phases, **result.counts()}
            figures["users"] = db.session.scalar(select(func.count(User.id)))
            db.session.remove()
            if backend == "postgresql":
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                    c.execute(text("ANALYZE"))
            figures["overview"] = _overview(app, runs)
            log(f"{backend}: overview {figures['overview']}")
            db.session.remove()
            db.engine.dispose()
    finally:
        if not keep:
            _drop(backend, url)
    return figures


def _machine(pg_url: str, backends: list[str]) -> list[str]:
    import sqlite3

    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    lines = [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`",
        f"- CPU: {cpu}, {os.cpu_count()} cores; Linux {platform.release()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}",
    ]
    if "postgresql" in backends:
        with contextlib.suppress(Exception):
            engine = create_engine(make_url(pg_url).set(database="postgres"))
            with engine.connect() as conn:
                version = conn.execute(text("SHOW server_version")).scalar()
            engine.dispose()
            lines[-1] += f", PostgreSQL {version} (synchronous_commit off)"
    return lines


def _section(results: list[dict[str, Any]], machine: list[str], loads: tuple) -> str:
    out = [
        START,
        "## Onboarding: wave import and wave overview (`make bench-onboard`)",
        "",
        "Four generated waves, each 25 municipalities, 1,500 institutions, 12,000 people "
        "and 600 entitlements (one XLSX workbook per wave, `bench/onboard_wave.py`), imported "
        "one after the other into a database seeded with the demo data, as `onboard import` "
        "does: read the workbook, check every row, write in bulk statements with the "
        "invitations, commit once. Then the wave overview at 105 municipalities.",
        "",
        "### Machine",
        "",
        *machine,
        f"- Load average before: {loads[0]}; after: {loads[1]} (2 cores shared with other "
        "engineers' test runs: figures vary with it)",
        "",
        "### Import (seconds)",
        "",
        "| database | run | read XLSX | check + write | commit | total | CPU of this process "
        "| created | unchanged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d = r["dry_run"]
        out.append(
            f"| {r['backend']} | wave 1, --dry-run | {d['read']:.1f} | {d['check_write']:.1f} "
            f"| - | {d['total']:.1f} | {d['cpu']:.1f} | - | - |"
        )
        for w in r["waves"]:
            out.append(
                f"| {r['backend']} | wave {w['number']} | {w['read']:.1f} | "
                f"{w['check_write']:.1f} | {w['commit']:.1f} | **{w['total']:.1f}** | "
                f"{w['cpu']:.1f} | {w['created']:,} | {w['unchanged']:,} |"
            )
        again = r["reimport"]
        out.append(
            f"| {r['backend']} | wave 1 again (no-op) | {again['read']:.1f} | "
            f"{again['check_write']:.1f} | {again['commit']:.1f} | {again['total']:.1f} | "
            f"{again['cpu']:.1f} | {again['created']:,} | {again['unchanged']:,} |"
        )
    out += [
        "",
        "### Wave overview",
        "",
        "| database | municipalities | people | SQL statements (page) | page p50 ms | "
        "page p95 ms | readiness alone p50 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        o = r["overview"]
        out.append(
            f"| {r['backend']} | {o['municipalities']} | {r['users']:,} | {o['statements']} | "
            f"**{o['page_p50']:.0f}** | {o['page_p95']:.0f} | {o['compute_p50']:.0f} |"
        )
    worst_import = max(w["total"] for r in results for w in r["waves"])
    worst_page = max(r["overview"]["page_p95"] for r in results)
    out += [
        "",
        f"Targets: a wave imports in < {IMPORT_TARGET_S:.0f} s; slowest "
        f"{worst_import:.1f} s: **{'met' if worst_import < IMPORT_TARGET_S else 'missed'}**; "
        f"the overview page < {PAGE_TARGET_MS:.0f} ms at 100 municipalities; slowest p95 "
        f"{worst_page:.0f} ms: **{'met' if worst_page < PAGE_TARGET_MS else 'missed'}**. "
        f"Page times are {results[0]['overview']['runs']} requests through the Flask test "
        "client in the benchmark's process (no network, no gunicorn), signed in as the "
        "system admin.",
        END,
    ]
    return "\n".join(out)


def write_results(section: str) -> None:
    text_ = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if START in text_ and END in text_:
        head, rest = text_.split(START, 1)
        text_ = head + section + rest.split(END, 1)[1]
    else:
        text_ = text_.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text_, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg-url", default=os.environ.get("SUPPORTDESK_BENCH_DATABASE_URL", DEFAULT_PG)
    )
    parser.add_argument("--runs", type=int, default=30, help="overview requests to time")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    before = os.getloadavg()
    results = [run_backend(b, args.pg_url, args.runs, args.keep) for b in backends]
    after = os.getloadavg()
    loads = tuple(" ".join(f"{x:.2f}" for x in load) for load in (before, after))
    section = _section(results, _machine(args.pg_url, backends), loads)
    print(section)
    if not args.no_write:
        write_results(section)
        log(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

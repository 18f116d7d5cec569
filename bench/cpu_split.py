"""Where a request's CPU goes on the whole machine: the workers, PostgreSQL, the load generator.

`python -m bench.cpu_split [--scenarios ceiling,ticket_list,faq_search_page] [--duration 12]
[--pg-url URL] [--backend postgresql|sqlite]` runs on the database a `make bench ... --keep`
run left behind (`bench/.data/postgresql/`, the database of `--pg-url`, default as
`make bench`; with `--backend sqlite`, `bench/.data/sqlite/bench.db`): it starts
the ceiling and the app under gunicorn as `make bench` does, loads each scenario with 16
users and reads, from /proc/<pid>/stat before and after, the CPU time of

- the gunicorn workers (all of it: accepting, parsing, teardown, not only the window
  between the first request hook and the response that `CPU ms/req` in `make bench` is),
- the PostgreSQL backends connected to the benchmark's database (none on SQLite),
- this process, the load generator,

each divided by the requests answered. CPU time is what other engineers' load on the
shared cores disturbs least; the wall-clock req/s printed beside it is disturbed fully.
Each scenario is warmed with 60 requests first (every worker's pool connected).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import run
from bench.load import Request, request_once
from bench.run import (
    DATA,
    DEFAULT_PG,
    HOST,
    VENDOR_AGENT,
    Scenario,
    Server,
    Target,
    gunicorn,
    scenario_data,
    scenarios,
)

TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def backend_pids(admin, database: str) -> list[int]:
    with admin.connect() as conn:
        found = conn.execute(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": database}
        )
        return [row[0] for row in found]


def snapshot(server: Server, admin, database: str) -> dict[str, dict[int, float | None]]:
    backends = backend_pids(admin, database) if admin is not None else []
    groups = {"workers": server.worker_pids(), "postgres": backends}
    taken = {name: {pid: process_cpu(pid) for pid in pids} for name, pids in groups.items()}
    taken["load generator"] = {os.getpid(): time.process_time()}
    return taken


def spent(before: dict, after: dict, group: str) -> float:
    """CPU seconds of the group's processes present at both ends."""
    return sum(
        after[group][pid] - before[group][pid]
        for pid in after[group]
        if before[group].get(pid) is not None and after[group][pid] is not None
    )


def measure(server: Server, scenario: Scenario, admin, database: str, args) -> str:
    for _ in range(60):
        request_once(HOST, server.port, scenario.make(0))
    load = os.getloadavg()[0]
    before = snapshot(server, admin, database)
    summary = run.measure(server, scenario, args, profile=False)  # + 1-2 probes, not counted
    after = snapshot(server, admin, database)
    n = summary["requests"] or 1
    parts = {group: spent(before, after, group) / n * 1000 for group in after}
    return (
        f"| {scenario.name} | {summary['rps']:.0f} | {parts['workers']:.2f} | "
        f"{parts['postgres']:.2f} | {parts['load generator']:.2f} | "
        f"{sum(parts.values()):.2f} | {summary['cpu_ms'] or 0:.2f} | "
        f"{summary['sql_per_request'] or 0:.1f} | {summary['errors']} | "
        f"{load:.1f} → {os.getloadavg()[0]:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu_split", description=__doc__)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--pg-url", default=os.environ.get("SUPPORTDESK_BENCH_DATABASE_URL"))
    parser.add_argument(
        "--scenarios",
        type=lambda s: s.split(","),
        default=["ceiling", "ticket_list", "case_queue", "faq_search_page", "faq_search_api"],
    )
    parser.add_argument("--duration", type=float, default=12.0)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds, after 60 requests")
    args = parser.parse_args(argv)
    if args.backend == "sqlite":
        url = f"sqlite:///{DATA / 'sqlite' / 'bench.db'}"
    else:
        url = args.pg_url or DEFAULT_PG
    target = Target(args.backend, 0, url, DATA / args.backend)
    database = make_url(url).database
    if not (target.workdir / "index").exists():
        raise SystemExit("no kept benchmark data: run `make bench BENCH_ARGS='... --keep'` first")
    admin = None
    if args.backend == "postgresql":
        admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    # the bench's vendor agent sets two-factor sign-in up anew (its key is not kept)
    with create_engine(url).begin() as conn:
        conn.execute(
            text(
                "UPDATE user_account SET totp_secret = NULL, totp_enabled_at = NULL, "
                "totp_last_step = NULL WHERE email = :email"
            ),
            {"email": VENDOR_AGENT},
        )
    print(
        "| scenario | req/s | worker CPU ms/req | PostgreSQL CPU ms/req | load generator "
        "CPU ms/req | sum | worker CPU ms/req in `make bench` | SQL/req | errors | load |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    if "ceiling" in args.scenarios:
        with gunicorn(target, "bench.ceiling.app:app", "ceiling") as ceiling:
            bare = Scenario("ceiling", "ceiling", lambda _n: Request("GET", "/"))
            print(measure(ceiling, bare, admin, database, args), flush=True)
    data = scenario_data(target)
    with gunicorn(target, "bench.wsgi_bench:app", "supportdesk") as server:
        for scenario in scenarios(server.port, data):
            if scenario.name in args.scenarios:
                print(measure(server, scenario, admin, database, args), flush=True)
    if admin is not None:
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

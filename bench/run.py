"""`make bench`: seed N tickets, serve with gunicorn, load each page, compare with a ceiling.

For each database and size: create a dedicated database, seed it with
`flask --app wsgi demo seed --tickets N`, import the FAQ, start gunicorn (2 workers)
on 127.0.0.1 with the bench entry point (SQL counter header), run 16 concurrent users
for 20 s per scenario and write the figures to bench/RESULTS.md. See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp

from bench.load import Request, Response, request_once, run_load
from supportdesk.demo import DEMO_TOTP_SECRET

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / ".data"
RESULTS = ROOT / "bench" / "RESULTS.md"
PYTHON = sys.executable
HOST = "127.0.0.1"
WORKERS = 2
_CSRF_FIELD = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 — the demo seed's published password
COORDINATOR = "koordinator1@esbjerg.sd-demo.dk"
SUPERUSER = "superbruger.561001@esbjerg.sd-demo.dk"
VENDOR_AGENT = "agent@netcompany.sd-demo.dk"
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/supportdesk_bench"
FAQ_QUERIES = [
    "log ind",
    "forældre kan ikke logge ind",
    "foraeldre besked",
    "fravær",
    "sygemelding",
    "kalender",
    "skoleårsskift",
    "uni-login adgangskode",
    "billeder galleri",
    "komme gå",
    "samtykke",
    "elevplan",
    "deling af filer",
    "mitid",
    "beskeder",
    "brugeroprettelse",
]
SUBJECTS = [
    "Forælder kan ikke logge ind med MitID",
    "Beskeder til 3.b bliver ikke leveret",
    "Komme/gå viser forkert afhentningstid",
    "Elevplan kan ikke gemmes",
    "Delt mappe er forsvundet",
    "Ny medarbejder mangler UNI-Login",
]
MARK_START = "<!-- bench:load:start -->"
MARK_END = "<!-- bench:load:end -->"
# pages and read APIs that must reach half of the ceiling's throughput
READ_SCENARIOS = ("ticket_list", "ticket_page", "case_queue", "faq_search_page", "faq_search_api")
# FAQ search does not depend on the number of tickets: measured once per database
FAQ_SCENARIOS = ("faq_search_page", "faq_search_api")
# the reads of the mixed scenario, in order; every eleventh request is a write
MIX_READS = (
    "ticket_list",
    "ticket_page",
    "case_queue",
    "ticket_page",
    "faq_search_page",
    "ticket_list",
    "municipal_cases",
    "ticket_page",
    "faq_search_page",
    "ticket_list",
)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- databases --------------------------------------------------------------------------


@dataclass
class Target:
    """One database at one size."""

    backend: str
    size: int
    url: str
    workdir: Path

    @property
    def label(self) -> str:
        return f"{self.backend} {human(self.size)}"

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "SUPPORTDESK_ENV": "production",
            "SUPPORTDESK_SECRET_KEY": "bench-secret-key-not-for-production",
            "SUPPORTDESK_DATABASE_URL": self.url,
            "SUPPORTDESK_INDEX_DIR": str(self.workdir / "index"),
            "SUPPORTDESK_UPLOAD_DIR": str(self.workdir / "uploads"),
            "SUPPORTDESK_SMTP_URL": "smtp://127.0.0.1:1",
            "SUPPORTDESK_BASE_URL": "http://127.0.0.1",
            "SUPPORTDESK_BENCH": "1",
            "BENCH_CEILING_DATABASE_URL": self.url,
            "PYTHONPATH": str(ROOT),
        }


def human(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def make_targets(args) -> list[Target]:
    """Sizes ascending per database: each size tops up the previous one's data."""
    targets = []
    workdir = DATA / "sqlite"
    for size in sorted(args.sqlite_sizes):
        targets.append(Target("sqlite", size, f"sqlite:///{workdir / 'bench.db'}", workdir))
    for size in sorted(args.pg_sizes):
        targets.append(Target("postgresql", size, args.pg_url, DATA / "postgresql"))
    return targets


def _pg_admin(url: str):
    from sqlalchemy import create_engine

    return create_engine(url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")


def reset_database(target: Target) -> None:
    """A fresh, empty database for the target (the PostgreSQL one is dedicated to bench)."""
    from sqlalchemy import text

    shutil.rmtree(target.workdir, ignore_errors=True)
    target.workdir.mkdir(parents=True)
    if target.backend == "postgresql":
        name = target.url.rsplit("/", 1)[1]
        if not re.fullmatch(r"supportdesk_bench\w*", name):
            raise SystemExit(f"refusing to drop {name!r}: bench databases are supportdesk_bench*")
        engine = _pg_admin(target.url)
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            # a throwaway database: commits need not wait for the disk (seeding is faster)
            conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
        engine.dispose()


def drop_database(target: Target) -> None:
    from sqlalchemy import text

    if target.backend == "sqlite":
        for path in target.workdir.glob("bench.db*"):
            path.unlink()
    if target.backend == "postgresql":
        name = target.url.rsplit("/", 1)[1]
        engine = _pg_admin(target.url)
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def flask(target: Target, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=target.environ(),
        capture_output=True,
        text=True,
        check=check,
    )


def prepare(target: Target, fresh: bool) -> dict[str, float]:
    """Schema, demo seed up to N tickets, FAQ and index, ceiling table; seconds per step.

    A fresh database gets the schema, the demo organisations and the FAQ; a larger size
    on the same database only tops the tickets up (`demo seed` adds what is missing).
    """
    timings: dict[str, float] = {}
    if fresh:
        timings.update(create_schema(target))
    started = time.perf_counter()
    result = flask(target, "demo", "seed", "--tickets", str(target.size), "--quiet", check=False)
    if result.returncode != 0:
        raise SystemExit(f"demo seed failed on {target.label}:\n{result.stderr[-3000:]}")
    timings["seed_s"] = time.perf_counter() - started
    if fresh:
        started = time.perf_counter()
        for args in (["faq", "import", "faq_content"], ["search", "rebuild"]):
            if flask(target, args[0], "--help", check=False).returncode == 0:
                flask(target, *args, check=False)
        timings["faq_s"] = time.perf_counter() - started
    started = time.perf_counter()
    from sqlalchemy import create_engine

    from bench.ceiling.app import populate

    engine = create_engine(target.url)
    populate(engine, ticket_count(target))
    engine.dispose()
    timings["ceiling_table_s"] = time.perf_counter() - started
    if target.backend == "postgresql":
        analyze(target)
    return timings


def create_schema(target: Target) -> dict[str, float]:
    reset_database(target)
    started = time.perf_counter()
    subprocess.run(
        [
            PYTHON,
            "-c",
            "from supportdesk import create_app\n"
            "from supportdesk.extensions import db\n"
            "app = create_app()\n"
            "with app.app_context(): db.create_all()\n",
        ],
        cwd=ROOT,
        env=target.environ(),
        check=True,
    )
    return {"schema_s": time.perf_counter() - started}


def analyze(target: Target) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(target.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def ticket_count(target: Target) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(target.url)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
    engine.dispose()
    return count


def scenario_data(target: Target) -> dict[str, Any]:
    """Ticket numbers the coordinator may open, and an API token for the superuser."""
    from sqlalchemy import func, select

    from supportdesk import create_app
    from supportdesk.accounts import services
    from supportdesk.accounts.models import Municipality, User
    from supportdesk.extensions import db
    from supportdesk.tickets.models import Ticket, TicketStatus

    app = create_app({"environ": target.environ()})
    with app.app_context():
        esbjerg = db.session.scalar(select(Municipality).where(Municipality.slug == "esbjerg"))
        newest = db.session.scalar(select(func.max(Ticket.id)))
        # a random sample without sorting the whole table
        ids = random.Random(7).sample(range(1, (newest or 1) + 1), min(2000, newest or 1))
        numbers = db.session.scalars(
            select(Ticket.number)
            .where(Ticket.id.in_(ids), Ticket.municipality_id == esbjerg.id)
            .limit(300)
        ).all()
        # replies in the mixed scenario go to tickets that still take them: the newest open
        # ones (the sample above is mostly old, resolved tickets, which answer 409)
        open_numbers = db.session.scalars(
            select(Ticket.number)
            .where(
                Ticket.municipality_id == esbjerg.id,
                Ticket.status.not_in([TicketStatus.resolved, TicketStatus.closed]),
            )
            .order_by(Ticket.id.desc())
            .limit(300)
        ).all()
        user = db.session.scalar(select(User).where(User.email == SUPERUSER))
        _token, plain = services.create_token(user, "bench")
        coordinator = db.session.scalar(select(User).where(User.email == COORDINATOR))
        _token, coordinator_plain = services.create_token(coordinator, "bench")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return {
        "ticket_numbers": list(numbers),
        "open_ticket_numbers": list(open_numbers),
        "token": plain,
        "coordinator_token": coordinator_plain,
    }


# --- servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log_path: Path

    def worker_pids(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        with contextlib.suppress(OSError):
            return [int(p) for p in path.read_text().split()]
        return []

    def worker_rss_mb(self) -> float:
        biggest = 0.0
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        biggest = max(biggest, int(line.split()[1]) / 1024)
        return biggest


@contextlib.contextmanager
def gunicorn(target: Target, app: str, name: str) -> Iterator[Server]:
    """gunicorn with 2 sync workers on a free loopback port; the same for app and ceiling."""
    port = free_port()
    log_path = target.workdir / f"{name}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "--workers",
                str(WORKERS),
                "--bind",
                f"{HOST}:{port}",
                "--log-level",
                "warning",
                app,
            ],
            cwd=ROOT,
            env=target.environ(),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = Server(process, port, log_path)
        try:
            deadline = time.monotonic() + 60
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"{name} exited:\n{log_path.read_text()[-3000:]}")
                with contextlib.suppress(OSError, ValueError, IndexError):
                    if request_once(HOST, port, Request("GET", "/healthz")).status == 200:
                        break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{name} did not answer /healthz within 60 s")
                time.sleep(0.3)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# keys set up by `sign_in` (a larger size signs in again on the same database)
TOTP_SECRETS: dict[str, str] = {}
USED_CODES: dict[str, str] = {}  # secret -> the last code sent with it


def fresh_code(secret: str) -> str:
    """The current code for `secret`, waiting for the next time step when the current code
    was already sent: the app refuses a code used once (replay protection)."""
    totp = pyotp.TOTP(secret)
    while (code := totp.now()) == USED_CODES.get(secret):
        time.sleep(0.5)
    USED_CODES[secret] = code
    return code


def sign_in(port: int, email: str, password: str = DEMO_PASSWORD) -> str:
    """Sign in through the real form; returns the Cookie header value."""
    _page, cookie, token = _form_page(port, "/login")
    answer = _post_form(
        port, "/login", cookie, {"email": email, "password": password, "csrf_token": token}
    )
    if answer.status != 302:
        raise SystemExit(f"sign-in as {email} failed with {answer.status}")
    cookie = _session_cookie(answer)
    if answer.headers.get("location", "").endswith("/account/2fa"):
        # vendor staff must use two-factor sign-in; the bench app runs in production mode,
        # where the demo seed hands out no shared key: set it up as a new agent does
        page, cookie, token = _form_page(port, "/account/2fa", cookie)
        secret = re.search(rb"data-totp-secret>([A-Z2-7]+)<", page.body)
        if secret is None:
            raise SystemExit("no two-factor key on /account/2fa")
        answer = _post_form(
            port,
            "/account/2fa",
            cookie,
            {"action": "enable", "code": fresh_code(secret.group(1).decode()), "csrf_token": token},
        )
        if answer.status != 200:
            raise SystemExit(f"two-factor set-up for {email} failed with {answer.status}")
        cookie = _session_cookie(answer, cookie)
        TOTP_SECRETS[email] = secret.group(1).decode()
    if answer.headers.get("location", "").endswith("/login/2fa"):
        # vendor staff sign in with a second factor: the key set up above, or the demo's
        _page, cookie, token = _form_page(port, "/login/2fa", cookie)
        code = fresh_code(TOTP_SECRETS.get(email, DEMO_TOTP_SECRET))
        answer = _post_form(port, "/login/2fa", cookie, {"code": code, "csrf_token": token})
        if answer.status != 302:
            raise SystemExit(f"two-factor sign-in as {email} failed with {answer.status}")
        cookie = _session_cookie(answer)
    # follow the redirect as a browser does and keep the cookie it sets: a signed-in
    # session gets its CSRF token on its first page, and a client that kept sending the
    # cookie from before would make every request start a new token and set the cookie
    where = urllib.parse.urlsplit(answer.headers.get("location", "/"))
    landing = (where.path or "/") + (f"?{where.query}" if where.query else "")
    page = request_once(HOST, port, Request("GET", landing, {"Cookie": cookie}))
    return _session_cookie(page, cookie)


def csrf_token(body: bytes, where: str) -> str:
    """The CSRF token of the form in a page's HTML; the run ends if there is none."""
    found = _CSRF_FIELD.search(body)
    if found is None:
        raise SystemExit(f"no csrf_token on {where}")
    return found.group(1).decode()


def _form_page(port: int, path: str, cookie: str | None = None) -> tuple[Response, str, str]:
    """GET a form's page: the page, the session cookie to post the form with and the
    form's CSRF token. A page that puts a new token in the session sets the cookie again
    (the code form after the password form, which starts a new session): that cookie,
    not the one sent, goes with the form."""
    page = request_once(HOST, port, Request("GET", path, {"Cookie": cookie} if cookie else {}))
    return page, _session_cookie(page, cookie), csrf_token(page.body, path)


def _post_form(port: int, path: str, cookie: str, fields: dict[str, str]) -> Response:
    """POST `fields` as a form to `path` with the session cookie."""
    form = urllib.parse.urlencode(fields).encode()
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    return request_once(HOST, port, Request("POST", path, headers, form))


def _session_cookie(response: Response, unchanged: str | None = None) -> str:
    """The session cookie the response sets, else `unchanged` (when given)."""
    for raw in response.cookies:
        pair = raw.split(";", 1)[0]
        if pair.startswith("session="):
            return pair
    if unchanged is not None:
        return unchanged
    raise SystemExit("no session cookie set")


# --- scenarios --------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    title: str
    make: Callable[[int], Request]
    expect: int = 200
    warm: Request | tuple[Request, ...] | None = None
    expect_any: tuple[int, ...] = ()

    def check(self, response: Response) -> bool:
        return response.status in (self.expect_any or (self.expect,))


def scenarios(port: int, data: dict[str, Any]) -> list[Scenario]:
    coordinator = {"Cookie": sign_in(port, COORDINATOR)}
    superuser = {"Cookie": sign_in(port, SUPERUSER)}
    agent = {"Cookie": sign_in(port, VENDOR_AGENT)}
    bearer = {"Authorization": f"Bearer {data['token']}", "Accept": "application/json"}
    numbers = data["ticket_numbers"] or ["none"]
    open_numbers = data["open_ticket_numbers"]
    if not open_numbers:
        raise SystemExit("no open ticket in the bench database for the mix's replies")
    rng = random.Random(11)
    serial = itertools.count(1)

    def query(_n: int) -> str:
        return urllib.parse.quote(rng.choice(FAQ_QUERIES))

    coordinator_api = {
        "Authorization": f"Bearer {data['coordinator_token']}",
        "Accept": "application/json",
    }
    mix = itertools.count()

    def mixed(n: int) -> Request:
        """Ten page reads, then one write (a reply, an internal note or a new ticket)."""
        k = next(mix)
        read = MIX_READS[k % (len(MIX_READS) + 1)] if k % (len(MIX_READS) + 1) < 10 else None
        if read == "ticket_list":
            return Request("GET", "/tickets", coordinator)
        if read == "ticket_page":
            return Request("GET", f"/tickets/{rng.choice(numbers)}", coordinator)
        if read == "case_queue":
            return Request("GET", "/cases", agent)
        if read == "municipal_cases":
            return Request("GET", "/cases", coordinator)
        if read == "faq_search_page":
            return Request("GET", f"/faq/search?q={query(n)}", superuser)
        write = (k // (len(MIX_READS) + 1)) % 3
        if write == 2:
            return new_ticket(n)
        path = f"/api/v1/tickets/{rng.choice(open_numbers)}/entries"
        payload = {"body": "Svar fra belastningstesten.", "internal": write == 1}
        return Request.json("POST", path, payload, coordinator_api)

    def new_ticket(_n: int) -> Request:
        n = next(serial)
        payload = {
            "subject": f"{SUBJECTS[n % len(SUBJECTS)]} ({n})",
            "description": "Oprettet af belastningstesten. Sker for flere forældre siden i går.",
            "system": "aula",
            "category": "login",
            "priority": "normal",
        }
        return Request.json("POST", "/api/v1/tickets", payload, bearer)

    return [
        Scenario(
            "ticket_list",
            "Coordinator's ticket list `/tickets`",
            lambda _n: Request("GET", "/tickets", coordinator),
        ),
        Scenario(
            "ticket_page",
            "Ticket page `/tickets/<number>`",
            lambda _n: Request("GET", f"/tickets/{rng.choice(numbers)}", coordinator),
        ),
        Scenario(
            "case_queue",
            "Vendor case queue `/cases`",
            lambda _n: Request("GET", "/cases", agent),
        ),
        Scenario(
            "faq_search_page",
            "FAQ search page `/faq/search?q=`",
            lambda n: Request("GET", f"/faq/search?q={query(n)}", superuser),
        ),
        Scenario(
            "faq_search_api",
            "FAQ search API `/api/v1/faq/search?q=`",
            lambda n: Request("GET", f"/api/v1/faq/search?q={query(n)}", bearer),
        ),
        Scenario(
            "api_create_ticket",
            "Ticket creation `POST /api/v1/tickets`",
            new_ticket,
            201,
            # A token's first use in a minute writes last_used_at in a second transaction;
            # inside a POST on SQLite that waits for the request's own write lock (30 s,
            # then 500; reported). A GET first records the use, so the POSTs measure
            # ticket creation itself.
            warm=Request("GET", "/api/v1/me", bearer),
        ),
        Scenario(
            "mixed",
            "Read/write mix: 10 page reads per write (reply, note, new ticket)",
            mixed,
            200,
            # both tokens' first use recorded before the measurement (see above)
            warm=(
                Request("GET", "/api/v1/me", coordinator_api),
                Request("GET", "/api/v1/me", bearer),
            ),
            expect_any=(200, 201),
        ),
    ]


@dataclass
class Outcome:
    target: str
    backend: str
    size: int
    prepare: dict[str, float] = field(default_factory=dict)
    tickets_before: int = 0
    tickets_after: int = 0
    measured_at: str = "an earlier run"
    load: str = "unknown"
    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)


def measure(server: Server, scenario: Scenario, args, profile: bool) -> dict[str, Any]:
    warm = scenario.warm if isinstance(scenario.warm, tuple) else (scenario.warm,)
    for request in filter(None, warm):
        request_once(HOST, server.port, request)
    probe = request_once(HOST, server.port, scenario.make(0))
    if not scenario.check(probe):
        raise RuntimeError(f"{probe.status} on the first request")
    spies = start_profilers(server, scenario.name, args) if profile else []
    result = run_load(
        scenario.name,
        HOST,
        server.port,
        scenario.make,
        users=args.users,
        duration=args.duration,
        warmup=args.warmup,
        check=scenario.check,
    )
    summary = result.summary()
    summary["title"] = scenario.title
    summary["worker_rss_mb"] = server.worker_rss_mb()
    if spies:
        summary["profile"] = finish_profilers(spies)
    return summary


def start_profilers(server: Server, name: str, args) -> list[tuple[subprocess.Popen, Path]]:
    """py-spy on every worker for the scenario's duration (collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
    spies = []
    for pid in server.worker_pids():
        out = DATA / f"profile-{name}-{pid}.txt"
        process = subprocess.Popen(
            [
                spy,
                "record",
                "--pid",
                str(pid),
                "--duration",
                str(int(args.duration + args.warmup)),
                "--rate",
                "97",
                "--format",
                "raw",
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        spies.append((process, out))
    return spies


def finish_profilers(spies: list[tuple[subprocess.Popen, Path]]) -> list[str]:
    from bench.profile import summarize

    paths = []
    for process, out in spies:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)
        paths.append(out)
    return summarize(paths)


def run_target(target: Target, args, first_of_backend: bool) -> Outcome:
    outcome = Outcome(target.label, target.backend, target.size)
    outcome.measured_at = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    log(f"{target.label}: preparing (seed up to {target.size} tickets, ceiling table)")
    outcome.prepare = prepare(target, fresh=first_of_backend)
    outcome.tickets_before = ticket_count(target)
    log(
        f"{target.label}: prepared " + ", ".join(f"{k}={v:.1f}" for k, v in outcome.prepare.items())
    )
    data = scenario_data(target)
    measure_ceiling(target, args, outcome, CEILINGS[0])
    with gunicorn(target, "bench.wsgi_bench:app", "supportdesk") as server:
        for scenario in scenarios(server.port, data):
            if args.scenarios and scenario.name not in args.scenarios:
                continue
            if scenario.name in FAQ_SCENARIOS and not (first_of_backend or args.faq_every_size):
                outcome.skipped[scenario.name] = (
                    "independent of the ticket count: see the first size"
                )
                continue
            try:
                row = measure(server, scenario, args, profile=scenario.name in args.profile)
            except (RuntimeError, OSError, ValueError) as error:
                outcome.skipped[scenario.name] = str(error)
                log(f"{target.label}: {scenario.name} skipped: {error}")
                continue
            outcome.rows.append(row)
            log(
                f"{target.label}: {scenario.name} {row['rps']:.0f} req/s, "
                f"p50 {row['p50_ms']:.1f} / p99 {row['p99_ms']:.1f} ms, "
                f"errors {row['errors']}, sql/req {row['sql_per_request']}"
            )
    measure_ceiling(target, args, outcome, CEILINGS[1])
    outcome.tickets_after = ticket_count(target)
    outcome.load = loadavg()
    return outcome


# The ceiling is measured before the app's scenarios and again after them: right after the
# seed, the database may still be busy (PostgreSQL's autovacuum after the bulk load), and a
# ceiling measured then flatters every ratio. Pages are judged against the faster of the two.
CEILINGS = (
    ("ceiling", "Ceiling: bare Flask, 50 rows via Jinja"),
    ("ceiling_after", "Ceiling again, after the app's scenarios"),
)


def measure_ceiling(target: Target, args, outcome: Outcome, ceiling: tuple[str, str]) -> None:
    name, title = ceiling
    with gunicorn(target, "bench.ceiling.app:app", "ceiling") as server:
        scenario = Scenario(name, title, lambda _n: Request("GET", "/"))
        row = measure(server, scenario, args, profile=False)
    outcome.rows.append(row)
    log(f"{target.label}: {name} {row['rps']:.0f} req/s, p99 {row['p99_ms']:.1f} ms")


def best_ceiling(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The faster of the ceiling's two measurements: what every page is judged against."""
    measured = [r for r in rows if r["name"] in dict(CEILINGS) and r["rps"]]
    return max(measured, key=lambda r: r["rps"], default=None)


# --- report -----------------------------------------------------------------------------


def machine_notes(pg_url: str | None) -> list[str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    notes = [
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{git_commit()}`",
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory}; "
        f"{platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
        + (f", {pg_version(pg_url)}" if pg_url else ""),
        f"- gunicorn {WORKERS} sync workers on {HOST}; load generator (bench/load.py) in the "
        "same machine, one connection per request; both share the 2 cores.",
        f"- Load average (1/5/15 min) at the start: {LOAD_AT_START}; at the end: {loadavg()}. "
        "Other work on the machine lowers req/s and raises latencies for app and ceiling "
        "alike; CPU ms/req (the worker's own CPU time) is the steadier figure.",
    ]
    return notes


def loadavg() -> str:
    with contextlib.suppress(OSError):
        return " / ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "unknown"


LOAD_AT_START = loadavg()


def git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return result.stdout.strip() or "unknown"


def pg_version(url: str) -> str:
    from sqlalchemy import text

    with contextlib.suppress(Exception):
        engine = _pg_admin(url)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar_one()
        engine.dispose()
        return f"PostgreSQL {version}"
    return "PostgreSQL unknown"


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def evaluate(outcomes: list[Outcome]) -> list[str]:
    """Each target against its figure: pass/miss with the numbers."""
    lines = []
    for outcome in outcomes:
        ceiling = best_ceiling(outcome.rows)
        for row in outcome.rows:
            if row["name"] in READ_SCENARIOS and ceiling:
                ratio = row["rps"] / ceiling["rps"]
                verdict = "met" if ratio >= 0.5 else "**missed**"
                lines.append(
                    f"- {outcome.target}, {row['name']}: {ratio:.0%} of the ceiling "
                    f"({row['rps']:.0f} / {ceiling['rps']:.0f} req/s), target ≥ 50 %: {verdict}"
                )
    pg = {o.size: o for o in outcomes if o.backend == "postgresql"}
    small, large = pg.get(10_000), pg.get(1_000_000)
    if small and large:
        p99 = {
            size: next((r["p99_ms"] for r in o.rows if r["name"] == "ticket_list"), None)
            for size, o in ((10_000, small), (1_000_000, large))
        }
        if p99[10_000] and p99[1_000_000]:
            factor = p99[1_000_000] / p99[10_000]
            verdict = "met" if factor <= 1.5 else "**missed**"
            lines.append(
                f"- PostgreSQL ticket list p99: {p99[1_000_000]:.1f} ms at 1M vs "
                f"{p99[10_000]:.1f} ms at 10k = {factor:.2f}x, target ≤ 1.5x: {verdict}"
            )
    else:
        lines.append("- PostgreSQL ticket list p99 1M vs 10k: not measured in this run")
    for outcome in outcomes:
        if outcome.backend != "sqlite":
            continue
        row = next((r for r in outcome.rows if r["name"] == "api_create_ticket"), None)
        if row:
            verdict = "met" if row["rps"] >= 200 and not row["errors"] else "**missed**"
            lines.append(
                f"- {outcome.target}, API ticket creation: {row['rps']:.0f}/s "
                f"({row['errors']} errors), target ≥ 200/s: {verdict}"
            )
    return lines


def report(outcomes: list[Outcome], targets: list[Target], args, elapsed: float) -> str:
    out = [
        MARK_START,
        "## Load benchmark (`make bench`)",
        "",
        f"{args.users} concurrent users, {args.duration:.0f} s per scenario after "
        f"{args.warmup:.0f} s warm-up; total run {elapsed / 60:.1f} min.",
        "",
        "### Machine",
        "",
        *machine_notes(args.pg_url if any(o.backend == "postgresql" for o in outcomes) else None),
        "",
        "### Targets",
        "",
        *evaluate(outcomes),
    ]
    for outcome in outcomes:
        ceiling = best_ceiling(outcome.rows)
        prep = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in outcome.prepare.items())
        out += [
            "",
            f"### {outcome.target} tickets",
            "",
            f"Measured {outcome.measured_at} (load average after: {outcome.load}). "
            f"Prepared in: {prep}. Tickets: {outcome.tickets_before:,} measured "
            f"({outcome.tickets_after:,} after the creation scenario). "
            + (
                f"`x ceiling` is against the faster ceiling run ({ceiling['rps']:.0f} req/s)."
                if ceiling
                else ""
            ),
            "",
            "| scenario | req/s | x ceiling | p50 ms | p95 ms | p99 ms | errors | SQL/req "
            "| CPU ms/req | x ceiling CPU | cache hits % | worker RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in outcome.rows:
            ratio = row["rps"] / ceiling["rps"] if ceiling and ceiling["rps"] else None
            cpu_ratio = None
            if ceiling and ceiling.get("cpu_ms") and row.get("cpu_ms"):
                cpu_ratio = ceiling["cpu_ms"] / row["cpu_ms"]
            out.append(
                f"| {row['title']} | {fmt(row['rps'])} | {fmt(ratio, 2)} | "
                f"{fmt(row['p50_ms'], 1)} | {fmt(row['p95_ms'], 1)} | {fmt(row['p99_ms'], 1)} | "
                f"{row['errors']} | {fmt(row['sql_per_request'], 1)} | "
                f"{fmt(row.get('cpu_ms'), 1)} | {fmt(cpu_ratio, 2)} | "
                f"{fmt(row.get('cache_hit_pct'))} | {fmt(row['worker_rss_mb'])} |"
            )
        for row in outcome.rows:
            if row.get("fragments") and row["name"] == "mixed":
                out += [
                    "",
                    f"Fragment cache under the mix ({row['title']}), per fragment:",
                    "",
                    "| fragment | hits | misses | hit % |",
                    "|---|---:|---:|---:|",
                ]
                for name, counts in row["fragments"].items():
                    out.append(
                        f"| `{name}` | {counts['hits']} | {counts['misses']} | "
                        f"{fmt(counts['hit_pct'], 1)} |"
                    )
        for name, reason in outcome.skipped.items():
            out.append(f"\n- {name} not measured: {reason}")
        for row in outcome.rows:
            if row.get("profile"):
                out += ["", f"py-spy, {row['name']} (share of samples):", "", "```text"]
                out += row["profile"]
                out.append("```")
    out += ["", MARK_END]
    return "\n".join(out) + "\n"


def write_results(section: str) -> None:
    """Replace only this harness's section of RESULTS.md (others write their own)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    if MARK_START in text and MARK_END in text:
        before, rest = text.split(MARK_START, 1)
        after = rest.split(MARK_END, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")


def parse_args(argv: list[str] | None = None):
    sizes = lambda raw: [int(float(x)) for x in raw.split(",") if x.strip()]  # noqa: E731
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--sqlite-sizes", type=sizes, default=[10_000, 100_000])
    parser.add_argument("--pg-sizes", type=sizes, default=[10_000, 100_000, 1_000_000])
    parser.add_argument(
        "--pg-url", default=os.environ.get("SUPPORTDESK_BENCH_DATABASE_URL", DEFAULT_PG)
    )
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--scenarios", type=lambda s: s.split(","), default=[])
    parser.add_argument("--profile", type=lambda s: s.split(","), default=[])
    parser.add_argument("--faq-every-size", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the previous run's figures for the databases/sizes not measured now",
    )
    return parser.parse_args(argv)


def merged(outcomes: list[Outcome]) -> list[Outcome]:
    """This run's outcomes plus the previous run's for databases/sizes not re-measured."""
    path = DATA / "last-run.json"
    if not path.exists():
        return outcomes
    fresh = {(o.backend, o.size) for o in outcomes}
    earlier = [Outcome(**raw) for raw in json.loads(path.read_text())]
    combined = [o for o in earlier if (o.backend, o.size) not in fresh] + outcomes
    order = {"sqlite": 0, "postgresql": 1}
    return sorted(combined, key=lambda o: (order.get(o.backend, 2), o.size))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    targets = make_targets(args)
    DATA.mkdir(parents=True, exist_ok=True)
    outcomes = []
    seen: set[str] = set()
    try:
        for index, target in enumerate(targets):
            outcomes.append(run_target(target, args, first_of_backend=target.backend not in seen))
            seen.add(target.backend)
            last_of_backend = (
                index + 1 == len(targets) or targets[index + 1].backend != target.backend
            )
            if last_of_backend and not args.keep:
                drop_database(target)
    finally:
        elapsed = time.perf_counter() - started
        if outcomes and args.merge:
            outcomes = merged(outcomes)
        if outcomes:
            (DATA / "last-run.json").write_text(
                json.dumps([o.__dict__ for o in outcomes], indent=2, default=str)
            )
            section = report(outcomes, targets, args, elapsed)
            print(section)
            if not args.no_write:
                write_results(section)
                log(f"wrote {RESULTS.relative_to(ROOT)}")
    log(f"done in {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A small closed-loop HTTP load generator (asyncio, one connection per request).

Each of `users` virtual users sends a request, waits for the whole answer and sends
the next one until the time is up, so throughput is what the server sustains at that
concurrency. Lean on purpose: it shares the 2 cores with the server under test, and
it loads the app and the ceiling the same way, so their ratio is fair.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUERY_HEADER = "x-bench-queries"
CPU_HEADER = "x-bench-cpu-us"
CACHE_HEADER = "x-bench-cache-misses"
FRAGMENTS_HEADER = "x-bench-fragments"
TIMEOUT = 30.0


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, method: str, path: str, payload: Any, headers: dict[str, str]) -> Request:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return cls(method, path, {**headers, "Content-Type": "application/json"}, body)


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] = field(default_factory=list)


@dataclass
class LoadResult:
    """Raw measurements of one scenario; summary() gives the reported figures."""

    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    queries: list[int] = field(default_factory=list)
    cpu_us: list[int] = field(default_factory=list)
    cache_misses: list[int] = field(default_factory=list)
    # per fragment name: hits and misses (from the fragments header)
    fragment_hits: Counter = field(default_factory=Counter)
    fragment_misses: Counter = field(default_factory=Counter)
    failures: Counter = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def errors(self) -> int:
        bad = sum(n for status, n in self.statuses.items() if status >= 400)
        return bad + sum(self.failures.values())

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
        return ordered[rank] * 1000

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requests": self.count,
            "rps": self.count / self.seconds if self.seconds else 0.0,
            "p50_ms": self.percentile(50),
            "p95_ms": self.percentile(95),
            "p99_ms": self.percentile(99),
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": dict(self.failures),
            "sql_per_request": (sum(self.queries) / len(self.queries)) if self.queries else None,
            "cpu_ms": (sum(self.cpu_us) / len(self.cpu_us) / 1000) if self.cpu_us else None,
            # share of requests answered without rendering any cached fragment anew
            "cache_hit_pct": (
                100 * sum(1 for n in self.cache_misses if n == 0) / len(self.cache_misses)
                if self.cache_misses
                else None
            ),
            "fragments": {
                name: {
                    "hits": self.fragment_hits[name],
                    "misses": self.fragment_misses[name],
                    "hit_pct": 100
                    * self.fragment_hits[name]
                    / (self.fragment_hits[name] + self.fragment_misses[name]),
                }
                for name in sorted({*self.fragment_hits, *self.fragment_misses})
            },
        }


def encode(request: Request, host: str, port: int) -> bytes:
    headers = {
        "Host": f"{host}:{port}",
        "User-Agent": "supportdesk-bench",
        "Accept": "*/*",
        "Connection": "close",
        **request.headers,
    }
    if request.body or request.method in ("POST", "PUT", "PATCH"):
        headers["Content-Length"] = str(len(request.body))
    head = f"{request.method} {request.path} HTTP/1.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (head + "\r\n").encode("latin-1") + request.body


def decode(raw: bytes) -> Response:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "set-cookie":
            cookies.append(value.strip())
        headers[name] = value.strip()
    return Response(status, headers, body, cookies)


async def fetch(host: str, port: int, request: Request) -> Response:
    """One request on its own connection; the server closes it after the answer."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(encode(request, host, port))
        await writer.drain()
        raw = await reader.read()
    finally:
        writer.close()
    return decode(raw)


async def _user(
    host: str,
    port: int,
    make: Callable[[int], Request],
    result: LoadResult,
    measure_from: float,
    until: float,
    check: Callable[[Response], bool] | None,
) -> None:
    sequence = 0
    while (now := time.perf_counter()) < until:
        sequence += 1
        request = make(sequence)
        try:
            response = await asyncio.wait_for(fetch(host, port, request), TIMEOUT)
        except (TimeoutError, OSError, ValueError, IndexError) as error:
            if now >= measure_from:
                result.failures[type(error).__name__] += 1
            continue
        if now < measure_from:
            continue
        result.latencies.append(time.perf_counter() - now)
        status = response.status
        result.statuses[status] += 1
        if check is not None and status < 400 and not check(response):
            result.failures[f"unexpected {status}"] += 1
        if QUERY_HEADER in response.headers:
            result.queries.append(int(response.headers[QUERY_HEADER]))
        if CPU_HEADER in response.headers:
            result.cpu_us.append(int(response.headers[CPU_HEADER]))
        if CACHE_HEADER in response.headers:
            result.cache_misses.append(int(response.headers[CACHE_HEADER]))
        for part in filter(None, response.headers.get(FRAGMENTS_HEADER, "").split(",")):
            name, _, counts = part.rpartition("=")
            hits, _, misses = counts.partition("/")
            result.fragment_hits[name] += int(hits)
            result.fragment_misses[name] += int(misses)


def run_load(
    name: str,
    host: str,
    port: int,
    make: Callable[[int], Request],
    users: int = 16,
    duration: float = 20.0,
    warmup: float = 2.0,
    check: Callable[[Response], bool] | None = None,
) -> LoadResult:
    """Warm up, then measure `duration` seconds of `users` concurrent closed loops."""

    async def _main() -> LoadResult:
        start = time.perf_counter()
        measure_from = start + warmup
        until = measure_from + duration
        result = LoadResult(name=name, seconds=duration)
        await asyncio.gather(
            *(_user(host, port, make, result, measure_from, until, check) for _ in range(users))
        )
        # requests still in flight at the deadline finish after it: count real elapsed time
        result.seconds = max(duration, time.perf_counter() - measure_from)
        return result

    return asyncio.run(_main())


def request_once(host: str, port: int, request: Request) -> Response:
    return asyncio.run(asyncio.wait_for(fetch(host, port, request), TIMEOUT))

"""Fault tests: real processes (workers, gunicorn) against the test databases.

`processes` starts commands from the repository root with the test app's environment
in their own process group, so a test can kill one with SIGKILL (kill -9) and every
child it forked; whatever is still running at the end is ended the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from aiosmtpd.controller import Controller

from supportdesk.extensions import db as _db
from tests.conftest import ROOT, free_port


class Processes:
    def __init__(self, app, logs) -> None:
        self.app = app
        self.logs = logs  # each process's stderr goes to a file here (a pipe could fill)
        self.started: list[subprocess.Popen] = []

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, **self.app.config["TEST_ENVIRON"], **(extra or {})}

    def start(self, args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        _db.session.commit()
        log = open(self.logs / f"process-{len(self.started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=self.env(extra_env),
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,  # its own process group: kill -9 reaches the workers
        )
        log.close()  # the child has its own copy
        proc.log_path = self.logs / f"process-{len(self.started)}.log"
        self.started.append(proc)
        return proc

    def flask(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        return self.start([sys.executable, "-m", "flask", "--app", "wsgi", *args], extra_env)

    def gunicorn(self, workers: int = 2, extra_env: dict[str, str] | None = None) -> str:
        """gunicorn with the shipped gunicorn.conf.py on a free port; returns its base URL."""
        port = free_port()
        env = {"SUPPORTDESK_ENV": "production", "GUNICORN_WORKERS": str(workers)}
        proc = self.start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "gunicorn.conf.py",
                "-b",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            {**env, **(extra_env or {})},
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # a shared, busy machine
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_of(proc)[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310
                    return url
            except urllib.error.HTTPError:
                return url  # it answers (503 while there is no search index yet)
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not start within 120 s: {self.log_of(proc)[-2000:]}")

    @staticmethod
    def log_of(proc: subprocess.Popen) -> str:
        return proc.log_path.read_text(errors="replace")

    @staticmethod
    def kill9(proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop_all(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.kill9(proc)


@pytest.fixture
def processes(app, tmp_path) -> Iterator[Processes]:
    runner = Processes(app, tmp_path)
    try:
        yield runner
    finally:
        runner.stop_all()


class SlowCollector:
    """An SMTP handler that takes `delay` seconds to accept each message."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.message_ids: list[str] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.message_ids.append(parsed["Message-ID"])
        return "250 Message accepted for delivery"


@pytest.fixture
def slow_smtp() -> Iterator[Callable[[float], tuple[str, SlowCollector]]]:
    """slow_smtp(0.25) → (smtp URL, collector): a real SMTP server answering slowly."""
    controllers: list[Controller] = []

    def _start(delay: float) -> tuple[str, SlowCollector]:
        collector = SlowCollector(delay)
        port = free_port()
        controller = Controller(collector, hostname="127.0.0.1", port=port)
        controller.start()
        controllers.append(controller)
        return f"smtp://127.0.0.1:{port}", collector

    yield _start
    for controller in controllers:
        controller.stop()

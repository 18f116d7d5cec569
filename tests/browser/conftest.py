"""Real-browser fixtures: a live server on SQLite, headless Debian Chromium, axe-core checks.

Browser tests run once (SQLite only): they request `browser_app`, never the `app`
fixture that is parametrized over the databases. The server is a threaded werkzeug
server in this process on a session-wide SQLite database seeded with the demo data,
so a test can also prepare or check rows directly with `data()`.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from supportdesk import create_app
from supportdesk.extensions import db
from supportdesk.faq import search_log
from tests.browser.helpers import AXE_JS, AXE_LOG, CHROMIUM, ROOT

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
# Few demo tickets: the flows create their own; the seed only has to be realistic.
SEED_TICKETS = 40


def pytest_collection_modifyitems(items):
    """Everything under tests/browser is a browser test, marked or not."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_app(tmp_path_factory):
    """One app on its own SQLite file, seeded with the demo data, CSRF switched on."""
    tmp = tmp_path_factory.mktemp("browser")
    AXE_LOG.unlink(missing_ok=True)
    environ = {
        "SUPPORTDESK_ENV": "testing",
        "SUPPORTDESK_SECRET_KEY": "browser-test-secret",
        "SUPPORTDESK_DATABASE_URL": f"sqlite:///{tmp / 'browser.db'}",
        "SUPPORTDESK_INDEX_DIR": str(tmp / "index"),
        "SUPPORTDESK_UPLOAD_DIR": str(tmp / "uploads"),
        "SUPPORTDESK_SMTP_URL": "smtp://127.0.0.1:1",
        "SUPPORTDESK_BASE_URL": "http://127.0.0.1",
    }
    app = create_app({"environ": environ, "RATELIMIT_ENABLED": False, "SERVER_NAME": None})
    app.config["TEST_ENVIRON"] = environ
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        db.create_all()
        from supportdesk.accounts import services as account_services
        from supportdesk.demo import seed

        # every demo user shares one password: hash it once, not once per user (argon2)
        patch.setattr(
            account_services, "hash_password", functools.cache(account_services.hash_password)
        )
        seed(ticket_count=SEED_TICKETS, echo=lambda _line: None)
        db.session.commit()
        db.session.remove()
    # the FAQ starter content and its search index, as `make run` sets them up
    runner = app.test_cli_runner()
    for args in (["faq", "import", str(ROOT / "faq_content")], ["search", "rebuild"]):
        if args[0] in app.cli.commands:
            with app.app_context():
                result = runner.invoke(args=args)
            assert result.exit_code == 0, f"{' '.join(args)}: {result.output}"
    yield app
    with app.app_context():
        search_log.flush()  # the browser's searches, before the engine goes
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(browser_app) -> Iterator[str]:
    """A threaded werkzeug server on a free port, stopped at the end of the session."""
    server = make_server("127.0.0.1", 0, browser_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="browser-live-server")
    thread.daemon = True
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture
def data(browser_app) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """`with data() as session:` prepares or checks rows; commits and releases the lock."""

    @contextlib.contextmanager
    def _data() -> Iterator[Any]:
        with browser_app.app_context():
            try:
                yield db.session
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()

    return _data


@pytest.fixture(scope="session")
def playwright_instance():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser-deps`", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    browser = playwright_instance.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


class PageProblems:
    """Uncaught script errors and CSP refusals seen by a page (both are bugs here)."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def watch(self, page) -> None:
        page.on("pageerror", lambda error: self.items.append(f"script error: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.items.append(f"CSP: {message.text}")


@pytest.fixture
def new_page(browser, base_url) -> Iterator[Callable[..., Any]]:
    """`new_page()` opens a fresh browser context (its own cookies: one person) and page."""
    contexts = []
    problems = PageProblems()

    def _open(viewport: dict[str, int] | None = None):
        context = browser.new_context(
            base_url=base_url,
            locale="da-DK",
            timezone_id="Europe/Copenhagen",
            viewport=viewport or {"width": 1280, "height": 900},
        )
        context.set_default_timeout(10_000)
        context.add_init_script(path=str(AXE_JS))
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield _open
    for context in contexts:
        context.close()
    assert not problems.items, "\n".join(problems.items)


@pytest.fixture
def page(new_page):
    return new_page()

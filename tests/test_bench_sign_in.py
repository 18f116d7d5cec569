"""`make bench` signs its users in through the real forms of a running server.

Each larger size of a run signs in again on the same database, where the vendor agent set
up two-factor sign-in at the first size: that second sign-in goes through /login/2fa.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from bench import run
from bench.load import Request, request_once
from supportdesk.accounts.models import Role
from tests.conftest import PASSWORD
from tests.signin import give_two_factor


def _apart(call, *args, **kwargs):
    """`call` in a thread of its own: the bench's client runs `asyncio.run`, which refuses
    a thread with a running event loop (Playwright's, in a worker that ran browser tests)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call, *args, **kwargs).result()


def _port(live_server) -> int:
    return int(live_server(workers=1).rsplit(":", 1)[1])


def test_the_bench_signs_in_an_agent_with_a_second_factor(live_server, make_user, monkeypatch):
    """The password form clears the session, so the code form's page sets a new cookie
    with a new CSRF token: the code must be posted with that cookie, not the password
    form's (a 400 for a missing CSRF token ended the run at its second size)."""
    agent = make_user(Role.vendor_agent)
    monkeypatch.setitem(run.TOTP_SECRETS, agent.email, give_two_factor(agent))
    port = _port(live_server)

    cookie = _apart(run.sign_in, port, agent.email, password=PASSWORD)

    page = _apart(request_once, run.HOST, port, Request("GET", "/cases", {"Cookie": cookie}))
    assert page.status == 200


def test_a_refused_second_factor_ends_the_run(live_server, make_user, monkeypatch):
    agent = make_user(Role.vendor_agent)
    give_two_factor(agent)
    monkeypatch.setitem(run.TOTP_SECRETS, agent.email, "A" * 32)  # not the agent's key
    port = _port(live_server)

    with pytest.raises(SystemExit, match=r"two-factor sign-in .* failed with 401"):
        _apart(run.sign_in, port, agent.email, password=PASSWORD)

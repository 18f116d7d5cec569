"""Flask-Limiter's limits shared by several app nodes through Redis (RATELIMIT_STORAGE_URI)."""

from __future__ import annotations

import secrets

import pytest
import redis

from supportdesk import create_app
from supportdesk.extensions import limiter
from tests.accounts.test_security_defects import close_app

REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture
def redis_prefix():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis at {REDIS_URL} is needed for this test", pytrace=False)
    prefix = f"sdtest-{secrets.token_hex(4)}"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def restore_limiter(app):
    """The limiter is one object per process: give it back to the test app afterwards."""
    yield
    limiter.init_app(app)


def test_two_nodes_share_the_reset_form_limit_through_redis(app, redis_prefix, restore_limiter):
    environ = {
        **app.config["TEST_ENVIRON"],
        "SUPPORTDESK_RATELIMIT_STORAGE_URI": REDIS_URL,
    }
    apps = [
        create_app(
            {
                "environ": environ,
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": True,
                "RATELIMIT_KEY_PREFIX": redis_prefix,
            }
        )
        for _ in range(2)
    ]
    nodes = [node.test_client() for node in apps]
    try:
        answers = [
            nodes[n % 2].post("/password/reset", data={"email": f"x{n}@example.dk"}).status_code
            for n in range(11)
        ]
    finally:
        close_app(*apps)
    # 10 per minute from one address, counted once for both nodes
    assert answers == [302] * 10 + [429]

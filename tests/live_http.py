"""Calls to a live test server (gunicorn from the `live_server` fixture) over real HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def call_json(
    url: str, method: str, token: str, body: dict | None, headers: dict[str, str] | None = None
) -> tuple[int, dict]:
    """(status, JSON answer) of one API call with a bearer token; errors are answers too.
    `body` None sends none (a GET)."""
    request = urllib.request.Request(  # noqa: S310 — local test server
        url,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")

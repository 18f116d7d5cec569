"""`Idempotency-Key` on the API's creating POSTs: a retry gets the first answer again.

`@idempotent` goes on the view; the view ends with `return commit(response)` instead of
committing itself, so the answer is stored under the key in the transaction that made
it (`supportdesk.idempotency`). Same key and same request within 24 h: the stored
status and body again, with `Idempotent-Replayed: true`, and nothing written. Same key,
another request: 422. Two requests with one key in flight: the unique (user, key) lets
one commit; the other rolls back whatever it wrote and answers the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, request
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from supportdesk import idempotency
from supportdesk.api.base import require_user
from supportdesk.errors import DomainError, ValidationFailed
from supportdesk.extensions import db
from supportdesk.safe_input import UnsafeJson, load_json

HEADER = "Idempotency-Key"
# the header as an OpenAPI parameter of the endpoints that honour it
HEADER_PARAMETER = {
    "name": HEADER,
    "in": "header",
    "required": False,
    "description": "Same key and body within 24 h: the first answer again, nothing written; "
    "same key, another body: 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
}


class InvalidKey(DomainError):
    status = 400
    code = "invalid_idempotency_key"


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Honour the request's Idempotency-Key (if any) around a view that ends in `commit`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        require_user()
        key = _checked(key)
        fingerprint = _fingerprint()
        stored = idempotency.find(current_user.id, key)
        if stored is not None:
            return _replay(stored, fingerprint)
        # the answer is filled in by `commit` once the view has given one
        g.idempotency = idempotency.IdempotencyKey(
            user_id=current_user.id, key=key, fingerprint=fingerprint
        )
        try:
            return view(*args, **kwargs)
        except IntegrityError:
            # a twin with the same key committed first: its answer is ours
            db.session.rollback()
            stored = idempotency.find(current_user.id, key)
            if stored is None:
                raise
            return _replay(stored, fingerprint)

    return wrapper


def commit(response: Response) -> Response:
    """Commit the view's work, with a 2xx answer kept under the request's key."""
    pending = g.pop("idempotency", None)
    if pending is not None and 200 <= response.status_code < 300:
        pending.status = response.status_code
        pending.body = response.get_data(as_text=True)
        pending.location = response.headers.get("Location")
        idempotency.remember(pending)
    db.session.commit()
    return response


def _checked(key: str) -> str:
    key = key.strip()
    if not key or len(key) > idempotency.KEY_MAX or not (key.isascii() and key.isprintable()):
        raise InvalidKey(
            "Idempotency-Key must be 1 to 200 printable ASCII characters.",
            fields={HEADER: "1 to 200 printable ASCII characters."},
        )
    return key


def _fingerprint() -> str:
    """Method, path and body; a JSON body in canonical form (key order, spacing ignored)."""
    raw = request.get_data(cache=True)
    try:
        body = json.dumps(load_json(raw), sort_keys=True, separators=(",", ":")).encode()
    except UnsafeJson:
        body = raw
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def _replay(stored: idempotency.IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise KeyReused(
            "This Idempotency-Key was used for another request.",
            fields={HEADER: "Used for another request in the last 24 hours; use a new key."},
        )
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    if stored.location:
        response.headers["Location"] = stored.location
    response.headers["Idempotent-Replayed"] = "true"
    return response

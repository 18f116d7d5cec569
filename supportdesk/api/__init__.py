"""JSON API /api/v1: bearer tokens, the stable error shape, OpenAPI from the routes."""

from __future__ import annotations

from flask import Blueprint, g, request
from flask_login import current_user

from supportdesk.errors import DomainError
from supportdesk.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


@bp.before_request
def _authenticate() -> None:
    """Writes need a bearer token; the browser's session cookie may only read.

    The session cookie is accepted for GET so pages can enhance themselves over the
    API (FAQ suggestions); a cookie-authenticated write would bypass CSRF.
    """
    if request.method in _SAFE or not current_user.is_authenticated:
        return
    if not g.get("token_auth"):
        from flask_wtf.csrf import validate_csrf
        from wtforms import ValidationError

        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except ValidationError:
            raise Unauthorized("A bearer token is required for this request.") from None


def require_user() -> None:
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>.")


from supportdesk.api import (  # noqa: E402, F401  (routes register on bp)
    accounts,
    audit,
    cases,
    faq,
    openapi,
    sensitive,
    tickets,
)

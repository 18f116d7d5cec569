"""The API blueprint and its authentication: what every endpoint module builds on."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import DomainError, NotFound
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import csrf
from supportdesk.tickets.models import Ticket

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
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except ValidationError:
            raise Unauthorized("A bearer token is required for this request.") from None


def require_user(may: Callable[[User], bool] | None = None) -> None:
    """A signed-in caller; with `may`, one it lets in (anyone else is not found, as on pages)."""
    if not current_user.is_authenticated:
        raise Unauthorized("Authentication required: send Authorization: Bearer <token>.")
    if may is not None and not may(current_user):
        raise NotFound()


def caller_ticket(number: str, may: Callable[[User, Ticket], bool] | None = None) -> Ticket:
    """The signed-in caller's ticket; with `may`, one they may act on (else not found)."""
    require_user()
    if may is None:
        return policy.get_ticket(current_user, number)
    return policy.get_ticket_for(current_user, number, may)


def caller_case(number: str) -> VendorCase:
    """A vendor case the signed-in caller may see."""
    require_user()
    return policy.get_case(current_user, number)

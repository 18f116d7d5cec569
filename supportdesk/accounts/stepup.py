"""Step-up: sensitive actions ask for the password (or a TOTP code) again after 10 minutes.

A view calls `require_recent_authentication()` before the action (or wraps itself in
`@step_up_required`). When the session's last sign-in or confirmation is older than
STEP_UP_AFTER, `StepUpRequired` is raised; its handler (accounts/views.py) shows the
confirmation page, which carries the original form along and, once confirmed, sends
it again to the original address, so nothing typed is lost.

Bearer tokens are not sessions: an API call with a token is never asked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import g
from flask_babel import lazy_gettext as _l

from supportdesk.accounts.models import UserSession
from supportdesk.errors import DomainError
from supportdesk.extensions import utcnow

STEP_UP_AFTER = timedelta(minutes=10)
F = TypeVar("F", bound=Callable[..., Any])


class StepUpRequired(DomainError):
    status = 401
    code = "step_up_required"
    default_message = _l("Confirm that it is you: enter your password or a code again.")


def current_session() -> UserSession | None:
    """The server-side session of this request (set when the user was loaded)."""
    return g.get("user_session")


def is_recent(now: datetime | None = None) -> bool:
    if g.get("token_auth"):
        return True
    record = current_session()
    if record is None:
        return False
    return (now or utcnow()) - record.authenticated_at <= STEP_UP_AFTER


def require_recent_authentication() -> None:
    if not is_recent():
        raise StepUpRequired()


def step_up_required(view: F) -> F:
    """For views whose every request is sensitive (their GET too)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_recent_authentication()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]

"""Domain errors and the one place that turns any error into a page or JSON."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from supportdesk.extensions import db
from supportdesk.sqlite_locks import lock_wait_exceeded, only_reads_from_now

# Seconds a client is asked to wait after a 503 for a busy database.
RETRY_AFTER_SECONDS = 5


_HTTP_MESSAGES = {
    400: _l("The request was not understood."),
    401: _l("You need to sign in."),
    403: _l("You do not have access to this page."),
    404: _l("The page or item was not found."),
    405: _l("That method is not allowed here."),
    409: _l("Someone else changed this in the meantime. Reload and try again."),
    413: _l("The upload is too large."),
    415: _l("That file type is not allowed."),
    422: _l("Some fields are not filled in correctly."),
    429: _l("Too many requests. Wait a moment and try again."),
    500: _l("Something went wrong on our side. The error has been logged."),
    503: _l("The service is temporarily unavailable."),
}
_BUSY_MESSAGE = _l("The system is busy right now. Try again in a few seconds.")
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class DomainError(Exception):
    """A rule said no. Carries an HTTP status, a stable code and a translated message."""

    status = 400
    code = "bad_request"
    default_message = _l("The request could not be carried out.")

    def __init_subclass__(cls, http_status: int | None = None, **kwargs: Any) -> None:
        """`class X(DomainError, http_status=404)`: the status, with the code and message the
        same status has outside the domain (the tables above) unless the class names its own."""
        super().__init_subclass__(**kwargs)
        if http_status is not None:
            cls.status = http_status
            if "code" not in vars(cls):
                cls.code = _HTTP_CODES[http_status]
            if "default_message" not in vars(cls):
                cls.default_message = _HTTP_MESSAGES[http_status]

    def __init__(self, message: Any = None, fields: dict[str, Any] | None = None) -> None:
        self.message = message if message is not None else self.default_message
        self.fields = fields or {}
        super().__init__(str(self.message))

    def apply_to(self, form: Any) -> list[str]:
        """Put field errors on the form's fields; return the rest as page-level errors."""
        general: list[str] = []
        for name, message in self.fields.items():
            if name in form:
                form[name].errors = [*form[name].errors, str(message)]
            else:
                general.append(str(message))
        if not self.fields:
            general.append(str(self.message))
        return general


class NotFound(DomainError, http_status=404):
    """Also the answer for a row the user may not see: not found, never forbidden."""


class Forbidden(DomainError, http_status=403):
    """The user may see the item but not do this to it."""

    # The 403 page speaks of a page; a refused action of what the user tried.
    default_message = _l("You do not have access to do this.")


class NotEntitled(Forbidden):
    code = "not_entitled"
    default_message = _l("Only support-entitled coordinators for this vendor may do this.")


class ValidationFailed(DomainError, http_status=422):
    """Input that breaks a rule; `fields` says which field and why."""


class Conflict(DomainError, http_status=409):
    """The row changed since the user loaded it, or the change clashes with its state."""


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = _l("That status change is not allowed.")


class LimitReached(Conflict):
    code = "limit_reached"
    default_message = _l("The limit has been reached.")


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(
    status: int, code: str, message: Any, fields: dict[str, Any] | None = None
) -> tuple[Response | str, int]:
    if wants_json():
        body = {"error": {"code": code, "message": str(message), "fields": fields or {}}}
        return jsonify(body), status
    template = f"errors/{status}.html" if status in {400, 403, 404, 500} else "errors/generic.html"
    return render_template(template, status=status, message=message, fields=fields or {}), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError):
        db.session.rollback()
        return error_response(error.status, error.code, error.message, error.fields)

    @app.errorhandler(StaleDataError)
    def _stale(_error: StaleDataError):
        db.session.rollback()
        return error_response(409, "conflict", _HTTP_MESSAGES[409])

    @app.errorhandler(OperationalError)
    def _operational(error: OperationalError):
        if not lock_wait_exceeded(error):
            return _unexpected(error)
        # Another connection held a lock past SUPPORTDESK_DB_BUSY_TIMEOUT: nothing was
        # written; the client may try again shortly.
        app.logger.warning("database busy: %s", error.orig)
        db.session.rollback()
        only_reads_from_now()
        response, status = error_response(503, "database_busy", _BUSY_MESSAGE)
        response = make_response(response, status)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError):
        return error_response(
            400, "csrf_failed", _l("The form has expired or is missing its security token.")
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException):
        status = error.code or 500
        message = _HTTP_MESSAGES.get(status, error.description)
        response, status = error_response(status, _HTTP_CODES.get(status, "error"), message)
        allowed = getattr(error, "valid_methods", None)
        if status == 405 and allowed:
            # Only Allow: copying the default response's headers would overwrite the
            # JSON body's Content-Type and Content-Length.
            response = make_response(response, status)
            response.headers["Allow"] = ", ".join(allowed)
        return response, status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        app.logger.exception("Unhandled error", exc_info=error)
        db.session.rollback()
        return error_response(500, "internal_error", _HTTP_MESSAGES[500])

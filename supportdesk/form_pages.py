"""How a page saves a form, the same way everywhere.

Validate the form, call one service, commit once, flash and redirect; when the form is
invalid or the service refuses (ValidationFailed), roll back and show the page again
with the errors on their fields (422 after a POST).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db

Saved = TypeVar("Saved")


def save_form(
    form: FlaskForm,
    save: Callable[[], Saved],
    done: Callable[[Saved], ResponseReturnValue],
) -> tuple[ResponseReturnValue | None, list[str]]:
    """The response once saved and committed; otherwise None and the page-level errors."""
    if not form.validate_on_submit():
        return None, []
    try:
        saved = save()
    except ValidationFailed as error:
        db.session.rollback()
        return None, error.apply_to(form)
    db.session.commit()
    return done(saved), []


def saved_and_go(message: str, url: str) -> ResponseReturnValue:
    """After a save: tell the user, and go on to the next page."""
    flash(message, "success")
    return redirect(url)


def form_page(template: str, **context: Any) -> ResponseReturnValue:
    """The form's page: 422 after a POST that did not save, 200 when it is first shown."""
    return render_template(template, **context), 422 if request.method == "POST" else 200

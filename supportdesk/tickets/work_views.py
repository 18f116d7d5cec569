"""The daily work on a ticket and in the queue: the side form (status, assignee, priority in
one), "Tildel mig", merging a duplicate, "Fik du hjælp?" (on the page and from the e-mail
link) and saved views of the queue. Routes join the tickets blueprint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import Conflict, DomainError, NotFound, ValidationFailed
from supportdesk.extensions import db
from supportdesk.form_pages import save_form
from supportdesk.tickets import lifecycle, lookups, merging, surveys
from supportdesk.tickets.forms import MergeForm, SavedViewForm, SurveyForm
from supportdesk.tickets.models import SavedView, Ticket
from supportdesk.tickets.views import bp, handling_form, render_ticket_page, require_triage


def _back(number: str) -> ResponseReturnValue:
    return redirect(url_for("tickets.detail", number=number))


def _refused(number: str, form: FlaskForm, error: DomainError, **forms: Any) -> ResponseReturnValue:
    """A service said no: roll back and show the ticket page again with the form's errors."""
    db.session.rollback()
    ticket = policy.get_ticket(current_user, number)
    return render_ticket_page(ticket, errors=error.apply_to(form), status=error.status, **forms)


def _saved(message: str, number: str) -> ResponseReturnValue:
    """Commit the one change, say so, and go back to the ticket page."""
    db.session.commit()
    flash(message, "success")
    return _back(number)


def _ticket_post(
    number: str,
    may: Callable[[User, Ticket], bool],
    slot: str,
    form: FlaskForm,
    act: Callable[[Ticket], tuple[str, str]],
) -> ResponseReturnValue:
    """One form of the ticket page, as escalation's _case_post is for the case page: load
    the ticket if the user `may`, validate, `act` (the flash message and the number of the
    ticket to go back to), commit; an invalid form (422) or a refusal (its status) shows
    the page again with the form in `slot`."""
    ticket = policy.get_ticket_for(current_user, number, may)
    if not form.validate_on_submit():
        return render_ticket_page(ticket, status=422, **{slot: form})
    try:
        message, back = act(ticket)
    except (ValidationFailed, Conflict) as error:
        return _refused(number, form, error, **{slot: form})
    return _saved(message, back)


@bp.post("/tickets/<number>/handling")
@login_required
def handling(number: str) -> ResponseReturnValue:
    """One form for status, assignee and priority; a stale version is a 409 message."""
    ticket = policy.get_ticket(current_user, number)
    if not (
        policy.can_change_status(current_user, ticket) and policy.can_assign(current_user, ticket)
    ):
        raise NotFound()
    form = handling_form(current_user, ticket, formdata=request.form)
    if not form.validate_on_submit():
        return render_ticket_page(ticket, errors=[_("Choose a valid value.")], status=422)
    try:
        changed = lifecycle.change_handling(
            current_user,
            ticket,
            status=form.status.data,
            assignee=lookups.get_assignee(current_user, form.assignee.data),
            priority=form.priority.data,
            version=form.version.data,
        )
    except (ValidationFailed, Conflict) as error:
        return _refused(number, form, error)
    return _saved(_("Saved.") if changed else _("Nothing was changed."), number)


@bp.post("/tickets/<number>/assign-to-me")
@login_required
def assign_to_me(number: str) -> ResponseReturnValue:
    """ "Tildel mig" from the queue or the ticket page."""
    ticket = policy.get_ticket_for(current_user, number, policy.can_assign)
    lifecycle.assign(current_user, ticket, current_user)
    db.session.commit()
    flash(_("Ticket %(number)s is assigned to you.", number=number), "success")
    back = request.form.get("next") or ""
    if back.startswith("/tickets") and not back.startswith("//"):
        return redirect(back)
    return _back(number)


@bp.post("/tickets/<number>/merge")
@login_required
def merge(number: str) -> ResponseReturnValue:
    form = MergeForm()

    def act(ticket: Ticket) -> tuple[str, str]:
        try:
            target = policy.get_ticket(current_user, form.into.data.strip())
        except NotFound:
            unknown = _("There is no such ticket in your municipality.")
            raise ValidationFailed(fields={"into": unknown}) from None
        merging.merge(current_user, ticket, target)
        return _("Ticket %(number)s is merged into this ticket.", number=number), target.number

    return _ticket_post(number, policy.can_merge, "merge_form", form, act)


@bp.post("/tickets/<number>/survey")
@login_required
def survey(number: str) -> ResponseReturnValue:
    form = SurveyForm()

    def act(ticket: Ticket) -> tuple[str, str]:
        surveys.answer(current_user, ticket, form.score.data, form.comment.data)
        return _("Thank you for your answer."), number

    return _ticket_post(number, policy.can_answer_survey, "survey_form", form, act)


@bp.route("/survey/<token>", methods=["GET", "POST"])
def survey_link(token: str) -> ResponseReturnValue:
    """The e-mail's link: answers for the ticket's creator without signing in, once."""
    ticket = surveys.ticket_for_token(token)
    answered = surveys.response_of(ticket) is not None
    form = SurveyForm()
    if request.method == "GET" and request.args.get("score") in {"1", "2", "3", "4", "5"}:
        form.score.data = request.args["score"]
    status = 200
    if answered:
        status = 409 if request.method == "POST" else 200
    elif request.method == "POST":
        done, _errors = save_form(
            form,
            lambda: surveys.answer(None, ticket, form.score.data, form.comment.data),
            lambda _answer: render_template("tickets/survey.html", ticket=ticket, done=True),
        )
        if done is not None:
            return done
        status = 422
    page = render_template(
        "tickets/survey.html",
        ticket=ticket,
        form=form,
        answered=answered,
        resolved=ticket.status in surveys.ANSWERABLE,
    )
    return page, status


# --- saved views of the queue ---------------------------------------------------------------


@bp.post("/tickets/views")
@login_required
def save_view() -> ResponseReturnValue:
    require_triage()
    form = SavedViewForm()
    if not form.validate_on_submit():
        flash(_("Give the view a name."), "error")
        return redirect(url_for("tickets.index"))
    query = (form.query.data or "").lstrip("?")[:1000]
    name = form.name.data.strip()
    view = db.session.scalar(policy.saved_views_of(current_user).where(SavedView.name == name))
    if view is None:
        view = SavedView(user_id=current_user.id, name=name)
        db.session.add(view)
    view.query = query
    db.session.commit()
    flash(_("The view “%(name)s” is saved.", name=name), "success")
    return redirect(url_for("tickets.index") + (f"?{query}" if query else ""))


@bp.post("/tickets/views/<int:view_id>/delete")
@login_required
def delete_view(view_id: int) -> ResponseReturnValue:
    view = db.session.scalar(policy.saved_views_of(current_user).where(SavedView.id == view_id))
    if view is None:
        raise NotFound()
    db.session.delete(view)
    db.session.commit()
    flash(_("The view is deleted."), "success")
    return redirect(url_for("tickets.index"))

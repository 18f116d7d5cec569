"""Known-issue pages: the vendor posts and updates incidents; everyone reads the status.

Municipal staff read the known issues, vendor staff publish them for their own systems,
and the operating status page is public (no login).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required

from supportdesk import policy
from supportdesk.accounts.models import System
from supportdesk.errors import NotFound
from supportdesk.escalation import known_issues
from supportdesk.escalation.forms import KnownIssueForm
from supportdesk.escalation.models import KnownIssue
from supportdesk.extensions import db
from supportdesk.form_pages import form_page, save_form, saved_and_go

bp = Blueprint("known_issues", __name__)
CPH = ZoneInfo("Europe/Copenhagen")


def _local(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=CPH) if moment is not None else None


@bp.get("/known-issues")
@login_required
def index() -> ResponseReturnValue:
    if not policy.can_view_known_issues(current_user):
        raise NotFound()
    return render_template(
        "escalation/known_issues.html",
        issues=known_issues.recent_known_issues(current_user),
        can_manage=policy.can_manage_known_issues(current_user),
    )


def _known_issue_form(issue: KnownIssue | None) -> ResponseReturnValue:
    form = KnownIssueForm(obj=None)
    form.system.choices = [
        (str(s.id), s.name) for s in db.session.scalars(policy.systems_managed_by(current_user))
    ]
    if request.method == "GET" and issue is not None:
        form.system.data = str(issue.system_id)
        form.title.data = issue.title
        form.description.data = issue.description
        form.status.data = issue.status.value
        form.started_at.data = issue.started_at.astimezone(CPH).replace(tzinfo=None)
        form.ended_at.data = (
            issue.ended_at.astimezone(CPH).replace(tzinfo=None) if issue.ended_at else None
        )

    def save() -> KnownIssue:
        return known_issues.save_known_issue(
            current_user,
            issue,
            system=db.session.get(System, int(form.system.data)),
            title=form.title.data or "",
            description=form.description.data or "",
            status=form.status.data,
            started_at=_local(form.started_at.data),
            ended_at=_local(form.ended_at.data),
        )

    def done(saved: KnownIssue) -> ResponseReturnValue:
        message = _("The known issue is saved: %(title)s", title=saved.title)
        return saved_and_go(message, url_for("known_issues.index"))

    response, errors = save_form(form, save, done)
    if response is not None:
        return response
    return form_page("escalation/known_issue_form.html", form=form, issue=issue, errors=errors)


@bp.route("/known-issues/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    if not policy.can_manage_known_issues(current_user):
        raise NotFound()
    return _known_issue_form(None)


@bp.route("/known-issues/<int:issue_id>", methods=["GET", "POST"])
@login_required
def edit(issue_id: int) -> ResponseReturnValue:
    issue = policy.get_managed_known_issue(current_user, issue_id)
    return _known_issue_form(issue)


@bp.get("/status")
def status() -> ResponseReturnValue:
    """Public operating status: active known issues, no login needed."""
    return render_template("escalation/status.html", issues=known_issues.active_known_issues())

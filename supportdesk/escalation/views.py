"""Vendor case pages, escalation from a ticket, known issues and the public status page.

Load via policy, validate a form, call one service, commit, redirect or render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from supportdesk import cache, policy
from supportdesk.accounts import stepup
from supportdesk.accounts.models import Municipality, System, User
from supportdesk.errors import Forbidden, NotEntitled, NotFound, ValidationFailed
from supportdesk.escalation import services
from supportdesk.escalation.forms import (
    AssignCaseForm,
    CaseDetailsForm,
    CaseStatusForm,
    EscalateForm,
    KnownIssueForm,
    LinkKnownIssueForm,
    MessageForm,
    RelayForm,
    ResolveTicketsForm,
)
from supportdesk.escalation.masking import has_sensitive
from supportdesk.escalation.models import (
    CaseMessage,
    CaseStatus,
    KnownIssue,
    KnownIssueStatus,
    SlaState,
    VendorCase,
    municipal_case_generation,
    vendor_case_generation,
)
from supportdesk.extensions import db
from supportdesk.navigation import NAV_PROVIDERS, NavItem
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import Ticket

bp = Blueprint("escalation", __name__)
CPH = ZoneInfo("Europe/Copenhagen")


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {
        "case_status_label": lambda s: services.CASE_STATUS_LABELS.get(CaseStatus(s), s),
        "sla_state_label": lambda s: services.SLA_STATE_LABELS.get(SlaState(s), s),
        "known_issue_status_label": lambda s: services.KNOWN_ISSUE_STATUS_LABELS.get(
            KnownIssueStatus(s), s
        ),
        "business_duration": business_duration,
        "escalation_panel": escalation_panel,
        "active_known_issues": services.active_known_issues,
    }


def business_duration(seconds: int | None) -> str:
    """Business time as "2 t 15 min" (hours and minutes of the vendor's working day)."""
    if seconds is None:
        return ""
    seconds = abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes = rest // 60
    if hours:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    return _("%(minutes)s min", minutes=minutes)


def _nav(user: User) -> list[NavItem]:
    items = []
    if policy.can_see_cases(user):
        items.append(NavItem(_("Vendor cases"), url_for("escalation.index")))
    if policy.can_view_known_issues(user):
        items.append(NavItem(_("Known issues"), url_for("escalation.known_issues")))
    if not user.is_authenticated:
        items.append(NavItem(_("Operating status"), url_for("escalation.status")))
    return items


NAV_PROVIDERS.append(_nav)


def _require_cases() -> None:
    if not policy.can_see_cases(current_user):
        raise NotFound()


# --- the queue ---------------------------------------------------------------------------


@bp.get("/cases")
@login_required
def index() -> ResponseReturnValue:
    """The vendor's queue (every municipality) or the municipality's cases (every vendor).

    Everything below the heading (counts, filters, rows, next page) is a cached
    fragment keyed by the viewer, the locale, the query string and the generations
    of the cases it lists and of names. The due date it shows is a fixed moment,
    not a countdown, so a cached row never goes stale with the clock.
    """
    _require_cases()
    vendor_side = policy.is_vendor_agent(current_user)
    cases = (
        vendor_case_generation(current_user.vendor_id)
        if vendor_side
        else municipal_case_generation(current_user.municipality_id)
    )
    key = cache.page_key(
        "escalation.index",
        current_user.id,
        current_user.role,
        current_user.vendor_id,
        current_user.municipality_id,
        cache.generations(cases, cache.REFERENCE),
    )
    body, status = cache.fragment(key, lambda: _queue_body(vendor_side))
    return render_template("escalation/index.html", body=body), status


def _queue_body(vendor_side: bool) -> tuple[Markup, int]:
    args = request.args
    filters = services.CaseFilters(
        status=args.get("status") or None,
        priority=args.get("priority") or None,
        municipality=args.get("municipality") or None,
        system=args.get("system") or None,
        sla=args.get("sla") or None,
        assignee=args.get("assignee") or None,
        cursor=args.get("cursor") or None,
    )
    errors: dict[str, Any] = {}
    try:
        page = services.list_cases(current_user, filters)
    except ValidationFailed as error:
        errors = error.fields
        page = services.CasePage([], None)
    municipalities: list[Municipality] = []
    agents: list[User] = []
    if vendor_side:
        municipalities = list(db.session.scalars(select(Municipality).order_by(Municipality.name)))
        agents = list(db.session.scalars(policy.vendor_agents(current_user.vendor_id)))
        systems = list(db.session.scalars(policy.systems_managed_by(current_user)))
    else:
        systems = list(db.session.scalars(select(System).order_by(System.name)))
    next_args = {k: v for k, v in args.items() if k != "cursor" and v}
    body = render_template(
        "escalation/_queue.html",
        page=page,
        filters=filters,
        errors=errors,
        vendor_side=vendor_side,
        municipalities=municipalities,
        agents=agents,
        systems=systems,
        counts=services.case_counts_by_state(current_user),
        next_args=next_args,
        statuses=list(CaseStatus),
        sla_states=list(SlaState),
    )
    # autoescaped template output: the page must not escape it a second time
    return Markup(body), 422 if errors else 200  # noqa: S704


# --- one case ----------------------------------------------------------------------------


def _case_context(case: VendorCase, **forms: Any) -> dict[str, Any]:
    user = current_user
    vendor_side = policy.is_case_vendor_side(user, case)
    municipal_side = policy.is_case_municipal_side(user, case)
    message_form = forms.get("message_form") or MessageForm()
    status_form = forms.get("status_form") or CaseStatusForm()
    status_form.status.choices = [
        (s.value, str(services.CASE_STATUS_LABELS[s]))
        for s in services.allowed_case_statuses(user, case)
    ]
    assign_form = forms.get("assign_form") or AssignCaseForm(assignee=str(case.assignee_id or ""))
    assign_form.assignee.choices = [("", _("Nobody"))] + [
        (str(u.id), u.name) for u in db.session.scalars(policy.case_agents(case))
    ]
    details_form = forms.get("details_form") or CaseDetailsForm(
        vendor_reference=case.vendor_reference or "",
        priority=case.priority.value,
        version=str(case.version),
    )
    summaries = services.ticket_summaries(user, case)
    relay_form = forms.get("relay_form") or RelayForm()
    relay_form.tickets.choices = [(t.id, f"{t.number} · {t.subject}") for t in case.tickets]
    resolvable = services.resolvable_tickets(case)
    resolve_form = forms.get("resolve_form") or ResolveTicketsForm(
        tickets=[t.id for t in resolvable]
    )
    resolve_form.tickets.choices = [(t.id, f"{t.number} · {t.subject}") for t in resolvable]
    link_form = forms.get("link_form") or LinkKnownIssueForm(
        known_issue=str(case.known_issue_id or "")
    )
    link_form.known_issue.choices = [("", _("None"))] + [
        (str(i.id), i.title)
        for i in services.active_known_issues()
        if i.vendor_id == case.vendor_id
    ]
    return {
        "case": case,
        "sla": services.sla_view(case),
        "targets": services.sla_targets(case.vendor_id, case.priority),
        "vendor_side": vendor_side,
        "municipal_side": municipal_side,
        "can_message": policy.can_message_case(user, case),
        "message_form": message_form,
        "status_form": status_form,
        "assign_form": assign_form,
        "details_form": details_form,
        "relay_form": relay_form,
        "resolve_form": resolve_form,
        "link_form": link_form,
        "summaries": summaries,
        "resolvable": resolvable,
        "errors": forms.get("errors") or [],
        "relay_message": forms.get("relay_message"),
    }


@bp.get("/cases/<number>")
@login_required
def detail(number: str) -> ResponseReturnValue:
    case = services.case_for_page(current_user, number)
    context = _case_context(case)
    relay_id = request.args.get("relay", type=int)
    if relay_id and policy.can_relay_case(current_user, case):
        message = next((m for m in case.messages if m.id == relay_id and m.from_vendor), None)
        if message is not None:
            context["relay_form"].body.data = message.body
            context["relay_form"].tickets.data = [t.id for t in case.tickets]
            context["relay_message"] = message
    return render_template("escalation/detail.html", **context)


def _case_error(case: VendorCase, error: ValidationFailed, **forms: Any) -> ResponseReturnValue:
    form = next(iter(forms.values()))
    errors = error.apply_to(form)
    db.session.rollback()
    case = services.case_for_page(current_user, case.number)
    return render_template(
        "escalation/detail.html", **_case_context(case, errors=errors, **forms)
    ), 422


@bp.post("/cases/<number>/messages")
@login_required
def post_message(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    form = MessageForm()
    if not form.validate_on_submit():
        return render_template(
            "escalation/detail.html", **_case_context(case, message_form=form)
        ), 422
    if policy.sharing_needs_step_up(form.confirm_sensitive.data, [form.body.data]):
        stepup.require_recent_authentication()
    try:
        services.post_message(
            current_user, case, form.body.data or "", confirm_sensitive=form.confirm_sensitive.data
        )
    except ValidationFailed as error:
        return _case_error(case, error, message_form=form)
    db.session.commit()
    flash(_("Message sent."), "success")
    return redirect(url_for("escalation.detail", number=number, _anchor="messages"))


@bp.post("/cases/<number>/status")
@login_required
def change_status(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    form = CaseStatusForm()
    form.status.choices = [
        (s.value, s.value) for s in services.allowed_case_statuses(current_user, case)
    ]
    if not form.validate_on_submit():
        if not form.status.choices:
            raise Forbidden()
        return render_template(
            "escalation/detail.html", **_case_context(case, status_form=form)
        ), 422
    services.change_case_status(current_user, case, form.status.data)
    db.session.commit()
    flash(_("The case status is changed."), "success")
    return redirect(url_for("escalation.detail", number=number))


@bp.post("/cases/<number>/assign")
@login_required
def assign(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    if not policy.can_manage_case(current_user, case):
        raise Forbidden()
    form = AssignCaseForm()
    form.assignee.choices = [("", "")] + [
        (str(u.id), u.name) for u in db.session.scalars(policy.case_agents(case))
    ]
    if not form.validate_on_submit():
        return render_template(
            "escalation/detail.html", **_case_context(case, assign_form=form)
        ), 422
    assignee = db.session.get(User, int(form.assignee.data)) if form.assignee.data else None
    services.assign_case(current_user, case, assignee)
    db.session.commit()
    flash(_("The assignment is saved."), "success")
    return redirect(url_for("escalation.detail", number=number))


@bp.post("/cases/<number>/details")
@login_required
def details(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    form = CaseDetailsForm()
    if not form.validate_on_submit():
        return render_template(
            "escalation/detail.html", **_case_context(case, details_form=form)
        ), 422
    vendor = policy.can_manage_case(current_user, case)
    try:
        services.update_case(
            current_user,
            case,
            version=int(form.version.data) if (form.version.data or "").isdigit() else None,
            priority=form.priority.data,
            vendor_reference=form.vendor_reference.data if vendor else None,
        )
    except ValidationFailed as error:
        return _case_error(case, error, details_form=form)
    db.session.commit()
    flash(_("The case is saved."), "success")
    return redirect(url_for("escalation.detail", number=number))


@bp.post("/cases/<number>/relay")
@login_required
def relay(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    if not policy.can_relay_case(current_user, case):
        raise Forbidden()
    form = RelayForm()
    form.tickets.choices = [(t.id, t.number) for t in case.tickets]
    if not form.validate_on_submit():
        return render_template(
            "escalation/detail.html", **_case_context(case, relay_form=form)
        ), 422
    try:
        tickets = services.relay(current_user, case, form.body.data or "", form.tickets.data or [])
    except ValidationFailed as error:
        return _case_error(case, error, relay_form=form)
    db.session.commit()
    flash(_("The answer is sent on %(count)s tickets.", count=len(tickets)), "success")
    return redirect(url_for("escalation.detail", number=number))


@bp.post("/cases/<number>/resolve-tickets")
@login_required
def resolve_tickets(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    if not policy.can_relay_case(current_user, case):
        raise Forbidden()
    form = ResolveTicketsForm()
    form.tickets.choices = [(t.id, t.number) for t in services.resolvable_tickets(case)]
    if not form.validate_on_submit():
        return render_template(
            "escalation/detail.html", **_case_context(case, resolve_form=form)
        ), 422
    try:
        tickets = services.resolve_linked_tickets(current_user, case, form.tickets.data or [])
    except ValidationFailed as error:
        return _case_error(case, error, resolve_form=form)
    db.session.commit()
    flash(_("%(count)s tickets are resolved.", count=len(tickets)), "success")
    return redirect(url_for("escalation.detail", number=number))


@bp.post("/cases/<number>/known-issue")
@login_required
def case_known_issue(number: str) -> ResponseReturnValue:
    case = policy.get_case(current_user, number)
    form = LinkKnownIssueForm()
    form.known_issue.choices = [("", "")] + [
        (str(i.id), i.title) for i in services.active_known_issues()
    ]
    if not form.validate_on_submit():
        return render_template("escalation/detail.html", **_case_context(case, link_form=form)), 422
    issue = (
        db.session.get(KnownIssue, int(form.known_issue.data)) if form.known_issue.data else None
    )
    try:
        services.link_case_to_known_issue(current_user, case, issue)
    except ValidationFailed as error:
        return _case_error(case, error, link_form=form)
    db.session.commit()
    flash(_("The known issue link is saved."), "success")
    return redirect(url_for("escalation.detail", number=number))


@bp.get("/cases/<number>/shared/<int:item_id>")
@login_required
def shared_attachment(number: str, item_id: int) -> ResponseReturnValue:
    """A shared attachment, for anyone who sees the case; always a download."""
    case = policy.get_case(current_user, number)
    item = next((s for s in case.shares if s.id == item_id and s.attachment is not None), None)
    if item is None:
        raise NotFound()
    path = ticket_services.attachment_path(item.attachment)
    if not path.is_file():
        raise NotFound()
    response = send_file(path, mimetype=item.attachment.content_type, max_age=0, conditional=True)
    shown = item.filename or "fil"
    ascii_name = shown.encode("ascii", "ignore").decode() or "fil"
    ascii_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in ascii_name)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(shown, safe='')}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# --- from the ticket ---------------------------------------------------------------------


def escalation_panel(ticket: Ticket) -> dict[str, Any] | None:
    """What the ticket page shows about escalation; None for users who see nothing of it."""
    user = current_user
    if not policy.is_ticket_staff(user) or user.municipality_id != ticket.municipality_id:
        return None
    vendor = ticket.system.vendor
    case = ticket.vendor_case
    last_vendor_message: CaseMessage | None = None
    if case is not None:
        last_vendor_message = next((m for m in reversed(case.messages) if m.from_vendor), None)
    issues = services.active_known_issue_choices(ticket.system_id)
    link_form = LinkKnownIssueForm()
    link_form.known_issue.choices = [(str(issue_id), title) for issue_id, title in issues]
    message_form = MessageForm()
    return {
        "vendor": vendor,
        "case": case,
        "sla": services.sla_view(case) if case is not None else None,
        "can_escalate": policy.can_escalate(user, vendor),
        "can_message": case is not None and policy.can_message_case(user, case),
        "last_vendor_message": last_vendor_message,
        "known_issues": issues,  # (id, title) of the system's active issues
        "linked_issues": services.known_issues_for_ticket(ticket),
        "can_link": policy.can_link_known_issue(user, ticket) and bool(issues),
        "link_form": link_form,
        "message_form": message_form,
    }


def _fill_escalate_form(form: EscalateForm, ticket: Ticket) -> None:
    form.case.choices = [("", _("New case"))] + [
        (c.number, f"{c.number} · {c.subject}")
        for c in services.open_cases_for(current_user, ticket)
    ]
    form.share_entries.choices = [
        (e.id, f"{e.author.name if e.author else ''} · {e.created_at:%d.%m.%Y %H:%M}")
        for e in services.shareable_entries(ticket)
    ]
    form.share_attachments.choices = [
        (a.id, a.filename) for a in services.shareable_attachments(ticket)
    ]


@bp.route("/tickets/<number>/escalate", methods=["GET", "POST"])
@login_required
def escalate(number: str) -> ResponseReturnValue:
    ticket = policy.get_ticket(current_user, number)
    if not policy.can_escalate(current_user, ticket.system.vendor):
        raise NotEntitled()
    form = EscalateForm()
    _fill_escalate_form(form, ticket)
    if request.method == "GET":
        form.priority.data = ticket.priority.value
        form.case.data = request.args.get("case", "")
    errors: list[str] = []
    if form.validate_on_submit():
        shared = [ticket.subject, form.summary.data]
        if form.share_description.data:
            shared.append(ticket.description)
        chosen = {int(i) for i in form.share_entries.data or [] if str(i).isdigit()}
        shared += [e.body for e in ticket.entries if e.id in chosen]
        if policy.sharing_needs_step_up(bool(form.confirm_sensitive.data), shared):
            stepup.require_recent_authentication()
        try:
            case = services.escalate(
                current_user,
                ticket,
                form.summary.data or "",
                form.share_entries.data or [],
                form.share_attachments.data or [],
                case_number=form.case.data or None,
                confirm_sensitive=bool(form.confirm_sensitive.data),
                share_description=bool(form.share_description.data),
                priority=form.priority.data,
            )
        except ValidationFailed as error:
            errors = error.apply_to(form)
            db.session.rollback()
            ticket = policy.get_ticket(current_user, number)
        else:
            db.session.commit()
            flash(
                _(
                    "Sent to %(vendor)s in case %(case)s.",
                    vendor=case.vendor.name,
                    case=case.number,
                ),
                "success",
            )
            return redirect(url_for("tickets.detail", number=ticket.number))
    entries = services.shareable_entries(ticket)
    sensitive = (
        has_sensitive(ticket.subject)
        or has_sensitive(ticket.description)
        or any(has_sensitive(e.body) for e in entries)
    )
    status = 422 if request.method == "POST" else 200
    return render_template(
        "escalation/escalate.html",
        ticket=ticket,
        form=form,
        entries=entries,
        sensitive=sensitive,
        errors=errors,
    ), status


@bp.post("/tickets/<number>/known-issue")
@login_required
def ticket_known_issue(number: str) -> ResponseReturnValue:
    ticket = policy.get_ticket(current_user, number)
    if not policy.can_link_known_issue(current_user, ticket):
        raise Forbidden()
    form = LinkKnownIssueForm()
    form.known_issue.choices = [
        (str(issue_id), title)
        for issue_id, title in services.active_known_issue_choices(ticket.system_id)
    ]
    if not form.validate_on_submit() or not form.known_issue.data:
        flash(_("Choose a known issue."), "error")
        return redirect(url_for("tickets.detail", number=number))
    issue = db.session.get(KnownIssue, int(form.known_issue.data))
    if issue is None:
        raise NotFound()
    services.link_ticket_to_known_issue(current_user, ticket, issue)
    db.session.commit()
    flash(_("The ticket is linked to the known issue."), "success")
    return redirect(url_for("tickets.detail", number=number))


@bp.post("/tickets/<number>/case-message")
@login_required
def ticket_case_message(number: str) -> ResponseReturnValue:
    """Answer the vendor from the ticket page (e.g. while it waits on the municipality)."""
    ticket = policy.get_ticket(current_user, number)
    case = ticket.vendor_case
    if case is None or not policy.can_message_case(current_user, case):
        raise Forbidden()
    form = MessageForm()
    if not form.validate_on_submit():
        flash(_("Write a message."), "error")
        return redirect(url_for("tickets.detail", number=number))
    if policy.sharing_needs_step_up(form.confirm_sensitive.data, [form.body.data]):
        stepup.require_recent_authentication()
    services.post_message(
        current_user, case, form.body.data or "", confirm_sensitive=form.confirm_sensitive.data
    )
    db.session.commit()
    flash(_("Message sent."), "success")
    return redirect(url_for("tickets.detail", number=number))


# --- known issues ------------------------------------------------------------------------


def _local(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=CPH) if moment is not None else None


@bp.get("/known-issues")
@login_required
def known_issues() -> ResponseReturnValue:
    if not policy.can_view_known_issues(current_user):
        raise NotFound()
    return render_template(
        "escalation/known_issues.html",
        issues=services.recent_known_issues(current_user),
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
    errors: list[str] = []
    if form.validate_on_submit():
        system = db.session.get(System, int(form.system.data))
        try:
            saved = services.save_known_issue(
                current_user,
                issue,
                system=system,
                title=form.title.data or "",
                description=form.description.data or "",
                status=form.status.data,
                started_at=_local(form.started_at.data),
                ended_at=_local(form.ended_at.data),
            )
        except ValidationFailed as error:
            errors = error.apply_to(form)
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("The known issue is saved: %(title)s", title=saved.title), "success")
            return redirect(url_for("escalation.known_issues"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "escalation/known_issue_form.html", form=form, issue=issue, errors=errors
    ), status


@bp.route("/known-issues/new", methods=["GET", "POST"])
@login_required
def new_known_issue() -> ResponseReturnValue:
    if not policy.can_manage_known_issues(current_user):
        raise NotFound()
    return _known_issue_form(None)


@bp.route("/known-issues/<int:issue_id>", methods=["GET", "POST"])
@login_required
def edit_known_issue(issue_id: int) -> ResponseReturnValue:
    issue = policy.get_managed_known_issue(current_user, issue_id)
    return _known_issue_form(issue)


@bp.get("/status")
def status() -> ResponseReturnValue:
    """Public operating status: active known issues, no login needed."""
    return render_template("escalation/status.html", issues=services.active_known_issues())

"""Vendor case pages, the case queue and escalation from a ticket.

Load via policy, validate a form, call one service, commit, redirect or render. The
known-issue pages and the public status page are in known_issue_views.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup

from supportdesk import policy
from supportdesk.accounts import stepup
from supportdesk.accounts.models import User
from supportdesk.accounts.reference import system_vendors, vendor_references
from supportdesk.cache import fragments, generations
from supportdesk.errors import Forbidden, NotFound, ValidationFailed
from supportdesk.escalation import cases, documents, known_issues, listing, relay_views
from supportdesk.escalation import services as escalation
from supportdesk.escalation import sla_alerts as _sla_alerts  # noqa: F401  (registers the SLA job)
from supportdesk.escalation.forms import (
    AssignCaseForm,
    CaseDetailsForm,
    CaseStatusForm,
    EscalateForm,
    KeepInternalForm,
    LinkKnownIssueForm,
    MessageForm,
    RelayForm,
    ResolveTicketsForm,
)
from supportdesk.escalation.models import (
    CASE_STATUS_LABELS,
    CaseMessage,
    KnownIssue,
    VendorCase,
    municipal_case_generation,
    vendor_case_generation,
)
from supportdesk.escalation.sla_clock import sla_targets, sla_view
from supportdesk.extensions import db
from supportdesk.form_pages import form_page, save_form, saved_and_go
from supportdesk.navigation import NAV_PROVIDERS, NavItem
from supportdesk.safe_input import database_id
from supportdesk.sensitive import has_sensitive
from supportdesk.tickets import attachments as ticket_attachments
from supportdesk.tickets.models import Ticket

bp = Blueprint("escalation", __name__)
bp.add_app_template_global(known_issues.active_known_issues)


@bp.app_template_global()
def known_issues_banner(system_id: int) -> Markup:
    """The banner of the system's active known issues above a ticket's timeline, rendered
    once for every ticket page of the system in a language until its vendor's known
    issues or the shared names change (the same generations the page's key holds)."""
    return fragments.kept(
        ("escalation.known_issues_banner", system_id, str(get_locale())),
        (generations.vendor_reference(system_vendors().get(system_id)), generations.REFERENCE),
        lambda: Markup(  # noqa: S704 — rendered template
            render_template(
                "escalation/_known_issue_list.html",
                issues=known_issues.active_known_issues(system_id),
            )
        ),
    )


@bp.app_template_global()
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
        items.append(NavItem(_("Known issues"), url_for("known_issues.index")))
    if not user.is_authenticated:
        items.append(NavItem(_("Operating status"), url_for("known_issues.status")))
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
    key = fragments.page_key(
        "escalation.index",
        current_user.id,
        current_user.role,
        current_user.vendor_id,
        current_user.municipality_id,
        fragments.read_generations(*queue_generations(current_user)),
    )
    body, status = fragments.fragment(key, _queue_body)
    return render_template("escalation/index.html", body=body), status


def queue_generations(user: User) -> tuple[str, ...]:
    """What the queue shows: on the vendor's side its cases from every municipality, its
    agents and the names every tenant shares; on a municipality's side its cases with
    every vendor, the names every tenant shares and the agents of every vendor."""
    if policy.is_vendor_agent(user):
        return (
            vendor_case_generation(user.vendor_id),
            generations.vendor_reference(user.vendor_id),
            generations.REFERENCE,
        )
    return (
        municipal_case_generation(user.municipality_id),
        generations.REFERENCE,
        *vendor_references(),
    )


def _queue_body() -> tuple[Markup, int]:
    args = request.args
    filters = listing.CaseFilters.from_query(args)
    errors: dict[str, Any] = {}
    try:
        page = listing.list_cases(current_user, filters)
    except ValidationFailed as error:
        errors = error.fields
        page = listing.CasePage([], None)
    body = render_template(
        "escalation/_queue.html",
        page=page,
        filters=filters,
        errors=errors,
        viewer=listing.queue_viewer(current_user),
        counts=listing.case_counts_by_state(current_user),
        next_args={k: v for k, v in args.items() if k != "cursor" and v},
    )
    # autoescaped template output: the page must not escape it a second time
    return Markup(body), 422 if errors else 200  # noqa: S704


# --- one case ----------------------------------------------------------------------------


def _case_context(case: VendorCase, **forms: Any) -> dict[str, Any]:
    user = current_user._get_current_object()
    vendor_side = policy.is_case_vendor_side(user, case)
    municipal_side = policy.is_case_municipal_side(user, case)
    message_form = forms.get("message_form") or MessageForm()
    # two text areas on one page go to different parties: each says who reads it
    if vendor_side:
        message_form.body.label.text = _("Message to the municipality")
        message_form.body.description = _("Only the municipality's coordinators read this.")
    else:
        message_form.body.label.text = _("Message to the vendor")
        message_form.body.description = _(
            "Only %(vendor)s reads this. The reporters do not see it.", vendor=case.vendor.name
        )
    status_form = forms.get("status_form") or CaseStatusForm()
    status_form.status.choices = [
        (s.value, str(CASE_STATUS_LABELS[s])) for s in policy.allowed_case_statuses(user, case)
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
    summaries = documents.ticket_summaries(user, case)
    relay_form = forms.get("relay_form") or RelayForm()
    relay_form.tickets.choices = [
        (t.id, f"{t.number} · {t.subject}") for t in cases.relayable_tickets(case)
    ]
    resolvable = cases.resolvable_tickets(case)
    resolve_form = forms.get("resolve_form") or ResolveTicketsForm(
        tickets=[t.id for t in resolvable]
    )
    resolve_form.tickets.choices = [(t.id, f"{t.number} · {t.subject}") for t in resolvable]
    link_form = forms.get("link_form") or LinkKnownIssueForm(
        known_issue=str(case.known_issue_id or "")
    )
    link_form.known_issue.choices = [("", _("None"))] + [
        (str(i.id), i.title)
        for i in known_issues.active_known_issues()
        if i.vendor_id == case.vendor_id
    ]
    return {
        "case": case,
        "sla": sla_view(case),
        "targets": sla_targets(case.vendor_id, case.priority),
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
        "preview": forms.get("preview"),
        "keep_form": KeepInternalForm(),
    }


def render_case_page(case: VendorCase, status: int = 200, **forms: Any) -> ResponseReturnValue:
    """The case page with a form's state (other domains' views: canned replies)."""
    return render_template("escalation/detail.html", **_case_context(case, **forms)), status


@bp.get("/cases/<number>")
@login_required
def detail(number: str) -> ResponseReturnValue:
    case = cases.case_for_page(current_user, number)
    context = _case_context(case)
    relay_id = request.args.get("relay", type=database_id)
    if relay_id and policy.can_relay_case(current_user, case):
        message = next((m for m in case.messages if m.id == relay_id and m.from_vendor), None)
        if message is not None:
            form = context["relay_form"]
            form.body.data = message.body
            form.tickets.data = [t.id for t in cases.relayable_tickets(case)]
            form.message.data = str(message.id)
            context["relay_message"] = message
            context["preview"] = relay_views.relay_preview(case, message.body, form.tickets.data)
    return render_template("escalation/detail.html", **context)


def _case_post(
    number: str,
    slot: str,
    make_form: Callable[[VendorCase], FlaskForm],
    act: Callable[[VendorCase, Any], str],
    *,
    allowed: Callable[[User, VendorCase], bool] | None = None,
    anchor: str | None = None,
) -> ResponseReturnValue:
    """One change from the case page: load, check, validate `make_form`'s form, `act` (which
    returns the flash message), commit and go back to the case; an invalid form or a
    refusal shows the case page again with that form (`slot` in _case_context) and 422."""
    case = policy.get_case(current_user, number)
    if allowed is not None and not allowed(current_user, case):
        raise Forbidden()
    form = make_form(case)
    url = url_for("escalation.detail", number=number, _anchor=anchor)
    response, errors = save_form(
        form, lambda: act(case, form), lambda message: saved_and_go(message, url)
    )
    if response is not None:
        return response
    case = cases.case_for_page(current_user, number)
    context = _case_context(case, errors=errors, **{slot: form})
    return render_template("escalation/detail.html", **context), 422


@bp.post("/cases/<number>/messages")
@login_required
def post_message(number: str) -> ResponseReturnValue:
    def act(case: VendorCase, form: MessageForm) -> str:
        if policy.sharing_needs_step_up(form.confirm_sensitive.data, [form.body.data]):
            stepup.require_recent_authentication()
        cases.post_message(
            current_user, case, form.body.data or "", confirm_sensitive=form.confirm_sensitive.data
        )
        return _("Message sent.")

    return _case_post(number, "message_form", lambda _case: MessageForm(), act, anchor="messages")


@bp.post("/cases/<number>/status")
@login_required
def change_status(number: str) -> ResponseReturnValue:
    def make_form(case: VendorCase) -> CaseStatusForm:
        form = CaseStatusForm()
        allowed = policy.allowed_case_statuses(current_user, case)
        form.status.choices = [(s.value, s.value) for s in allowed]
        return form

    def act(case: VendorCase, form: CaseStatusForm) -> str:
        cases.change_case_status(current_user, case, form.status.data)
        return _("The case status is changed.")

    def can_move(user: User, case: VendorCase) -> bool:
        return bool(policy.allowed_case_statuses(user, case))

    return _case_post(number, "status_form", make_form, act, allowed=can_move)


@bp.post("/cases/<number>/assign")
@login_required
def assign(number: str) -> ResponseReturnValue:
    def make_form(case: VendorCase) -> AssignCaseForm:
        form = AssignCaseForm()
        agents = db.session.scalars(policy.case_agents(case))
        form.assignee.choices = [("", "")] + [(str(u.id), u.name) for u in agents]
        return form

    def act(case: VendorCase, form: AssignCaseForm) -> str:
        assignee = db.session.get(User, int(form.assignee.data)) if form.assignee.data else None
        cases.assign_case(current_user, case, assignee)
        return _("The assignment is saved.")

    return _case_post(number, "assign_form", make_form, act, allowed=policy.can_manage_case)


@bp.post("/cases/<number>/details")
@login_required
def details(number: str) -> ResponseReturnValue:
    def act(case: VendorCase, form: CaseDetailsForm) -> str:
        vendor = policy.can_manage_case(current_user, case)
        cases.update_case(
            current_user,
            case,
            version=int(form.version.data) if (form.version.data or "").isdigit() else None,
            priority=form.priority.data,
            vendor_reference=form.vendor_reference.data if vendor else None,
        )
        return _("The case is saved.")

    return _case_post(number, "details_form", lambda _case: CaseDetailsForm(), act)


def _tickets_form(form: RelayForm | ResolveTicketsForm, tickets: list[Ticket]) -> Any:
    form.tickets.choices = [(t.id, t.number) for t in tickets]
    return form


@bp.post("/cases/<number>/relay")
@login_required
def relay(number: str) -> ResponseReturnValue:
    """Send the answer on; "Preview" (action=preview) shows the page with what each
    reporter will read, nothing sent."""
    if request.form.get("action") == "preview":
        return relay_views.preview_page(number, _case_context)

    def act(case: VendorCase, form: RelayForm) -> str:
        message_id = int(form.message.data) if (form.message.data or "").isdigit() else None
        body, chosen = form.body.data or "", form.tickets.data or []
        tickets = cases.relay(current_user, case, body, chosen, message_id)
        return ngettext(
            "The answer is sent on %(num)d ticket.",
            "The answer is sent on %(num)d tickets.",
            len(tickets),
        )

    return _case_post(
        number,
        "relay_form",
        lambda case: _tickets_form(RelayForm(), cases.relayable_tickets(case)),
        act,
        allowed=policy.can_relay_case,
        anchor="relay",
    )


@bp.post("/cases/<number>/messages/<int:message_id>/internal")
@login_required
def keep_internal(number: str, message_id: int) -> ResponseReturnValue:
    def act(case: VendorCase, _form: KeepInternalForm) -> str:
        cases.keep_internal(current_user, case, message_id)
        return _("The vendor's message stays internal: no reporter sees it.")

    return _case_post(
        number,
        "keep_form",
        lambda _case: KeepInternalForm(),
        act,
        allowed=policy.can_relay_case,
        anchor=f"message-{message_id}",
    )


@bp.post("/cases/<number>/resolve-tickets")
@login_required
def resolve_tickets(number: str) -> ResponseReturnValue:
    def act(case: VendorCase, form: ResolveTicketsForm) -> str:
        tickets = cases.resolve_linked_tickets(current_user, case, form.tickets.data or [])
        return ngettext(
            "%(num)d ticket is resolved.", "%(num)d tickets are resolved.", len(tickets)
        )

    return _case_post(
        number,
        "resolve_form",
        lambda case: _tickets_form(ResolveTicketsForm(), cases.resolvable_tickets(case)),
        act,
        allowed=policy.can_relay_case,
    )


@bp.post("/cases/<number>/known-issue")
@login_required
def case_known_issue(number: str) -> ResponseReturnValue:
    def make_form(_case: VendorCase) -> LinkKnownIssueForm:
        form = LinkKnownIssueForm()
        issues = known_issues.active_known_issues()
        form.known_issue.choices = [("", "")] + [(str(i.id), i.title) for i in issues]
        return form

    def act(case: VendorCase, form: LinkKnownIssueForm) -> str:
        chosen = form.known_issue.data
        issue = db.session.get(KnownIssue, int(chosen)) if chosen else None
        known_issues.link_case_to_known_issue(current_user, case, issue)
        return _("The known issue link is saved.")

    return _case_post(number, "link_form", make_form, act)


@bp.get("/cases/<number>/shared/<int:item_id>")
@login_required
def shared_attachment(number: str, item_id: int) -> ResponseReturnValue:
    """A shared attachment, for anyone who sees the case; always a download."""
    case = policy.get_case(current_user, number)
    item = next((s for s in case.shares if s.id == item_id and s.attachment is not None), None)
    if item is None:
        raise NotFound()
    path = ticket_attachments.attachment_path(item.attachment)
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


@bp.app_template_global()
def escalation_panel(ticket: Ticket) -> dict[str, Any] | None:
    """What the ticket page shows about escalation; None for users who see nothing of it."""
    user = current_user._get_current_object()
    if not policy.can_follow_escalation(user, ticket):
        return None
    vendor = ticket.system.vendor
    case = ticket.vendor_case
    last_vendor_message: CaseMessage | None = None
    if case is not None:
        last_vendor_message = next((m for m in reversed(case.messages) if m.from_vendor), None)
    issues = known_issues.active_known_issue_choices(ticket.system_id)
    link_form = LinkKnownIssueForm()
    link_form.known_issue.choices = [(str(issue_id), title) for issue_id, title in issues]
    message_form = MessageForm()
    return {
        "vendor": vendor,
        "case": case,
        "sla": sla_view(case) if case is not None else None,
        "can_escalate": policy.can_escalate(user, vendor),
        "can_message": case is not None and policy.can_message_case(user, case),
        "last_vendor_message": last_vendor_message,
        "known_issues": issues,  # (id, title) of the system's active issues
        "linked_issues": known_issues.known_issues_for_ticket(ticket),
        "can_link": policy.can_link_known_issue(user, ticket) and bool(issues),
        "link_form": link_form,
        "message_form": message_form,
    }


def _fill_escalate_form(form: EscalateForm, ticket: Ticket) -> None:
    form.case.choices = [("", _("New case"))] + [
        (c.number, f"{c.number} · {c.subject}")
        for c in escalation.open_cases_for(current_user, ticket)
    ]
    form.share_entries.choices = [
        (e.id, f"{e.author.name if e.author else ''} · {e.created_at:%d.%m.%Y %H:%M}")
        for e in escalation.shareable_entries(ticket)
    ]
    form.share_attachments.choices = [
        (a.id, a.filename) for a in escalation.shareable_attachments(ticket)
    ]


@bp.route("/tickets/<number>/escalate", methods=["GET", "POST"])
@login_required
def escalate(number: str) -> ResponseReturnValue:
    ticket = policy.get_ticket(current_user, number)
    policy.require_escalate(current_user, ticket)
    form = EscalateForm()
    _fill_escalate_form(form, ticket)
    if request.method == "GET":
        form.priority.data = ticket.priority.value
        form.case.data = request.args.get("case", "")

    def send() -> VendorCase:
        request = _escalation_request(form)
        if policy.sharing_needs_step_up(
            request.confirm_sensitive, escalation.shared_texts(ticket, request)
        ):
            stepup.require_recent_authentication()
        return escalation.escalate(current_user, ticket, request)

    response, errors = save_form(form, send, lambda case: _sent(ticket, case))
    if response is not None:
        return response
    entries = escalation.shareable_entries(ticket)
    sensitive = (
        has_sensitive(ticket.subject)
        or has_sensitive(ticket.description)
        or any(has_sensitive(e.body) for e in entries)
    )
    return form_page(
        "escalation/escalate.html",
        ticket=ticket,
        form=form,
        entries=entries,
        sensitive=sensitive,
        errors=errors,
    )


def _escalation_request(form: EscalateForm) -> escalation.EscalationRequest:
    return escalation.EscalationRequest(
        summary=form.summary.data or "",
        share_entry_ids=form.share_entries.data or [],
        share_attachment_ids=form.share_attachments.data or [],
        case_number=form.case.data or None,
        confirm_sensitive=bool(form.confirm_sensitive.data),
        share_description=bool(form.share_description.data),
        priority=form.priority.data,
    )


def _sent(ticket: Ticket, case: VendorCase) -> ResponseReturnValue:
    message = _("Sent to %(vendor)s in case %(case)s.", vendor=case.vendor.name, case=case.number)
    return saved_and_go(message, url_for("tickets.detail", number=ticket.number))


@bp.post("/tickets/<number>/known-issue")
@login_required
def ticket_known_issue(number: str) -> ResponseReturnValue:
    ticket = policy.get_ticket(current_user, number)
    if not policy.can_link_known_issue(current_user, ticket):
        raise Forbidden()
    form = LinkKnownIssueForm()
    form.known_issue.choices = [
        (str(issue_id), title)
        for issue_id, title in known_issues.active_known_issue_choices(ticket.system_id)
    ]
    if not form.validate_on_submit() or not form.known_issue.data:
        flash(_("Choose a known issue."), "error")
        return redirect(url_for("tickets.detail", number=number))
    issue = db.session.get(KnownIssue, int(form.known_issue.data))
    if issue is None:
        raise NotFound()
    known_issues.link_ticket_to_known_issue(current_user, ticket, issue)
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
    cases.post_message(
        current_user, case, form.body.data or "", confirm_sensitive=form.confirm_sensitive.data
    )
    db.session.commit()
    flash(_("Message sent."), "success")
    return redirect(url_for("tickets.detail", number=number))

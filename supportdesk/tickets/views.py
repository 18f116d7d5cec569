"""Ticket pages: lists and triage, new ticket, hotline intake, ticket page.

Load via policy, validate a form, call one service, commit, redirect or render.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup

from supportdesk import policy
from supportdesk.accounts.forms import ROLE_LABELS
from supportdesk.accounts.models import User
from supportdesk.cache import fragments, generations
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.extensions import db, utcnow
from supportdesk.navigation import NAV_PROVIDERS, NavItem, cached_page
from supportdesk.pg_connections import reads_without_transaction
from supportdesk.safe_input import database_id
from supportdesk.tickets import (
    access_log,
    attachments,
    history,
    intake,
    lifecycle,
    listing,
    lookups,
    merging,
    page_keys,
    services,
    surveys,
)
from supportdesk.tickets.attachments import Upload
from supportdesk.tickets.forms import (
    AssignForm,
    BulkForm,
    EntryForm,
    HandlingForm,
    HotlineForm,
    MergeForm,
    PriorityForm,
    ReopenForm,
    StatusForm,
    SurveyForm,
    TicketForm,
)
from supportdesk.tickets.listing import TicketFilters
from supportdesk.tickets.models import (
    PRIORITY_LABELS,
    SETTABLE_STATUSES,
    STATUS_LABELS,
    Priority,
    Ticket,
    TicketSource,
    TicketStatus,
    saved_views_generation,
    ticket_generation,
)

bp = Blueprint("tickets", __name__)
bp.add_app_template_global(history.event_line)


def _nav(user: User) -> list[NavItem]:
    if not policy.is_municipal(user):
        return []
    items = []
    if policy.can_triage(user):
        items.append(NavItem(_("Ticket queue"), url_for("tickets.index")))
    else:
        items.append(NavItem(_("My tickets"), url_for("tickets.index")))
    if policy.can_take_hotline_calls(user):
        items.append(NavItem(_("Phone call"), url_for("tickets.hotline")))
    items.append(NavItem(_("New ticket"), url_for("tickets.new")))
    if policy.can_manage_routing(user):
        items.append(NavItem(_("Routing"), url_for("routing.rules")))
    return items


NAV_PROVIDERS.append(_nav)


def _uploads(form_field) -> tuple[Upload, ...]:
    return tuple(
        Upload(f.filename or "fil", f.stream) for f in (form_field.data or []) if f and f.filename
    )


def _require_municipal(user: User) -> None:
    if not policy.is_municipal(user):
        raise NotFound()


def require_triage() -> None:
    """The queue's tools (bulk changes, saved views) are the triaging staff's."""
    if not policy.can_triage(current_user):
        raise NotFound()


# --- lists ---------------------------------------------------------------------------


def _filters_from_args(triage: bool = False) -> TicketFilters:
    return listing.filters_from_args(request.args, triage)


@bp.get("/tickets")
@login_required
def index() -> ResponseReturnValue:
    """The caller's list (superuser, hotline) or the municipality's triage queue.

    Everything below the tabs (counts, filters, rows, bulk controls) is a cached
    fragment: its key holds the viewer, the locale, the query string and the
    generations of the municipality's tickets and of names, so the first request
    after any change renders it again.
    """
    user = current_user._get_current_object()
    _require_municipal(user)
    triage = policy.can_triage(user)
    scopes = policy.ticket_list_scopes(user)
    scope = _scope(scopes)
    key = fragments.page_key(
        "tickets.index",
        user.id,
        user.role,
        user.municipality_id,
        user.institution_id,
        fragments.read_generations(*list_generations(user), saved_views_generation(user.id)),
        # the age column counts hours: render again at least every hour
        utcnow().strftime("%Y%m%d%H"),
    )
    tabs = [(value, SCOPE_LABELS[value]) for value in scopes]
    # the tabs and buttons around the body follow the viewer and the query string
    return cached_page(
        key,
        "tickets/index.html",
        lambda: _list_body(triage, scope),
        triage=triage,
        tabs=tabs,
        scope=scope,
    )


def list_generations(user: User) -> tuple[str, ...]:
    """What the ticket list shows: the municipality's tickets, its institutions, people
    and queues, and the systems and categories every municipality shares."""
    return (
        ticket_generation(user.municipality_id),
        generations.municipality_reference(user.municipality_id),
        generations.REFERENCE,
    )


# the tabs of the ticket list (policy.ticket_list_scopes says who gets which)
SCOPE_LABELS = {
    None: _l("My and my institution's tickets"),
    "mine": _l("Created by me"),
    "institution": _l("My institution's tickets"),
    "queue": _l("Hotline queue"),
}


def _scope(scopes: tuple[str | None, ...]) -> str | None:
    """The chosen tab's scope: the query's if offered, else the first (the default)."""
    chosen = request.args.get("scope") or None
    if chosen in scopes or not scopes:
        return chosen
    return scopes[0]


def age_label(created_at: datetime, now: datetime | None = None) -> str:
    """How long a ticket has waited, in whole hours under two days, else whole days."""
    hours = int(((now or utcnow()) - created_at).total_seconds() // 3600)
    if hours < 48:
        return _("%(hours)s h", hours=max(hours, 0))
    return _("%(days)s d", days=hours // 24)


def _list_body(triage: bool, scope: str | None) -> str:
    filters = _filters_from_args(triage)
    filters.scope = scope
    limit = request.args.get("limit", type=database_id) or 25
    limit = limit if limit in listing.PAGE_SIZES else 25
    page = listing.list_tickets(
        current_user, filters, cursor=request.args.get("cursor") or None, limit=limit
    )
    args = request.args.to_dict(flat=False)
    args.pop("cursor", None)
    context: dict[str, Any] = {
        "page": page,
        "row": listing.row_details(page.items),
        "age_label": age_label,
        "filters": filters,
        "triage": triage,
        "limit": limit,
        "args": args,
        "statuses": list(TicketStatus),
        "settable_statuses": SETTABLE_STATUSES,
        "priorities": list(Priority),
    }
    if triage:
        assignees = lookups.assignee_options(current_user)
        labels = lookups.person_labels(assignees, ROLE_LABELS)
        context.update(
            saved_views=list(db.session.scalars(policy.saved_views_of(current_user))),
            current_query=request.query_string.decode()[:1000],
            mine=listing.mine_query(current_user.id),
            bulk_assignees=[("", _("Nobody")), *((str(u.id), labels[u.id]) for u in assignees)],
            assignee_labels=labels,
            assignees=assignees,
            systems=lookups.systems_with_categories(),
            institutions=lookups.institution_options(current_user),
            queues=lookups.queue_options(current_user),
        )
    return render_template("tickets/_list.html", **context)


@bp.post("/tickets/bulk")
@login_required
def bulk() -> ResponseReturnValue:
    require_triage()
    form = BulkForm()
    back = form.next.data if (form.next.data or "").startswith("/tickets") else None
    back = back or url_for("tickets.index")
    if not form.validate_on_submit():
        flash(_("Choose an action."), "error")
        return redirect(back)
    try:
        if form.action.data == "assign":
            assignee = lookups.get_assignee(current_user, form.assignee.data)
            result = lifecycle.bulk_assign(current_user, form.tickets.data, assignee)
        else:
            try:
                target = TicketStatus(form.status.data)
            except ValueError:
                raise ValidationFailed(fields={"status": _("Unknown status.")}) from None
            result = lifecycle.bulk_status(current_user, form.tickets.data, target)
    except ValidationFailed as error:
        for message in error.apply_to(form) or [str(error.message)]:
            flash(message, "error")
        for messages in (form.assignee.errors, form.status.errors):
            for message in messages:
                flash(message, "error")
        return redirect(back)
    db.session.commit()
    changed = len(result.changed)
    flash(ngettext("%(num)d ticket changed.", "%(num)d tickets changed.", changed), "success")
    if result.skipped:
        flash(
            ngettext(
                "%(num)d ticket was skipped because the change is not allowed: %(numbers)s",
                "%(num)d tickets were skipped because the change is not allowed: %(numbers)s",
                len(result.skipped),
                numbers=", ".join(result.skipped),
            ),
            "warning",
        )
    return redirect(back)


# --- new ticket ----------------------------------------------------------------------


def _fill_ticket_form(form: TicketForm) -> list[tuple[str, str, str | None, str]]:
    topics = lookups.topics()
    form.topic.choices = [("", _("Choose system and category"))] + [
        (value, f"{system} - {category}" if category else system)
        for value, system, category, _slug in topics
    ]
    institutions = lookups.ticket_institution_options(current_user)
    form.institution.choices = [("", _("No institution"))] + [
        (i.number, f"{i.name} ({i.number})") for i in institutions
    ]
    if request.method == "GET" and current_user.institution is not None:
        form.institution.data = current_user.institution.number
    return topics


def _intake_form(form_cls: type[TicketForm], allowed: bool) -> tuple[TicketForm, list]:
    """The form of a new ticket or phone call with its choices; a 404 for who may not."""
    if not allowed:
        raise NotFound()
    form = form_cls()
    return form, _fill_ticket_form(form)


@bp.route("/tickets/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    """Ny henvendelse: the FAQ suggests articles while it is written (FAQ first)."""
    form, topics = _intake_form(TicketForm, policy.can_create_ticket(current_user))
    if request.method == "GET" and request.args.get("topic"):
        form.topic.data = request.args["topic"]
    ticket, errors = _file_ticket(
        form,
        lambda: lookups.get_institution_by_number(current_user, form.institution.data),
        TicketSource.web,
    )
    if ticket is not None:
        return redirect(url_for("tickets.detail", number=ticket.number))
    return _intake_page("tickets/new.html", form, topics, errors, hotline=False)


def _intake_page(
    template: str, form: TicketForm, topics: list, errors: list[str], **context: Any
) -> ResponseReturnValue:
    """The new-ticket or phone-call page, answered 422 after a failed submit."""
    status = 422 if request.method == "POST" else 200
    page = render_template(template, form=form, topics=topics, errors=errors, **context)
    return page, status


def _shown_articles() -> tuple[str, ...]:
    """Slugs of the FAQ suggestions the page showed (hidden field `faq_shown`)."""
    return tuple(s for s in request.form.get("faq_shown", "").split(",") if s.strip())[:20]


def _file_ticket(
    form: TicketForm,
    find_institution: Callable[[], Any],
    source: TicketSource,
    create: Callable[[User, services.NewTicket], Ticket] = services.create_ticket,
    **requester: Any,
) -> tuple[Ticket | None, list[str]]:
    """The shared half of "Ny henvendelse" and hotline intake: validate, create, commit."""
    if not form.validate_on_submit():
        return None, []
    if intake.screen_cpr(form, ("subject", "description"), request.form.get(intake.CHOICE_FIELD)):
        return None, []
    system, category = lookups.resolve_topic(form.topic.data)
    try:
        new = services.NewTicket(
            system=system,
            category=category,
            subject=form.subject.data,
            description=form.description.data,
            priority=form.priority.data,
            institution=find_institution(),
            source=source,
            uploads=_uploads(form.attachments),
            shown_articles=_shown_articles(),
            **requester,
        )
        ticket = create(current_user, new)
    except ValidationFailed as error:
        db.session.rollback()
        return None, error.apply_to(form)
    db.session.commit()
    if ticket.status == TicketStatus.resolved:
        flash(
            _("Call %(number)s is logged as solved on the phone.", number=ticket.number), "success"
        )
    else:
        flash(_("Ticket %(number)s is created.", number=ticket.number), "success")
    if source == TicketSource.hotline and ticket.requester_email:
        flash(_("A receipt is e-mailed to %(email)s.", email=ticket.requester_email), "info")
    return ticket, []


@bp.route("/tickets/hotline", methods=["GET", "POST"])
@login_required
def hotline() -> ResponseReturnValue:
    """Fast intake of a phone call: caller, institution lookup, topic, text; the known
    issue it is about, or "Løst i telefonen" with the answer given (services.take_call)."""
    form, topics = _intake_form(HotlineForm, policy.can_take_hotline_calls(current_user))
    institutions = lookups.institution_options(current_user)

    def take(actor: User, new: services.NewTicket) -> Ticket:
        solved, answer = bool(form.solved.data), form.answer.data or ""
        return services.take_call(actor, new, solved=solved, answer=answer)

    ticket, errors = _file_ticket(
        form,
        lambda: lookups.find_institution(current_user, form.institution_lookup.data),
        TicketSource.hotline,
        take,
        known_issue_id=form.known_issue.data or None,
        requester_name=form.requester_name.data,
        requester_phone=form.requester_phone.data,
        requester_email=form.requester_email.data,
    )
    if ticket is not None:
        return redirect(url_for("tickets.hotline"))
    return _intake_page("tickets/hotline.html", form, topics, errors, institutions=institutions)


# --- ticket page ---------------------------------------------------------------------


def handling_form(user: User, ticket: Ticket, formdata: Any = None) -> HandlingForm:
    """The side form with the choices this user has for this ticket, set to its values."""
    form = HandlingForm(formdata=formdata, version=ticket.version)
    statuses = [ticket.status, *lifecycle.allowed_statuses(user, ticket)]
    form.status.choices = [(s.value, str(STATUS_LABELS[s])) for s in TicketStatus if s in statuses]
    form.assignee.choices = [("", _("Nobody")), *assignee_choices(user)]
    if formdata is None:
        form.status.data = ticket.status.value
        form.assignee.data = str(ticket.assignee_id or "")
        form.priority.data = ticket.priority.value
    return form


def assignee_choices(user: User) -> tuple[tuple[str, str], ...]:
    """`lookups.assignee_choices`, built once for every ticket page of the municipality's
    users with this role and language until the municipality's or the shared names
    change (built from people read after the generations in its key)."""
    return fragments.kept(
        ("tickets.assignee_choices", user.municipality_id, user.role, str(get_locale())),
        (generations.municipality_reference(user.municipality_id), generations.REFERENCE),
        lambda: tuple(lookups.assignee_choices(user, ROLE_LABELS)),
    )


def _detail_context(
    ticket,
    entry_form: EntryForm | None = None,
    errors=None,
    *,
    merge_form: MergeForm | None = None,
    survey_form: SurveyForm | None = None,
    extra: dict[str, Any] | None = None,
    refresh: bool = False,
) -> dict[str, Any]:
    ticket = services.load_detail(ticket, refresh=refresh)
    user = current_user._get_current_object()
    shown = attachments.visible_attachments(user, ticket)
    context: dict[str, Any] = {
        "ticket": ticket,
        "entries": services.visible_entries(user, ticket, shown),
        "attachments": [a for a in shown if a.entry_id is None],
        "entry_form": entry_form or EntryForm(formdata=None),
        "can_internal": policy.can_add_internal_note(user, ticket),
        "can_reply": policy.can_reply(user, ticket),
        "can_reopen": lifecycle.can_reopen_now(user, ticket),
        "reopen_deadline": lifecycle.reopen_deadline(ticket),
        "errors": errors or [],
    }
    if policy.can_change_status(user, ticket) and policy.can_assign(user, ticket):
        context["handling_form"] = handling_form(user, ticket)
    if merging.offers_merge(user, ticket):
        context["merge_form"] = merge_form or MergeForm(formdata=None)
    context["merged"] = merging.merged_tickets(user, ticket)
    if surveys.is_open(user, ticket):
        context["survey_form"] = survey_form or SurveyForm(formdata=None)
    context.update(extra or {})
    if context["can_reopen"]:
        context["reopen_form"] = ReopenForm(formdata=None, version=ticket.version)
    return context


@bp.get("/tickets/<number>")
@reads_without_transaction
@login_required
def detail(number: str) -> ResponseReturnValue:
    """The ticket page; below the title a cached fragment per ticket and viewer.

    The key holds the ticket's own generation (`ticket_page_generation`: the ticket,
    its entries, attachments, survey answer, links and the tickets merged into it), its
    case's (`case_page_generation`), the names it shows (`detail_generations`), the
    viewer (id and role; the locale is in every page key), whether the reopen window is
    still open and, while a case's SLA clock shows, the minute. A reply empties that
    ticket's page only. The whole page around it is cached too (`cached_page`). The
    access-log row is written on every request, hit or not.
    """
    user = current_user._get_current_object()
    _require_municipal(user)
    ticket = page_keys.visible_ticket(user, number)
    with access_log.viewing(user, ticket, "page"):
        names = page_keys.detail_generations(user, ticket)
        can_reopen = lifecycle.can_reopen_now(user, ticket)
        key = fragments.page_key(
            "tickets.detail",
            ticket.id,
            user.id,
            user.role,
            can_reopen,
            # the SLA shows business time left, which moves with the clock alone
            utcnow().strftime("%Y%m%d%H%M") if ticket.vendor_case_id is not None else None,
            names,
            fragments.read_generations(*names),
        )
        # the title (number, subject) and the scripts (role) follow the body's key
        page = cached_page(
            key,
            "tickets/detail.html",
            lambda: _fresh_detail_body(ticket, can_reopen),
            ticket=ticket,
        )
    return page


def _fresh_detail_body(ticket: page_keys.TicketHead, can_reopen: bool) -> str:
    # the ticket was read (as its row) before the generations in the key: read it again,
    # as the model, so what is cached is never older than the key it is kept under.
    # Whether to offer "reopen" is the key's, though (from the first read): a page built
    # from the second read would otherwise keep offering it under a key that says the
    # window is shut
    return _detail_body(ticket, refresh=True, extra={"can_reopen": can_reopen})


def _detail_body(
    ticket: Ticket | page_keys.TicketHead,
    entry_form: EntryForm | None = None,
    errors=None,
    **forms: Any,
) -> str:
    return render_template(
        "tickets/_detail.html", **_detail_context(ticket, entry_form, errors, **forms)
    )


def _detail_page(ticket: Ticket, entry_form: EntryForm, errors=None) -> ResponseReturnValue:
    """The ticket page with a form's errors (never cached), answered 422."""
    return render_ticket_page(ticket, entry_form=entry_form, errors=errors, status=422)


def render_ticket_page(
    ticket: Ticket,
    *,
    entry_form: EntryForm | None = None,
    errors: list[str] | None = None,
    status: int = 200,
    **forms: Any,
) -> ResponseReturnValue:
    """The ticket page rendered again with a form's state: errors (422) or a filled-in
    reply box (canned replies, 200). Other domains' views use it too."""
    body = Markup(_detail_body(ticket, entry_form, errors, **forms))  # noqa: S704 — rendered
    return render_template("tickets/detail.html", ticket=ticket, body=body), status


@bp.post("/tickets/<number>/entries")
@login_required
def add_entry(number: str) -> ResponseReturnValue:
    ticket = policy.get_ticket(current_user, number)
    form = EntryForm()
    if not form.validate_on_submit():
        return _detail_page(ticket, form)
    if intake.screen_cpr(form, ("body",), request.form.get(intake.CHOICE_FIELD)):
        return _detail_page(ticket, form)
    internal = bool(form.internal.data)
    try:
        services.add_entry(
            current_user,
            ticket,
            form.body.data or "",
            internal=internal,
            uploads=_uploads(form.attachments),
        )
    except ValidationFailed as error:
        db.session.rollback()
        ticket = policy.get_ticket(current_user, number)
        return _detail_page(ticket, form, error.apply_to(form))
    db.session.commit()
    flash(_("Internal note added.") if internal else _("Reply sent."), "success")
    return redirect(url_for("tickets.detail", number=number) + "#timeline")


def _versioned_change(number: str, form_cls, apply) -> ResponseReturnValue:
    ticket = policy.get_ticket(current_user, number)
    form = form_cls()
    if hasattr(form, "status"):
        form.status.choices = [(s.value, s.value) for s in TicketStatus]
    if hasattr(form, "assignee"):
        form.assignee.choices = [("", "")] + [
            (str(u.id), u.name) for u in lookups.assignee_options(current_user)
        ]
    if not form.validate_on_submit():
        flash(_("Choose a valid value."), "error")
        return redirect(url_for("tickets.detail", number=number))
    try:
        message = apply(ticket, form)
    except ValidationFailed as error:
        db.session.rollback()
        for text in error.apply_to(form):
            flash(text, "error")
        for field in form:
            for text in field.errors:
                flash(text, "error")
        return redirect(url_for("tickets.detail", number=number))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("tickets.detail", number=number))


def _status_changed(ticket: Ticket, form: StatusForm) -> str:
    lifecycle.change_status(current_user, ticket, form.status.data, version=form.version.data)
    return _("Status changed to %(status)s.", status=STATUS_LABELS[ticket.status])


def _assigned(ticket: Ticket, form: AssignForm) -> str:
    assignee = lookups.get_assignee(current_user, form.assignee.data)
    lifecycle.assign(current_user, ticket, assignee, version=form.version.data)
    if assignee is None:
        return _("The ticket is no longer assigned.")
    return _("Assigned to %(name)s.", name=assignee.name)


def _priority_changed(ticket: Ticket, form: PriorityForm) -> str:
    lifecycle.set_priority(current_user, ticket, form.priority.data, version=form.version.data)
    return _("Priority changed to %(priority)s.", priority=PRIORITY_LABELS[ticket.priority])


def _reopened(ticket: Ticket, form: ReopenForm) -> str:
    lifecycle.change_status(current_user, ticket, TicketStatus.open, version=form.version.data)
    return _("The ticket is reopened.")


def _change_view(
    form_cls: type[FlaskForm], apply: Callable[[Ticket, Any], str]
) -> Callable[[str], ResponseReturnValue]:
    """The POST view of one small form on the ticket page (see _versioned_change)."""

    @login_required
    def view(number: str) -> ResponseReturnValue:
        return _versioned_change(number, form_cls, apply)

    return view


# The small forms on the ticket page, one POST view each: (address, endpoint, form, change).
_CHANGES = (
    ("/tickets/<number>/status", "change_status", StatusForm, _status_changed),
    ("/tickets/<number>/assign", "assign", AssignForm, _assigned),
    ("/tickets/<number>/priority", "priority", PriorityForm, _priority_changed),
    ("/tickets/<number>/reopen", "reopen", ReopenForm, _reopened),
)


def _register_changes() -> None:
    for rule, endpoint, form_cls, apply in _CHANGES:
        bp.add_url_rule(rule, endpoint, _change_view(form_cls, apply), methods=["POST"])


_register_changes()


@bp.get("/tickets/<number>/attachments/<int:attachment_id>")
@login_required
def attachment(number: str, attachment_id: int) -> ResponseReturnValue:
    """Only through policy; always a download, never rendered inline."""
    item = policy.get_attachment(current_user, number, attachment_id)
    path = attachments.attachment_path(item)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype=item.content_type, max_age=0, conditional=True)
    ascii_name = item.filename.encode("ascii", "ignore").decode() or "fil"
    ascii_name = "".join(c if c.isalnum() or c in "._- " else "_" for c in ascii_name)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(item.filename, safe='')}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response

"""Canned reply pages: the list with its form, and inserting one (or an FAQ article as a
link) into a ticket's reply box. Without JavaScript the "Indsæt" button sends the reply
form here and the ticket page comes back with the text added to the draft."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.cache import fragments
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.escalation import cases
from supportdesk.escalation.forms import MessageForm
from supportdesk.escalation.models import VendorCase
from supportdesk.escalation.views import render_case_page
from supportdesk.extensions import db
from supportdesk.faq.models import ARTICLES_GENERATION
from supportdesk.form_pages import form_page, save_form, saved_and_go
from supportdesk.navigation import NAV_PROVIDERS, NavItem
from supportdesk.replies import services
from supportdesk.replies.forms import CannedReplyForm
from supportdesk.replies.models import canned_replies_generation
from supportdesk.tickets.forms import EntryForm
from supportdesk.tickets.models import Ticket
from supportdesk.tickets.page_keys import DETAIL_GENERATION_PROVIDERS
from supportdesk.tickets.views import render_ticket_page

bp = Blueprint("replies", __name__)


def _nav(user: User) -> list[NavItem]:
    if not policy.can_use_canned_replies(user):
        return []
    return [NavItem(_("Canned replies"), url_for("replies.index"))]


NAV_PROVIDERS.append(_nav)


def _ticket_page_generations(user: User) -> tuple[str, ...]:
    """The reply tools on the ticket page show the user's canned replies and the FAQ
    articles a reporter can read."""
    if not policy.can_use_canned_replies(user):
        return ()
    return (canned_replies_generation(user.municipality_id), ARTICLES_GENERATION)


DETAIL_GENERATION_PROVIDERS.append(_ticket_page_generations)


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"reply_tools": reply_tools, "case_reply_tools": case_reply_tools}


def case_reply_tools(case: VendorCase) -> list[tuple[int, str, str]]:
    """A vendor agent's canned replies filled in for this case (none for others)."""
    if not policy.can_use_canned_replies(current_user) or not policy.is_case_vendor_side(
        current_user, case
    ):
        return []
    return [
        (r.id, r.title, services.fill_case(r.body, case))
        for r in services.replies_for(current_user)
    ]


def reply_tools(ticket: Ticket) -> dict[str, Any] | None:
    """What the reply box offers: the user's canned replies filled in for this ticket and
    the FAQ articles a reporter can read; None for who has no canned replies."""
    if not policy.can_use_canned_replies(current_user):
        return None
    return {
        "replies": [
            (reply_id, title, services.fill(body, ticket))
            for reply_id, title, body in _owned_replies(current_user)
        ],
        "article_options": article_options(current_user),
    }


def _owned_replies(user: User) -> tuple[tuple[int, str, str], ...]:
    """Id, title and body of the canned replies of the user's owner (municipality or
    vendor): read once per worker for all its staff's ticket pages until one of them
    changes. The ticket page reads their generation with the ticket; elsewhere (the case
    page) the generation would cost the statement it saves."""
    owner = policy.canned_reply_owner(user)
    return fragments.kept(
        ("replies.canned", owner["municipality_id"], owner["vendor_id"]),
        (canned_replies_generation(owner["municipality_id"], owner["vendor_id"]),),
        lambda: tuple((r.id, r.title, r.body) for r in services.replies_for(user)),
    )


_OPTION = Markup('<option value="{}" data-text="[{}](/faq/{})">{}</option>')


def article_options(user: User) -> Markup:
    """The `<option>`s of the FAQ articles the user may insert as a link (empty: none),
    rendered once for every ticket page of every user with the same article visibility
    (up to 300 options: about a tenth of a ticket page's first view) until an article
    changes; built from the articles read after the generation in its key."""
    return fragments.kept(
        ("replies.article_options", policy.article_visibility(user)),
        (ARTICLES_GENERATION,),
        lambda: Markup("").join(
            _OPTION.format(a.slug, a.title, a.slug, a.title)
            for a in services.insertable_articles(user)
        ),
    )


def _require() -> None:
    if not policy.can_use_canned_replies(current_user):
        raise NotFound()


@bp.route("/canned-replies", methods=["GET", "POST"])
@login_required
def index() -> ResponseReturnValue:
    _require()
    form = CannedReplyForm()
    saved, _errors = save_form(
        form,
        lambda: services.create_reply(current_user, form.title.data, form.body.data),
        lambda _reply: saved_and_go(_("The canned reply is saved."), url_for("replies.index")),
    )
    if saved is not None:
        return saved
    replies = services.replies_for(current_user)
    return form_page("replies/index.html", form=form, replies=replies)


@bp.post("/canned-replies/<int:reply_id>/delete")
@login_required
def delete(reply_id: int) -> ResponseReturnValue:
    _require()
    services.delete_reply(current_user, reply_id)
    db.session.commit()
    flash(_("The canned reply is deleted."), "success")
    return redirect(url_for("replies.index"))


@bp.post("/tickets/<number>/insert-reply")
@login_required
def insert(number: str) -> ResponseReturnValue:
    """The reply form came here through "Indsæt": the draft comes back with the canned
    reply (or the article link) added after it, nothing is sent."""
    _require()
    ticket = policy.get_ticket(current_user, number)
    form = EntryForm()
    draft = form.body.data or ""
    errors: list[str] = []
    try:
        if request.form.get("insert") == "article":
            addition = services.article_link(current_user, request.form.get("article", ""))
        else:
            reply = policy.get_canned_reply(current_user, request.form.get("canned", type=int) or 0)
            addition = services.fill(reply.body, ticket)
        form.body.data = services.insert(draft, addition)
    except (NotFound, ValidationFailed):
        errors.append(_("Choose a canned reply or an FAQ article to insert."))
    return render_ticket_page(ticket, entry_form=form, errors=errors, status=422 if errors else 200)


@bp.post("/cases/<number>/insert-reply")
@login_required
def insert_case(number: str) -> ResponseReturnValue:
    """The vendor's message form came here through "Indsæt": the case page comes back with
    the canned reply after the draft, nothing is sent."""
    _require()
    case = cases.case_for_page(current_user, number)
    if not policy.is_case_vendor_side(current_user, case):
        raise NotFound()
    form = MessageForm()
    try:
        reply = policy.get_canned_reply(current_user, request.form.get("canned", type=int) or 0)
    except NotFound:
        return render_case_page(
            case,
            status=422,
            message_form=form,
            errors=[_("Choose a canned reply or an FAQ article to insert.")],
        )
    form.body.data = services.insert(form.body.data or "", services.fill_case(reply.body, case))
    return render_case_page(case, message_form=form)

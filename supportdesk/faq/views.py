"""FAQ pages: browse, read, search, feedback, deflection, editing and the gap report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from supportdesk import policy
from supportdesk.accounts.models import Municipality, System
from supportdesk.cache import fragments, generations
from supportdesk.errors import ValidationFailed
from supportdesk.extensions import db
from supportdesk.faq import search_log, services
from supportdesk.faq.forms import (
    ACTION_LABELS,
    AUDIENCE_LABELS,
    STATE_LABELS,
    ArticleForm,
    FeedbackForm,
    SolvedForm,
    StateForm,
)
from supportdesk.faq.models import Article, ArticleState, ArticleVersion, Audience, Visibility
from supportdesk.markup import render_markdown
from supportdesk.navigation import NAV_PROVIDERS, NavItem, cached_page
from supportdesk.pg_connections import reads_without_transaction
from supportdesk.safe_input import database_id
from supportdesk.search import SearchResults, SearchUnavailable, get_backend
from supportdesk.search import init_app as init_search
from supportdesk.search.tasks import sync_now

bp = Blueprint("faq", __name__, url_prefix="/faq")
MAX_QUERY = 200


@dataclass(frozen=True)
class SearchAsked:
    """The words and filters of a search (`?q=&system=&category=`); empty filters are None."""

    q: str = ""
    system: str | None = None
    category: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> SearchAsked:
        return cls(args.get("q", ""), args.get("system") or None, args.get("category") or None)


@bp.record_once
def _init(state) -> None:
    init_search(state.app)
    search_log.init_app(state.app)
    if _nav not in NAV_PROVIDERS:
        NAV_PROVIDERS.append(_nav)


def _nav(user):
    items = [NavItem(_("FAQ"), url_for("faq.index"))]
    if policy.can_edit_faq(user):
        items.append(NavItem(_("Edit FAQ"), url_for("faq.manage")))
    return items


@bp.app_context_processor
def _labels():
    return {
        "audience_labels": AUDIENCE_LABELS,
        "state_labels": STATE_LABELS,
        "action_label": lambda action: ACTION_LABELS.get(action, action),
    }


def run_search(
    asked: SearchAsked, limit: int, source: str, visibility: Visibility
) -> tuple[SearchResults, int | None]:
    """Search as the caller whose articles `visibility` names (`policy.article_visibility`)
    and log the query without personal data."""
    text = asked.q.strip()[:MAX_QUERY]
    results = get_backend().search(
        text,
        visibility,
        system=asked.system,
        category=asked.category,
        limit=limit,
    )
    return results, services.log_search(text, results.total, asked.system, source)


@bp.get("")
def index() -> ResponseReturnValue:
    """Browse by system and category; counts only what the caller may read."""
    visible = policy.articles_visible_to(current_user).subquery()
    counts = dict(
        db.session.execute(
            select(visible.c.category_id, func.count()).group_by(visible.c.category_id)
        ).all()
    )
    catalogue = services.system_catalogue()
    browsed = SearchAsked.from_args(request.args)  # the words are ignored: no search here
    system_slug, category_slug = browsed.system, browsed.category
    articles = []
    chosen = None
    if system_slug:
        chosen = next((s for s in catalogue.systems if s.slug == system_slug), None)
        if chosen is None:
            abort(404)
        query = policy.articles_visible_to(current_user).where(Article.system_id == chosen.id)
        if category_slug:
            category = next((c for c in chosen.categories if c.slug == category_slug), None)
            if category is None:
                abort(404)
            query = query.where(Article.category_id == category.id)
        articles = db.session.scalars(
            query.options(selectinload(Article.category)).order_by(Article.title)
        ).all()
    return render_template(
        "faq/index.html",
        asked=SearchAsked(),
        catalogue=catalogue,
        counts=counts,
        chosen=chosen,
        category_slug=category_slug,
        articles=articles,
    )


# Stands for the request's search log id in a cached results fragment: each request
# logs its own search, so `?s=` differs on every page while the rest does not.
_LOG_HOLE = "\x00search-log\x00"
_LOG_HOLE_IN_URL = "s=%00search-log%00"


# the search form and results show system and category names, which every tenant shares
SEARCH_GENERATIONS = (generations.REFERENCE,)


@bp.get("/search")
@reads_without_transaction
def search() -> ResponseReturnValue:
    """Search results, with the search form and its system and category choices.

    The backend answers repeated searches from its own per-index-generation store;
    the rendered form and results are a cached fragment keyed by that answer, the
    caller's audience, the locale, the query string and the generation of names.
    Only the search log row, and so the `?s=` of each result link, is per request.
    """
    asked = SearchAsked.from_args(request.args)
    visibility = policy.article_visibility(current_user._get_current_object())
    results = None
    log_id = None
    unavailable = False
    if asked.q.strip():
        try:
            results, log_id = run_search(asked, 20, "page", visibility)
        except SearchUnavailable:
            unavailable = True
    if results is None:
        body = _search_body(asked, None, None, unavailable)
        return render_template("faq/search.html", body=body), 503 if unavailable else 200
    key = fragments.page_key(
        "faq.search",
        visibility.key,
        fragments.read_generations(*SEARCH_GENERATIONS),
        log_id is None,
        _answer_key(results),
    )
    return cached_page(
        key,
        "faq/search.html",
        lambda: _search_body(asked, results, None if log_id is None else _LOG_HOLE, False),
        fills=None if log_id is None else {_LOG_HOLE_IN_URL: f"s={int(log_id)}"},
    )


def _answer_key(results: SearchResults) -> tuple:
    """Everything of a search answer the results fragment shows."""
    return (
        results.total,
        results.suggestion,
        tuple((h.slug, h.title, h.system, h.category, h.snippet) for h in results.hits),
        tuple((name, tuple(counts.items())) for name, counts in results.facets.items()),
    )


def _search_body(
    asked: SearchAsked, results: SearchResults | None, log_id: int | str | None, unavailable: bool
) -> Markup:
    body = render_template(
        "faq/_search_body.html",
        asked=asked,
        catalogue=services.system_catalogue(),
        results=results,
        log_id=log_id,
        unavailable=unavailable,
    )
    # autoescaped template output: the page must not escape it a second time
    return Markup(body)  # noqa: S704


@bp.get("/<slug>")
def article(slug: str) -> ResponseReturnValue:
    item = policy.get_article(current_user, slug)
    log_id = request.args.get("s", type=database_id)
    if log_id:
        services.mark_clicked(log_id)
    related = [
        a
        for a in db.session.scalars(
            policy.articles_visible_to(current_user).where(
                Article.id.in_([r.id for r in item.related])
            )
        )
    ]
    return render_template(
        "faq/article.html",
        article=item,
        related=related,
        feedback_form=FeedbackForm(),
        solved_form=SolvedForm(next=request.args.get("next", "")),
        can_edit=policy.can_edit_article(current_user, item),
    )


def _readable_published(slug: str) -> Article:
    item = policy.get_article(current_user, slug)
    if item.state != ArticleState.published:
        abort(404)
    return item


@bp.post("/<slug>/feedback")
def feedback(slug: str) -> ResponseReturnValue:
    item = _readable_published(slug)
    form = FeedbackForm()
    if not form.validate_on_submit():
        related = []
        return (
            render_template(
                "faq/article.html",
                article=item,
                related=related,
                feedback_form=form,
                solved_form=SolvedForm(),
                can_edit=policy.can_edit_article(current_user, item),
            ),
            422,
        )
    services.record_feedback(item, form.helpful.data == "yes", form.comment.data or "")
    db.session.commit()
    flash(_("Thank you for your feedback."), "success")
    return redirect(url_for("faq.article", slug=slug) + "#feedback")


@bp.post("/<slug>/solved")
@login_required
def solved(slug: str) -> ResponseReturnValue:
    """ "Det løste mit problem": counts a deflection and creates no ticket."""
    item = _readable_published(slug)
    form = SolvedForm()
    if not form.validate_on_submit():
        abort(400)
    services.record_deflection(current_user, item)
    db.session.commit()
    back = form.next.data or ""
    back = back if back.startswith("/") and not back.startswith("//") else None
    # a page of its own, not a flash: the suggestion panel's script used to follow the
    # redirect with fetch, which used up the flash before the browser showed anything
    return redirect(url_for("faq.solved_done", slug=slug, next=back))


@bp.get("/<slug>/solved")
@login_required
def solved_done(slug: str) -> ResponseReturnValue:
    """The confirmation: no ticket was created, how many this article has helped, and the
    way back to the form (whose draft the browser kept)."""
    item = _readable_published(slug)
    back = request.args.get("next") or ""
    back = back if back.startswith("/") and not back.startswith("//") else None
    return render_template(
        "faq/solved.html", article=item, back=back, count=services.deflection_count(item)
    )


# --- editing ------------------------------------------------------------------------------


def _require_editor() -> None:
    if not policy.can_edit_faq(current_user):
        abort(404)


def _editable_systems() -> list[System]:
    return list(db.session.scalars(policy.article_placement(current_user).systems))


def _prepare(form: ArticleForm, systems: list[System]) -> None:
    placement = policy.article_placement(current_user)
    form.placement.choices = [
        (f"{s.slug}:{c.slug}", f"{s.name} - {c.name}") for s in systems for c in s.categories
    ]
    municipalities = db.session.scalars(placement.municipalities).all()
    form.municipality.choices = [("", "—")] + [(m.slug, m.name) for m in municipalities]
    form.audience.choices = [
        (a.value, label) for a, label in AUDIENCE_LABELS.items() if a.value in placement.audiences
    ]


def _data_from(form: ArticleForm, systems: list[System]) -> services.ArticleData:
    system_slug, _sep, category_slug = (form.placement.data or "").partition(":")
    system = next((s for s in systems if s.slug == system_slug), None)
    if system is None:
        raise ValidationFailed(fields={"placement": _("Choose a system and category.")})
    audience = Audience(form.audience.data)
    municipality_id = None
    if audience == Audience.municipal:
        placement = policy.article_placement(current_user)
        municipality_id = placement.own_municipality_id
        if municipality_id is None and form.municipality.data:
            municipality_id = db.session.scalar(
                placement.municipalities.where(
                    Municipality.slug == form.municipality.data
                ).with_only_columns(Municipality.id)
            )
    return services.ArticleData(
        title=form.title.data or "",
        body=form.body.data or "",
        system=system,
        category_slug=category_slug,
        audience=audience,
        tags=[t for t in (form.tags.data or "").split(",")],
        municipality_id=municipality_id,
    )


def _related_slugs(form: ArticleForm) -> list[str]:
    return [s.strip() for s in (form.related.data or "").split(",") if s.strip()]


@bp.get("/manage")
@login_required
def manage() -> ResponseReturnValue:
    _require_editor()
    state = request.args.get("state") or None
    query = policy.articles_editable_by(current_user).options(
        selectinload(Article.system), selectinload(Article.category)
    )
    if state in STATE_LABELS:
        query = query.where(Article.state == ArticleState(state))
    articles = db.session.scalars(query.order_by(Article.changed_at.desc()).limit(500)).all()
    return render_template("faq/manage.html", articles=articles, state=state)


def _render_editor(form, article, preview, status=200):
    return (
        render_template("faq/edit.html", form=form, article=article, preview=preview),
        status,
    )


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    _require_editor()
    systems = _editable_systems()
    form = ArticleForm()
    _prepare(form, systems)
    if request.method == "GET":
        return _render_editor(form, None, None)
    if not form.validate_on_submit() or not form.slug.data:
        if not form.slug.data:
            form.slug.errors = [*form.slug.errors, _("Enter an address (slug).")]
        return _render_editor(form, None, None, 422)
    if "preview" in request.form:
        return _render_editor(form, None, render_markdown(form.body.data))
    item = _save(form, systems, None)
    if item is None:
        return _render_editor(form, None, None, 422)
    flash(_("The article was saved as a draft."), "success")
    return redirect(url_for("faq.article", slug=item.slug))


def _save(form: ArticleForm, systems: list[System], item: Article | None) -> Article | None:
    """Create (`item` None) or update the article and its related ones, and commit; None,
    rolled back and with the errors on the form, when the services refuse it."""
    try:
        data = _data_from(form, systems)
        if item is None:
            item = services.create_article(current_user, form.slug.data, data)
        else:
            services.update_article(current_user, item, data)
        services.set_related(item, _related_slugs(form))
    except ValidationFailed as error:
        db.session.rollback()
        for name, message in error.fields.items():
            target = getattr(form, name, None) or form.placement
            target.errors = [*target.errors, message]
        return None
    db.session.commit()
    return item


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@login_required
def edit(slug: str) -> ResponseReturnValue:
    item = policy.get_editable_article(current_user, slug)
    systems = _editable_systems()
    if request.method == "GET":
        form = ArticleForm(
            data={
                "title": item.title,
                "slug": item.slug,
                "placement": f"{item.system.slug}:{item.category.slug}",
                "audience": item.audience.value,
                "municipality": item.municipality.slug if item.municipality else "",
                "tags": ", ".join(item.tags or []),
                "related": ", ".join(sorted(a.slug for a in item.related)),
                "body": item.body,
            }
        )
        _prepare(form, systems)
        return _render_editor(form, item, None)
    form = ArticleForm()
    _prepare(form, systems)
    if not form.validate_on_submit():
        return _render_editor(form, item, None, 422)
    if "preview" in request.form:
        return _render_editor(form, item, render_markdown(form.body.data))
    if _save(form, systems, item) is None:
        return _render_editor(form, item, None, 422)
    sync_now(item.slug)
    flash(_("The article was saved."), "success")
    return redirect(url_for("faq.article", slug=item.slug))


@bp.post("/<slug>/state")
@login_required
def change_state(slug: str) -> ResponseReturnValue:
    item = policy.get_editable_article(current_user, slug)
    form = StateForm()
    if not form.validate_on_submit() or form.target.data not in STATE_LABELS:
        abort(400)
    services.change_state(current_user, item, ArticleState(form.target.data))
    db.session.commit()
    sync_now(item.slug)
    flash(_("The article is now: %(state)s.", state=STATE_LABELS[form.target.data]), "success")
    return redirect(url_for("faq.article", slug=slug))


@bp.get("/<slug>/history")
@login_required
def history(slug: str) -> ResponseReturnValue:
    item = policy.get_editable_article(current_user, slug)
    versions = db.session.scalars(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == item.id)
        .options(selectinload(ArticleVersion.author))
        .order_by(ArticleVersion.number.desc())
    ).all()
    return render_template("faq/history.html", article=item, versions=versions)


@bp.get("/<slug>/diff")
@login_required
def diff(slug: str) -> ResponseReturnValue:
    item = policy.get_editable_article(current_user, slug)
    newest = item.versions[-1].number
    to_number = request.args.get("to", type=database_id) or newest
    from_number = request.args.get("from", type=database_id) or max(to_number - 1, 1)
    older = services.get_version(item, from_number)
    newer = services.get_version(item, to_number)
    lines = services.diff_versions(older, newer)
    return render_template("faq/diff.html", article=item, older=older, newer=newer, lines=lines)


@bp.get("/report")
@login_required
def report() -> ResponseReturnValue:
    if not policy.can_view_faq_report(current_user):
        abort(404)
    days = request.args.get("days", default=90, type=database_id)
    days = min(max(days or 90, 1), 730)
    return render_template("faq/report.html", report=services.gap_report(current_user, days))

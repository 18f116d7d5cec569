"""FAQ rules: editing with versions, the state machine, feedback, deflection, gap report.

Services change and flush; the caller commits once. A changed article is announced
with `events.article_changed`; the search domain queues its index update through the
outbox in the same transaction (faq ← search: nothing here knows search).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from supportdesk import events, policy
from supportdesk.accounts.models import Category, Role, System, User
from supportdesk.errors import InvalidTransition, NotFound, ValidationFailed
from supportdesk.events import article_changed
from supportdesk.extensions import db, utcnow
from supportdesk.faq import search_log
from supportdesk.faq.models import (
    TRANSITIONS,
    Article,
    ArticleFeedback,
    ArticleState,
    ArticleVersion,
    Audience,
    Deflection,
    SearchLog,
    TicketShownArticle,
)
from supportdesk.safe_input import column_length

log = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,118}$")
MAX_TAGS = 20
MAX_COMMENT = 1000
_LONG_NUMBER = re.compile(r"\d[\d -]{4,}\d")


@dataclass
class ArticleData:
    """The editable fields of an article, already shape-checked by a form or a file."""

    title: str
    body: str
    system: System
    category_slug: str
    audience: Audience
    tags: list[str] = field(default_factory=list)
    municipality_id: int | None = None
    updated: date | None = None
    related: list[str] | None = None


def eager(query):
    return query.options(
        selectinload(Article.system).selectinload(System.vendor),
        selectinload(Article.category),
        selectinload(Article.municipality),
    )


@dataclass(frozen=True)
class SystemCatalogue:
    """Every system with its categories: the FAQ's choices, and the names its results show."""

    systems: list[System]
    system_names: dict[str, str]  # slug → name
    category_names: dict[str, str]  # slug → name


def system_catalogue() -> SystemCatalogue:
    """One query for the FAQ front page and the search form with its results."""
    systems = list(
        db.session.scalars(
            select(System).options(selectinload(System.categories)).order_by(System.name)
        )
    )
    return SystemCatalogue(
        systems,
        {s.slug: s.name for s in systems},
        {c.slug: c.name for s in systems for c in s.categories},
    )


def published_articles(with_related: bool = False) -> list[Article]:
    """Every published article, loaded for indexing or export."""
    query = eager(select(Article).where(Article.state == ArticleState.published))
    if with_related:
        query = query.options(selectinload(Article.related))
    return list(db.session.scalars(query.order_by(Article.slug)))


def clean_tags(tags: list[str]) -> list[str]:
    seen: list[str] = []
    for tag in tags:
        tag = " ".join(str(tag).split()).lower()
        if tag and tag not in seen:
            seen.append(tag[:60])
    return seen[:MAX_TAGS]


def _category(system: System, slug: str) -> Category | None:
    return next((c for c in system.categories if c.slug == slug), None)


def _check(data: ArticleData) -> Category:
    errors: dict[str, str] = {}
    if not data.title.strip():
        errors["title"] = str(_l("Enter a title."))
    category = _category(data.system, data.category_slug)
    if category is None:
        errors["category"] = str(_l("Choose a category of the chosen system."))
    if data.audience == Audience.municipal and data.municipality_id is None:
        errors["municipality"] = str(_l("A local guide needs its municipality."))
    if errors:
        raise ValidationFailed(fields=errors)
    return category


def _snapshot(article: Article, actor: User | None, action: str) -> ArticleVersion:
    number = (article.versions[-1].number if article.versions else 0) + 1
    version = ArticleVersion(
        number=number,
        title=article.title,
        body=article.body,
        tags=list(article.tags or []),
        category_slug=article.category.slug,
        audience=article.audience,
        state=article.state,
        action=action,
        author_id=actor.id if actor is not None else None,
        created_at=utcnow(),
    )
    article.versions.append(version)
    return version


def _apply(article: Article, data: ArticleData, category: Category) -> None:
    article.title = data.title.strip()
    article.body = data.body.strip()
    article.system = data.system
    article.category = category
    article.tags = clean_tags(data.tags)
    article.audience = data.audience
    article.municipality_id = data.municipality_id if data.audience == Audience.municipal else None
    article.updated = data.updated or utcnow().date()
    article.changed_at = utcnow()


def _authorise_content(actor: User, data: ArticleData) -> None:
    """Vendor editors write their systems' articles; municipal admins local guides only."""
    if actor.role == Role.admin:
        return
    if actor.role == Role.vendor_editor:
        if data.system.vendor_id != actor.vendor_id:
            raise ValidationFailed(fields={"system": str(_l("Choose one of your own systems."))})
        if data.audience == Audience.municipal:
            raise ValidationFailed(
                fields={"audience": str(_l("Local guides are written by the municipality."))}
            )
        return
    if actor.role == Role.municipal_admin:
        if data.audience != Audience.municipal or data.municipality_id != actor.municipality_id:
            raise ValidationFailed(
                fields={"audience": str(_l("You can only write your municipality's local guides."))}
            )
        return
    raise NotFound()


def _enqueue(article: Article) -> None:
    db.session.flush()
    article_changed.send(article)


def create_article(actor: User, slug: str, data: ArticleData) -> Article:
    _authorise_content(actor, data)
    if not SLUG_RE.match(slug or ""):
        raise ValidationFailed(
            fields={"slug": str(_l("Use lower-case letters, digits and hyphens."))}
        )
    if db.session.scalar(select(Article.id).where(Article.slug == slug)) is not None:
        raise ValidationFailed(fields={"slug": str(_l("An article with this slug exists."))})
    category = _check(data)
    article = Article(slug=slug, state=ArticleState.draft)
    _apply(article, data, category)
    db.session.add(article)
    _snapshot(article, actor, "create")
    db.session.flush()
    return article


def update_article(actor: User, article: Article, data: ArticleData) -> Article:
    """Saves a new version; a published article stays published with the new text."""
    policy.require(policy.can_edit_article(actor, article))
    _authorise_content(actor, data)
    category = _check(data)
    _apply(article, data, category)
    _snapshot(article, actor, "edit")
    if article.state == ArticleState.published:
        _enqueue(article)
    return article


def change_state(actor: User, article: Article, target: ArticleState) -> Article:
    policy.require(policy.can_publish_article(actor, article))
    if target not in TRANSITIONS[article.state]:
        raise InvalidTransition()
    was_published = article.state == ArticleState.published
    article.state = target
    article.changed_at = utcnow()
    if target == ArticleState.published:
        article.published_at = utcnow()
    _snapshot(article, actor, target.value)
    if was_published or target == ArticleState.published:
        _enqueue(article)
    return article


def set_related(article: Article, slugs: list[str]) -> list[str]:
    """Link related articles by slug; returns the slugs that do not exist."""
    wanted = [s for s in dict.fromkeys(slugs) if s != article.slug]
    found = (
        list(db.session.scalars(select(Article).where(Article.slug.in_(wanted)))) if wanted else []
    )
    article.related = sorted(found, key=lambda a: a.title)
    known = {a.slug for a in found}
    return [s for s in wanted if s not in known]


def diff_versions(older: ArticleVersion, newer: ArticleVersion) -> list[tuple[str, str]]:
    """Line diff of title, tags and body as (kind, text): kind is ' ', '+', '-'."""
    import difflib

    def lines(v: ArticleVersion) -> list[str]:
        return [
            f"# {v.title}",
            f"tags: {', '.join(v.tags or [])}",
            f"category: {v.category_slug} · audience: {v.audience.value}",
            "",
            *v.body.splitlines(),
        ]

    out: list[tuple[str, str]] = []
    for line in difflib.ndiff(lines(older), lines(newer)):
        if line.startswith("? "):
            continue
        out.append((line[0], line[2:]))
    return out


def get_version(article: Article, number: int) -> ArticleVersion:
    version = next((v for v in article.versions if v.number == number), None)
    if version is None:
        raise NotFound()
    return version


# --- feedback, deflection, search log ----------------------------------------------


def record_feedback(article: Article, helpful: bool, comment: str = "") -> ArticleFeedback:
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise ValidationFailed(
            fields={"comment": str(_l("Keep the comment under 1000 characters."))}
        )
    feedback = ArticleFeedback(article=article, helpful=helpful, comment=mask_numbers(comment))
    db.session.add(feedback)
    db.session.flush()
    return feedback


def record_deflection(actor: User, article: Article) -> Deflection:
    """ "Det løste mit problem": counted per article, system and municipality, no person."""
    deflection = Deflection(
        article=article,
        system_id=article.system_id,
        municipality_id=actor.municipality_id if actor.is_authenticated else None,
    )
    db.session.add(deflection)
    db.session.flush()
    return deflection


def deflection_count(article: Article) -> int:
    """How many times the article solved the problem before a ticket was written."""
    return (
        db.session.scalar(
            select(func.count(Deflection.id)).where(Deflection.article_id == article.id)
        )
        or 0
    )


def mask_numbers(text: str) -> str:
    """Long digit runs (CPR, phone numbers) never reach the logs."""
    return _LONG_NUMBER.sub("###", text)


def normalise_query(text: str) -> str:
    return mask_numbers(" ".join((text or "").lower().split()))[:200]


def log_search(query: str, result_count: int, system: str | None, source: str) -> int | None:
    """Log one search without personal data and return its row's id, which the result
    links carry (None when there is nothing to log, or no id could be had). The row is
    written behind, with the worker's other searches (`search_log`)."""
    normalised = normalise_query(query)
    if not normalised:
        return None
    values = {
        "query": normalised,
        "result_count": result_count,
        # the caller's text: longer than the column, it would fail the worker's whole batch
        "system_slug": (system or "")[: column_length(SearchLog.system_slug)] or None,
        "source": source,
        "clicked": False,
        "created_at": utcnow(),
    }
    try:
        return search_log.add(values)
    except Exception as error:  # the log is a nicety: it never fails the search
        log.warning("faq: search log not written: %s", error)
        return None


def mark_clicked(log_id: int) -> None:
    """The search led to an article; an unknown id changes nothing."""
    try:
        search_log.click(log_id)
    except Exception as error:  # nor the article
        log.warning("faq: click not logged: %s", error)


@events.ticket_created.connect
def _remember_on_ticket_created(ticket, *, actor: User, shown_articles: list[str], **_) -> None:
    """A new ticket remembers which FAQ articles were suggested while it was written."""
    remember_shown_articles(ticket.id, shown_articles, actor)


def remember_shown_articles(ticket_id: int, slugs: list[str], actor: User) -> int:
    """Store which visible articles were suggested while the ticket was written."""
    slugs = [s for s in dict.fromkeys(slugs) if SLUG_RE.match(s)][:20]
    if not slugs:
        return 0
    articles = db.session.scalars(
        policy.articles_visible_to(actor).where(Article.slug.in_(slugs))
    ).all()
    existing = set(
        db.session.scalars(
            select(TicketShownArticle.article_id).where(TicketShownArticle.ticket_id == ticket_id)
        )
    )
    added = 0
    for article in articles:
        if article.id not in existing:
            db.session.add(TicketShownArticle(ticket_id=ticket_id, article_id=article.id))
            added += 1
    db.session.flush()
    return added


# --- the editor report --------------------------------------------------------------


@dataclass
class GapReport:
    days: int
    most_searched: list[tuple[str, int, int]]  # query, searches, clicks
    zero_results: list[tuple[str, int]]
    low_click: list[tuple[str, int, int]]
    least_helpful: list[tuple[Article, int, int]]  # article, yes, no
    deflections: list[tuple[str, int]]  # system name, count


def gap_report(actor: User, days: int = 90) -> GapReport:
    """Content gaps: search demand, empty searches, unhelpful articles, deflections."""
    since = utcnow() - timedelta(days=days)
    recent = SearchLog.created_at >= since
    clicks = func.sum(case((SearchLog.clicked.is_(True), 1), else_=0))
    most = db.session.execute(
        select(SearchLog.query, func.count(SearchLog.id), clicks)
        .where(recent)
        .group_by(SearchLog.query)
        .order_by(func.count(SearchLog.id).desc(), SearchLog.query)
        .limit(20)
    ).all()
    zero = db.session.execute(
        select(SearchLog.query, func.count(SearchLog.id))
        .where(recent, SearchLog.result_count == 0)
        .group_by(SearchLog.query)
        .order_by(func.count(SearchLog.id).desc(), SearchLog.query)
        .limit(20)
    ).all()
    low = db.session.execute(
        select(SearchLog.query, func.count(SearchLog.id), clicks)
        .where(recent, SearchLog.result_count > 0)
        .group_by(SearchLog.query)
        .having(clicks * 4 < func.count(SearchLog.id))
        .order_by(func.count(SearchLog.id).desc(), SearchLog.query)
        .limit(20)
    ).all()
    editable = policy.articles_editable_by(actor).with_only_columns(Article.id)
    yes = func.sum(case((ArticleFeedback.helpful.is_(True), 1), else_=0))
    no = func.sum(case((ArticleFeedback.helpful.is_(False), 1), else_=0))
    rows = db.session.execute(
        select(ArticleFeedback.article_id, yes, no)
        .where(ArticleFeedback.article_id.in_(editable))
        .group_by(ArticleFeedback.article_id)
        .having(no > 0)
        .order_by((no - yes).desc())
        .limit(20)
    ).all()
    articles = {
        a.id: a
        for a in db.session.scalars(select(Article).where(Article.id.in_([r[0] for r in rows])))
    }
    deflections = db.session.execute(
        select(System.name, func.count(Deflection.id))
        .join(System, System.id == Deflection.system_id)
        .where(Deflection.created_at >= since, Deflection.article_id.in_(editable))
        .group_by(System.name)
        .order_by(func.count(Deflection.id).desc(), System.name)
    ).all()
    return GapReport(
        days=days,
        most_searched=[(q, n, int(c or 0)) for q, n, c in most],
        zero_results=[(q, n) for q, n in zero],
        low_click=[(q, n, int(c or 0)) for q, n, c in low],
        least_helpful=[(articles[a], int(y or 0), int(n or 0)) for a, y, n in rows],
        deflections=[(name, n) for name, n in deflections],
    )

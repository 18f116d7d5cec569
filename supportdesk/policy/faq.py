"""FAQ articles: who reads, edits and publishes which article."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import selectinload

from supportdesk.accounts.models import Municipality, Role, System, User
from supportdesk.errors import NotFound
from supportdesk.extensions import db
from supportdesk.faq.models import Article, ArticleState, Audience, Visibility
from supportdesk.policy.organisations import (
    is_admin,
    is_municipal,
    is_vendor_staff,
    municipalities_visible_to,
)


def article_visibility(user: User):
    """Which published articles the user may read; the search filter is built from this."""

    if not user.is_authenticated:
        return Visibility()
    if is_admin(user):
        return Visibility(everything=True)
    if is_municipal(user):
        return Visibility(first_level=True, municipality_id=user.municipality_id)
    if is_vendor_staff(user):
        return Visibility(first_level=True, vendor_id=user.vendor_id)
    return Visibility()


def articles_visible_to(user: User):
    """Published articles the user may read (the SQL twin of the search filter)."""

    scope = article_visibility(user)
    query = select(Article).where(Article.state == ArticleState.published)
    if scope.everything:
        return query
    allowed = [Article.audience == Audience.public]
    if scope.first_level:
        allowed.append(Article.audience == Audience.first_level)
    if scope.municipality_id is not None:
        allowed.append(
            (Article.audience == Audience.municipal)
            & (Article.municipality_id == scope.municipality_id)
        )
    if scope.vendor_id is not None:
        vendor_systems = select(System.id).where(System.vendor_id == scope.vendor_id)
        allowed.append(
            (Article.audience == Audience.vendor_internal) & Article.system_id.in_(vendor_systems)
        )
    return query.where(or_(*allowed))


def articles_editable_by(user: User):
    """Articles in any state the user may edit: vendor editors their systems' articles
    (not municipal guides), municipal admins their municipality's local guides."""

    query = select(Article)
    if is_admin(user):
        return query
    if user.is_authenticated and user.role == Role.vendor_editor and user.vendor_id:
        vendor_systems = select(System.id).where(System.vendor_id == user.vendor_id)
        return query.where(
            Article.system_id.in_(vendor_systems), Article.audience != Audience.municipal
        )
    if user.is_authenticated and user.role == Role.municipal_admin:
        return query.where(
            Article.audience == Audience.municipal,
            Article.municipality_id == user.municipality_id,
        )
    return query.where(false())


def can_edit_faq(user: User) -> bool:
    """May open the editor pages at all."""
    return user.is_authenticated and user.role in (
        Role.vendor_editor,
        Role.municipal_admin,
        Role.admin,
    )


@dataclass(frozen=True)
class ArticlePlacement:
    """Where an FAQ editor may file an article."""

    systems: Select[tuple[System]]  # with their categories, by name
    audiences: tuple[str, ...]  # Audience values the editor may choose
    municipalities: Select[tuple[Municipality]]  # choices for a municipal article
    own_municipality_id: int | None  # a municipal article always belongs here


def article_placement(user: User) -> ArticlePlacement:
    """Vendor editors write for their vendor's systems, never municipal articles; a
    municipal admin writes municipal articles for the own municipality only."""

    systems = select(System).options(selectinload(System.categories)).order_by(System.name)
    nowhere = select(Municipality).where(false())
    if user.is_authenticated and user.role == Role.vendor_editor:
        return ArticlePlacement(
            systems=systems.where(System.vendor_id == user.vendor_id),
            audiences=tuple(a.value for a in Audience if a != Audience.municipal),
            municipalities=nowhere,
            own_municipality_id=None,
        )
    if user.is_authenticated and user.role == Role.municipal_admin:
        return ArticlePlacement(
            systems=systems,
            audiences=(Audience.municipal.value,),
            municipalities=municipalities_visible_to(user),
            own_municipality_id=user.municipality_id,
        )
    if is_admin(user):
        return ArticlePlacement(
            systems=systems,
            audiences=tuple(a.value for a in Audience),
            municipalities=municipalities_visible_to(user),
            own_municipality_id=None,
        )
    return ArticlePlacement(systems.where(false()), (), nowhere, None)


def can_edit_article(user: User, article) -> bool:

    if is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    if user.role == Role.vendor_editor:
        return article.audience != Audience.municipal and article.system.vendor_id == user.vendor_id
    if user.role == Role.municipal_admin:
        return (
            article.audience == Audience.municipal
            and article.municipality_id == user.municipality_id
        )
    return False


def can_publish_article(user: User, article) -> bool:
    """Editors review and publish their own domain's articles."""
    return can_edit_article(user, article)


def get_article(user: User, slug: str):
    """A published article the user may read, or one they may edit in any state."""

    article = db.session.scalar(articles_visible_to(user).where(Article.slug == slug))
    if article is None and can_edit_faq(user):
        article = db.session.scalar(articles_editable_by(user).where(Article.slug == slug))
    if article is None:
        raise NotFound()
    return article


def get_editable_article(user: User, slug: str):

    article = db.session.scalar(articles_editable_by(user).where(Article.slug == slug))
    if article is None:
        raise NotFound()
    return article


def can_view_faq_report(user: User) -> bool:
    return user.is_authenticated and user.role in (Role.vendor_editor, Role.admin)

"""Canned replies: list, write and remove a municipality's or vendor's replies, and fill
one in for a ticket (its placeholders) or put an FAQ article in as a link.

Services take the acting user, check policy, change and flush; the caller commits.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import Row

from supportdesk import policy
from supportdesk.accounts.models import User
from supportdesk.errors import Forbidden, ValidationFailed
from supportdesk.escalation.models import VendorCase
from supportdesk.extensions import db, utcnow
from supportdesk.faq.models import Article, Audience
from supportdesk.replies.models import CannedReply
from supportdesk.tickets.models import Ticket

TITLE_MAX = 120
BODY_MAX = 5000
# what a body may hold and what fills it in; plain replacement, never str.format
PLACEHOLDERS = ("{reporter}", "{ticket}", "{institution}")
ARTICLE_CHOICES = 300


def replies_for(user: User) -> list[CannedReply]:
    return list(db.session.scalars(policy.canned_replies_visible_to(user)))


def create_reply(actor: User, title: object, body: object) -> CannedReply:
    if not policy.can_use_canned_replies(actor):
        raise Forbidden()
    errors: dict[str, str] = {}
    title = title.strip() if isinstance(title, str) else None
    body = body.strip() if isinstance(body, str) else None
    if not title:
        errors["title"] = str(_l("Write a title."))
    elif len(title) > TITLE_MAX:
        errors["title"] = str(_l("The title may be at most 120 characters."))
    if not body:
        errors["body"] = str(_l("Write the reply."))
    elif len(body) > BODY_MAX:
        errors["body"] = str(_l("The reply may be at most 5000 characters."))
    if errors:
        raise ValidationFailed(fields=errors)
    reply = CannedReply(
        title=title,
        body=body,
        created_by_id=actor.id,
        created_at=utcnow(),
        **policy.canned_reply_owner(actor),
    )
    db.session.add(reply)
    db.session.flush()
    return reply


def delete_reply(actor: User, reply_id: int) -> None:
    db.session.delete(policy.get_canned_reply(actor, reply_id))
    db.session.flush()


def fill(body: str, ticket: Ticket) -> str:
    """A canned reply's `body` with the ticket's reporter, number and institution put in."""
    reporter = ticket.requester_name or (ticket.created_by.name if ticket.created_by else "")
    institution = ticket.institution.name if ticket.institution else ""
    return _put_in(body, reporter=reporter, ticket=ticket.number, institution=institution)


def fill_case(body: str, case: VendorCase) -> str:
    """A vendor agent's reply `body` for a case: {ticket} is the case number, {reporter}
    and {institution} the municipality (the vendor does not see the people)."""
    municipality = case.municipality.name if case.municipality else ""
    return _put_in(body, reporter=municipality, ticket=case.number, institution=municipality)


def _put_in(body: str, **values: str) -> str:
    for name, value in values.items():
        body = body.replace(f"{{{name}}}", value)
    return body


def insertable_articles(user: User) -> list[Row[tuple[str, str]]]:
    """FAQ articles a reporter can read too (public and first-level), by title: each
    row's `slug` and `title` only (the ticket page lists up to 300 of them)."""
    return list(
        db.session.execute(
            policy.articles_visible_to(user)
            .with_only_columns(Article.slug, Article.title)
            .where(Article.audience.in_((Audience.public, Audience.first_level)))
            .order_by(Article.title)
            .limit(ARTICLE_CHOICES)
        )
    )


def article_link(user: User, slug: str) -> str:
    """A Markdown link to a published article the user may read."""
    article = db.session.scalar(policy.articles_visible_to(user).where(Article.slug == slug))
    if article is None:
        raise ValidationFailed(fields={"article": str(_l("Choose an FAQ article."))})
    return f"[{article.title}](/faq/{article.slug})"


def insert(draft: str, addition: str) -> str:
    """The draft with the addition after it (a blank line between), never replacing it."""
    draft = (draft or "").rstrip()
    return f"{draft}\n\n{addition}" if draft else addition

"""Plain builders for tests that need a ticket or an article and nothing special about it.

They go through the real services (a ticket is filed by `create_ticket`, as the form does)
and leave committing to the caller unless `commit=True`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from supportdesk.accounts.models import System, User
from supportdesk.extensions import db
from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.tickets import services as tickets
from supportdesk.tickets.models import Ticket


def file_ticket(reporter: User, system: System, *, commit: bool = False, **fields: Any) -> Ticket:
    """A ticket filed by `reporter` for its own institution in the system's first category;
    `fields` override any field of `NewTicket` (subject, description, priority, source …)."""
    fields.setdefault("category", system.categories[0])
    fields.setdefault("subject", "Forældre kan ikke logge ind")
    fields.setdefault("description", "Siden svarer ikke.")
    fields.setdefault("institution", reporter.institution)
    ticket = tickets.create_ticket(reporter, tickets.NewTicket(system=system, **fields))
    if commit:
        db.session.commit()
    return ticket


def published_article(system: System, **fields: Any) -> Article:
    """A public, published FAQ article in the system's first category, committed."""
    fields.setdefault("slug", "log-ind-med-mitid")
    fields.setdefault("title", "Log ind med MitID")
    fields.setdefault("body", "Sådan gør du")
    fields.setdefault("audience", Audience.public)
    fields.setdefault("state", ArticleState.published)
    fields.setdefault("updated", date(2026, 12, 1))
    article = Article(system_id=system.id, category_id=system.categories[0].id, **fields)
    db.session.add(article)
    db.session.commit()
    return article

"""Demo FAQ use the reports count: suggestions shown on the ticket form and "Det løste mit
problem" deflections, over the same school-day rhythm as the tickets.

Needs the FAQ articles (`flask faq import faq_content`, which `make setup` runs after the
first seed; `make run` seeds again afterwards). Idempotent: once any deflection exists, the
step does nothing. Rows go in as the ticket form and the article page write them.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from supportdesk.demo.report_patterns import ticket_times
from supportdesk.demo.tickets import DAYS, bulk_insert
from supportdesk.extensions import db, utcnow
from supportdesk.faq.models import Article, ArticleState, Audience, Deflection, TicketShownArticle
from supportdesk.tickets.models import Ticket, TicketSource

# share of web tickets whose form suggested articles, and deflections per ticket written
SHOWN_SHARE = 0.45
DEFLECTIONS_PER_TICKET = 0.15


def seed(ticket_count: int | None = None, echo: Callable[[str], None] = print) -> None:
    if db.session.scalar(select(Deflection.id).limit(1)) is not None:
        echo("FAQ use: already seeded")
        return
    # what a reporter's ticket form may suggest: published articles for first level
    articles = db.session.execute(
        select(Article.id, Article.system_id)
        .where(
            Article.state == ArticleState.published,
            Article.audience.in_((Audience.public, Audience.first_level)),
            Article.municipality_id.is_(None),
        )
        .order_by(Article.id)
    ).all()
    if not articles:
        echo("FAQ use: no published articles yet (flask faq import faq_content)")
        return
    by_system: dict[int, list[int]] = defaultdict(list)
    for ident, system_id in articles:
        by_system[system_id].append(ident)
    rng = random.Random(20260315)  # noqa: S311 — demo data, not security
    now = utcnow()
    shown = _shown(rng, by_system)
    deflections = _deflections(rng, articles, now)
    bulk_insert(TicketShownArticle.__table__, shown)
    bulk_insert(Deflection.__table__, deflections)
    echo(f"FAQ use: {len(shown)} suggestions shown, {len(deflections)} deflections")


def _shown(rng: random.Random, by_system: dict[int, list[int]]) -> list[dict]:
    """One to three of the system's articles on some web tickets' forms."""
    rows = []
    tickets = db.session.execute(
        select(Ticket.id, Ticket.system_id, Ticket.created_at)
        .where(Ticket.source == TicketSource.web)
        .order_by(Ticket.id)
    )
    for ident, system_id, created in tickets:
        candidates = by_system.get(system_id)
        if not candidates or rng.random() >= SHOWN_SHARE:
            continue
        picked = rng.sample(candidates, min(len(candidates), rng.randint(1, 3)))
        rows.extend(
            {"ticket_id": ident, "article_id": article, "created_at": created} for article in picked
        )
    return rows


def _deflections(rng: random.Random, articles: list, now) -> list[dict]:
    """Per municipality, deflections in proportion to its tickets; a few articles solve
    most problems (weights fall with the article's rank)."""
    since = now - timedelta(days=DAYS)
    tickets = db.session.execute(
        select(Ticket.municipality_id, func.count())
        .where(Ticket.created_at >= since)
        .group_by(Ticket.municipality_id)
        .order_by(Ticket.municipality_id)
    ).all()
    ranked = list(articles)
    rng.shuffle(ranked)
    weights = [1 / (rank + 1) for rank in range(len(ranked))]
    rows = []
    for municipality_id, count in tickets:
        n = round(count * DEFLECTIONS_PER_TICKET)
        for moment in ticket_times(rng, now, DAYS, n):
            article, system_id = rng.choices(ranked, weights=weights)[0]
            rows.append(
                {
                    "article_id": article,
                    "system_id": system_id,
                    "municipality_id": municipality_id,
                    "created_at": moment,
                }
            )
    return rows

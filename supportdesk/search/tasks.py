"""Outbox delivery and commands that keep the index in step with the database."""

from __future__ import annotations

import sys
from typing import Any

import click
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from supportdesk import outbox
from supportdesk.events import article_changed
from supportdesk.extensions import db
from supportdesk.faq import services
from supportdesk.faq.models import Article
from supportdesk.search import get_backend

KIND = "search.index"


@article_changed.connect
def enqueue_index(article: Article, **_: Any) -> None:
    """Queue an index update in the caller's transaction (publish, archive, edit)."""
    outbox.enqueue(KIND, {"slug": article.slug})


def sync_article(slug: str) -> None:
    """Make the index match the database for one slug (idempotent, safe to repeat)."""
    article = db.session.scalar(
        select(Article)
        .where(Article.slug == slug)
        .options(selectinload(Article.system), selectinload(Article.category))
    )
    backend = get_backend()
    if article is None:
        backend.remove(slug)
    else:
        backend.index(article)


def sync_now(slug: str) -> None:
    """After commit, update the index at once so the app works without a worker.

    Correctness does not depend on this: the outbox message does the same later.
    Commits: a backend that keeps its index in the database (postgres) wrote it
    through the session, after the caller's own commit.
    """
    try:
        sync_article(slug)
        db.session.commit()
    except Exception as error:  # the worker will retry through the outbox
        db.session.rollback()
        current_app.logger.warning("search: immediate index of %s failed: %s", slug, error)


@outbox.handler(KIND)
def _deliver(payload: dict[str, Any], _message_id: int) -> None:
    sync_article(payload["slug"])


search_cli = click.Group("search", help="The search index.")


@search_cli.command("rebuild")
def rebuild() -> None:
    """Rebuild the index from the published articles in the database."""
    articles = services.published_articles()
    click.echo(f"Rebuilding the search index from {len(articles)} published articles")

    def progress(done: int) -> None:
        click.echo(f"  {done}/{len(articles)} articles analysed")

    try:
        count = get_backend().rebuild(articles, progress=progress)
    except Exception as error:
        click.echo(f"Error: rebuild failed: {error}", err=True)
        sys.exit(1)
    click.echo(f"Indexed {count} published articles")

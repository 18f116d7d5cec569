"""API: FAQ search and articles; public articles answer without a token."""

from __future__ import annotations

from urllib.parse import quote

from flask import jsonify, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from supportdesk import policy
from supportdesk.api.base import bp
from supportdesk.api.openapi import document, query_param
from supportdesk.errors import NotFound, ValidationFailed
from supportdesk.faq.models import ArticleState
from supportdesk.faq.views import MAX_QUERY, SearchAsked, run_search
from supportdesk.markup import render_markdown


@bp.get("/faq/search")
@document(
    "Search the FAQ articles the caller may see",
    parameters=[
        query_param("q", "search words"),
        query_param("system", "system slug"),
        query_param("category", "category slug"),
        query_param("limit", "1 to 50, default 10", "integer"),
    ],
    public=True,
)
def faq_search() -> ResponseReturnValue:
    asked = SearchAsked.from_args(request.args)
    raw_limit = request.args.get("limit", "10")
    errors = {}
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 50:
        errors["limit"] = _("Must be a whole number from 1 to 50.")
    if len(asked.q) > MAX_QUERY:
        errors["q"] = _("At most 200 characters.")
    if errors:
        raise ValidationFailed(fields=errors)
    source = request.args.get("source") if request.args.get("source") == "ticket" else "api"
    if not asked.q.strip():
        return jsonify(
            {
                "query": asked.q,
                "total": 0,
                "results": [],
                "suggestion": None,
                "facets": {"system": {}, "category": {}},
            }
        )
    visibility = policy.article_visibility(current_user)
    results, log_id = run_search(asked, int(raw_limit), source, visibility)
    # one url_for for all hits instead of one per hit
    article_url = url_for("faq.article", slug="__slug__")
    clicked = "" if log_id is None else f"?s={int(log_id)}"
    return jsonify(
        {
            "query": results.query,
            "total": results.total,
            "results": [
                {
                    "slug": hit.slug,
                    "title": hit.title,
                    "system": hit.system,
                    "category": hit.category,
                    "snippet": hit.snippet,
                    "score": hit.score,
                    "url": article_url.replace("__slug__", quote(hit.slug, safe="")) + clicked,
                }
                for hit in results.hits
            ],
            "suggestion": results.suggestion,
            "facets": results.facets,
        }
    )


@bp.get("/faq/articles/<slug>")
@document("One FAQ article the caller may see", public=True)
def faq_article(slug: str) -> ResponseReturnValue:
    article = policy.get_article(current_user, slug)
    if article.state != ArticleState.published:
        raise NotFound()
    return jsonify(
        {
            "slug": article.slug,
            "title": article.title,
            "system": article.system.slug,
            "category": article.category.slug,
            "tags": list(article.tags or []),
            "audience": article.audience.value,
            "body_html": str(render_markdown(article.body)),
            "updated": article.updated.isoformat(),
        }
    )

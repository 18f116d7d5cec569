"""The FAQ API shapes from INTERFACE.md, validation, and the tickets' shown articles."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.faq.models import TicketShownArticle
from supportdesk.tickets.models import Ticket
from tests.faq.conftest import write_article


def test_search_shape_validation_and_openapi(app, client, search_backend, faq_world, tmp_path):
    write_article(tmp_path, "aula", "offentlig", audience="public", body="Forældre og MitID.")
    app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)])
    answer = client.get("/api/v1/faq/search?q=mitid&system=aula").get_json()
    assert set(answer) == {"query", "total", "results", "suggestion", "facets"}
    assert set(answer["results"][0]) == {
        "slug",
        "title",
        "system",
        "category",
        "snippet",
        "score",
        "url",
    }
    assert answer["facets"] == {"system": {"aula": 1}, "category": {"login": 1}}
    bad = client.get("/api/v1/faq/search?q=x&limit=0")
    assert bad.status_code == 422
    assert "limit" in bad.get_json()["error"]["fields"]
    assert client.get("/api/v1/faq/search?q=mitid&system=fildeling").get_json()["total"] == 0
    article = client.get("/api/v1/faq/articles/offentlig").get_json()
    assert set(article) == {
        "slug",
        "title",
        "system",
        "category",
        "tags",
        "audience",
        "body_html",
        "updated",
    }
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "/api/v1/faq/search" in paths
    assert "/api/v1/faq/articles/{slug}" in paths


def test_ticket_remembers_only_visible_shown_articles(
    app, db, client, login, faq_world, tmp_path, make_user
):
    """Filed through the real "Ny henvendelse" form with the suggestion panel's hidden field."""
    write_article(tmp_path, "aula", "synlig", audience="first_level")
    write_article(tmp_path, "aula", "anden-kommune", audience="municipal", municipality="aalborg")
    app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)])
    user = login(make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"]))
    system = faq_world["systems"]["aula"]
    category = system.categories[0]
    response = client.post(
        "/tickets/new",
        data={
            "topic": f"c{category.id}",
            "subject": "Kan ikke logge ind",
            "description": "Forældre får en fejl ved MitID.",
            "priority": "normal",
            "institution": user.institution.number,
            "faq_shown": "synlig,anden-kommune,findes-ikke,synlig",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    rows = db.session.scalars(select(TicketShownArticle)).all()
    assert [r.article.slug for r in rows] == ["synlig"]
    ticket = db.session.get(Ticket, rows[0].ticket_id)
    assert ticket.subject == "Kan ikke logge ind"

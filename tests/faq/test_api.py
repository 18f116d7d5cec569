"""The FAQ API shapes from INTERFACE.md, validation, and the tickets' shown articles."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.faq import services
from supportdesk.faq.models import TicketShownArticle
from tests.faq.conftest import write_article


def test_search_shape_validation_and_openapi(app, client, faq_world, tmp_path):
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


def test_ticket_remembers_only_visible_shown_articles(app, db, faq_world, tmp_path, make_user):
    write_article(tmp_path, "aula", "synlig", audience="first_level")
    write_article(tmp_path, "aula", "anden-kommune", audience="municipal", municipality="aalborg")
    app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)])
    user = make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    from supportdesk.tickets.models import Ticket

    ticket = Ticket(
        number="ESB-TEST-1",
        municipality_id=user.municipality_id,
        system_id=faq_world["systems"]["aula"].id,
        created_by_id=user.id,
        subject="Kan ikke logge ind",
    )
    db.session.add(ticket)
    db.session.flush()
    added = services.remember_shown_articles(
        ticket.id, ["synlig", "anden-kommune", "findes-ikke", "synlig"], user
    )
    db.session.commit()
    assert added == 1
    rows = db.session.scalars(select(TicketShownArticle)).all()
    assert [r.article.slug for r in rows] == ["synlig"]

"""Feedback, deflection, the gap report and browser editing, through HTTP."""

from __future__ import annotations

from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.faq import search_log
from supportdesk.faq.models import ArticleFeedback, Deflection, SearchLog
from supportdesk.tickets.models import Ticket
from tests.faq.conftest import write_article


def _import(app, tmp_path):
    write_article(
        tmp_path,
        "aula",
        "meld-syg",
        audience="first_level",
        category="komme-gaa",
        title="Meld dit barn syg",
        body="Sådan melder du fravær i Komme/gå.",
    )
    assert app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)]).exit_code == 0


def test_feedback_deflection_and_gap_report(app, db, client, login, faq_world, tmp_path, make_user):
    _import(app, tmp_path)
    user = login(make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"]))
    page = client.get("/faq/meld-syg")
    assert "Var artiklen nyttig?" in page.get_data(as_text=True)
    assert client.post("/faq/meld-syg/feedback", data={}).status_code == 422
    response = client.post(
        "/faq/meld-syg/feedback", data={"helpful": "no", "comment": "Ring 12345678 til mig"}
    )
    assert response.status_code == 302
    feedback = db.session.scalar(select(ArticleFeedback))
    assert feedback.helpful is False
    assert "12345678" not in feedback.comment

    tickets_before = db.session.scalar(select(func.count(Ticket.id)))
    response = client.post("/faq/meld-syg/solved", data={"next": "/tickets/new"})
    assert response.status_code == 302
    deflection = db.session.scalar(select(Deflection))
    assert deflection.municipality_id == user.municipality_id
    assert db.session.scalar(select(func.count(Ticket.id))) == tickets_before

    found = client.get("/api/v1/faq/search?q=sygemelding").get_json()
    assert found["results"][0]["slug"] == "meld-syg"
    client.get(found["results"][0]["url"])
    client.get("/api/v1/faq/search?q=printerfejl")
    search_log.flush()  # each worker writes its searches behind
    logs = db.session.scalars(select(SearchLog).order_by(SearchLog.id)).all()
    assert [(s.query, s.clicked) for s in logs] == [("sygemelding", True), ("printerfejl", False)]
    assert client.get("/faq/report").status_code == 404  # superusers do not see the report

    editor = make_user(Role.vendor_editor, vendor=faq_world["vendors"]["netcompany"])
    login(editor)
    report = client.get("/faq/report").get_data(as_text=True)
    assert "printerfejl" in report
    assert "sygemelding" in report
    assert "Meld dit barn syg" in report  # least helpful
    assert "Aula" in report  # deflections per system


def test_vendor_editor_edits_previews_publishes_and_diffs(
    app, db, client, login, faq_world, tmp_path, make_user
):
    _import(app, tmp_path)
    editor = login(make_user(Role.vendor_editor, vendor=faq_world["vendors"]["netcompany"]))
    form = {
        "title": "Meld dit barn syg i Aula",
        "placement": "aula:komme-gaa",
        "audience": "first_level",
        "tags": "syg, fravær",
        "related": "",
        "body": "Sådan **melder** du fravær.",
    }
    preview = client.post("/faq/meld-syg/edit", data={**form, "preview": "1"})
    assert preview.status_code == 200
    assert "<strong>melder</strong>" in preview.get_data(True)
    assert client.post("/faq/meld-syg/edit", data={**form, "save": "1"}).status_code == 302
    history = client.get("/faq/meld-syg/history").get_data(as_text=True)
    assert editor.name in history
    diff = client.get("/faq/meld-syg/diff?from=1&to=2").get_data(as_text=True)
    assert "<del>" in diff
    assert "<ins>" in diff
    answer = client.get("/api/v1/faq/search?q=melder").get_json()
    assert answer["results"][0]["title"] == "Meld dit barn syg i Aula"
    assert client.post("/faq/meld-syg/state", data={"target": "archived"}).status_code == 302
    assert client.get("/api/v1/faq/search?q=melder").get_json()["total"] == 0, client.get(
        "/api/v1/faq/search?q=melder"
    ).get_json()

    other = login(make_user(Role.vendor_editor, vendor=faq_world["vendors"]["meebook"]))
    assert other
    assert client.get("/faq/meld-syg/edit").status_code == 404
    admin = make_user(Role.municipal_admin, municipality=faq_world["municipalities"]["esbjerg"])
    login(admin)
    assert client.get("/faq/meld-syg/edit").status_code == 404
    created = client.post(
        "/faq/new",
        data={**form, "slug": "esbjerg-guide", "audience": "municipal", "save": "1"},
    )
    assert created.status_code == 302
    assert client.post("/faq/esbjerg-guide/state", data={"target": "published"}).status_code == 302
    assert client.get("/api/v1/faq/articles/esbjerg-guide").status_code == 200


def test_search_page_keeps_the_choices_and_names_systems_and_categories(
    app, db, client, login, faq_world, tmp_path, make_user
):
    _import(app, tmp_path)
    login(make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"]))
    html = client.get("/faq/search?q=syg&system=aula&category=komme-gaa").get_data(as_text=True)
    assert 'value="syg"' in html
    assert '<option value="aula" selected>Aula</option>' in html
    assert '<option value="komme-gaa" selected>Komme/gå</option>' in html
    assert "Meld dit barn syg" in html
    assert "Aula · Komme/gå" in html  # the hit names its system and category
    assert "?q=syg&amp;system=aula&amp;category=komme-gaa" in html  # the facet links keep both

    front = client.get("/faq").get_data(as_text=True)
    assert 'name="q" value=""' in front
    assert '<option value="aula" >Aula</option>' in front  # nothing chosen on the front page

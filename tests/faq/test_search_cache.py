"""Cached search answers and pages: renewed by every article change, kept per audience."""

from __future__ import annotations

from flask import has_request_context
from sqlalchemy import event, func, insert, select
from sqlalchemy.exc import OperationalError

from supportdesk.accounts.models import Role
from supportdesk.extensions import utcnow
from supportdesk.faq import search_log
from supportdesk.faq.models import SearchLog
from tests.faq.conftest import write_article
from tests.signin import sign_in_client


def _import(app, root) -> None:
    assert app.test_cli_runner().invoke(args=["faq", "import", str(root)]).exit_code == 0


def _client(app, user=None):
    client = app.test_client()
    if user is not None:
        sign_in_client(client, user)
    return client


def _page(client, q: str = "printeren") -> str:
    response = client.get(f"/faq/search?q={q}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _api(client, q: str = "printeren") -> list[str]:
    response = client.get(f"/api/v1/faq/search?q={q}")
    assert response.status_code == 200
    return [hit["title"] for hit in response.get_json()["results"]]


def test_edit_archive_and_publish_show_at_once(
    app, db, search_backend, faq_world, tmp_path, make_user
):
    write_article(
        tmp_path, "aula", "printer", title="Printeren driller", body="Genstart printeren."
    )
    _import(app, tmp_path)
    reader = _client(
        app, make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    )
    assert "Printeren driller" in _page(reader)
    assert _api(reader) == ["Printeren driller"]
    assert "Printeren driller" in _page(reader)  # served again from the caches

    editor = _client(app, make_user(Role.vendor_editor, vendor=faq_world["vendors"]["netcompany"]))
    form = {
        "title": "Printeren udskriver ikke",
        "placement": "aula:login",
        "audience": "first_level",
        "tags": "",
        "related": "",
        "body": "Genstart printeren.",
        "save": "1",
    }
    assert editor.post("/faq/printer/edit", data=form).status_code == 302
    page = _page(reader)
    assert "Printeren udskriver ikke" in page
    assert "Printeren driller" not in page
    assert _api(reader) == ["Printeren udskriver ikke"]

    assert editor.post("/faq/printer/state", data={"target": "archived"}).status_code == 302
    assert "Printeren udskriver ikke" not in _page(reader)
    assert _api(reader) == []

    write_article(
        tmp_path / "new", "aula", "printer-2", title="Ny printervejledning", body="Printeren igen."
    )
    _import(app, tmp_path / "new")
    assert "Ny printervejledning" in _page(reader)
    assert _api(reader) == ["Ny printervejledning"]


def test_each_search_is_logged_and_linked_though_the_page_is_cached(
    app, db, search_backend, faq_world, tmp_path, make_user
):
    write_article(tmp_path, "aula", "printer", title="Printeren driller", body="Printeren.")
    _import(app, tmp_path)
    reader = _client(
        app, make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    )
    pages = [_page(reader) for _ in range(3)]
    search_log.flush()
    ids = db.session.scalars(
        select(SearchLog.id).where(SearchLog.query == "printeren").order_by(SearchLog.id)
    ).all()
    assert len(ids) == 3
    for page, log_id in zip(pages, ids, strict=True):
        assert f'/faq/printer?s={log_id}"' in page
        assert "%00" not in page
    reader.get(f"/faq/printer?s={ids[1]}")
    db.session.rollback()
    assert db.session.scalar(select(func.count()).where(SearchLog.clicked.is_(True))) == 1


def test_a_click_is_kept_when_another_request_wrote_after_the_article_was_read(
    app, db, faq_world, tmp_path, make_user
):
    """The article page marks the search that led to it as clicked. On SQLite the
    request's reader became the writer for it, which fails once another connection has
    committed since the article was read: the click was lost. It is a row apart now."""
    write_article(tmp_path, "aula", "printer", title="Printeren driller", body="Printeren.")
    _import(app, tmp_path)
    reader = _client(
        app, make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    )
    _page(reader)
    search_log.flush()
    log_id = db.session.scalar(select(SearchLog.id).where(SearchLog.query == "printeren"))
    db.session.commit()
    wrote: list[str] = []

    def _another_request_writes(_conn, _cursor, statement, *_args) -> None:
        if has_request_context() and "FROM article" in statement and not wrote:
            wrote.append(statement)
            with db.engine.connect() as other:
                other.execute(
                    insert(SearchLog.__table__).values(
                        query="meanwhile",
                        result_count=0,
                        clicked=False,
                        source="page",
                        created_at=utcnow(),
                    )
                )
                other.commit()

    event.listen(db.engine, "after_cursor_execute", _another_request_writes)
    try:
        assert reader.get(f"/faq/printer?s={log_id}").status_code == 200
    finally:
        event.remove(db.engine, "after_cursor_execute", _another_request_writes)
    assert wrote
    db.session.rollback()
    assert db.session.scalar(select(SearchLog.clicked).where(SearchLog.id == log_id)) is True


def test_a_search_log_that_cannot_be_written_fails_no_search_and_no_article(
    app, db, faq_world, tmp_path, make_user, monkeypatch
):
    """The search log is a nicety: a write that fails (here: the database refuses it) is
    logged as a warning, and the search page, the API and the article page answer."""
    write_article(tmp_path, "aula", "printer", title="Printeren driller", body="Printeren.")
    _import(app, tmp_path)
    reader = _client(
        app, make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    )

    def _refused(*_args, **_kwargs):
        raise OperationalError("INSERT INTO search_log", {}, Exception("disk I/O error"))

    monkeypatch.setattr(search_log, "execute_apart", _refused)
    assert "Printeren driller" in _page(reader)
    assert _api(reader) == ["Printeren driller"]
    assert reader.get("/faq/printer?s=1").status_code == 200
    search_log.flush()
    assert db.session.scalar(select(func.count(SearchLog.id))) == 0


def test_one_audience_never_gets_anothers_answer(
    app, db, search_backend, faq_world, tmp_path, make_user
):
    write_article(tmp_path, "aula", "alle", audience="public", title="Printer for alle")
    write_article(
        tmp_path,
        "aula",
        "lokal",
        audience="municipal",
        municipality="esbjerg",
        title="Printer i Esbjerg",
    )
    write_article(tmp_path, "aula", "intern", audience="first_level", title="Printer internt")
    _import(app, tmp_path)
    esbjerg = _client(
        app, make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])
    )
    aalborg = _client(
        app, make_user(Role.superuser, municipality=faq_world["municipalities"]["aalborg"])
    )
    anonymous = _client(app)
    # The widest audience asks first, so its answer and page are what the caches hold.
    for _ in range(2):
        page = _page(esbjerg, "printer")
        assert all(t in page for t in ("Printer for alle", "Printer i Esbjerg", "Printer internt"))
        assert sorted(_api(esbjerg, "printer")) == [
            "Printer for alle",
            "Printer i Esbjerg",
            "Printer internt",
        ]
        page = _page(aalborg, "printer")
        assert "Printer internt" in page
        assert "Printer i Esbjerg" not in page
        assert "Printer i Esbjerg" not in _api(aalborg, "printer")
        page = _page(anonymous, "printer")
        assert "Printer for alle" in page
        assert "Printer internt" not in page
        assert "Printer i Esbjerg" not in page
        assert _api(anonymous, "printer") == ["Printer for alle"]

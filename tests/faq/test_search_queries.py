"""The FAQ search page costs a fixed number of SQL statements, however many hits it shows."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.cache import fragments
from supportdesk.faq import search_log
from supportdesk.faq.models import SearchLog
from tests.faq.conftest import write_article


def _import(app, root, slugs):
    for slug in slugs:
        write_article(
            root,
            "aula",
            slug,
            title="Printeren driller " + slug,
            category="komme-gaa",
            body="Printeren udskriver ikke. Genstart printeren og prøv igen.",
        )
    assert app.test_cli_runner().invoke(args=["faq", "import", str(root)]).exit_code == 0


def _search_statements(app, client, count_queries) -> tuple[int, str]:
    fragments.clear(app)  # the rendered form and results are built again
    with count_queries() as statements:
        page = client.get("/faq/search?q=printeren")
    assert page.status_code == 200
    return len(_without_id_blocks(statements)), page.get_data(as_text=True)


def _without_id_blocks(statements: list[str]) -> list[str]:
    """Once in ID_BLOCK searches a worker takes a new block of search-log ids."""
    return [s for s in statements if "sqlite_sequence" not in s and "nextval" not in s]


def test_search_page_statements_do_not_grow_with_hits(
    app, db, client, login, faq_world, tmp_path, make_user, count_queries
):
    login(make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"]))
    _import(app, tmp_path, ["printer-a", "printer-b"])
    client.get("/faq/search?q=printeren")  # warm caches (translations, templates)
    few, html = _search_statements(app, client, count_queries)
    assert html.count("Printeren driller") == 2

    _import(app, tmp_path, ["printer-c", "printer-d", "printer-e", "printer-f"])
    many, html = _search_statements(app, client, count_queries)
    assert html.count("Printeren driller") == 6
    assert many == few
    # Writing the log row must not expire what the page loaded (user, systems, categories):
    # that cost one reload per object (15 statements here before the fix, 5 after).
    assert many <= 7

    # Served from the cached fragment: no systems and categories to load.
    with count_queries() as statements:
        html = client.get("/faq/search?q=printeren").get_data(as_text=True)
    assert len(_without_id_blocks(statements)) <= many - 2, statements

    # The log rows are still written, one per search, and linked from the hits.
    search_log.flush()
    logs = db.session.scalars(select(SearchLog).where(SearchLog.query == "printeren")).all()
    assert len(logs) == 4
    assert "s=" + str(logs[-1].id) in html

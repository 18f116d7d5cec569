"""The index is derived data: rebuilt from the database, never a 500 when it breaks."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supportdesk.accounts.models import Role
from tests.search.conftest import CONTENT

QUERIES = ["log ind med mitid", "foraeldre", "billeder galleri", "skoleaarsskift", "kalnder"]


@pytest.fixture
def imported(app, faq_world, make_user):
    result = app.test_cli_runner().invoke(args=["faq", "import", str(CONTENT)])
    assert result.exit_code == 0, result.output
    return make_user(Role.superuser, municipality=faq_world["municipalities"]["esbjerg"])


def _answers(client):
    return [
        client.get("/api/v1/faq/search", query_string={"q": q, "limit": 20}).get_json()
        for q in QUERIES
    ]


def test_rebuild_after_deleting_the_index_restores_identical_results(app, client, login, imported):
    login(imported)
    assert app.test_cli_runner().invoke(args=["search", "rebuild"]).exit_code == 0
    before = _answers(client)
    assert all(a["total"] for a in before[:4])
    index_dir = Path(app.config["SUPPORTDESK"].index_dir)
    shutil.rmtree(index_dir)
    app.extensions["supportdesk.search"]._reset()
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Indexed" in result.output
    after = _answers(client)
    strip = [[(r["slug"], r["score"]) for r in a["results"]] for a in before]
    assert strip == [[(r["slug"], r["score"]) for r in a["results"]] for a in after]
    assert [a["facets"] for a in before] == [a["facets"] for a in after]


# Whoosh leaves the garbage TOC file open when it fails to read it.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_corrupt_or_missing_index_is_rebuilt_without_a_500(app, client, imported):
    index_dir = Path(app.config["SUPPORTDESK"].index_dir)
    for path in index_dir.iterdir():
        path.write_bytes(b"garbage")
    app.extensions["supportdesk.search"]._reset()
    response = client.get("/faq/search?q=forældre")
    assert response.status_code == 200
    assert client.get("/api/v1/faq/search?q=forældre").get_json()["total"] > 0
    shutil.rmtree(index_dir)
    app.extensions["supportdesk.search"]._reset()
    assert client.get("/api/v1/faq/search?q=forældre").get_json()["total"] > 0
    assert client.get("/healthz").get_json()["search"] == "ok"


def test_unrebuildable_index_answers_503_with_a_clear_message(app, client, imported, monkeypatch):
    backend = app.extensions["supportdesk.search"]
    shutil.rmtree(Path(app.config["SUPPORTDESK"].index_dir))
    backend._reset()

    def broken():
        raise OSError("disk full")

    monkeypatch.setattr(backend, "loader", broken)
    page = client.get("/faq/search?q=forældre")
    assert page.status_code == 503
    api = client.get("/api/v1/faq/search?q=forældre")
    assert api.status_code == 503
    assert api.get_json()["error"]["code"] == "search_unavailable"
    assert client.get("/healthz").status_code == 503


def test_rebuild_shows_its_progress(app, imported):
    result = app.test_cli_runner().invoke(args=["search", "rebuild"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    count = int(lines[-1].split()[1])  # "Indexed N published articles"
    assert lines[0] == f"Rebuilding the search index from {count} published articles"
    assert f"  {count}/{count} articles analysed" in lines

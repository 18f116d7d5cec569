"""Forbidden articles are the best textual match, yet nothing about them leaks."""

from __future__ import annotations

import pytest

from supportdesk.accounts.models import Role
from tests.search.conftest import write_article

SECRET = "zebraprotokol"
TITLES = {
    "foerste-niveau": f"{SECRET} for superbrugere",
    "esbjerg-lokal": f"{SECRET} i Esbjerg",
    "intern-note": f"{SECRET} intern",
}


@pytest.fixture
def world(app, search_backend, faq_world, tmp_path, make_user):
    esbjerg = faq_world["municipalities"]["esbjerg"]
    write_article(
        tmp_path,
        "aula",
        "offentlig-login",
        audience="public",
        title="Log ind som forælder",
        body="Forældre logger ind i Aula med MitID.",
    )
    write_article(
        tmp_path,
        "aula",
        "foerste-niveau",
        audience="first_level",
        category="beskeder",
        title=f"{SECRET} for superbrugere",
        tags=f"[{SECRET}]",
        body=f"{SECRET} {SECRET} beskrivelse for første niveau.",
    )
    write_article(
        tmp_path,
        "aula",
        "esbjerg-lokal",
        audience="municipal",
        municipality="esbjerg",
        category="grupper",
        title=f"{SECRET} i Esbjerg",
        tags=f"[{SECRET}]",
        body=f"{SECRET} {SECRET} {SECRET} lokal vejledning.",
    )
    write_article(
        tmp_path,
        "fildeling",
        "intern-note",
        audience="vendor_internal",
        category="deling",
        title=f"{SECRET} intern",
        tags=f"[{SECRET}]",
        body=f"{SECRET} intern workaround.",
    )
    result = app.test_cli_runner().invoke(args=["faq", "import", str(tmp_path)])
    assert result.exit_code == 0, result.output
    return {
        "esbjerg_user": make_user(Role.superuser, municipality=esbjerg),
        "aalborg_user": make_user(Role.superuser, municipality="aalborg"),
        "vendor_agent": make_user(Role.vendor_agent, vendor=faq_world["vendors"]["skolecloud"]),
    }


def _search(client, query):
    return client.get("/api/v1/faq/search", query_string={"q": query, "limit": 50}).get_json()


@pytest.mark.parametrize(
    ("who", "allowed"),
    [
        (None, set()),
        ("aalborg_user", {"foerste-niveau"}),
        ("esbjerg_user", {"foerste-niveau", "esbjerg-lokal"}),
        ("vendor_agent", {"foerste-niveau", "intern-note"}),
    ],
)
def test_search_reveals_only_visible_articles(client, login, world, who, allowed):
    if who:
        login(world[who])
    for query in (SECRET, SECRET[:-1] + "x", "zebraprotokoll", f"{SECRET} forælder"):
        answer = _search(client, query)
        slugs = {r["slug"] for r in answer["results"]}
        assert slugs - {"offentlig-login"} == allowed, query
        assert answer["total"] == len(slugs)
        assert sum(answer["facets"]["system"].values()) == answer["total"]
        assert sum(answer["facets"]["category"].values()) == answer["total"]
        if not allowed:
            assert answer["suggestion"] is None or SECRET not in answer["suggestion"]
            assert SECRET not in str({k: v for k, v in answer.items() if k != "query"})
        page = client.get("/faq/search", query_string={"q": query})
        assert page.status_code == 200
        for slug, title in TITLES.items():
            assert (title.encode() in page.data) == (slug in allowed), (query, slug)
    for slug in ("foerste-niveau", "esbjerg-lokal", "intern-note"):
        expected = 200 if slug in allowed else 404
        assert client.get(f"/faq/{slug}").status_code == expected
        assert client.get(f"/api/v1/faq/articles/{slug}").status_code == expected


def test_anonymous_reads_public_articles(client, world):
    assert client.get("/faq/offentlig-login").status_code == 200
    answer = client.get("/api/v1/faq/articles/offentlig-login").get_json()
    assert answer["audience"] == "public"
    assert "<p>" in answer["body_html"]
    assert _search(client, "forældre login")["results"][0]["slug"] == "offentlig-login"
    browse = client.get("/faq?system=aula")
    assert b"Log ind som for" in browse.data
    assert SECRET.encode() not in browse.data


def test_typo_suggestion_comes_from_visible_words(client, login, world):
    login(world["esbjerg_user"])
    answer = _search(client, "zebraprotkol")
    assert answer["suggestion"] == SECRET
    assert answer["results"][0]["slug"] == "esbjerg-lokal"
    assert "<mark>" in answer["results"][0]["snippet"]

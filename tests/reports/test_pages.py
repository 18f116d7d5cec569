"""The report pages: Danish figures from the same tables as the exports, charts beside
their data tables, filters in the URL, the menu item, and "Eksportér" on the lists."""

from __future__ import annotations

import csv
import io
import re

from tests.reports.conftest import PERIOD

QUERY = "from=2026-03-02&to=2026-03-15"
CELL = r"<t[hd][^>]*>(.*?)</t[hd]>"


def _cells(html: str, table_id: str) -> list[list[str]]:
    """The cells of one report table (header row included), tags stripped."""
    section = html.split(f'id="t-{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section, re.S)
    return [
        [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)
        ]
        for r in rows
    ]


def test_municipality_page_shows_the_figures_the_danish_way(client, login, world):
    login(world.coordinator)
    page = client.get(f"/reports/municipality?{QUERY}")
    assert page.status_code == 200
    html = page.data.decode()
    assert "2. marts 2026 til 15. marts 2026 (14 dage)" in html
    key = {row[0]: row[1] for row in _cells(html, "key_figures")[1:]}
    assert key["Henvendelser oprettet"] == "6"
    assert key["Løst i 1. niveau (andel)"] == "66,7\xa0%"
    assert key["Første svar, median (arbejdsminutter)"] == "60"
    assert key["Løsningstid, 90. percentil (arbejdsminutter)"] == "360"
    assert _cells(html, "by_week")[1:] == [["2026-W10", "4"], ["2026-W11", "2"]]
    # a chart beside its table, as an image the CSP allows, with its data in the alt text
    assert 'src="data:image/svg+xml;base64,' in html
    assert "2026-W10: 4" in html
    # the exports keep the filters
    assert (
        "/reports/municipality?from=2026-03-02&amp;to=2026-03-15&amp;municipality=alfa&amp;format=csv"
        in html
    )


def test_page_csv_and_api_agree(client, login, world):
    login(world.coordinator)
    html = client.get(f"/reports/municipality?{QUERY}").data.decode()
    page = {row[0]: row[1] for row in _cells(html, "by_system")[1:]}
    response = client.get(f"/reports/municipality?{QUERY}&format=csv&table=by_system")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    api = client.get(f"/api/v1/reports/municipality?{QUERY}").get_json()["by_system"]
    assert page == {r[0]: r[1] for r in rows[1:]} == {k: str(v) for k, v in api.items()}


def test_vendor_and_rollout_pages(client, login, world, make_user):
    login(make_user("vendor_agent", vendor=world.v1))
    html = client.get(f"/reports/vendor?{QUERY}").data.decode()
    assert _cells(html, "breaches")[1][0] == "C-C2"
    assert [r[0] for r in _cells(html, "sla_by_priority")[1:]] == ["normal", "high", "critical"]
    login(make_user("admin"))
    html = client.get(f"/reports/rollout?{QUERY}").data.decode()
    rows = {row[0]: row for row in _cells(html, "municipalities")[1:]}
    assert rows["alfa"][1:3] == ["6", "2"]
    assert rows["beta"][1] == "1"
    # the admin's municipality report starts at the first municipality
    first = client.get(f"/reports/municipality?{QUERY}")
    assert first.status_code == 302
    assert "municipality=alfa" in first.headers["Location"]


def test_bad_filters_are_explained_in_danish(client, login, world):
    login(world.coordinator)
    page = client.get("/reports/municipality?from=2026-03-15&to=2026-03-01")
    assert page.status_code == 422
    assert "Slutdatoen må ikke ligge før startdatoen." in page.data.decode()


def test_presets_and_the_menu(client, login, world):
    login(world.coordinator)
    html = client.get(f"/reports/municipality?{QUERY}").data.decode()
    assert "preset=90" in html
    assert "Dette skoleår" in html
    assert client.get("/reports/municipality?preset=school_year").status_code == 200
    home = client.get("/reports/").data.decode()
    assert 'href="/reports/"' in home
    assert "Rapporter" in home


def test_the_lists_export_what_they_show(client, login, world, make_user):
    login(world.coordinator)
    response = client.get("/reports/export/tickets?system=fildeling&format=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert [r[0] for r in rows[1:]] == ["T-T4"]
    response = client.get("/reports/export/tickets?format=xlsx")
    assert response.mimetype.endswith("spreadsheetml.sheet")
    tickets_page = client.get("/tickets?system=fildeling").data.decode()
    assert "/reports/export/tickets?system=fildeling" in tickets_page
    login(make_user("vendor_agent", vendor=world.v1))
    rows = list(
        csv.reader(
            io.StringIO(client.get("/reports/export/cases").data.decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert sorted(r[0] for r in rows[1:]) == ["C-C1", "C-C2", "C-C3", "C-C5"]
    assert "/reports/export/cases" in client.get("/cases").data.decode()
    assert PERIOD

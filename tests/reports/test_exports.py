"""CSV and XLSX of every report: Danish Excel's format, formula cells neutralised, and the
same figures as the API (both read the one query module through the same tables)."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from supportdesk.extensions import db as _db
from supportdesk.reports.exports import csv_cell, neutralise
from tests.conftest import json_of

QUERY = "from=2026-03-02&to=2026-03-15"


def _csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "text/csv"
    assert "charset=utf-8" in response.headers["Content-Type"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM Excel looks for
    text = response.data.decode("utf-8")[1:]
    return list(csv.reader(io.StringIO(text), delimiter=";"))


def test_ticket_csv_is_danish_excel_text_and_neutralises_formulas(client, login, world):
    world.tickets["T1"].subject = '=HYPERLINK("http://evil.example","Klik")'
    world.tickets["T3"].subject = "@SUM(1+1)"
    _db.session.commit()
    login(world.coordinator)
    response = client.get(f"/api/v1/reports/tickets?{QUERY}&format=csv")
    text = response.data.decode("utf-8")
    assert text.splitlines()[0].startswith("\ufeffNummer;Oprettet;Kommune;")
    rows = _csv_rows(response)
    header, body = rows[0], rows[1:]
    assert header[-1] == "Emne"
    subjects = {row[0]: row[-1] for row in body}
    assert subjects["T-T1"] == '\'=HYPERLINK("http://evil.example","Klik")'
    assert subjects["T-T3"] == "'@SUM(1+1)"
    assert [row[0] for row in body] == ["T-T6", "T-T1", "T-T2", "T-T3", "T-T4", "T-T7"]
    assert "attachment" in response.headers["Content-Disposition"]


def test_municipality_csv_and_xlsx_agree_with_the_api(client, login, world):
    login(world.coordinator)
    figures = json_of(client.get(f"/api/v1/reports/municipality?{QUERY}"))
    rows = _csv_rows(client.get(f"/api/v1/reports/municipality?{QUERY}&format=csv"))
    assert rows[0] == ["Nøgletal"]
    assert rows[1] == ["Nøgletal", "Værdi"]
    key = {row[0]: row[1] for row in rows[2:] if len(row) == 2}
    assert key["Henvendelser oprettet"] == str(figures["tickets_created"]) == "6"
    assert key["Løst i 1. niveau (andel)"] == "0,6667"
    assert key["Første svar, median (arbejdsminutter)"] == "60,0"
    assert key["Løsningstid, 90. percentil (arbejdsminutter)"] == "360,0"
    assert ["Henvendelser pr. uge"] in rows
    week_at = rows.index(["Henvendelser pr. uge"])
    assert rows[week_at + 2 : week_at + 4] == [["2026-W10", "4"], ["2026-W11", "2"]]

    response = client.get(f"/api/v1/reports/municipality?{QUERY}&format=xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book["Nøgletal"]
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["Henvendelser oprettet"] == 6
    assert values["Løst i 1. niveau (andel)"] == pytest.approx(0.6667)
    assert values["Løsningstid, median (arbejdsminutter)"] == 120
    by_system = {
        r[0]: r[1] for r in book["Henvendelser pr. system"].iter_rows(min_row=2, values_only=True)
    }
    assert by_system == figures["by_system"]


def test_xlsx_keeps_a_formula_subject_as_text(client, login, world):
    world.tickets["T1"].subject = '=HYPERLINK("http://evil.example","Klik")'
    _db.session.commit()
    login(world.coordinator)
    response = client.get(f"/api/v1/reports/tickets?{QUERY}&format=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    cells = [row[-1] for row in sheet.iter_rows(min_row=2)]
    formula = next(c for c in cells if "HYPERLINK" in str(c.value))
    assert formula.data_type == "s"  # a string cell, never a formula ("f")


@pytest.mark.parametrize("name", ["vendor", "cases"])
def test_vendor_exports(client, login, world, make_user, name):
    login(make_user("vendor_agent", vendor=world.v1))
    figures = json_of(client.get(f"/api/v1/reports/{name}?{QUERY}"))
    rows = _csv_rows(client.get(f"/api/v1/reports/{name}?{QUERY}&format=csv"))
    if name == "cases":
        assert (
            [r[0] for r in rows[1:]]
            == ["C-C1", "C-C2", "C-C3"]
            == [i["number"] for i in figures["items"]]
        )
    else:
        key = {row[0]: row[1] for row in rows if len(row) == 2}
        assert key["Sager oprettet"] == str(figures["cases_opened"]) == "3"
        assert ["SLA-overskridelser"] in rows


def test_one_table_alone_and_bad_formats(client, login, world):
    login(world.coordinator)
    rows = _csv_rows(client.get(f"/api/v1/reports/municipality?{QUERY}&format=csv&table=by_system"))
    assert rows == [["System", "Henvendelser"], ["aula", "5"], ["fildeling", "1"]]
    bad = client.get(f"/api/v1/reports/municipality?{QUERY}&format=pdf")
    assert bad.status_code == 422
    assert set(json_of(bad)["error"]["fields"]) == {"format"}
    bad = client.get("/api/v1/reports/municipality?from=2026-13-01")
    assert bad.status_code == 422
    assert set(json_of(bad)["error"]["fields"]) == {"from"}


def test_cells():
    assert [neutralise(t) for t in ("=1", "+1", "-1", "@a", "\tx", "ok")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\tx",
        "ok",
    ]
    assert [csv_cell(v) for v in (None, 3, 0.25, -2.5, "-x")] == ["", "3", "0,25", "-2,5", "'-x"]


def test_openapi_documents_every_report(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for name in ("municipality", "vendor", "rollout", "tickets", "cases"):
        operation = spec["paths"][f"/api/v1/reports/{name}"]["get"]
        parameters = {p["name"] for p in operation["parameters"]}
        assert {"from", "to", "format", "system", "institution_type"} <= parameters

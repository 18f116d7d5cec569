"""Another municipality's or vendor's figures never appear in a report or an export
(the access matrix in tests/test_policy_matrix.py checks who gets a 404)."""

from __future__ import annotations

from tests.conftest import json_of

QUERY = "from=2026-03-02&to=2026-03-15"


def test_a_municipality_sees_only_its_own_tickets_and_cases(client, login, make_user, world):
    beta_coordinator = make_user("coordinator", municipality=world.beta)
    login(beta_coordinator)
    tickets = json_of(client.get(f"/api/v1/reports/tickets?{QUERY}"))
    assert [t["number"] for t in tickets["items"]] == ["T-T8"]
    cases = json_of(client.get(f"/api/v1/reports/cases?{QUERY}"))
    assert [c["number"] for c in cases["items"]] == ["C-C3"]
    figures = json_of(client.get(f"/api/v1/reports/municipality?{QUERY}"))
    assert figures["municipality"] == "beta"
    assert figures["tickets_created"] == 1
    assert figures["by_institution"] == {"320001": 1}
    csv = client.get(f"/api/v1/reports/tickets?{QUERY}&format=csv").data.decode()
    assert "T-T8" in csv
    assert "T-T1" not in csv
    # naming the other municipality is not found, never a silent switch
    assert client.get(f"/api/v1/reports/municipality?{QUERY}&municipality=alfa").status_code == 404
    assert client.get(f"/api/v1/reports/tickets?{QUERY}&municipality=alfa").status_code == 404


def test_a_vendor_sees_only_its_own_cases(client, login, make_user, world):
    login(make_user("vendor_agent", vendor=world.v2))
    figures = json_of(client.get(f"/api/v1/reports/vendor?{QUERY}"))
    assert (figures["vendor"], figures["cases_opened"], figures["cases_resolved"]) == (
        "lev-to",
        1,
        0,
    )
    assert list(figures["by_municipality"]) == ["alfa"]
    assert figures["known_issues"] == []
    cases = json_of(client.get(f"/api/v1/reports/cases?{QUERY}"))
    assert [c["number"] for c in cases["items"]] == ["C-C4"]
    assert client.get(f"/api/v1/reports/vendor?{QUERY}&vendor=lev-en").status_code == 404
    assert client.get(f"/api/v1/reports/cases?{QUERY}&vendor=lev-en").status_code == 404


def test_the_admin_names_the_municipality(client, login, make_user, world):
    login(make_user("admin"))
    assert client.get(f"/api/v1/reports/municipality?{QUERY}").status_code == 404
    figures = json_of(client.get(f"/api/v1/reports/municipality?{QUERY}&municipality=beta"))
    assert figures["tickets_created"] == 1
    every = json_of(client.get(f"/api/v1/reports/tickets?{QUERY}"))
    assert len(every["items"]) == 7

"""A coordinator opens the municipality report, changes the period, sees a chart and
downloads the CSV; axe-core finds no serious violation on the report pages."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from supportdesk.reports.periods import today_local
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in

COORDINATOR = "koordinator1@esbjerg.sd-demo.dk"
VENDOR_AGENT = "agent@netcompany.sd-demo.dk"


def test_coordinator_reads_the_municipality_report_and_downloads_it(new_page):
    page = new_page()
    sign_in(page, COORDINATOR, DEMO_PASSWORD)
    menu = page.get_by_role("navigation", name="Hovedmenu")
    follow(page, menu.get_by_role("link", name="Rapporter").click)
    follow(page, page.locator("main").get_by_role("link", name="Kommune").click)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Rapport: Kommune")
    axe_check(page, "report-municipality")

    # change the period: the last 90 days, typed into the form
    today = today_local()
    start = today - timedelta(days=89)
    page.get_by_label("Fra").fill(start.isoformat())
    page.get_by_label("Til").fill(today.isoformat())
    follow(page, page.get_by_role("button", name="Vis rapport").click)
    assert f"from={start.isoformat()}" in page.url
    assert "(90 dage)" in page.locator(".report-period").inner_text()

    # a chart beside its data table, drawn (an SVG image that loaded)
    chart = page.get_by_role("img", name="Diagram: Henvendelser pr. uge", exact=False)
    assert chart.is_visible()
    assert chart.evaluate("img => img.complete && img.naturalWidth > 0")
    table = page.get_by_role("table", name="Henvendelser pr. uge")
    assert table.get_by_role("row").count() >= 2
    created = page.get_by_role("table", name="Nøgletal").get_by_role(
        "row", name="Henvendelser oprettet"
    )
    shown = created.get_by_role("cell").inner_text().replace(".", "")
    axe_check(page, "report-municipality-90-days")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Hent CSV").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    assert text.startswith("Nøgletal\r\nNøgletal;Værdi\r\n")
    assert f"Henvendelser oprettet;{shown}\r\n" in text


def test_vendor_report_page_is_accessible(new_page):
    page = new_page()
    sign_in(page, VENDOR_AGENT, DEMO_PASSWORD)
    page.goto("/reports/vendor?preset=90")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Rapport: Leverandør")
    axe_check(page, "report-vendor")

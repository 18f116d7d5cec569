"""The system administrator imports the example wave and follows it in the wave overview."""

from __future__ import annotations

from sqlalchemy import func, select

from bench.onboard_wave import EXAMPLE_XLSX
from supportdesk.accounts.models import Municipality, User
from tests.browser.helpers import DEMO_PASSWORD, axe_check, follow, sign_in


def test_admin_imports_the_example_wave_and_opens_the_overview(page, data):
    sign_in(page, "admin@supportdesk.sd-demo.dk", DEMO_PASSWORD)
    page.goto("/admin/")
    follow(
        page,
        page.get_by_role("navigation", name="Administration")
        .get_by_role("link", name="Importér en bølge")
        .click,
    )
    axe_check(page, "onboarding-import")

    # a check first: the report says what would happen, nothing is written
    page.get_by_label("Regneark eller CSV-filer").set_input_files(str(EXAMPLE_XLSX))
    page.get_by_label("Kontrollér kun filen").check()
    follow(page, page.get_by_role("button", name="Importér").click)
    assert page.get_by_role("status").filter(has_text="Filen har ingen fejl").is_visible()
    axe_check(page, "onboarding-check-report")
    with data() as session:
        assert session.scalar(select(Municipality.id).where(Municipality.slug == "vejen")) is None

    # then the import itself
    page.get_by_label("Regneark eller CSV-filer").set_input_files(str(EXAMPLE_XLSX))
    follow(page, page.get_by_role("button", name="Importér").click)
    assert page.get_by_role("status").filter(has_text="Filen er importeret.").is_visible()
    counts = page.get_by_role("table", name="Rækker pr. ark")
    users = counts.get_by_role("row", name="users")
    assert users.get_by_role("cell").all_inner_texts() == ["22", "0", "0", "0"]
    axe_check(page, "onboarding-import-report")
    with data() as session:
        vejen = session.scalar(select(Municipality).where(Municipality.slug == "vejen"))
        assert (vejen.wave, vejen.go_live.isoformat()) == (1, "2027-08-09")
        people = session.scalar(select(func.count(User.id)).where(User.municipality_id == vejen.id))
        assert people == 11

    # the same file again changes nothing
    page.get_by_label("Regneark eller CSV-filer").set_input_files(str(EXAMPLE_XLSX))
    follow(page, page.get_by_role("button", name="Importér").click)
    assert page.get_by_role("status").filter(has_text="Intet er ændret").is_visible()

    follow(page, page.get_by_role("link", name="Se udrulningsbølgerne").click)
    assert page.get_by_role("heading", name="Udrulningsbølger", level=1).is_visible()
    wave = page.get_by_role("table", name="Bølge 1")
    vejen_row = wave.get_by_role("row", name="Vejen Kommune")
    assert vejen_row.is_visible()
    # new, far from go-live: no routing rules or local guides yet, nobody has accepted
    assert "Gul" in vejen_row.inner_text()
    assert "Ingen fordelingsregler" in vejen_row.inner_text()
    assert page.get_by_role("table", name="Bølge 2").get_by_role("row", name="Fanø Kommune")
    axe_check(page, "onboarding-waves")

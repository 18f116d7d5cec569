"""System administration over HTTP: municipalities, vendors, systems, categories."""

from __future__ import annotations

from datetime import date, time

import pytest
from sqlalchemy import func, select

from supportdesk.accounts.models import Category, Municipality, Role, System, Vendor

PAGES = ["/admin/municipalities", "/admin/vendors", "/admin/systems"]


def _count(db, model):
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("role", [r for r in Role if r != Role.admin])
def test_system_pages_are_404_for_everyone_else(client, login, make_user, role):
    login(make_user(role))
    for path in [*PAGES, "/admin/municipalities/new", "/admin/vendors/new"]:
        assert client.get(path).status_code == 404, path


def test_admin_sees_every_page(client, login, make_user, make_system, make_municipality):
    login(make_user(Role.admin))
    system = make_system()
    municipality = make_municipality("esbjerg")
    for path in [
        *PAGES,
        "/admin/",
        f"/admin/?municipality={municipality.slug}",
        f"/admin/entitlements?municipality={municipality.slug}",
        "/admin/entitlements",
        f"/admin/vendors/{system.vendor.slug}",
        f"/admin/systems/{system.slug}",
        f"/admin/systems/{system.slug}/categories/{system.categories[0].id}",
        f"/admin/municipalities/{municipality.slug}",
    ]:
        assert client.get(path).status_code == 200, path


def test_create_and_edit_municipality(client, db, login, make_user):
    login(make_user(Role.admin))
    response = client.post(
        "/admin/municipalities/new",
        data={"slug": "horsens", "name": "Horsens Kommune", "code": "hor", "retention_days": "365"},
    )
    assert response.status_code == 302
    municipality = db.session.scalar(select(Municipality).where(Municipality.slug == "horsens"))
    assert (municipality.code, municipality.retention_days) == ("HOR", 365)
    response = client.post(
        "/admin/municipalities/horsens",
        data={"slug": "horsens", "name": "Horsens", "code": "HOR", "retention_days": "400"},
    )
    assert response.status_code == 302
    db.session.refresh(municipality)
    assert (municipality.name, municipality.retention_days) == ("Horsens", 400)


@pytest.mark.parametrize(
    ("data", "field_text"),
    [
        (
            {"slug": "Bad Slug", "name": "X", "code": "XX", "retention_days": "730"},
            "Brug kun små bogstaver",
        ),
        ({"slug": "ok", "name": "X", "code": "x1", "retention_days": "730"}, "store bogstaver"),
        ({"slug": "ok", "name": "X", "code": "XX", "retention_days": "10"}, "30 og 36500"),
        ({"slug": "ok", "name": "X", "code": "XX", "retention_days": "abc"}, "helt tal"),
        ({"slug": "esbjerg", "name": "X", "code": "XX", "retention_days": "730"}, "i brug"),
        ({"slug": "ok", "name": "X", "code": "ESB", "retention_days": "730"}, "bruger allerede"),
    ],
)
def test_municipality_bad_input(client, db, login, make_user, data, field_text):
    login(make_user(Role.admin))
    client.post(
        "/admin/municipalities/new",
        data={"slug": "esbjerg", "name": "Esbjerg", "code": "ESB", "retention_days": "730"},
    )
    before = _count(db, Municipality)
    response = client.post("/admin/municipalities/new", data=data)
    assert response.status_code == 422
    assert field_text in response.get_data(as_text=True)
    assert _count(db, Municipality) == before


def test_create_vendor_with_calendar(client, db, login, make_user):
    login(make_user(Role.admin))
    response = client.post(
        "/admin/vendors/new",
        data={
            "slug": "nyleverandor",
            "name": "Ny Leverandør",
            "min_entitled": "2",
            "max_entitled": "5",
            "support_email": "support@ny.dk",
            "business_days": "1,2,3,4",
            "business_start": "07:30",
            "business_end": "15:00",
            "timezone": "Europe/Copenhagen",
            "closed_days": "2026-12-24 Juleaften\n2026-12-31",
        },
    )
    assert response.status_code == 302
    vendor = db.session.scalar(select(Vendor).where(Vendor.slug == "nyleverandor"))
    assert (vendor.min_entitled, vendor.max_entitled) == (2, 5)
    assert vendor.business_days == "1,2,3,4"
    assert (vendor.business_start, vendor.business_end) == (time(7, 30), time(15, 0))
    assert [(c.day, c.reason) for c in vendor.closed_days] == [
        (date(2026, 12, 24), "Juleaften"),
        (date(2026, 12, 31), ""),
    ]
    page = client.get("/admin/vendors/nyleverandor").get_data(as_text=True)
    assert "2026-12-24 Juleaften" in page
    response = client.post(
        "/admin/vendors/nyleverandor",
        data={
            "slug": "nyleverandor",
            "name": "Ny Leverandør",
            "min_entitled": "0",
            "max_entitled": "8",
            "business_days": "1,2,3,4,5",
            "business_start": "08:00",
            "business_end": "16:00",
            "timezone": "Europe/Copenhagen",
            "closed_days": "2026-12-31 Nytårsaften",
        },
    )
    assert response.status_code == 302
    db.session.refresh(vendor)
    assert vendor.min_entitled == 0
    assert [(c.day, c.reason) for c in vendor.closed_days] == [(date(2026, 12, 31), "Nytårsaften")]


@pytest.mark.parametrize(
    ("override", "text"),
    [
        ({"max_entitled": "1", "min_entitled": "3"}, "mindst lig minimum"),
        ({"business_days": "1,2,9"}, "1 (mandag)"),
        ({"business_start": "17:00"}, "efter start"),
        ({"business_start": "kl otte"}, "gyldigt tidspunkt"),
        ({"timezone": "Mars/Olympus"}, "tidszone"),
        ({"closed_days": "24/12 jul"}, "Linje 1"),
        ({"closed_days": "2026-12-24\n2026-12-24"}, "to gange"),
        ({"max_entitled": "otte"}, "helt tal"),
        ({"support_email": "nope"}, "gyldig e-mail"),
    ],
)
def test_vendor_bad_input(client, db, login, make_user, override, text):
    login(make_user(Role.admin))
    data = {
        "slug": "lev",
        "name": "Lev",
        "min_entitled": "4",
        "max_entitled": "8",
        "business_days": "1,2,3,4,5",
        "business_start": "08:00",
        "business_end": "16:00",
        "timezone": "Europe/Copenhagen",
        **override,
    }
    response = client.post("/admin/vendors/new", data=data)
    assert response.status_code == 422
    assert text in response.get_data(as_text=True)
    assert _count(db, Vendor) == 0


def test_systems_and_categories(client, db, login, make_user, make_vendor):
    login(make_user(Role.admin))
    vendor = make_vendor()
    response = client.post(
        "/admin/systems/new", data={"slug": "nyt-system", "name": "Nyt system", "vendor": vendor.id}
    )
    assert response.status_code == 302
    system = db.session.scalar(select(System).where(System.slug == "nyt-system"))
    response = client.post(
        "/admin/systems/nyt-system/categories/new",
        data={"category-slug": "login", "category-name": "Log ind"},
    )
    assert response.status_code == 302
    category = db.session.scalar(select(Category).where(Category.system_id == system.id))
    response = client.post(
        f"/admin/systems/nyt-system/categories/{category.id}",
        data={"category-slug": "login", "category-name": "Log ind og MitID"},
    )
    assert response.status_code == 302
    db.session.refresh(category)
    assert category.name == "Log ind og MitID"
    # the same slug twice in one system, a bad vendor choice, an unknown category
    response = client.post(
        "/admin/systems/nyt-system/categories/new",
        data={"category-slug": "login", "category-name": "Igen"},
    )
    assert response.status_code == 422
    response = client.post(
        "/admin/systems/new", data={"slug": "andet", "name": "Andet", "vendor": "999999"}
    )
    assert response.status_code == 422
    assert client.get("/admin/systems/nyt-system/categories/999999").status_code == 404
    assert client.get("/admin/systems/ukendt").status_code == 404
    assert _count(db, Category) == 1
    assert _count(db, System) == 1

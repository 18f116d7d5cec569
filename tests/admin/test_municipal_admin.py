"""Municipal administration over HTTP: users, institutions, support entitlement."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from supportdesk.accounts.models import Institution, Role, SupportEntitlement, User
from supportdesk.outbox import OutboxMessage
from tests.conftest import PASSWORD


def _count(db, model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_admin_pages_render_for_municipal_admin(client, login, make_user, make_vendor):
    make_vendor()
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    for path in ("/admin/", "/admin/users", "/admin/institutions", "/admin/entitlements"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert admin.municipality.name in response.get_data(as_text=True)


def test_create_user_in_own_municipality(client, db, login, make_user, make_institution):
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    school = make_institution(admin.municipality)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "Ny.Superbruger@Esbjerg.dk",
            "name": "Ny Superbruger",
            "role": "superuser",
            "institution": str(school.id),
            "locale": "da",
            "password": PASSWORD,
            "active": "y",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "ny.superbruger@esbjerg.dk"))
    assert user.municipality_id == admin.municipality_id
    assert user.institution_id == school.id
    # nobody typed a password: the new user chooses one through the invitation link
    client.post("/logout")
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 401
    )
    [invitation] = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "account_email")
    )
    assert invitation.payload["template"] == "invitation"
    link = invitation.payload["context"]["path"]
    assert client.post(link, data={"password": PASSWORD}).status_code == 302
    login_response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert login_response.status_code == 302


def test_municipal_admin_cannot_give_admin_or_vendor_roles(client, db, login, make_user):
    login(make_user(Role.municipal_admin))
    for role in ("admin", "vendor_agent"):
        response = client.post(
            "/admin/users/new",
            data={"email": f"{role}@x.dk", "name": "X", "role": role, "password": PASSWORD},
        )
        assert response.status_code == 422
        assert _count(db, User, User.email == f"{role}@x.dk") == 0


def test_institution_of_other_municipality_is_not_a_choice(
    client, db, login, make_user, make_institution
):
    login(make_user(Role.municipal_admin, municipality="esbjerg"))
    foreign = make_institution("aalborg")
    page = client.get("/admin/users/new").get_data(as_text=True)
    assert foreign.name not in page
    response = client.post(
        "/admin/users/new",
        data={
            "email": "sneaky@x.dk",
            "name": "Sneaky",
            "role": "superuser",
            "institution": str(foreign.id),
            "password": PASSWORD,
        },
    )
    assert response.status_code == 422
    assert _count(db, User, User.email == "sneaky@x.dk") == 0


def test_bad_user_input_is_422_in_danish(client, login, make_user):
    login(make_user(Role.municipal_admin))
    response = client.post(
        "/admin/users/new",
        data={"email": "not-an-email", "name": "", "role": "superuser", "password": "short"},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "error-summary" in page
    assert "Skriv en gyldig e-mailadresse." in page


def test_edit_and_deactivate_user(client, db, login, make_user):
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    target = make_user(Role.hotline, municipality=admin.municipality)
    epoch = target.auth_epoch
    assert client.get(f"/admin/users/{target.id}").status_code == 200
    response = client.post(
        f"/admin/users/{target.id}",
        data={"email": target.email, "name": "Omdøbt", "role": "hotline", "locale": "en"},
    )
    assert response.status_code == 302
    db.session.refresh(target)
    assert (target.name, target.active, target.locale) == ("Omdøbt", False, "en")
    assert target.auth_epoch == epoch + 1


def test_admin_cannot_lock_themselves_out(client, db, login, make_user):
    admin = login(make_user(Role.municipal_admin))
    response = client.post(
        f"/admin/users/{admin.id}",
        data={"email": admin.email, "name": admin.name, "role": "municipal_admin"},
    )
    assert response.status_code == 422
    db.session.refresh(admin)
    assert admin.active


def test_other_municipality_user_and_institution_are_404(
    client, login, make_user, make_institution
):
    login(make_user(Role.municipal_admin, municipality="esbjerg"))
    other_user = make_user(Role.coordinator, municipality="aalborg")
    other_school = make_institution("aalborg")
    assert client.get(f"/admin/users/{other_user.id}").status_code == 404
    assert client.post(f"/admin/users/{other_user.id}", data={}).status_code == 404
    assert client.get(f"/admin/institutions/{other_school.number}").status_code == 404
    assert client.get("/admin/users?municipality=aalborg").status_code == 404
    assert other_user.name not in client.get("/admin/users").get_data(as_text=True)


def test_create_and_edit_institution(client, db, login, make_user):
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    response = client.post(
        "/admin/institutions/new",
        data={"number": "561999", "name": "Nyskolen", "type": "skole", "active": "y"},
    )
    assert response.status_code == 302
    school = db.session.scalar(select(Institution).where(Institution.number == "561999"))
    assert school.municipality_id == admin.municipality_id
    response = client.post(
        "/admin/institutions/561999",
        data={"number": "561999", "name": "Nyskolen Øst", "type": "sfo"},
    )
    assert response.status_code == 302
    db.session.refresh(school)
    assert (school.name, school.type.value, school.active) == ("Nyskolen Øst", "sfo", False)


def test_institution_bad_input(client, db, login, make_user, make_institution):
    admin = login(make_user(Role.municipal_admin))
    taken = make_institution(admin.municipality)
    for data in (
        {"number": "12ab", "name": "X", "type": "skole"},
        {"number": taken.number, "name": "X", "type": "skole"},
        {"number": "123456", "name": "X", "type": "universitet"},
    ):
        response = client.post("/admin/institutions/new", data=data)
        assert response.status_code == 422, data
    assert _count(db, Institution) == 1


def test_grant_and_revoke_through_the_page(client, db, login, make_user, make_vendor):
    vendor = make_vendor(max_entitled=8, min_entitled=4)
    admin = login(make_user(Role.municipal_admin))
    coordinator = make_user(Role.coordinator, municipality=admin.municipality)
    page = client.get("/admin/entitlements").get_data(as_text=True)
    assert "forventer mindst 4" in page  # 0 < minimum: the warning shows
    response = client.post(
        "/admin/entitlements/grant", data={"user": coordinator.id, "vendor": vendor.id}
    )
    assert response.status_code == 302
    assert _count(db, SupportEntitlement) == 1
    target = {"user": coordinator.id, "vendor": vendor.id}
    # below the minimum: only with a reason (tests/accounts/test_revoke_minimum.py)
    response = client.post("/admin/entitlements/revoke", data={**target, "reason": "Fratrådt"})
    assert response.status_code == 302
    assert _count(db, SupportEntitlement) == 0


def test_warning_disappears_at_the_minimum(client, login, make_user, make_vendor):
    vendor = make_vendor(max_entitled=3, min_entitled=2)
    admin = login(make_user(Role.municipal_admin))
    make_user(Role.coordinator, municipality=admin.municipality, entitled=[vendor])
    assert "forventer mindst 2" in client.get("/admin/entitlements").get_data(as_text=True)
    make_user(Role.coordinator, municipality=admin.municipality, entitled=[vendor])
    page = client.get("/admin/entitlements").get_data(as_text=True)
    assert "forventer mindst" not in page
    assert "Maksimum nået" not in page


def test_ninth_grant_refused_on_the_page(client, db, login, make_user, make_vendor):
    vendor = make_vendor(max_entitled=8)
    admin = login(make_user(Role.municipal_admin))
    for _ in range(8):
        make_user(Role.coordinator, municipality=admin.municipality, entitled=[vendor])
    ninth = make_user(Role.coordinator, municipality=admin.municipality)
    response = client.post(
        "/admin/entitlements/grant", data={"user": ninth.id, "vendor": vendor.id}
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "højst 8 supportberettigede" in page
    assert _count(db, SupportEntitlement, SupportEntitlement.vendor_id == vendor.id) == 8


def test_grant_to_non_coordinator_or_foreign_user_refused(
    client, db, login, make_user, make_vendor
):
    vendor = make_vendor()
    admin = login(make_user(Role.municipal_admin, municipality="esbjerg"))
    hotline = make_user(Role.hotline, municipality=admin.municipality)
    foreign = make_user(Role.coordinator, municipality="aalborg")
    response = client.post(
        "/admin/entitlements/grant", data={"user": hotline.id, "vendor": vendor.id}
    )
    assert response.status_code == 422
    response = client.post(
        "/admin/entitlements/grant", data={"user": foreign.id, "vendor": vendor.id}
    )
    assert response.status_code == 404  # another municipality's user is not found
    response = client.post("/admin/entitlements/grant", data={"user": "x", "vendor": "y"})
    assert response.status_code == 422
    assert _count(db, SupportEntitlement) == 0
    response = client.post(
        "/admin/entitlements/revoke", data={"user": foreign.id, "vendor": vendor.id}
    )
    assert response.status_code == 404


def test_user_list_is_keyset_paginated_without_n_plus_1(client, login, make_user, count_queries):
    admin = login(make_user(Role.municipal_admin))
    for _ in range(55):
        make_user(Role.superuser, municipality=admin.municipality)
    with count_queries() as queries:
        first = client.get("/admin/users")
    assert first.status_code == 200
    assert len(queries) < 15
    page = first.get_data(as_text=True)
    assert 'rel="next"' in page
    after = page.split("after=")[1].split('"')[0]
    second = client.get(f"/admin/users?after={after}").get_data(as_text=True)
    assert 'rel="next"' not in second
    assert (
        len(re.findall(r"/admin/users/\d+", second)) == 56 - 50
    )  # 56 users in total, 50 on page one


def test_admin_moves_a_user_to_another_municipality(client, db, login, make_user, make_vendor):
    vendor = make_vendor()
    login(make_user(Role.admin))
    coordinator = make_user(Role.coordinator, municipality="esbjerg", entitled=[vendor])
    target = make_user(Role.municipal_admin, municipality="aalborg").municipality
    response = client.post(
        f"/admin/users/{coordinator.id}",
        data={
            "email": coordinator.email,
            "name": coordinator.name,
            "role": "coordinator",
            "municipality": target.id,
            "locale": "da",
            "active": "y",
        },
    )
    assert response.status_code == 302
    db.session.refresh(coordinator)
    assert coordinator.municipality_id == target.id
    # entitlements are counted per municipality: they do not move along
    assert _count(db, SupportEntitlement) == 0


def test_entitlement_page_queries_do_not_grow_with_rows(
    client, login, make_user, make_vendor, count_queries
):
    vendors = [make_vendor(max_entitled=20) for _ in range(3)]
    admin = login(make_user(Role.municipal_admin))
    make_user(Role.coordinator, municipality=admin.municipality, entitled=vendors)
    with count_queries() as few:
        assert client.get("/admin/entitlements").status_code == 200
    for _ in range(6):
        make_user(Role.coordinator, municipality=admin.municipality, entitled=vendors)
    with count_queries() as many:
        assert client.get("/admin/entitlements").status_code == 200
    assert len(many) == len(few)


def test_overview_warns_below_minimum_and_admin_picks_a_municipality(
    client, login, make_user, make_vendor, make_municipality
):
    vendor = make_vendor(min_entitled=2, max_entitled=4)
    municipal = make_user(Role.municipal_admin, municipality="aalborg")
    make_user(Role.coordinator, municipality=municipal.municipality, entitled=[vendor])
    login(municipal)
    assert "har 1 supportberettiget hos" in client.get("/admin/").get_data(as_text=True)
    login(make_user(Role.admin))
    chooser = client.get("/admin/").get_data(as_text=True)
    assert "/admin/?municipality=aalborg" in chooser
    assert "forventer mindst" not in chooser  # no municipality chosen yet
    page = client.get("/admin/?municipality=aalborg").get_data(as_text=True)
    assert "har 1 supportberettiget hos" in page
    assert client.get("/admin/?municipality=atlantis").status_code == 404

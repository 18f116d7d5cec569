"""The upload page and the wave overview: the system admin's only; bad input is a 422."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bench.onboard_wave import EXAMPLE_CSV, EXAMPLE_XLSX
from supportdesk.accounts import passwords
from supportdesk.accounts.models import (
    Institution,
    LinkPurpose,
    Municipality,
    PasswordLink,
    Role,
    User,
)
from supportdesk.extensions import db
from supportdesk.faq.models import Article, ArticleState, Audience
from supportdesk.onboarding import readiness
from supportdesk.onboarding.readiness import Light
from supportdesk.tickets.models import RoutingRule, Ticket
from tests.onboarding.conftest import row_counts


def _upload(client, files, **fields):
    data = {"files": [(io.BytesIO(content), name) for name, content in files], **fields}
    return client.post("/admin/onboarding/import", data=data, content_type="multipart/form-data")


def _example() -> list[tuple[str, bytes]]:
    return [("bølge.xlsx", EXAMPLE_XLSX.read_bytes())]


@pytest.fixture
def admin(make_user, login):
    return login(make_user(Role.admin))


def test_the_admin_uploads_the_example_and_reads_the_report(client, admin, vendors):
    page = client.get("/admin/onboarding/import")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    response = _upload(client, _example())
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Filen er importeret." in text
    assert "Nye brugere, der får en e-mail med et link til at vælge en adgangskode: 22." in text
    assert "<td>22</td>" in text  # users created
    assert db.session.scalar(select(func.count(Municipality.id))) == 3
    # the admin is recorded as who created the people and sent the invitations
    links = db.session.scalars(select(PasswordLink)).all()
    assert {link.created_by_id for link in links} == {admin.id}
    again = _upload(client, _example())
    assert "Intet er ændret: databasen indeholder allerede det, filen siger." in again.get_data(
        as_text=True
    )


def test_csv_files_upload_together(client, admin, vendors):
    files = [(path.name, path.read_bytes()) for path in sorted(EXAMPLE_CSV.glob("*.csv"))]
    response = _upload(client, files, dry_run="y")
    assert response.status_code == 200
    assert "Filen har ingen fejl. Intet er skrevet: det var kun en kontrol." in (
        response.get_data(as_text=True)
    )
    assert db.session.scalar(select(func.count(Municipality.id))) == 0


def test_a_bad_row_is_reported_on_the_page_and_nothing_is_written(client, admin, vendors):
    text = (EXAMPLE_CSV / "users.csv").read_text(encoding="utf-8-sig")
    text = text.replace("bo.lund@vejen.sd-demo.dk", "bo.lund@", 1)
    files = [
        (path.name, path.read_bytes())
        for path in sorted(EXAMPLE_CSV.glob("*.csv"))
        if path.name != "users.csv"
    ] + [("users.csv", text.encode())]
    before = row_counts()
    response = _upload(client, files)
    assert response.status_code == 422
    page = " ".join(response.get_data(as_text=True).split())
    assert "Rækker med fejl: 1. Intet er skrevet" in page
    assert (
        "<td>users</td> <td>3</td> <td>email</td> <td>Skriv en gyldig e-mailadresse.</td>"
    ) in page
    assert row_counts() == before


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([], "Vælg regnearket eller CSV-filerne."),
        ([("bølge.xlsx", b"not a workbook")], "Filen kan ikke læses som et Excel-regneark"),
        ([("bølge.pdf", b"%PDF-1.4")], "Filen bølge.pdf er hverken et regneark (.xlsx) eller CSV."),
        ([("brugere.csv", b"email\n")], "Filen brugere.csv er ikke en af municipalities.csv"),
        ([("users.csv", "ø".encode("latin-1"))], "Filen users.csv er ikke UTF-8-tekst."),
    ],
)
def test_bad_files_are_a_422_with_the_reason(client, admin, files, message):
    response = _upload(client, files)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_an_upload_too_large_is_a_413(client, admin, app):
    app.config["MAX_CONTENT_LENGTH"], before = 1024, app.config["MAX_CONTENT_LENGTH"]
    try:
        response = _upload(client, [("users.csv", b"x" * 4096)])
    finally:
        app.config["MAX_CONTENT_LENGTH"] = before
    assert response.status_code == 413


@pytest.mark.parametrize("role", [Role.municipal_admin, Role.coordinator, Role.vendor_agent])
def test_only_the_system_admin_imports(client, login, make_user, vendors, role):
    login(make_user(role, municipality="vejen"))
    before = row_counts()
    assert client.get("/admin/onboarding/import").status_code == 404
    assert _upload(client, _example()).status_code == 404
    assert _upload(client, _example(), dry_run="y").status_code == 404
    assert client.get("/admin/onboarding/waves").status_code == 404
    assert client.get("/admin/onboarding/waves.csv").status_code == 404
    assert client.get("/admin/onboarding/example.xlsx").status_code == 404
    # only the refusals are written (the security log's access_denied events)
    after = row_counts()
    assert after.pop("security_event") > before.pop("security_event")
    assert after == before


def test_the_import_asks_to_confirm_an_old_sign_in(client, admin, vendors):
    from supportdesk.accounts.models import UserSession

    db.session.execute(
        UserSession.__table__.update().values(
            authenticated_at=datetime.now(UTC) - timedelta(hours=1)
        )
    )
    db.session.commit()
    assert client.get("/admin/onboarding/import").status_code == 401
    assert _upload(client, _example()).status_code == 401
    assert db.session.scalar(select(func.count(Municipality.id))) == 0
    # a dry run writes nothing: no confirmation needed
    assert _upload(client, _example(), dry_run="y").status_code == 200


def test_the_example_workbook_downloads(client, admin):
    response = client.get("/admin/onboarding/example.xlsx")
    try:
        assert response.status_code == 200
        assert response.data == EXAMPLE_XLSX.read_bytes()
    finally:
        response.close()


# --- the wave overview ------------------------------------------------------------------


@pytest.fixture
def town(make_municipality, make_institution, make_user, make_vendor, make_system):
    """Vejle: live for three weeks, fully set up; Viborg: goes live in ten days, bare."""
    today = readiness.today()
    vendor = make_vendor("netcompany")
    system = make_system("aula", vendor=vendor)
    vejle = make_municipality("vejle")
    vejle.wave, vejle.go_live = 1, today - timedelta(weeks=3)
    viborg = make_municipality("viborg")
    viborg.wave, viborg.go_live = 1, today + timedelta(days=10)
    db.session.commit()
    school = make_institution(vejle)
    superuser = make_user(Role.superuser, institution=school)
    make_user(Role.municipal_admin, municipality=vejle)
    for _ in range(4):
        make_user(Role.coordinator, municipality=vejle, entitled=[vendor])
    make_institution(viborg)
    make_user(Role.coordinator, municipality=viborg, entitled=[vendor])
    invited = make_user(Role.hotline, municipality=viborg)
    invited.password_hash = "!"  # as imported: no password until the invitation is accepted
    passwords.invite(None, invited)
    db.session.add(RoutingRule(municipality_id=vejle.id, name="Alt", position=1))
    category = system.categories[0]
    db.session.add(
        Article(
            slug="lokal",
            title="Lokal vejledning",
            system=system,
            category=category,
            audience=Audience.municipal,
            municipality_id=vejle.id,
            state=ArticleState.published,
            updated=today,
        )
    )
    db.session.add(
        Ticket(
            number="VEJ-1",
            municipality_id=vejle.id,
            institution_id=school.id,
            system_id=system.id,
            created_by_id=superuser.id,
            subject="Login",
            created_at=datetime.now(UTC) - timedelta(weeks=2),
        )
    )
    db.session.commit()
    return vejle, viborg


def _by_slug(waves) -> dict[str, readiness.Readiness]:
    return {m.slug: m for wave in waves for m in wave.municipalities}


def test_readiness_is_computed_from_the_data(town):
    found = _by_slug(readiness.overview(readiness.today()))
    vejle, viborg = found["vejle"], found["viborg"]
    assert vejle.weeks_to_go == -3
    assert {c.key: c.light for c in vejle.checks} == dict.fromkeys(
        readiness.CHECK_LABELS, Light.green
    )
    assert vejle.light == Light.green
    assert str(vejle.reason) == "Klar"
    details = {c.key: str(c.detail) for c in vejle.checks}
    assert details["coordinators"] == "Netcompany 4"
    assert details["tickets"] == "1 i de første 4 uger"
    assert viborg.weeks_to_go == 1
    lights = {c.key: c.light for c in viborg.checks}
    # ten days to go: missing set-up is red now
    assert lights == {
        "admins": Light.red,
        "coordinators": Light.red,
        "superusers": Light.red,
        "routing": Light.red,
        "guides": Light.amber,
        "invitations": Light.amber,
        "tickets": Light.green,
    }
    details = {c.key: str(c.detail) for c in viborg.checks}
    assert details["coordinators"] == "Netcompany 1 (skal være 4 til 8)"
    assert details["superusers"] == "Institutioner uden superbruger: 1 af 1"
    # the coordinator chose a password, the invited hotline has not yet
    assert details["invitations"] == "1 af 2 har valgt en adgangskode (50 %)"
    assert viborg.reason.startswith("Ingen kommunal administrator; Netcompany 1")


def test_accepting_the_invitation_counts(town):
    invited = db.session.scalar(select(User).where(User.role == Role.hotline))
    link = db.session.scalar(
        select(PasswordLink).where(PasswordLink.purpose == LinkPurpose.invitation)
    )
    passwords.use_link(link, "en lang og ukendt sætning om kaffe")
    db.session.commit()
    assert invited.password_hash != "!"
    viborg = _by_slug(readiness.overview(readiness.today()))["viborg"]
    details = {c.key: c.detail for c in viborg.checks}
    assert details["invitations"] == "2 af 2 har valgt en adgangskode (100 %)"


def test_the_overview_page_and_its_csv(client, admin, town):
    page = client.get("/admin/onboarding/waves")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Bølge 1" in text
    assert '<span class="rag rag-red">Rød</span>' in text
    assert "I drift; uge 4 efter go-live" in text
    export = client.get("/admin/onboarding/waves.csv")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    lines = export.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("wave;municipality;name;go_live;weeks_to_go;status;reason;admins")
    rows = {line.split(";")[1]: line.split(";") for line in lines[1:]}
    assert rows["vejle"][5:7] == ["green", "Klar"]
    assert rows["viborg"][5] == "red"


def test_the_overview_takes_a_fixed_number_of_statements(
    admin, client, count_queries, make_municipality, make_institution, make_user
):
    def add(count: int) -> None:
        for _ in range(count):
            municipality = make_municipality()
            municipality.wave, municipality.go_live = 2, date(2026, 1, 5)
            db.session.commit()
            make_user(Role.superuser, institution=make_institution(municipality))

    add(2)
    client.get("/admin/onboarding/waves")  # warm caches (menu, translations)
    with count_queries() as few:
        assert client.get("/admin/onboarding/waves").status_code == 200
    add(10)
    client.get("/admin/onboarding/waves")
    with count_queries() as many:
        assert client.get("/admin/onboarding/waves").status_code == 200
    assert len(many) == len(few), "\n".join(many)
    assert db.session.scalar(select(func.count(Institution.id))) == 12

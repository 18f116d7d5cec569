"""`onboard import`: a good workbook imports fully, a bad row writes nothing and is named,
re-import is a no-op, --dry-run writes nothing, --partial writes the good rows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from supportdesk.accounts.models import (
    Institution,
    LinkPurpose,
    Municipality,
    PasswordLink,
    Role,
    SupportEntitlement,
    User,
)
from supportdesk.extensions import db
from supportdesk.outbox import OutboxMessage
from tests.onboarding.conftest import row_counts, user_row

EXAMPLE_ROWS = 3 + 9 + 22 + 12


def _created(count: int) -> str:
    return f"created {count}, updated 0, unchanged 0, failed 0"


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def test_a_good_workbook_imports_fully(onboard, vendors, example_xlsx):
    code, lines = onboard(example_xlsx)
    assert code == 0, lines
    assert lines[-1] == f"created {EXAMPLE_ROWS}, updated 0, unchanged 0, failed 0"
    vejen = db.session.scalar(select(Municipality).where(Municipality.slug == "vejen"))
    assert (vejen.name, vejen.wave, vejen.go_live.isoformat(), vejen.retention_days) == (
        "Vejen Kommune",
        1,
        "2027-08-09",
        730,
    )
    fanoe = db.session.scalar(select(Municipality).where(Municipality.slug == "fanoe"))
    assert (fanoe.name, fanoe.wave, fanoe.retention_days) == ("Fanø Kommune", 2, 730)
    assert len({vejen.code, fanoe.code}) == 2
    assert db.session.scalar(select(func.count(Institution.id))) == 9
    school = db.session.scalar(select(Institution).where(Institution.number == "575101"))
    assert (school.name, school.type.value, school.municipality_id) == (
        "Børnehuset Æblehaven",
        "dagtilbud",
        vejen.id,
    )
    superuser = _user("frida.moeller@vejen.sd-demo.dk")
    assert (superuser.role, superuser.municipality_id, superuser.institution.number) == (
        Role.superuser,
        vejen.id,
        "575401",
    )
    agent = _user("william.fog@aula.sd-demo.dk")
    assert (agent.role, agent.municipality_id, agent.vendor_id) == (
        Role.vendor_agent,
        None,
        vendors["netcompany"].id,
    )
    coordinator = _user("hans.bruun@vejen.sd-demo.dk")
    assert coordinator.entitled_vendor_ids == {vendors["netcompany"].id, vendors["meebook"].id}
    assert db.session.scalar(select(func.count(SupportEntitlement.id))) == 12
    # nobody can sign in before choosing a password through the invitation
    assert db.session.scalar(select(func.count(User.id)).where(User.password_hash != "!")) == 0


def test_imported_users_get_the_set_password_invitation(onboard, vendors, example_xlsx):
    onboard(example_xlsx)
    links = db.session.scalars(select(PasswordLink)).all()
    assert len(links) == 22
    assert {link.purpose for link in links} == {LinkPurpose.invitation}
    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "account_email")
    ).all()
    assert sorted(m.payload["user_id"] for m in mails) == sorted(link.user_id for link in links)
    assert {m.payload["template"] for m in mails} == {"invitation"}
    assert all(m.payload["context"]["path"].startswith("/password/set/") for m in mails)


def test_reimport_is_a_no_op(onboard, vendors, example_xlsx):
    assert onboard(example_xlsx)[0] == 0
    before = row_counts()
    code, lines = onboard(example_xlsx)
    assert code == 0
    assert lines[-1] == f"created 0, updated 0, unchanged {EXAMPLE_ROWS}, failed 0"
    assert "Intet er ændret: databasen indeholder allerede det, filen siger." in lines
    # no second invitation, no new rows of any kind
    assert row_counts() == before


def test_the_csv_folder_and_the_workbook_say_the_same(onboard, vendors, example_xlsx, example):
    from bench.onboard_wave import EXAMPLE_CSV  # the docs example, as CSV files

    code, lines = onboard(EXAMPLE_CSV, "--dry-run")
    assert (code, lines[-1]) == (
        0,
        f"dry run, created {EXAMPLE_ROWS}, updated 0, unchanged 0, failed 0",
    )
    assert onboard(example_xlsx)[0] == 0
    assert (
        onboard(EXAMPLE_CSV)[1][-1] == f"created 0, updated 0, unchanged {EXAMPLE_ROWS}, failed 0"
    )


def test_dry_run_writes_nothing(onboard, vendors, example_xlsx):
    before = row_counts()
    code, lines = onboard(example_xlsx, "--dry-run")
    assert code == 0
    assert lines[-1] == f"dry run, created {EXAMPLE_ROWS}, updated 0, unchanged 0, failed 0"
    assert "Kun kontrol: intet er skrevet." in lines
    assert row_counts() == before


def test_one_bad_row_writes_nothing_and_names_sheet_row_column_and_reason(
    onboard, vendors, example, workbook
):
    user_row(example, "emil.kjaer@vejen.sd-demo.dk")[0] = "emil.kjaer(at)vejen.sd-demo.dk"
    before = row_counts()
    code, lines = onboard(workbook(example, xlsx=True))
    assert code == 1
    # the header is row 1: Emil is the fifth person, on row 6
    assert lines[0] == "Ark users, række 6, kolonne email: Skriv en gyldig e-mailadresse."
    assert "Intet er skrevet: ret rækkerne ovenfor og importér igen." in lines
    assert lines[-1] == "created 0, updated 0, unchanged 0, failed 1"
    assert row_counts() == before


def test_dry_run_reports_the_bad_row_too(onboard, vendors, example, workbook):
    example["institutions"][3][3] = "skolen"
    code, lines = onboard(workbook(example), "--dry-run")
    assert code == 1
    assert lines[0] == (
        "Ark institutions, række 4, kolonne type: Ukendt type skolen: brug skole, dagtilbud, "
        "sfo, klub, dagpleje."
    )
    # Dorte works there: her row fails too
    assert lines[1] == (
        "Ark users, række 5, kolonne institution: Institutionen 575101 importeres ikke: dens "
        "række 4 i arket institutions har fejl."
    )
    assert lines[-1] == "dry run, created 0, updated 0, unchanged 0, failed 2"


def test_partial_writes_the_good_rows_and_what_depends_on_a_bad_one_fails(
    onboard, vendors, example, workbook
):
    fanoe = next(row for row in example["municipalities"] if row[0] == "fanoe")
    fanoe[3] = "1. november"
    code, lines = onboard(workbook(example), "--partial")
    assert code == 1
    assert lines[0] == (
        "Ark municipalities, række 4, kolonne go_live: En dato som 2027-08-09 eller 09-08-2027."
    )
    assert (
        "Ark institutions, række 10, kolonne municipality: Kommunen fanoe importeres ikke: dens "
        "række 4 i arket municipalities har fejl."
    ) in lines
    # Fanø's superuser fails on the municipality and on the institution; its admin too
    assert sum(line.startswith("Ark users") for line in lines) == 3
    assert lines[-1] == f"created {EXAMPLE_ROWS - 4}, updated 0, unchanged 0, failed 4"
    slugs = set(db.session.scalars(select(Municipality.slug)))
    assert {"vejen", "billund"} <= slugs
    assert "fanoe" not in slugs
    assert _user("viggo.hald@fanoe.sd-demo.dk") is None
    assert _user("bo.lund@vejen.sd-demo.dk") is not None
    # the rest of the file again: what was written is unchanged, the bad rows still fail
    code, lines = onboard(workbook(example), "--partial")
    assert lines[-1] == f"created 0, updated 0, unchanged {EXAMPLE_ROWS - 4}, failed 4"


def test_changed_cells_update_and_the_rest_stays(onboard, vendors, example, workbook):
    assert onboard(workbook(example))[0] == 0
    example["municipalities"][1][2:4] = ["2", "2027-11-01"]
    user_row(example, "bo.lund@vejen.sd-demo.dk")[1] = "Bo Lund Madsen"
    user_row(example, "gitte.bach@vejen.sd-demo.dk")[4] = "575001"
    code, lines = onboard(workbook(example))
    assert code == 0
    assert lines[-1] == f"created 0, updated 3, unchanged {EXAMPLE_ROWS - 3}, failed 0"
    vejen = db.session.scalar(select(Municipality).where(Municipality.slug == "vejen"))
    assert (vejen.wave, vejen.go_live.isoformat()) == (2, "2027-11-01")
    assert _user("bo.lund@vejen.sd-demo.dk").name == "Bo Lund Madsen"
    assert _user("gitte.bach@vejen.sd-demo.dk").institution.number == "575001"
    # an updated person is not invited again
    assert db.session.scalar(select(func.count(PasswordLink.id))) == 22


def test_empty_cells_keep_what_the_municipality_has(onboard, vendors, example, workbook):
    assert onboard(workbook(example))[0] == 0
    example["municipalities"][1][2:5] = ["", "", ""]
    _code, lines = onboard(workbook(example))
    assert lines[-1] == f"created 0, updated 0, unchanged {EXAMPLE_ROWS}, failed 0"


def test_comma_separated_csv_without_bom_reads_the_same(onboard, vendors, example, workbook):
    code, lines = onboard(workbook(example, delimiter=","), "--dry-run")
    assert (code, lines[-1]) == (
        0,
        f"dry run, created {EXAMPLE_ROWS}, updated 0, unchanged 0, failed 0",
    )


def test_an_unreadable_file_is_one_clear_line(onboard, tmp_path):
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "municipalities.csv").write_bytes("slug;name\nfanoe;Fanø Kommune\n".encode("latin-1"))
    code, lines = onboard(latin)
    assert code == 2
    assert lines == [
        "Error: Filen municipalities.csv er ikke UTF-8-tekst. Gem den som CSV (UTF-8)."
    ]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert onboard(broken) == (
        2,
        ["Error: Filen kan ikke læses som et Excel-regneark (XLSX)."],
    )
    assert onboard(tmp_path / "missing.xlsx")[0] == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert onboard(empty) == (
        2,
        ["Error: Filen har ingen af arkene municipalities, institutions, users, entitlements."],
    )


def test_a_missing_column_is_named(onboard, vendors, example, workbook):
    example["institutions"] = [[c for c in row[:3]] for row in example["institutions"]]
    code, lines = onboard(workbook(example))
    assert code == 1
    assert lines[0] == "Ark institutions, række 1, kolonne type: Kolonnen mangler."
    assert db.session.scalar(select(func.count(Municipality.id))) == 0


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (
            ["ny@vejen.dk", "Ny", "superuser", "vejen", "", ""],
            "institution",
            "En superbruger skal høre til en institution.",
        ),
        (
            ["ny@vejen.dk", "Ny", "vendor_agent", "vejen", "", "netcompany"],
            "municipality",
            "Skal være tom for leverandørens medarbejdere: de hører til en leverandør.",
        ),
        (
            ["ny@vejen.dk", "Ny", "coordinator", "vejen", "", "netcompany"],
            "vendor",
            "Skal være tom for kommunens medarbejdere: de hører til en kommune.",
        ),
        (
            ["ny@vejen.dk", "Ny", "coordinator", "vejen", "575001", ""],
            "institution",
            "Kun superbrugere og hotlinemedarbejdere hører til en institution.",
        ),
        (
            ["ny@vejen.dk", "Ny", "hotline", "vejen", "530001", ""],
            "institution",
            "Institution 530001 hører til Billund Kommune, ikke til Vejen Kommune.",
        ),
        (
            ["ny@vejen.dk", "Ny", "vendor_agent", "", "", "ukendt"],
            "vendor",
            "Ukendt leverandør ukendt.",
        ),
        (
            ["ny@vejen.dk", "Ny", "vendor_editor", "", "", ""],
            "vendor",
            "Feltet skal udfyldes.",
        ),
        (
            ["ny@vejen.dk", "Ny", "admin", "", "", ""],
            "role",
            "Systemadministratorer importeres ikke; opret dem én ad gangen.",
        ),
        (
            ["ny@vejen.dk", "Ny", "chef", "vejen", "", ""],
            "role",
            "Ukendt rolle chef: brug superuser, hotline, coordinator, municipal_admin, "
            "vendor_agent, vendor_editor.",
        ),
        (
            ["ny@vejen.dk", "Ny", "superuser", "vejle", "575001", ""],
            "municipality",
            "Ukendt kommune vejle: den findes hverken i arket municipalities eller i databasen.",
        ),
        (
            ["ny@vejen.dk", "Ny", "superuser", "vejen", "999999", ""],
            "institution",
            "Ukendt institution 999999.",
        ),
        (
            ["anne.holm@vejen.sd-demo.dk", "Anne", "hotline", "vejen", "", ""],
            "email",
            "E-mailadressen står også i række 2.",
        ),
        (["ny@vejen.dk", "", "hotline", "vejen", "", ""], "name", "Feltet skal udfyldes."),
    ],
)
def test_role_and_tenant_mismatches_are_refused(
    onboard, vendors, example, workbook, row, column, reason
):
    example["users"].append(row)
    code, lines = onboard(workbook(example))
    assert code == 1
    assert lines[0] == f"Ark users, række {len(example['users'])}, kolonne {column}: {reason}"
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_institution_rows_are_checked(onboard, vendors, make_institution, example, workbook):
    make_institution("esbjerg", name="Rosenvængets Skole").number = "561001"
    db.session.commit()
    example["institutions"] += [
        ["vejen", "575001", "Dobbelt", "skole"],
        ["vejen", "561001", "Esbjergs skole", "skole"],
        ["vejen", "12", "For kort", "skole"],
        ["ukendt", "575999", "Ingen kommune", "skole"],
    ]
    code, lines = onboard(workbook(example))
    assert code == 1
    assert lines[:4] == [
        "Ark institutions, række 11, kolonne number: Institutionsnummeret står også i række 2.",
        "Ark institutions, række 12, kolonne number: Institution 561001 hører allerede til "
        "Esbjerg Kommune.",
        "Ark institutions, række 13, kolonne number: Institutionsnummeret skal være 3 til 12 "
        "cifre.",
        "Ark institutions, række 14, kolonne municipality: Ukendt kommune ukendt: den findes "
        "hverken i arket municipalities eller i databasen.",
    ]


def test_imported_users_land_in_their_own_municipality_only(
    onboard, vendors, make_user, example, workbook
):
    esbjerg_user = make_user(Role.superuser, municipality="esbjerg", email="kendt@esbjerg.dk")
    agent = make_user(Role.vendor_agent, vendor=vendors["meebook"], email="agent@meebook.dk")
    example["users"] += [
        ["kendt@esbjerg.dk", "Kendt", "superuser", "vejen", "575001", ""],
        ["agent@meebook.dk", "Agent", "vendor_agent", "", "", "netcompany"],
    ]
    code, lines = onboard(workbook(example), "--partial")
    assert code == 1
    assert lines[:2] == [
        "Ark users, række 24, kolonne email: kendt@esbjerg.dk findes allerede i Esbjerg Kommune.",
        "Ark users, række 25, kolonne email: agent@meebook.dk findes allerede i Meebook.",
    ]
    db.session.refresh(esbjerg_user)
    db.session.refresh(agent)
    assert esbjerg_user.municipality.slug == "esbjerg"
    assert agent.vendor_id == vendors["meebook"].id
    by_slug = dict(db.session.execute(select(Municipality.slug, Municipality.id)).all())
    for row in example["users"][1:-2]:
        user = _user(row[0])
        assert user.municipality_id == (by_slug[row[3]] if row[3] else None), row
        if row[4]:
            assert user.institution.municipality_id == user.municipality_id


def _coordinators(sheets, slug: str, count: int, start: int = 0) -> list[str]:
    emails = [f"k{n}@{slug}.dk" for n in range(start, start + count)]
    sheets["users"] += [[e, e, "coordinator", slug, "", ""] for e in emails]
    return emails


def test_entitlement_limits_count_the_file_and_the_database(
    onboard, vendors, make_user, make_municipality, example, workbook
):
    netcompany = vendors["netcompany"]
    esbjerg = make_municipality("esbjerg")
    for _ in range(6):
        make_user(Role.coordinator, municipality=esbjerg, entitled=[netcompany])
    for _ in range(3):
        make_user(Role.coordinator, municipality=esbjerg, entitled=[vendors["meebook"]])
    # esbjerg: 6 + 3 for netcompany is one too many; 3 + 1 for meebook reaches the minimum
    new = _coordinators(example, "esbjerg", 3)
    example["entitlements"] += [[e, "netcompany"] for e in new] + [[new[0], "meebook"]]
    # fanoe: 2 only, below the minimum of 4: both rows fail
    fanoe = _coordinators(example, "fanoe", 2)
    example["entitlements"] += [[e, "netcompany"] for e in fanoe]
    code, lines = onboard(workbook(example))
    assert code == 1
    rows = len(example["entitlements"])
    assert [line for line in lines if line.startswith("Ark")] == [
        f"Ark entitlements, række {rows - 3}, kolonne vendor: Efter importen ville Esbjerg "
        "Kommune have 9 supportberettigede hos Netcompany; højst 8 er tilladt.",
        f"Ark entitlements, række {rows - 1}, kolonne vendor: Efter importen ville Fanø Kommune "
        "have 2 supportberettigede hos Netcompany; mindst 4 kræves.",
        f"Ark entitlements, række {rows}, kolonne vendor: Efter importen ville Fanø Kommune have "
        "2 supportberettigede hos Netcompany; mindst 4 kræves.",
    ]
    # with --partial the rows within the limits are written
    code, lines = onboard(workbook(example), "--partial")
    assert lines[-1].endswith("failed 3")
    counts = dict(
        db.session.execute(
            select(SupportEntitlement.vendor_id, func.count(SupportEntitlement.id))
            .where(SupportEntitlement.municipality_id == esbjerg.id)
            .group_by(SupportEntitlement.vendor_id)
        ).all()
    )
    assert counts == {netcompany.id: 8, vendors["meebook"].id: 4}


def test_entitlement_rows_are_checked(onboard, vendors, make_user, example, workbook):
    make_user(Role.hotline, municipality="esbjerg", email="hotline@esbjerg.dk")
    example["entitlements"] += [
        ["hans.bruun@vejen.sd-demo.dk", "netcompany"],
        ["bo.lund@vejen.sd-demo.dk", "netcompany"],
        ["hotline@esbjerg.dk", "meebook"],
        ["ingen@vejen.dk", "meebook"],
        ["ida.skov@vejen.sd-demo.dk", "ukendt"],
    ]
    _code, lines = onboard(workbook(example))
    rows = len(example["entitlements"])
    only = "Kun aktive supportberettigede koordinatorer kan få supportret."
    assert [line for line in lines if line.startswith("Ark")] == [
        f"Ark entitlements, række {rows - 4}, kolonne vendor: Berettigelsen står også i række 2.",
        f"Ark entitlements, række {rows - 3}, kolonne email: {only}",
        f"Ark entitlements, række {rows - 2}, kolonne email: {only}",
        f"Ark entitlements, række {rows - 1}, kolonne email: Ukendt bruger ingen@vejen.dk: "
        "brugeren findes hverken i arket users eller i databasen.",
        f"Ark entitlements, række {rows}, kolonne vendor: Ukendt leverandør ukendt.",
    ]


def test_an_entitled_coordinator_keeps_the_role(onboard, vendors, example, workbook):
    assert onboard(workbook(example))[0] == 0
    user_row(example, "hans.bruun@vejen.sd-demo.dk")[2] = "hotline"
    code, lines = onboard(workbook(example))
    assert code == 1
    assert lines[0].endswith(
        "kolonne role: Hans Bruun er supportberettiget hos Meebook, Netcompany; fjern "
        "berettigelsen, før rollen ændres."
    )

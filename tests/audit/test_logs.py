"""The access log ("who looked at this child's ticket") and the security log, read back."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select

from supportdesk.accounts.models import Role
from supportdesk.audit.models import SecurityEvent, SecurityEventKind
from supportdesk.escalation import services as escalation
from supportdesk.extensions import utcnow
from supportdesk.tickets import history, lifecycle
from supportdesk.tickets import services as ticket_services
from supportdesk.tickets.models import Ticket, TicketEntry, TicketView
from tests.escalation.conftest import client_for


def test_access_log_shows_views_and_unmasked_cpr(app, db, world, make_ticket, make_user):
    ticket = make_ticket(description="Barnets cpr er 150815-5123")
    coordinator = client_for(app, world.coordinator)
    assert coordinator.get(f"/tickets/{ticket.number}").status_code == 200
    escalation.escalate(
        world.coordinator,
        ticket,
        escalation.EscalationRequest(
            "Se beskrivelsen", share_description=True, confirm_sensitive=True
        ),
    )
    db.session.commit()
    admin = make_user(Role.municipal_admin, municipality=world.coordinator.municipality)
    reader = client_for(app, admin)

    page = reader.get(f"/admin/access-log?ticket={ticket.number}").get_data(as_text=True)
    assert "Karen Koordinator" in page
    assert "Åbnede henvendelsen" in page
    assert "umaskeret" in page
    csv = reader.get(f"/admin/access-log?ticket={ticket.number}&format=csv")
    assert csv.mimetype == "text/csv"
    assert world.coordinator.email in csv.get_data(as_text=True)
    api = reader.get(f"/api/v1/audit/access?ticket={ticket.number}").get_json()
    assert {item["action"] for item in api["items"]} == {"page", "cpr_escalation"}
    assert all(item["ticket"] == ticket.number for item in api["items"])


def test_another_municipalitys_rows_are_never_shown(app, db, world, make_ticket, make_user):
    ours = make_user(Role.municipal_admin, municipality=world.coordinator.municipality)
    foreign_ticket = make_ticket(creator=make_user(Role.superuser, municipality="aalborg"))
    client_for(app, world.other_coordinator).get(f"/tickets/{foreign_ticket.number}")
    outsider = world.other_coordinator.email
    app.test_client().post("/login", data={"email": outsider, "password": "wrong-password"})
    app.test_client().post("/login", data={"email": world.coordinator.email, "password": "wrong!!"})
    reader = client_for(app, ours)

    events = reader.get("/api/v1/audit/security").get_json()["items"]
    assert [e["email"] for e in events if e["kind"] == "login_failed"] == [world.coordinator.email]
    assert outsider not in reader.get("/admin/security-log").get_data(as_text=True)
    assert outsider not in reader.get("/admin/security-log?format=csv").get_data(as_text=True)
    assert reader.get(f"/api/v1/audit/access?ticket={foreign_ticket.number}").status_code == 404
    assert reader.get(f"/admin/access-log?ticket={foreign_ticket.number}").status_code == 404
    assert foreign_ticket.number not in reader.get("/admin/access-log").get_data(as_text=True)
    # the system administrator reads everything
    admin = client_for(app, make_user(Role.admin))
    everything = admin.get("/api/v1/audit/security?kind=login_failed").get_json()["items"]
    assert {e["email"] for e in everything} == {outsider, world.coordinator.email}


def test_denied_access_to_another_tenants_ticket_is_logged(app, db, world, make_ticket):
    foreign = client_for(app, world.other_coordinator)
    ticket = make_ticket()
    assert foreign.get(f"/tickets/{ticket.number}").status_code == 404
    denied = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.access_denied)
    )
    assert denied.user_id == world.other_coordinator.id
    assert denied.detail["path"] == f"/tickets/{ticket.number}"
    assert denied.municipality_id == world.other_coordinator.municipality_id


def test_bad_period_is_a_danish_422(app, world, make_user):
    reader = client_for(
        app, make_user(Role.municipal_admin, municipality=world.coordinator.municipality)
    )
    answer = reader.get("/api/v1/audit/security?from=31-12-2026")
    assert answer.status_code == 422
    assert answer.get_json()["error"]["fields"]["from"] == "Skriv datoen som ÅÅÅÅ-MM-DD."


def test_retention_prunes_both_logs(app, db, world, make_ticket):
    ticket = make_ticket()
    old = utcnow() - timedelta(days=731)
    db.session.add_all(
        [
            TicketView(
                ticket_id=ticket.id,
                user_id=world.coordinator.id,
                municipality_id=ticket.municipality_id,
                at=old,
            ),
            TicketView(
                ticket_id=ticket.id,
                user_id=world.coordinator.id,
                municipality_id=ticket.municipality_id,
            ),
            SecurityEvent(kind=SecurityEventKind.login, outcome="success", at=old),
            SecurityEvent(kind=SecurityEventKind.login, outcome="success"),
        ]
    )
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["retention", "run"])
    assert result.exit_code == 0, result.output
    assert "Pruned 1 security event(s) and 1 ticket view(s)" in result.output
    assert db.session.scalar(select(func.count(TicketView.id))) == 1
    logins = db.session.scalars(
        select(SecurityEvent.at).where(SecurityEvent.kind == SecurityEventKind.login)
    )
    assert [at > old for at in logins] == [True]


def test_gdpr_export_and_erase_for_a_requester(app, db, world, make_ticket, make_user):
    call = ticket_services.create_ticket(
        world.hotline,
        ticket_services.NewTicket(
            system=world.system,
            category=None,
            subject="Forælder kan ikke logge ind",
            description="Mor ringede",
            requester_name="Anne Forælder",
            requester_phone="+45 20 30 40 50",
            requester_email="anne@example.dk",
        ),
    )
    db.session.commit()
    runner = app.test_cli_runner()
    exported = runner.invoke(args=["gdpr", "export", "20304050"])
    assert exported.exit_code == 0, exported.output
    data = json.loads(exported.output)
    assert [t["number"] for t in data["requester_tickets"]] == [call.number]
    assert data["requester_tickets"][0]["requester"]["name"] == "Anne Forælder"

    erased = runner.invoke(args=["gdpr", "erase", "anne@example.dk", "--yes"])
    assert erased.exit_code == 0, erased.output
    db.session.expire_all()
    ticket = db.session.get(Ticket, call.id)
    assert (ticket.requester_name, ticket.description) == (None, "")
    assert ticket.anonymised_at is not None
    event = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.gdpr_erase)
    )
    assert event.detail["by"].startswith("command line")
    assert runner.invoke(args=["gdpr", "export", "not a number"]).exit_code == 1


def test_gdpr_page_exports_a_user_and_erases_after_confirmation(app, db, world, make_user):
    admin = make_user(Role.municipal_admin, municipality=world.coordinator.municipality)
    reader = client_for(app, admin)
    target = world.hotline.email
    found = reader.post("/admin/personal-data", data={"identifier": target, "action": "find"})
    assert "En brugerkonto" in found.get_data(as_text=True)
    export = reader.post("/admin/personal-data", data={"identifier": target, "action": "export"})
    assert export.mimetype == "application/json"
    assert export.get_json()["user"]["email"] == target
    # another municipality's user is not found from here
    outsider = world.other_coordinator.email
    page = reader.post("/admin/personal-data", data={"identifier": outsider, "action": "find"})
    assert "Der er intet gemt om" in page.get_data(as_text=True)
    unconfirmed = reader.post(
        "/admin/personal-data", data={"identifier": target, "action": "erase"}
    )
    assert unconfirmed.status_code == 422
    erased = reader.post(
        "/admin/personal-data", data={"identifier": target, "action": "erase", "confirm": "yes"}
    )
    assert erased.status_code == 302
    db.session.refresh(world.hotline)
    assert not world.hotline.active
    assert world.hotline.email.endswith("@anonymiseret.invalid")


def test_erasing_a_person_takes_their_name_out_of_the_ticket_histories(
    app, db, world, make_ticket, make_user
):
    """ "Assigned to X" lines keep the name as text: erasure rewrites the lines that name the
    erased person (by their id), and leaves a colleague with the same name alone."""
    municipality = world.coordinator.municipality
    leaving = make_user(Role.coordinator, municipality=municipality, name="Birthe Bortrejst")
    namesake = make_user(Role.coordinator, municipality=municipality, name="Birthe Bortrejst")
    first, second = make_ticket(), make_ticket()
    lifecycle.assign(world.coordinator, first, leaving)
    lifecycle.assign(world.coordinator, second, namesake)
    db.session.commit()
    coordinator = client_for(app, world.coordinator)
    assert "Tildelt Birthe Bortrejst." in coordinator.get(f"/tickets/{first.number}").text

    erased = app.test_cli_runner().invoke(args=["gdpr", "erase", leaving.email, "--yes"])
    assert erased.exit_code == 0, erased.output
    db.session.expire_all()
    page = coordinator.get(f"/tickets/{first.number}").get_data(as_text=True)
    assert "Tildelt Birthe Bortrejst." not in page
    assert f"Tildelt Slettet bruger {leaving.id}." in page
    other = coordinator.get(f"/tickets/{second.number}").get_data(as_text=True)
    assert "Tildelt Birthe Bortrejst." in other


def test_erasure_rewrites_lines_written_before_they_carried_the_assignee_id(
    app, db, world, make_ticket, make_user
):
    """Lines written before assignment events recorded `assignee_id` name the person only.
    Erasure rewrites those naming the erased person on their municipality's tickets when
    no colleague there has the same name; when one has, the line cannot be told apart and
    stays (a colleague's history is never rewritten)."""
    municipality = world.coordinator.municipality
    leaving = make_user(Role.coordinator, municipality=municipality, name="Vibeke Væk")
    ambiguous = make_user(Role.coordinator, municipality=municipality, name="Jens Jensen")
    make_user(Role.coordinator, municipality=municipality, name="Jens Jensen")
    aalborg = make_user(Role.superuser, municipality=world.other_coordinator.municipality)
    mine, colleagues, elsewhere = make_ticket(), make_ticket(), make_ticket(aalborg)
    lines = ((mine, leaving.name), (colleagues, "Jens Jensen"), (elsewhere, leaving.name))
    for ticket, name in lines:
        history.record_event(ticket, world.coordinator, "assigned", {"assignee": name})
    db.session.commit()

    for person in (leaving, ambiguous):
        erased = app.test_cli_runner().invoke(args=["gdpr", "erase", person.email, "--yes"])
        assert erased.exit_code == 0, erased.output
    db.session.expire_all()

    def assignee(ticket):
        return db.session.scalars(
            select(TicketEntry.data).where(TicketEntry.ticket_id == ticket.id)
        ).all()[-1]["assignee"]

    assert assignee(mine) == f"Slettet bruger {leaving.id}"
    assert assignee(colleagues) == "Jens Jensen"
    assert assignee(elsewhere) == "Vibeke Væk"

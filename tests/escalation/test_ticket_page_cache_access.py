"""A cached ticket page is never shown to someone who may no longer see it or a part of
it, and erased personal data leaves it on the next view: the policy check runs on every
request before the fragment, the viewer's role is in the key, and entitlements, erasure
and anonymisation bump the page's generations. Two workers (two fragment stores) share
the generations in the database; tickets sharing a generation slot never share a page."""

from __future__ import annotations

from supportdesk.accounts import entitlements
from supportdesk.accounts.models import Role, User
from supportdesk.cache.fragments import FragmentCache
from supportdesk.extensions import db
from supportdesk.gdpr import services as gdpr
from supportdesk.tickets import models as ticket_models
from supportdesk.tickets.models import Ticket, TicketSource
from tests.escalation.conftest import client_for
from tests.escalation.test_ticket_page_cache import _cached


def _page(client, ticket: Ticket) -> str:
    response = client.get(f"/tickets/{ticket.number}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_revoked_entitlement_takes_the_escalation_off_a_cached_page(app, world, make_ticket):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    _cached(app, coordinator, f"/tickets/{ticket.number}")
    assert f"/tickets/{ticket.number}/escalate" in _page(coordinator, ticket)
    entitlements.revoke_entitlement(None, world.coordinator, world.vendor, reason="Stopper")
    db.session.commit()
    assert f"/tickets/{ticket.number}/escalate" not in _page(coordinator, ticket)


def test_a_role_change_hides_internal_notes_on_a_cached_page(app, world, make_ticket):
    ticket = make_ticket(creator=world.coordinator)  # a hotline user still sees their own
    coordinator = client_for(app, world.coordinator)
    url = f"/tickets/{ticket.number}"
    response = coordinator.post(f"{url}/entries", data={"body": "Kun for os", "internal": "y"})
    assert response.status_code == 302
    _cached(app, coordinator, url)
    assert "Kun for os" in _page(coordinator, ticket)
    db.session.get(User, world.coordinator.id).role = Role.hotline
    db.session.commit()
    assert "Kun for os" not in _page(coordinator, ticket)


def test_a_ticket_moved_to_another_institution_is_refused_although_cached(app, world, make_ticket):
    ticket = make_ticket()
    db.session.get(Ticket, ticket.id).institution_id = world.daycare.id
    db.session.commit()
    daycare = client_for(app, world.superuser2)
    url = f"/tickets/{ticket.number}"
    _cached(app, daycare, url)
    db.session.get(Ticket, ticket.id).institution_id = world.school.id
    db.session.commit()
    assert daycare.get(url).status_code == 404


def test_erasing_a_caller_empties_the_cached_page(app, world, make_ticket):
    ticket = make_ticket()
    row = db.session.get(Ticket, ticket.id)
    row.source = TicketSource.hotline
    row.requester_name = "Mette Mortensen"
    row.requester_email = "mette@example.org"
    db.session.commit()
    coordinator = client_for(app, world.coordinator)
    _cached(app, coordinator, f"/tickets/{ticket.number}")
    assert "Mette Mortensen" in _page(coordinator, ticket)
    gdpr.erase(None, gdpr.find_subject("mette@example.org", None))
    db.session.commit()
    page = _page(coordinator, ticket)
    assert "Mette Mortensen" not in page
    assert "mette@example.org" not in page


def test_erasing_a_person_takes_their_name_off_the_cached_page(app, world, make_ticket):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    _cached(app, coordinator, f"/tickets/{ticket.number}")
    assert "Sanne Superbruger" in _page(coordinator, ticket)
    gdpr.erase(None, gdpr.find_subject(world.superuser.email, None))
    db.session.commit()
    assert "Sanne Superbruger" not in _page(coordinator, ticket)


def test_two_workers_each_see_a_change_made_through_the_other(app, world, make_ticket):
    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    superuser = client_for(app, world.superuser)
    url = f"/tickets/{ticket.number}"
    first, second = app.extensions["fragment_cache"], FragmentCache()
    app.extensions["fragment_cache"] = second
    _cached(app, coordinator, url)
    app.extensions["fragment_cache"] = first
    _cached(app, coordinator, url)
    response = superuser.post(f"{url}/entries", data={"body": "Stadig sort skærm"})
    assert response.status_code == 302
    app.extensions["fragment_cache"] = second
    assert "Stadig sort skærm" in _page(coordinator, ticket)


def test_tickets_sharing_a_generation_slot_keep_their_own_pages(
    app, world, make_ticket, monkeypatch
):
    monkeypatch.setattr(ticket_models, "TICKET_PAGE_SLOTS", 1)
    one = make_ticket(subject="Forældreintra svarer ikke")
    other = make_ticket(subject="Skemaet mangler")
    slot = ticket_models.ticket_page_generation(one.municipality_id, one.id)
    assert ticket_models.ticket_page_generation(other.municipality_id, other.id) == slot
    coordinator = client_for(app, world.coordinator)
    for ticket in (one, other):
        _cached(app, coordinator, f"/tickets/{ticket.number}")
    assert "Skemaet mangler" not in _page(coordinator, one)
    assert "Forældreintra svarer ikke" not in _page(coordinator, other)


def test_erasing_a_person_who_moved_takes_their_name_off_the_old_municipalitys_pages(
    app, world, make_ticket
):
    """Their replies stay on the pages of the municipality they left, whose names a
    change to the person no longer bumps."""
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"
    response = client_for(app, world.coordinator).post(
        f"{url}/entries", data={"body": "Vi kigger på det"}
    )
    assert response.status_code == 302
    moved = db.session.get(User, world.coordinator.id)
    moved.municipality_id = world.other_coordinator.municipality_id
    db.session.commit()
    colleague = client_for(app, world.unentitled)  # a coordinator who stayed
    _cached(app, colleague, url)
    assert "Karen Koordinator" in _page(colleague, ticket)
    gdpr.erase(None, gdpr.find_subject(world.coordinator.email, None))
    db.session.commit()
    assert "Karen Koordinator" not in _page(colleague, ticket)

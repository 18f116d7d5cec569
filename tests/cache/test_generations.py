"""Generations: which committed changes bump them, and which pages they reach.

Names are as narrow as the data: a change in one municipality (a new user, an
entitlement, a renamed institution or queue) or at one vendor (a known issue, an SLA
target, an agent) must not empty the cached pages of another.
"""

from __future__ import annotations

import pytest

from supportdesk.accounts import services as account_services
from supportdesk.accounts.models import Role
from supportdesk.cache import generations
from supportdesk.escalation.models import KnownIssue, SlaTarget
from supportdesk.extensions import db, utcnow
from supportdesk.tickets.models import (
    EntryKind,
    Priority,
    Queue,
    Ticket,
    TicketEntry,
    ticket_page_generation,
)
from tests.cache.pages import PAGES, all_values, values
from tests.factories import file_ticket

# what a municipality shows of itself (its case list shows vendors, not its own people)
MUNICIPAL_PAGES = ("ticket list", "menu")


def _read(*names: str) -> dict[str, int]:
    db.session.commit()  # a fresh read, not this transaction's
    return generations.read(*names)


def test_moving_a_user_bumps_both_municipalities_and_a_login_stamp_does_not(
    make_user, make_institution
):
    user = make_user(Role.superuser, municipality="esbjerg")
    elsewhere = make_institution("aalborg")
    names = (
        generations.municipality_reference(user.municipality_id),
        generations.municipality_reference(elsewhere.municipality_id),
        generations.REFERENCE,
    )
    before = _read(*names)
    user.last_login_at = utcnow()
    db.session.commit()
    assert _read(*names) == before
    user.institution = elsewhere  # the relationship, as the admin service sets it
    user.municipality = elsewhere.municipality
    db.session.commit()
    after = _read(*names)
    assert after[names[0]] == before[names[0]] + 1
    assert after[names[1]] == before[names[1]] + 1
    assert after[generations.REFERENCE] == before[generations.REFERENCE]


def test_a_rolled_back_change_bumps_nothing_and_a_savepoint_keeps_the_outer_change(
    make_institution,
):
    school = make_institution("esbjerg")
    name = generations.municipality_reference(school.municipality_id)
    (before,) = _read(name).values()
    school.name = "Ny Skole"
    db.session.flush()
    db.session.rollback()
    assert _read(name)[name] == before

    school.name = "Ny Skole"
    db.session.flush()
    with db.session.begin_nested() as savepoint:
        savepoint.rollback()
    db.session.commit()
    assert _read(name)[name] == before + 1


def _new_user_in_a(town, make_user):
    make_user(Role.superuser, municipality=town.a)


def _entitlement_in_a(town, make_user):
    coordinator = make_user(Role.coordinator, municipality=town.a)
    account_services.grant_entitlement(None, coordinator, town.other_vendor)


def _renamed_institution_in_a(town, _make_user):
    town.a_school.name = "Omdøbt Skole"


def _renamed_queue_in_a(town, _make_user):
    town.a_queue.name = "Omdøbt kø"


def _new_queue_in_a(town, _make_user):
    db.session.add(Queue(municipality=town.a, slug="ny", name="Ny kø"))


def _renamed_coordinator_in_a(town, _make_user):
    town.a_coordinator.name = "Nyt Navn"


@pytest.mark.parametrize(
    "change",
    [
        _new_user_in_a,
        _entitlement_in_a,
        _renamed_institution_in_a,
        _renamed_queue_in_a,
        _new_queue_in_a,
        _renamed_coordinator_in_a,
    ],
)
def test_a_change_in_one_municipality_leaves_anothers_pages(town, make_user, change):
    before = all_values(town)
    change(town, make_user)
    db.session.commit()
    after = all_values(town)
    assert after == before


@pytest.mark.parametrize(
    ("change", "pages"),
    [
        # what b shows of itself: its people, institutions, queues and entitlements
        (lambda t, mk: mk(Role.superuser, institution=t.school), MUNICIPAL_PAGES),
        (lambda t, _mk: setattr(t.school, "name", "Omdøbt Skole"), MUNICIPAL_PAGES),
        (lambda t, _mk: setattr(t.queue, "name", "Omdøbt kø"), MUNICIPAL_PAGES),
        (
            lambda t, mk: account_services.grant_entitlement(
                None, mk(Role.coordinator, municipality=t.b), t.other_vendor
            ),
            MUNICIPAL_PAGES,
        ),
        # what every tenant shows
        (lambda t, _mk: setattr(t.system, "name", "Aula 2"), tuple(PAGES)),
        (lambda t, _mk: setattr(t.category, "name", "Log ind"), tuple(PAGES)),
        (lambda t, _mk: setattr(t.other_vendor, "name", "Meebook A/S"), tuple(PAGES)),
        (lambda t, _mk: setattr(t.a, "name", "Aalborg Storkommune"), tuple(PAGES)),
        # a vendor's agents show in both queues
        (
            lambda t, _mk: setattr(t.agent, "name", "Lars L."),
            ("case queue (municipality)", "case queue (vendor)", "vendor menu"),
        ),
    ],
)
def test_a_change_a_page_shows_bumps_its_generations(town, make_user, change, pages):
    before = all_values(town)
    change(town, make_user)
    db.session.commit()
    after = all_values(town)
    changed = {page for page in PAGES if after[page] != before[page]}
    assert set(pages) <= changed


def test_a_known_issue_or_sla_target_reaches_only_its_vendors_pages(town):
    before = all_values(town)
    db.session.add(KnownIssue(vendor=town.other_vendor, system=town.other_system, title="Nede"))
    db.session.add(
        SlaTarget(
            vendor=town.other_vendor,
            priority=Priority.high,
            first_response_minutes=60,
            resolution_minutes=600,
        )
    )
    db.session.commit()
    after = all_values(town)
    # the other vendor's: only the municipality's case list (it shows every vendor's agents)
    assert {page for page in PAGES if after[page] != before[page]} == {"case queue (municipality)"}

    before = after
    db.session.add(KnownIssue(vendor=town.vendor, system=town.system, title="Login driller"))
    db.session.commit()
    after = all_values(town)
    changed = {page for page in PAGES if after[page] != before[page]}
    assert "case queue (vendor)" in changed
    assert "ticket list" not in changed
    assert values(town, "FAQ search") == before["FAQ search"]


def test_rows_of_tickets_the_session_does_not_hold_read_their_merges_in_one_statement(
    make_user, make_system, count_queries
):
    """Entries added to tickets the session has not loaded bump each ticket's page and the
    page of the ticket it is merged into, with one read of `merged_into_id` per flush."""
    reporter = make_user(Role.superuser, municipality="esbjerg")
    system = make_system("aula")
    target, *tickets = (file_ticket(reporter, system, commit=True) for _ in range(4))
    tickets[0].merged_into_id = target.id
    db.session.commit()
    municipality_id, ids, target_id = reporter.municipality_id, [t.id for t in tickets], target.id
    db.session.expunge_all()  # the rows below name tickets the session does not hold
    for ticket_id in ids:
        db.session.add(
            TicketEntry(
                ticket_id=ticket_id,
                municipality_id=municipality_id,
                kind=EntryKind.internal_note,
                body="Set",
            )
        )
    with count_queries() as statements:
        db.session.flush()
    reads = [s for s in statements if "merged_into_id" in s and s.lstrip().startswith("SELECT")]
    assert len(reads) == 1
    expected = {ticket_page_generation(municipality_id, i) for i in (*ids, target_id)}
    assert all(generations.pending(name) for name in expected)
    assert db.session.get(Ticket, ids[0]).merged_into_id == target_id

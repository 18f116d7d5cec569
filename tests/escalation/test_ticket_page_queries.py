"""The ticket page's known-issue panel costs one narrow query, however many issues exist."""

from __future__ import annotations

from supportdesk.cache import fragments
from supportdesk.escalation import known_issues
from supportdesk.escalation.models import KnownIssue, KnownIssueStatus
from supportdesk.extensions import db
from tests.escalation.conftest import client_for


def _add_issues(world, count: int, status: KnownIssueStatus) -> None:
    for n in range(count):
        db.session.add(
            KnownIssue(
                vendor_id=world.vendor.id,
                system_id=world.system.id,
                title=f"Fejl {status.value} {n}",
                status=status,
            )
        )
    db.session.commit()


def test_ticket_page_statements_do_not_grow_with_known_issues(
    app, world, make_ticket, count_queries
):
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"  # counted: the request's statements, not the test's
    coordinator = client_for(app, world.coordinator)
    _add_issues(world, 1, KnownIssueStatus.investigating)
    coordinator.get(url)  # warm caches
    fragments.clear(app)  # measure a fresh render, not the cached fragment
    with count_queries() as statements:
        page = coordinator.get(url).get_data(as_text=True)
    few = len(statements)
    assert "Fejl investigating 0" in page

    _add_issues(world, 4, KnownIssueStatus.investigating)
    _add_issues(world, 3, KnownIssueStatus.resolved)
    fragments.clear(app)
    with count_queries() as statements:
        page = coordinator.get(url).get_data(as_text=True)
    assert len(statements) == few
    assert "Fejl investigating 3" in page
    assert "Fejl resolved" not in page


def test_active_choices_are_one_query_newest_first_without_resolved(app, world, count_queries):
    _add_issues(world, 2, KnownIssueStatus.investigating)
    _add_issues(world, 1, KnownIssueStatus.resolved)
    system_id = world.system.id
    with count_queries() as statements:
        choices = known_issues.active_known_issue_choices(system_id)
    assert len(statements) == 1
    expected = [
        (i.id, i.title)
        for i in known_issues.active_known_issues(system_id)  # the full-object variant
    ]
    assert choices == expected
    assert sorted(title for _id, title in choices) == [
        "Fejl investigating 0",
        "Fejl investigating 1",
    ]
    assert known_issues.active_known_issue_choices(system_id + 1000) == []


def test_escalate_form_statements_do_not_grow_with_replies(
    app, world, make_ticket, make_user, count_queries
):
    """The share list names each reply's author without one query per author."""
    from supportdesk.accounts.models import Role
    from supportdesk.tickets import services as tickets

    ticket = make_ticket()
    coordinator = client_for(app, world.coordinator)
    tickets.add_entry(world.superuser, ticket, "Første svar")
    db.session.commit()
    coordinator.get(f"/tickets/{ticket.number}/escalate")  # warm caches
    with count_queries() as statements:
        page = coordinator.get(f"/tickets/{ticket.number}/escalate").get_data(as_text=True)
    few = len(statements)
    assert "Sanne Superbruger" in page

    for n in range(4):
        colleague = make_user(Role.coordinator, municipality=world.school.municipality)
        tickets.add_entry(colleague, ticket, f"Svar {n}")
    db.session.commit()
    with count_queries() as statements:
        coordinator.get(f"/tickets/{ticket.number}/escalate")
    assert len(statements) == few


def test_a_first_view_reads_vendor_entitlements_and_merges_narrowly(
    app, world, make_ticket, count_queries
):
    """A first view loads the ticket's vendor with the ticket, reads the viewer's
    entitlements as vendor ids and asks whether tickets were merged into it before
    loading any: no lazy load of whole rows the page does not show."""
    ticket = make_ticket()
    url = f"/tickets/{ticket.number}"
    coordinator = client_for(app, world.coordinator)
    coordinator.get(url)  # warm the shared parts
    fragments.clear(app)
    with count_queries() as statements:
        page = coordinator.get(url).get_data(as_text=True)
    assert world.vendor.name in page
    assert f"/tickets/{ticket.number}/escalate" in page  # the viewer is entitled
    flat = [" ".join(s.split()) for s in statements]
    assert not [s for s in flat if s.startswith("SELECT vendor.")]
    assert not [s for s in flat if s.startswith("SELECT support_entitlement.id")]
    assert [s for s in flat if s.startswith("SELECT support_entitlement.vendor_id")]
    merged = [s for s in flat if "merged_into_id = " in s]
    assert merged
    assert all(s.startswith("SELECT ticket.id FROM ticket") for s in merged)

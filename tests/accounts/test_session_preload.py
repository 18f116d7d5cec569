"""What every signed-in page shows (the bell's count, the menu's generations) is read in
the statement that checks the session, and is never older than the request's own changes."""

from __future__ import annotations

import pytest
from sqlalchemy import literal, select

from supportdesk.accounts import sessions
from supportdesk.accounts.models import Role
from supportdesk.cache import generations
from supportdesk.navigation import menu_generations
from supportdesk.notifications import services
from supportdesk.notifications.models import NotificationEvent


def _notify(user, n):
    for i in range(n):
        services.notify(
            [user], NotificationEvent.ticket_reply, url="/tickets", context={"number": str(i)}
        )


def test_user_badge_and_menu_generations_are_one_statement(
    db, client, login, make_user, count_queries
):
    user = login(make_user(Role.coordinator))
    _notify(user, 2)
    generations.bump(*menu_generations(user))
    db.session.commit()
    with count_queries() as queries:
        html = client.get("/account").get_data(as_text=True)
    assert 'aria-label="2 ulæste">2</span>' in html
    session_reads = [q for q in queries if "JOIN user_session" in q]
    assert len(session_reads) == 1
    assert "notification" in session_reads[0]
    assert "cache_generation" in session_reads[0]
    # neither the count nor the menu's generations are read again
    assert [q for q in queries if "FROM notification" in q] == session_reads
    assert [q for q in queries if "FROM cache_generation" in q] == session_reads


def test_preloaded_values_are_dropped_once_the_request_writes(app, db, make_user):
    user = make_user(Role.coordinator)
    _notify(user, 3)
    db.session.commit()
    with app.test_request_context("/account"):
        record = sessions.start(user)
        db.session.commit()
        found = sessions.load(user.get_id(), record.id, read_only=True)
        assert found is not None
        assert sessions.preloaded(user)["unread_count"] == 3
        services.mark_all_read(user)
        db.session.commit()  # a new transaction: the count may have changed
        assert sessions.preloaded(user) is None
        assert services.unread_count(user) == 0

        sessions.load(user.get_id(), record.id, read_only=True)
        assert sessions.preloaded(user) is not None
        _notify(user, 1)
        db.session.flush()  # a write in the same transaction
        assert sessions.preloaded(user) is None
        assert services.unread_count(user) == 1


@pytest.mark.parametrize("owner", ["municipality", "vendor", "none"])
def test_reference_of_names_the_generation_the_menu_reads(db, make_user, owner):
    role = {"municipality": Role.coordinator, "vendor": Role.vendor_agent, "none": Role.admin}
    user = make_user(role[owner])
    named = db.session.scalar(
        select(generations.reference_of(literal(user.municipality_id), literal(user.vendor_id)))
    )
    assert named == menu_generations(user)[0]

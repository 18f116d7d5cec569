"""Fik du hjælp?: API answers, the page form, results per municipality."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db, utcnow
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.tickets import lifecycle, surveys
from supportdesk.tickets.models import TicketSource, TicketStatus


def _resolved(make_user, make_ticket):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    creator = make_user(Role.superuser, municipality=coordinator.municipality)
    ticket = make_ticket(creator, institution=creator.institution)
    return coordinator, creator, ticket


def test_survey_answers_by_the_creator_once_and_only_when_resolved(
    client, make_user, make_ticket, token_for
):
    coordinator, creator, ticket = _resolved(make_user, make_ticket)
    colleague = make_user(Role.superuser, institution=creator.institution)
    url = f"/api/v1/tickets/{ticket.number}/survey"
    headers = token_for(creator)

    early = client.post(url, json={"score": 4}, headers=headers)
    assert early.status_code == 422
    assert early.get_json()["error"]["code"] == "validation_error"

    lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    db.session.commit()
    # someone else who can see the ticket, staff included, is told it does not exist
    for other in (colleague, coordinator):
        assert client.post(url, json={"score": 5}, headers=token_for(other)).status_code == 404
    assert client.post(url, json={"score": 6}, headers=headers).status_code == 422
    assert client.post(url, json={"score": True}, headers=headers).status_code == 422

    first = client.post(url, json={"score": 4, "comment": "Hurtigt svar"}, headers=headers)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["score"] == 4
    second = client.post(url, json={"score": 1}, headers=headers)
    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "conflict"
    # another municipality's ticket number: 404 as for anything not visible
    foreign = make_user(Role.superuser, municipality="ribe")
    assert client.post(url, json={"score": 5}, headers=token_for(foreign)).status_code == 404


def test_resolution_asks_the_creator_once_in_the_bell_not_the_hotline_operator(
    make_user, make_ticket
):
    coordinator, creator, ticket = _resolved(make_user, make_ticket)
    operator = make_user(Role.hotline, municipality=coordinator.municipality)
    call = make_ticket(operator, source=TicketSource.hotline)
    lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    lifecycle.change_status(coordinator, call, TicketStatus.resolved)
    db.session.commit()
    asked = db.session.scalars(
        select(Notification).where(Notification.event == NotificationEvent.survey_requested)
    ).all()
    assert [(n.user_id, n.context["number"]) for n in asked] == [(creator.id, ticket.number)]
    assert asked[0].url.startswith("/survey/")
    assert surveys.ticket_for_token(asked[0].url.removeprefix("/survey/")).id == ticket.id


def test_the_ticket_page_offers_the_survey_to_its_creator(client, login, make_user, make_ticket):
    coordinator, creator, ticket = _resolved(make_user, make_ticket)
    login(creator)
    assert f'action="/tickets/{ticket.number}/survey"' not in client.get(
        f"/tickets/{ticket.number}"
    ).get_data(as_text=True)
    lifecycle.change_status(coordinator, ticket, TicketStatus.resolved)
    db.session.commit()
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert f'action="/tickets/{ticket.number}/survey"' in page
    response = client.post(f"/tickets/{ticket.number}/survey", data={"score": "2"})
    assert response.status_code == 302
    assert surveys.response_of(ticket).score == 2
    page = client.get(f"/tickets/{ticket.number}").get_data(as_text=True)
    assert f'action="/tickets/{ticket.number}/survey"' not in page


def test_a_forged_or_altered_link_is_not_found(client, make_user, make_ticket):
    _coordinator, _creator, ticket = _resolved(make_user, make_ticket)
    token = surveys.survey_token(ticket)
    assert client.get(f"/survey/{token}").status_code == 200
    assert client.get(f"/survey/{token[:-2]}xx").status_code == 404
    assert client.get("/survey/not-a-token").status_code == 404


def test_results_per_municipality_for_a_period(make_user, make_ticket):
    coordinator, creator, ticket = _resolved(make_user, make_ticket)
    second = make_ticket(creator, institution=creator.institution)
    foreign_creator = make_user(Role.superuser, municipality="ribe")
    foreign = make_ticket(foreign_creator)
    for t in (ticket, second):
        lifecycle.change_status(coordinator, t, TicketStatus.resolved)
    foreign_staff = make_user(Role.coordinator, municipality=foreign_creator.municipality)
    lifecycle.change_status(foreign_staff, foreign, TicketStatus.resolved)
    surveys.answer(creator, ticket, 5, "")
    surveys.answer(creator, second, 2, "Tog lang tid")
    surveys.answer(foreign_creator, foreign, 1, "")
    db.session.commit()
    now = utcnow()
    result = surveys.results(coordinator.municipality_id, now - timedelta(days=1), now)
    assert result.count == 2
    assert result.average == 3.5
    assert result.by_score == {1: 0, 2: 1, 3: 0, 4: 0, 5: 1}
    empty = surveys.results(
        coordinator.municipality_id, now - timedelta(days=30), now - timedelta(days=2)
    )
    assert (empty.count, empty.average) == (0, None)

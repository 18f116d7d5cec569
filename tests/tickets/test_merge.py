"""Merging duplicates: API, page, visibility, notifications."""

from __future__ import annotations

import io

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.notifications.models import Notification, NotificationEvent
from supportdesk.tickets import lifecycle, services
from supportdesk.tickets.attachments import Upload
from supportdesk.tickets.models import TicketStatus


def _two_schools(make_user, make_institution):
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    town = coordinator.municipality
    first = make_user(Role.superuser, institution=make_institution(town, name="Vestre Skole"))
    second = make_user(Role.superuser, institution=make_institution(town, name="Østre Skole"))
    return coordinator, first, second


def test_merge_closes_the_duplicate_with_a_link_and_returns_the_target(
    client, make_user, make_institution, make_ticket, token_for
):
    coordinator, first, second = _two_schools(make_user, make_institution)
    target = make_ticket(first, institution=first.institution, subject="Login virker ikke")
    duplicate = make_ticket(second, institution=second.institution, subject="Kan ikke logge på")
    services.add_entry(second, duplicate, "Det gælder hele 5. klasse.")
    db.session.commit()

    headers = token_for(coordinator)
    response = client.post(
        f"/api/v1/tickets/{duplicate.number}/merge", json={"into": target.number}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["number"] == target.number
    assert body["merged_into"] is None
    assert any(
        e["event"] == "merged_from" and e["data"]["ticket"] == duplicate.number
        for e in body["entries"]
    )

    merged = client.get(f"/api/v1/tickets/{duplicate.number}", headers=headers).get_json()
    assert merged["status"] == "closed"
    assert merged["merged_into"] == target.number


def test_merge_refuses_itself_closed_targets_and_other_municipalities(
    client, make_user, make_institution, make_ticket, token_for
):
    coordinator, first, second = _two_schools(make_user, make_institution)
    target = make_ticket(first, institution=first.institution)
    duplicate = make_ticket(second, institution=second.institution)
    closed = make_ticket(first, institution=first.institution)
    lifecycle.change_status(coordinator, closed, TicketStatus.closed)
    foreign = make_ticket(municipality="ribe")
    db.session.commit()
    headers = token_for(coordinator)

    def merge(number, into):
        return client.post(f"/api/v1/tickets/{number}/merge", json={"into": into}, headers=headers)

    assert merge(duplicate.number, duplicate.number).status_code == 422
    response = merge(duplicate.number, closed.number)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"]["into"]
    assert merge(duplicate.number, foreign.number).status_code == 404
    assert merge(foreign.number, target.number).status_code == 404
    # a superuser who can see both is not a coordinator: not found, not forbidden
    other_headers = token_for(first)
    response = client.post(
        f"/api/v1/tickets/{target.number}/merge",
        json={"into": target.number},
        headers=other_headers,
    )
    assert response.status_code == 404
    db.session.refresh(duplicate)
    assert duplicate.status == TicketStatus.new
    assert duplicate.merged_into_id is None


def test_reporters_follow_the_target_see_it_and_hear_about_its_replies(
    client, login, make_user, make_institution, make_ticket, token_for
):
    coordinator, first, second = _two_schools(make_user, make_institution)
    target = make_ticket(first, institution=first.institution, subject="Login virker ikke")
    duplicate = make_ticket(
        second,
        institution=second.institution,
        uploads=(Upload("skaermbillede.png", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 64)),),
    )
    # the second school could not see the first school's ticket before the merge
    assert (
        client.get(f"/api/v1/tickets/{target.number}", headers=token_for(second)).status_code == 404
    )

    response = client.post(
        f"/api/v1/tickets/{duplicate.number}/merge",
        json={"into": target.number},
        headers=token_for(coordinator),
    )
    assert response.status_code == 200

    told = db.session.scalars(
        select(Notification).where(
            Notification.user_id == second.id, Notification.event == NotificationEvent.ticket_merged
        )
    ).all()
    assert [n.url for n in told] == [f"/tickets/{target.number}"]
    assert (
        client.get(f"/api/v1/tickets/{target.number}", headers=token_for(second)).status_code == 200
    )

    # the target's page lists the duplicate, its entries and its attachment, downloadable there
    login(second)
    page = client.get(f"/tickets/{target.number}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert duplicate.number in html
    assert "skaermbillede.png" in html
    attachment = duplicate.attachments[0]
    download = client.get(f"/tickets/{target.number}/attachments/{attachment.id}")
    assert download.status_code == 200
    download.close()
    # the merged ticket's page says where it went
    merged_page = client.get(f"/tickets/{duplicate.number}").get_data(as_text=True)
    assert f"/tickets/{target.number}" in merged_page

    services.add_entry(coordinator, target, "Vi har genstartet login-tjenesten.")
    db.session.commit()
    replies = db.session.scalars(
        select(Notification.user_id).where(
            Notification.event == NotificationEvent.ticket_reply,
            Notification.url == f"/tickets/{target.number}",
        )
    ).all()
    assert sorted(replies) == sorted([first.id, second.id])


def test_merge_form_on_the_ticket_page(client, login, make_user, make_institution, make_ticket):
    coordinator, first, second = _two_schools(make_user, make_institution)
    target = make_ticket(first, institution=first.institution)
    duplicate = make_ticket(second, institution=second.institution)
    login(coordinator)
    page = client.get(f"/tickets/{duplicate.number}").get_data(as_text=True)
    assert f'action="/tickets/{duplicate.number}/merge"' in page
    response = client.post(f"/tickets/{duplicate.number}/merge", data={"into": target.number})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/tickets/{target.number}")
    db.session.refresh(duplicate)
    assert duplicate.merged_into_id == target.id
    # into itself: the page again with the reason, nothing merged
    again = make_ticket(second, institution=second.institution)
    response = client.post(f"/tickets/{again.number}/merge", data={"into": again.number})
    assert response.status_code == 422
    assert "cannot be merged into itself" in response.get_data(as_text=True) or (
        "kan ikke lægges sammen med sig selv" in response.get_data(as_text=True)
    )


def test_merge_form_unknown_target(client, login, make_user, make_institution, make_ticket):
    coordinator, _first, second = _two_schools(make_user, make_institution)
    duplicate = make_ticket(second, institution=second.institution)
    login(coordinator)
    response = client.post(f"/tickets/{duplicate.number}/merge", data={"into": "NOPE-2026-000001"})
    assert response.status_code == 422
    assert "Der er ingen henvendelse med det nummer i din kommune." in response.get_data(
        as_text=True
    )
    db.session.refresh(duplicate)
    assert duplicate.merged_into_id is None

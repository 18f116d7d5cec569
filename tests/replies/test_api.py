"""Canned replies over the API: each owner sees only its own."""

from __future__ import annotations

import pytest

from supportdesk.accounts.models import Role
from supportdesk.extensions import db


@pytest.fixture
def token_for(app):
    from supportdesk.accounts.services import create_token

    def _headers(user):
        _token, plain = create_token(user, "test")
        db.session.commit()
        return {"Authorization": f"Bearer {plain}"}

    return _headers


def test_coordinators_share_their_municipality_s_replies(client, make_user, token_for):
    esbjerg = make_user(Role.coordinator, municipality="esbjerg")
    colleague = make_user(Role.municipal_admin, municipality="esbjerg")
    ribe = make_user(Role.coordinator, municipality="ribe")
    created = client.post(
        "/api/v1/canned-replies",
        json={"title": "Log ud og ind", "body": "Hej {reporter}, prøv at logge ud ({ticket})."},
        headers=token_for(esbjerg),
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["title"] == "Log ud og ind"
    listed = client.get("/api/v1/canned-replies", headers=token_for(colleague)).get_json()
    assert [r["title"] for r in listed] == ["Log ud og ind"]
    assert client.get("/api/v1/canned-replies", headers=token_for(ribe)).get_json() == []


def test_vendor_agents_have_their_vendor_s_replies(client, make_user, token_for):
    agent = make_user(Role.vendor_agent, vendor="netcompany")
    other = make_user(Role.vendor_agent, vendor="kmd")
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    client.post(
        "/api/v1/canned-replies",
        json={"title": "Kendt fejl", "body": "Vi arbejder på det."},
        headers=token_for(agent),
    )
    assert [
        r["title"]
        for r in client.get("/api/v1/canned-replies", headers=token_for(agent)).get_json()
    ] == ["Kendt fejl"]
    assert client.get("/api/v1/canned-replies", headers=token_for(other)).get_json() == []
    assert client.get("/api/v1/canned-replies", headers=token_for(coordinator)).get_json() == []


def test_others_are_told_not_found_and_bad_input_is_422(client, make_user, token_for):
    for role in (Role.superuser, Role.hotline, Role.vendor_editor, Role.admin):
        user = make_user(role, municipality="esbjerg")
        assert client.get("/api/v1/canned-replies", headers=token_for(user)).status_code == 404
        response = client.post(
            "/api/v1/canned-replies", json={"title": "x", "body": "y"}, headers=token_for(user)
        )
        assert response.status_code == 404
    coordinator = make_user(Role.coordinator, municipality="esbjerg")
    response = client.post(
        "/api/v1/canned-replies", json={"title": "", "body": 3}, headers=token_for(coordinator)
    )
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"title", "body"}

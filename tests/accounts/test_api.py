"""API tokens and the first endpoints: /me, /systems, /institutions, openapi.json."""

from __future__ import annotations

import re

from sqlalchemy import select

from supportdesk.accounts import services
from supportdesk.accounts.models import ApiToken, Role, User
from supportdesk.api.openapi import build_spec


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token_for(db, user: User) -> str:
    _row, plain = services.create_token(user, "test")
    db.session.commit()
    return plain


def test_token_is_stored_hashed(app, db, make_user):
    user = make_user(Role.hotline)
    plain = _token_for(db, user)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    stored = " ".join(str(getattr(row, c.key)) for c in ApiToken.__table__.columns)
    assert plain not in stored
    assert len(row.token_hash) == 64
    assert plain.startswith(row.prefix)
    assert len(row.prefix) < len(plain) // 3


def test_token_authenticates_and_records_last_use(client, db, make_user):
    user = make_user(Role.coordinator)
    plain = _token_for(db, user)
    response = client.get("/api/v1/me", headers=_bearer(plain))
    assert response.status_code == 200
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    db.session.refresh(row)
    assert row.last_used_at is not None


def test_revoked_wrong_and_inactive_tokens_are_refused(client, db, make_user):
    user = make_user(Role.coordinator)
    revoked = _token_for(db, user)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    services.revoke_token(user, row.id)
    db.session.commit()
    inactive_user = make_user(Role.hotline)
    inactive = _token_for(db, inactive_user)
    inactive_user.active = False
    db.session.commit()
    for token in (revoked, revoked[:-1] + "x", "sd_nonsense", inactive):
        response = client.get("/api/v1/me", headers=_bearer(token))
        assert response.status_code == 401, token
        body = response.get_json()
        assert body["error"]["code"] == "unauthorized"
        assert set(body["error"]) == {"code", "message", "fields"}


def test_token_does_not_authenticate_pages(client, db, make_user):
    plain = _token_for(db, make_user(Role.municipal_admin))
    response = client.get("/admin/", headers=_bearer(plain))
    assert response.status_code == 302  # to the sign-in page: tokens are for the API only


def test_profile_creates_token_shown_once_and_revokes(app, client, db, login, make_user):
    user = login(make_user(Role.coordinator))
    api = app.test_client()  # no session cookie: only the token authenticates
    response = client.post("/account", data={"action": "token", "token-name": "Min integration"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    token = re.search(r'id="new-token">(sd_[^<]+)<', page).group(1)
    assert api.get("/api/v1/me", headers=_bearer(token)).status_code == 200
    again = client.get("/account").get_data(as_text=True)
    assert token not in again
    assert token[:10] in again  # the prefix identifies it
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    response = client.post("/account", data={"action": "revoke", "token_id": row.id})
    assert response.status_code == 302
    assert api.get("/api/v1/me", headers=_bearer(token)).status_code == 401


def test_cannot_revoke_someone_elses_token(client, db, login, make_user):
    other = make_user(Role.coordinator)
    token = _token_for(db, other)
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == other.id))
    login(make_user(Role.coordinator))
    response = client.post("/account", data={"action": "revoke", "token_id": row.id})
    assert response.status_code == 404
    assert client.get("/api/v1/me", headers=_bearer(token)).status_code == 200


def test_me(client, db, make_user, make_vendor):
    vendor = make_vendor("meebook")
    user = make_user(Role.coordinator, municipality="esbjerg", entitled=[vendor])
    body = client.get("/api/v1/me", headers=_bearer(_token_for(db, user))).get_json()
    assert body == {
        "email": user.email,
        "name": user.name,
        "role": "coordinator",
        "municipality": "esbjerg",
        "institution": None,
        "vendor": None,
        "entitlements": ["meebook"],
    }


def test_systems_with_categories(client, db, make_user, make_system, count_queries):
    make_system("aula", categories=("login", "beskeder"))
    make_system("fildeling", categories=("deling",))
    token = _token_for(db, make_user(Role.superuser))
    with count_queries() as queries:
        body = client.get("/api/v1/systems", headers=_bearer(token)).get_json()
    assert [s["slug"] for s in body] == ["aula", "fildeling"]
    assert {c["slug"] for c in body[0]["categories"]} == {"login", "beskeder"}
    assert set(body[0]) == {"slug", "name", "vendor", "categories"}
    assert len(queries) <= 8  # no query per system


def test_institutions_are_scoped(client, db, make_user, make_institution):
    own = make_institution("esbjerg")
    foreign = make_institution("aalborg")
    token = _token_for(db, make_user(Role.hotline, municipality="esbjerg"))
    body = client.get("/api/v1/institutions", headers=_bearer(token)).get_json()
    assert [i["number"] for i in body] == [own.number]
    assert body[0] == {
        "number": own.number,
        "name": own.name,
        "type": "skole",
        "municipality": "esbjerg",
    }
    assert foreign.number not in str(body)
    response = client.get("/api/v1/institutions?municipality=aalborg", headers=_bearer(token))
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    response = client.get("/api/v1/institutions?municipality=esbjerg", headers=_bearer(token))
    assert [i["number"] for i in response.get_json()] == [own.number]


def test_vendor_staff_see_no_institutions(client, db, make_user, make_institution):
    make_institution("esbjerg")
    token = _token_for(db, make_user(Role.vendor_agent))
    assert client.get("/api/v1/institutions", headers=_bearer(token)).get_json() == []


def test_session_cookie_may_read(client, login, make_user):
    login(make_user(Role.hotline))
    assert client.get("/api/v1/me").status_code == 200


def test_openapi_lists_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    documented = {
        (path, method) for path, operations in spec["paths"].items() for method in operations
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
            operation = spec["paths"][path][method.lower()]
            assert operation["summary"], (path, method)
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "openapi", None), f"{rule.endpoint} lacks @document(...)"
    assert spec == build_spec()

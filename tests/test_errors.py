"""Error pages: 400/403/404/405/413/500 in the layout for pages, the JSON shape under /api/."""

from __future__ import annotations

import pytest
from flask import Blueprint, abort

from supportdesk import create_app
from supportdesk.errors import Forbidden, NotFound, ValidationFailed

boom = Blueprint("boom", __name__)


@boom.route("/boom/<kind>", methods=["GET", "POST"])
@boom.route("/api/v1/boom/<kind>", methods=["GET", "POST"])
def explode(kind: str):
    match kind:
        case "forbidden":
            raise Forbidden()
        case "notfound":
            raise NotFound()
        case "invalid":
            raise ValidationFailed(fields={"subject": "Skriv en overskrift."})
        case "crash":
            raise RuntimeError("secret internals 0xdeadbeef")
        case "bad":
            abort(400)
    return "ok"


@pytest.fixture(scope="module")
def error_app(tmp_path_factory):
    """A separate app with routes that fail on purpose (the shared app cannot gain routes)."""
    tmp = tmp_path_factory.mktemp("errors")
    app = create_app(
        {
            "environ": {
                "SUPPORTDESK_ENV": "testing",
                "SUPPORTDESK_SECRET_KEY": "x",
                "SUPPORTDESK_DATABASE_URL": f"sqlite:///{tmp / 'e.db'}",
                "SUPPORTDESK_INDEX_DIR": str(tmp / "index"),
            },
            "MAX_CONTENT_LENGTH": 1024,
            "RATELIMIT_ENABLED": False,
        }
    )
    app.register_blueprint(boom)
    return app


@pytest.fixture
def eclient(error_app):
    return error_app.test_client()


CASES = [
    ("forbidden", 403, "forbidden", "Du har ikke adgang til at gøre dette."),
    ("notfound", 404, "not_found", "Siden eller elementet blev ikke fundet."),
    ("invalid", 422, "validation_error", "Nogle felter er ikke udfyldt korrekt."),
    ("crash", 500, "internal_error", "Der skete en fejl hos os."),
    ("bad", 400, "bad_request", "Forespørgslen kunne ikke forstås."),
]


@pytest.mark.parametrize(("kind", "status", "code", "danish"), CASES)
def test_html_error_pages_use_the_layout(eclient, kind, status, code, danish):
    response = eclient.get(f"/boom/{kind}")
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert 'class="site-header"' in page
    assert '<main id="main"' in page
    assert danish in page
    assert "0xdeadbeef" not in page


@pytest.mark.parametrize(("kind", "status", "code", "danish"), CASES)
def test_api_errors_are_json(eclient, kind, status, code, danish):
    response = eclient.get(f"/api/v1/boom/{kind}")
    assert response.status_code == status
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert danish in body["error"]["message"]
    assert "0xdeadbeef" not in response.get_data(as_text=True)
    if kind == "invalid":
        assert body["error"]["fields"] == {"subject": "Skriv en overskrift."}


def test_413_for_oversized_bodies(eclient):
    response = eclient.post("/boom/ok", data={"text": "x" * 5000})
    assert response.status_code == 413
    assert 'class="site-header"' in response.get_data(as_text=True)
    response = eclient.post("/api/v1/boom/ok", data="x" * 5000, content_type="text/plain")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


# --- the real app -----------------------------------------------------------------------


def test_unknown_page_is_404_in_the_layout(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert 'class="site-header"' in page
    assert "Siden eller elementet blev ikke fundet." in page


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_405_page_and_json(client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert 'class="site-header"' in response.get_data(as_text=True)
    response = client.delete("/api/v1/systems")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert "GET" in response.headers["Allow"]
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_api_without_token_is_401_json(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_nul_characters_are_a_400_not_a_database_error(client):
    response = client.post("/login", data={"email": "a\x00@b.dk", "password": "x"})
    assert response.status_code == 400
    assert 'class="site-header"' in response.get_data(as_text=True)
    assert client.get("/login?next=%00").status_code == 400
    response = client.post("/api/v1/me", json={"subject": "a\u0000b"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"

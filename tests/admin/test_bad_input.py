"""Garbage posted to any administration form gives a 4xx with a message, never a 500."""

from __future__ import annotations

import pytest

from supportdesk.accounts.models import Role

PAYLOADS = [
    {},
    {"email": "x", "role": "superuser", "institution": "abc", "municipality": "-1"},
    {"user": "999999999999999999999", "vendor": "1e9"},
    {"user": "", "vendor": ""},
    {"number": "'; drop table--", "name": "\x00", "type": "skole"},
    {"number": "123456", "name": "NUL\x00byte", "type": "skole", "email": "a\x00@b.dk"},
    {"slug": "ÆØÅ", "code": "Ø", "retention_days": "-1", "min_entitled": "x", "max_entitled": ""},
    {"business_start": "25:99", "business_end": "a", "timezone": "../../etc/passwd"},
    {"closed_days": "2026-02-30 umulig dag"},
    {"category-slug": "x" * 500, "category-name": "y" * 5000, "vendor": "x"},
    {"role": "x" * 100, "locale": "tlh", "active": "maybe", "password": "p" * 5000},
]


def _post_routes(app, municipality_slug: str) -> list[str]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "POST" not in rule.methods:
            continue
        values = {}
        for arg in rule.arguments:
            values[arg] = {
                "user_id": "1",
                "category_id": "1",
                "number": "100001",
                "slug": "esbjerg",
            }.get(arg, "x")
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
        routes.append(f"{path}?municipality={municipality_slug}")
    return routes


@pytest.mark.parametrize("role", [Role.municipal_admin, Role.admin])
def test_no_admin_form_answers_500(app, client, login, make_user, make_system, role):
    make_system("aula")
    actor = login(make_user(role, municipality="esbjerg"))
    slug = actor.municipality.slug if actor.municipality else "esbjerg"
    routes = _post_routes(app, slug)
    assert len(routes) >= 10
    for path in ("/admin/users/99999999999999999999", "/admin/users?after=99999999999999999999"):
        assert client.get(path).status_code in (200, 404), path
    for route in routes:
        for payload in PAYLOADS:
            response = client.post(route, data=payload)
            assert response.status_code < 500, (route, payload, response.status_code)
            if response.status_code in (400, 409, 422):
                page = response.get_data(as_text=True)
                # a form with its error summary, or the error page naming the problem
                assert "error-summary" in page or "Fejlkode" in page, (route, payload)

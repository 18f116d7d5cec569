"""Webhook administration pages: municipal admins for their municipality, the system admin
for vendors; another tenant's webhook is a 404; the URL rules speak Danish."""

from __future__ import annotations

from sqlalchemy import select

from supportdesk.accounts.models import Role
from supportdesk.extensions import db
from supportdesk.webhooks.models import Webhook

HTTPS = "https://itsm.esbjerg.dk/hooks/supportdesk"


def _create(client, url: str = HTTPS, query: str = "", events=("case.vendor_message",)):
    return client.post(
        f"/admin/webhooks/new{query}",
        data={"name": "Kommunens sagssystem", "url": url, "events": list(events)},
    )


def test_municipal_admin_creates_a_webhook_and_sees_its_secret(
    client, login, make_user, make_municipality
):
    esbjerg = make_municipality("esbjerg")
    login(make_user(Role.municipal_admin, municipality=esbjerg))
    page = client.get("/admin/webhooks/new")
    assert page.status_code == 200
    assert "Leverandøren har svaret i sagen" in page.text
    assert "En supportberettiget har eskaleret" not in page.text  # vendor-only event

    response = _create(client, events=("case.vendor_message", "case.status_changed"))
    assert response.status_code == 302
    webhook = db.session.scalar(select(Webhook))
    assert webhook.municipality_id == esbjerg.id
    assert webhook.vendor_id is None
    assert webhook.events == ["case.vendor_message", "case.status_changed"]
    assert len(webhook.secret) >= 40
    assert response.headers["Location"].endswith(f"/admin/webhooks/{webhook.id}")

    detail = client.get(f"/admin/webhooks/{webhook.id}")
    assert detail.status_code == 200
    assert webhook.secret in detail.text
    assert "Signeringsnøgle" in detail.text
    assert "Ingen leveringer endnu" in detail.text
    listing = client.get("/admin/webhooks/")
    assert "Kommunens sagssystem" in listing.text


def test_another_municipalitys_admin_gets_404(client, login, make_user, make_municipality):
    esbjerg, aalborg = make_municipality("esbjerg"), make_municipality("aalborg")
    login(make_user(Role.municipal_admin, municipality=esbjerg))
    _create(client)
    webhook = db.session.scalar(select(Webhook))

    login(make_user(Role.municipal_admin, municipality=aalborg))
    assert client.get(f"/admin/webhooks/{webhook.id}").status_code == 404
    assert client.post(f"/admin/webhooks/{webhook.id}/delete").status_code == 404
    assert client.post(f"/admin/webhooks/{webhook.id}/secret").status_code == 404
    assert client.post(f"/admin/webhooks/{webhook.id}/active", data={}).status_code == 404
    assert client.get("/admin/webhooks/?municipality=esbjerg").status_code == 404
    assert webhook.secret not in client.get("/admin/webhooks/").text
    assert db.session.get(Webhook, webhook.id) is not None


def test_plain_http_to_another_host_is_refused_in_danish(
    client, login, make_user, make_municipality
):
    login(make_user(Role.municipal_admin, municipality=make_municipality("esbjerg")))
    response = _create(client, url="http://example.com/hook")
    assert response.status_code == 422
    assert "Adressen skal begynde med https://." in response.text
    assert 'aria-invalid="true"' in response.text
    assert db.session.scalar(select(Webhook)) is None
    for url, message in [
        ("https://user:pw@example.com/hook", "brugernavn eller adgangskode"),
        ("ftp://example.com/hook", "begynder med https://"),
    ]:
        assert message in _create(client, url=url).text


def test_deactivate_reactivate_rotate_and_delete(client, login, make_user, make_municipality):
    login(make_user(Role.municipal_admin, municipality=make_municipality("esbjerg")))
    _create(client)
    webhook = db.session.scalar(select(Webhook))
    old_secret = webhook.secret

    client.post(f"/admin/webhooks/{webhook.id}/active", data={"active": "0"})
    db.session.refresh(webhook)
    assert webhook.active is False
    assert "Genaktivér" in client.get(f"/admin/webhooks/{webhook.id}").text
    client.post(f"/admin/webhooks/{webhook.id}/active", data={"active": "1"})
    db.session.refresh(webhook)
    assert webhook.active is True

    client.post(f"/admin/webhooks/{webhook.id}/secret")
    db.session.refresh(webhook)
    assert webhook.secret != old_secret
    assert webhook.secret_rotated_at is not None

    edited = client.post(
        f"/admin/webhooks/{webhook.id}",
        data={"name": "Nyt navn", "url": HTTPS + "/v2", "events": ["case.status_changed"]},
    )
    assert edited.status_code == 302
    db.session.refresh(webhook)
    assert (webhook.name, webhook.events) == ("Nyt navn", ["case.status_changed"])

    response = client.post(f"/admin/webhooks/{webhook.id}/delete")
    assert response.status_code == 302
    assert db.session.scalar(select(Webhook)) is None


def test_system_admin_manages_a_vendors_webhooks_and_municipal_admins_cannot(
    client, login, make_user, make_vendor, make_municipality
):
    vendor = make_vendor("netcompany")
    admin = login(make_user(Role.admin))
    assert "/admin/webhooks/?vendor=netcompany" in client.get("/admin/vendors/netcompany").text
    response = _create(client, query="?vendor=netcompany", events=("case.created", "case.message"))
    assert response.status_code == 302
    webhook = db.session.scalar(select(Webhook))
    assert (webhook.vendor_id, webhook.municipality_id) == (vendor.id, None)
    # A municipal event is not offered to a vendor.
    assert _create(client, query="?vendor=netcompany").status_code == 422
    assert webhook.secret in client.get(f"/admin/webhooks/{webhook.id}").text
    assert admin.role == Role.admin

    login(make_user(Role.municipal_admin, municipality=make_municipality("esbjerg")))
    assert client.get("/admin/webhooks/?vendor=netcompany").status_code == 404
    assert client.get("/admin/webhooks/new?vendor=netcompany").status_code == 404
    assert client.get(f"/admin/webhooks/{webhook.id}").status_code == 404


def test_other_roles_get_404(client, login, make_user):
    for role in (Role.coordinator, Role.vendor_agent, Role.superuser):
        login(make_user(role))
        assert client.get("/admin/webhooks/").status_code == 404
        assert client.get("/admin/webhooks/new").status_code == 404

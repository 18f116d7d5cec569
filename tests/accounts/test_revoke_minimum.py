"""Revoking below the vendor's minimum takes a reason.

Before: the page stated the vendor's minimum (4) but a revoke below it simply went
through. Now it is refused with a Danish explanation unless the administrator gives a
reason; the reason is in the security log and shown on the entitlement page.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from supportdesk.accounts import services
from supportdesk.accounts.entitlements import ReasonRequired
from supportdesk.accounts.models import Role, SupportEntitlement
from supportdesk.audit.models import SecurityEvent, SecurityEventKind


def _entitled(db, vendor) -> int:
    db.session.commit()
    return db.session.scalar(
        select(func.count(SupportEntitlement.id)).where(SupportEntitlement.vendor_id == vendor.id)
    )


def _coordinators(make_user, vendor, n: int, municipality=None):
    first = make_user(Role.coordinator, municipality=municipality, entitled=[vendor])
    rest = [
        make_user(Role.coordinator, municipality=first.municipality, entitled=[vendor])
        for _ in range(n - 1)
    ]
    return [first, *rest]


def test_the_service_refuses_below_the_minimum_without_a_reason(db, make_user, make_vendor):
    vendor = make_vendor(min_entitled=4, max_entitled=8)
    people = _coordinators(make_user, vendor, 5)
    services.revoke_entitlement(None, people[0], vendor)  # 5 → 4: at the minimum, no reason
    db.session.commit()
    with pytest.raises(ReasonRequired) as refused:
        services.revoke_entitlement(None, people[1], vendor)  # 4 → 3
    db.session.rollback()
    assert "mindst 4" in str(refused.value.message)
    assert "begrundelse" in str(refused.value.message)
    assert _entitled(db, vendor) == 4
    with pytest.raises(ReasonRequired):
        services.revoke_entitlement(None, people[1], vendor, reason="   ")
    db.session.rollback()
    services.revoke_entitlement(None, people[1], vendor, reason="Fratrådt 1. marts")
    db.session.commit()
    assert _entitled(db, vendor) == 3
    event = db.session.scalar(
        select(SecurityEvent)
        .where(SecurityEvent.kind == SecurityEventKind.entitlement_revoked)
        .order_by(SecurityEvent.id.desc())
    )
    assert event.user_id == people[1].id
    assert event.detail == {
        "vendor": vendor.slug,
        "reason": "Fratrådt 1. marts",
        "below_minimum": True,
        "remaining": 3,
        "minimum": 4,
    }


def test_the_page_asks_for_a_reason_and_shows_it_as_a_warning(
    client, db, login, make_user, make_vendor
):
    vendor = make_vendor(min_entitled=4, max_entitled=8)
    admin = login(make_user(Role.municipal_admin))
    people = _coordinators(make_user, vendor, 4, municipality=admin.municipality)
    target = {"user": people[0].id, "vendor": vendor.id}
    refused = client.post("/admin/entitlements/revoke", data=target)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "forventer mindst 4 supportberettigede pr. kommune" in page
    assert 'name="reason"' in page
    assert "Tilbagekald alligevel" in page
    assert _entitled(db, vendor) == 4
    done = client.post("/admin/entitlements/revoke", data={**target, "reason": "Orlov til maj"})
    assert done.status_code == 302
    assert _entitled(db, vendor) == 3
    page = client.get("/admin/entitlements").get_data(as_text=True)
    assert "Tilbagekaldt under minimum" in page
    assert "Begrundelse: Orlov til maj" in page
    assert admin.name in page


def test_the_cli_needs_reason_below_the_minimum(app, db, make_user, make_vendor):
    vendor = make_vendor(min_entitled=2, max_entitled=8)
    first, _second = _coordinators(make_user, vendor, 2)
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["entitlements", "revoke", first.email, vendor.slug])
    assert refused.exit_code == 1
    assert "mindst 2" in refused.output
    assert _entitled(db, vendor) == 2
    done = runner.invoke(
        args=["entitlements", "revoke", first.email, vendor.slug, "--reason", "Stoppet"]
    )
    assert done.exit_code == 0, done.output
    assert _entitled(db, vendor) == 1
    event = db.session.scalar(
        select(SecurityEvent).where(SecurityEvent.kind == SecurityEventKind.entitlement_revoked)
    )
    assert event.actor_id is None
    assert event.detail["reason"] == "Stoppet"

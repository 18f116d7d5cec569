"""Support entitlement: the vendor's maximum per municipality, also under concurrent grants."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from supportdesk.accounts import services
from supportdesk.accounts.models import Role, SupportEntitlement, User, Vendor
from supportdesk.errors import LimitReached, NotFound, ValidationFailed
from supportdesk.extensions import db as _db


def _entitled(db, vendor, municipality) -> int:
    return db.session.scalar(
        select(func.count(SupportEntitlement.id)).where(
            SupportEntitlement.vendor_id == vendor.id,
            SupportEntitlement.municipality_id == municipality.id,
        )
    )


def test_ninth_grant_refused_by_the_service(db, make_user, make_vendor, make_municipality):
    vendor = make_vendor(max_entitled=8)
    municipality = make_municipality()
    for _ in range(8):
        make_user(Role.coordinator, municipality=municipality, entitled=[vendor])
    ninth = make_user(Role.coordinator, municipality=municipality)
    with pytest.raises(LimitReached) as refused:
        services.grant_entitlement(None, ninth, vendor)
    db.session.rollback()
    assert "højst 8 supportberettigede" in str(refused.value.message)
    assert refused.value.status == 409
    assert _entitled(db, vendor, municipality) == 8


def test_limit_counts_per_municipality_and_vendor(db, make_user, make_vendor, make_municipality):
    small = make_vendor(max_entitled=1, min_entitled=0)
    other_vendor = make_vendor(max_entitled=1, min_entitled=0)
    first, second = make_municipality(), make_municipality()
    make_user(Role.coordinator, municipality=first, entitled=[small])
    # Another municipality and another vendor each still have room.
    make_user(Role.coordinator, municipality=second, entitled=[small])
    make_user(Role.coordinator, municipality=first, entitled=[other_vendor])
    assert _entitled(db, small, first) == 1


def test_regrant_is_idempotent_and_revoke_frees_a_place(db, make_user, make_vendor):
    vendor = make_vendor(max_entitled=1, min_entitled=0)
    holder = make_user(Role.coordinator, entitled=[vendor])
    assert services.grant_entitlement(None, holder, vendor) is not None  # no second row
    db.session.commit()
    waiting = make_user(Role.coordinator, municipality=holder.municipality)
    with pytest.raises(LimitReached):
        services.grant_entitlement(None, waiting, vendor)
    db.session.rollback()
    services.revoke_entitlement(None, holder, vendor)
    services.grant_entitlement(None, waiting, vendor)
    db.session.commit()
    assert _entitled(db, vendor, holder.municipality) == 1


@pytest.mark.parametrize("role", [r for r in Role if r != Role.coordinator])
def test_only_coordinators_hold_entitlement(db, make_user, make_vendor, role):
    vendor = make_vendor()
    with pytest.raises(ValidationFailed):
        services.grant_entitlement(None, make_user(role), vendor)


def test_inactive_coordinator_cannot_be_entitled(db, make_user, make_vendor):
    with pytest.raises(ValidationFailed):
        services.grant_entitlement(None, make_user(Role.coordinator, active=False), make_vendor())


def test_municipal_admin_cannot_grant_in_another_municipality(db, make_user, make_vendor):
    admin = make_user(Role.municipal_admin, municipality="esbjerg")
    foreign = make_user(Role.coordinator, municipality="aalborg")
    with pytest.raises(NotFound):
        services.grant_entitlement(admin, foreign, make_vendor())


def test_role_change_drops_entitlements(db, make_user, make_vendor):
    vendor = make_vendor()
    admin = make_user(Role.municipal_admin)
    coordinator = make_user(Role.coordinator, municipality=admin.municipality, entitled=[vendor])
    services.update_user(
        admin,
        coordinator,
        services.UserData(
            email=coordinator.email,
            name=coordinator.name,
            role=Role.hotline,
            municipality=admin.municipality,
        ),
        active=True,
    )
    db.session.commit()
    assert _entitled(db, vendor, admin.municipality) == 0


def test_concurrent_grants_cannot_exceed_the_maximum(app, db, make_user, make_vendor, monkeypatch):
    """Seven of eight places taken; six grants race for the last one at the same moment."""
    vendor = make_vendor(max_entitled=8)
    admin = make_user(Role.municipal_admin)
    municipality = admin.municipality
    for _ in range(7):
        make_user(Role.coordinator, municipality=municipality, entitled=[vendor])
    contenders = [make_user(Role.coordinator, municipality=municipality) for _ in range(6)]
    ids = [c.id for c in contenders]
    admin_id, vendor_id, municipality_id = admin.id, vendor.id, municipality.id
    # The main thread must not hold a (SQLite write) transaction while the workers run.
    db.session.commit()
    db.session.close()

    # Workers behave like the CLI and worker processes: SQLite writers begin IMMEDIATE.
    monkeypatch.setitem(app.config, "SQLITE_DEFERRED_OUTSIDE_REQUESTS", False)
    barrier = threading.Barrier(len(ids))
    results: list[str] = []
    errors: list[BaseException] = []

    def grant(user_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=30)
                actor = _db.session.get(User, admin_id)
                services.grant_entitlement(
                    actor, _db.session.get(User, user_id), _db.session.get(Vendor, vendor_id)
                )
                _db.session.commit()
                results.append("granted")
            except LimitReached:
                _db.session.rollback()
                results.append("refused")
            except BaseException as error:  # surfaced below, not lost in the thread
                _db.session.rollback()
                errors.append(error)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=grant, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert sorted(results) == ["granted"] + ["refused"] * 5
    count = db.session.scalar(
        select(func.count(SupportEntitlement.id)).where(
            SupportEntitlement.vendor_id == vendor_id,
            SupportEntitlement.municipality_id == municipality_id,
        )
    )
    assert count == 8

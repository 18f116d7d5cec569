"""Generations: which committed changes bump them, and which do not."""

from __future__ import annotations

from supportdesk.accounts.models import Role
from supportdesk.cache import generations
from supportdesk.extensions import db, utcnow


def _reference() -> int:
    db.session.commit()  # a fresh read, not this request's or transaction's memo
    return generations.read(generations.REFERENCE)[generations.REFERENCE]


def test_moving_a_user_bumps_names_and_a_login_stamp_does_not(make_user, make_institution):
    user = make_user(Role.superuser, municipality="esbjerg")
    elsewhere = make_institution("aalborg")
    before = _reference()
    user.last_login_at = utcnow()
    db.session.commit()
    assert _reference() == before
    user.institution = elsewhere  # the relationship, as the admin service sets it
    user.municipality = elsewhere.municipality
    db.session.commit()
    assert _reference() == before + 1


def test_a_rolled_back_change_bumps_nothing_and_a_savepoint_keeps_the_outer_change(
    make_institution,
):
    school = make_institution("esbjerg")
    before = _reference()
    school.name = "Ny Skole"
    db.session.flush()
    db.session.rollback()
    assert _reference() == before

    school.name = "Ny Skole"
    db.session.flush()
    with db.session.begin_nested() as savepoint:
        savepoint.rollback()
    db.session.commit()
    assert _reference() == before + 1

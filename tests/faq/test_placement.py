"""Where each FAQ editor may file an article (policy.article_placement), and the editor form."""

from __future__ import annotations

import re

import pytest

from supportdesk import policy
from supportdesk.accounts.models import Role
from supportdesk.extensions import db


def _placement(user):
    placement = policy.article_placement(user)
    systems = {s.slug for s in db.session.scalars(placement.systems)}
    municipalities = {m.slug for m in db.session.scalars(placement.municipalities)}
    return systems, set(placement.audiences), municipalities, placement.own_municipality_id


def test_each_editor_files_articles_in_their_own_domain(faq_world, make_user):
    netcompany = faq_world["vendors"]["netcompany"]
    esbjerg = faq_world["municipalities"]["esbjerg"]
    everything = set(faq_world["systems"])
    theirs = {slug for slug, s in faq_world["systems"].items() if s.vendor_id == netcompany.id}

    systems, audiences, municipalities, own = _placement(
        make_user(Role.vendor_editor, vendor=netcompany)
    )
    assert (systems, municipalities, own) == (theirs, set(), None)
    assert "municipal" not in audiences
    assert {"public", "first_level"} <= audiences

    systems, audiences, municipalities, own = _placement(
        make_user(Role.municipal_admin, municipality=esbjerg)
    )
    assert (systems, audiences, municipalities, own) == (
        everything,
        {"municipal"},
        {"esbjerg"},
        esbjerg.id,
    )

    systems, audiences, municipalities, own = _placement(make_user(Role.admin))
    assert systems == everything
    assert "municipal" in audiences
    assert municipalities >= {"esbjerg", "aalborg", "odense"}
    assert own is None


@pytest.mark.parametrize("role", [Role.coordinator, Role.superuser, Role.vendor_agent])
def test_others_may_file_nothing(faq_world, make_user, role):
    assert _placement(make_user(role)) == (set(), set(), set(), None)


def test_editor_form_offers_only_the_placement(client, login, faq_world, make_user):
    login(make_user(Role.municipal_admin, municipality=faq_world["municipalities"]["esbjerg"]))
    html = client.get("/faq/new").get_data(as_text=True)
    audience = html[html.index('name="audience"') :]
    audience = audience[: audience.index("</select>")]
    assert re.findall(r'<option[^>]*value="(\w+)"', audience) == ["municipal"]
